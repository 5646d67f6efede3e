"""The environment audit's fix, applied as written, makes the next training run pass.

However the project gives the model's requirements (``conda_env`` as a dict or a file,
``pip_requirements`` as a list or a file, ``extra_pip_requirements``, or nothing), the
fix line is taken from the report's reason and applied mechanically, as a user
pasting it would; MLflow refuses two of those keys at once, so "add it to
``pip_requirements``" would break a ``conda_env`` project.
"""

from __future__ import annotations

import ast
import re
import textwrap
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from support import forget

PANDAS = f"pandas=={version('pandas')}"
#: The tutorial's pattern: the project's own package as a conda dependency.
CONDA_ENV = {
    "name": "house_prices",
    "channels": ["conda-forge"],
    "dependencies": ["python=3.11", "pip", "house_prices==0.1", {"pip": [PANDAS]}],
}
SET = re.compile(r"^Fix: set log_model_kwargs\['(\w+)'\] to (.+)$", re.M)
WRITE = re.compile(
    r"^Fix: write this to (\S+) \(log_model_kwargs\['(\w+)'\]\):\n((?:  .*\n?)+)", re.M
)

#: form -> (log_model_kwargs beside the name, files to write, what the fix sets)
FORMS: dict[str, tuple[str, dict[str, str], str]] = {
    "conda_env dict": (f'"conda_env": {CONDA_ENV!r}', {}, "conda_env"),
    "conda_env file": (
        '"conda_env": "conda.yml"',
        {"conda.yml": f"name: house_prices\ndependencies:\n  - pip\n  - pip:\n    - {PANDAS}\n"},
        "conda_env",
    ),
    "pip_requirements list": (f'"pip_requirements": ["{PANDAS}"]', {}, "pip_requirements"),
    "pip_requirements file": (
        '"pip_requirements": "model-requirements.txt"',
        {"model-requirements.txt": f"{PANDAS}\n"},
        "pip_requirements",
    ),
    "extra_pip_requirements": (
        f'"extra_pip_requirements": ["{PANDAS}"]',
        {},
        "extra_pip_requirements",
    ),
    "nothing, inferred": ("", {}, "extra_pip_requirements"),
}


def _last_run(project) -> tuple[Any, dict[str, Any]]:
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=project.tracking_uri)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    (run,) = client.search_runs(experiments, order_by=["attributes.start_time DESC"], max_results=1)
    return run, mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/dryrun/report.json")


def _apply(project, reason: str) -> str:
    """Does what the fix line says, literally; returns the key it changed."""
    if match := SET.search(reason):
        key, value = match.groups()
        ast.literal_eval(value)  # a Python literal, pasted as is
        project.set_log_model_kwargs(f'{{"name": "house_prices", "{key}": {value}}}')
        return key
    match = WRITE.search(reason)
    assert match, reason
    file, key, text = match.groups()
    Path(file).write_text(textwrap.dedent(text))
    return key


@pytest.mark.parametrize("form", FORMS)
def test_the_fix_applied_as_written_makes_the_audit_pass(project, in_process, monkeypatch, form):
    written, files, fixed_key = FORMS[form]
    if fixed_key == "extra_pip_requirements":
        # MLflow's inference times out (a slow model load) and falls back to its defaults.
        monkeypatch.setenv("MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT", "0")
    for name, text in files.items():
        project.write(name, text)
    project.set_log_model_kwargs(f'{{"name": "house_prices"{", " if written else ""}{written}}}')
    project.set_dryrun(
        drop_columns=["price"], on_failure="warn", serve_check=False, input_example_rows=0
    )

    in_process(pipeline_names=["training"])

    run, report = _last_run(project)
    assert run.data.tags["dryrun.environment"] == "failed"
    reason = report["reason"]
    assert "'kedro_mlflow'" in reason and "'kedro-mlflow==" in reason
    assert report["environment"]["fix"]["key"] == fixed_key
    if form == "conda_env dict":  # served with virtualenv (the default), conda's line only warns
        (conda_finding,) = report["environment"]["other_managers"]["conda"]["findings"]
        assert "conda.yaml lists 'house_prices==0.1', the project's own package" in conda_finding
        assert "conda.yaml lists" not in reason
    assert _apply(project, reason) == fixed_key

    forget(project)  # as the in_process fixture does after a test
    in_process(pipeline_names=["training"])

    run, report = _last_run(project)
    assert run.data.tags["dryrun.environment"] == "passed", report["reason"]
    assert run.data.tags["dryrun.status"] == "passed"
    requirements = report["environment"]["requirements"]
    assert f"kedro-mlflow=={version('kedro-mlflow')}" in requirements
    assert not any("house" in line for line in requirements)
