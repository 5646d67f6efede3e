"""The environment is judged for the env manager the model is served with.

``mlflow models serve`` builds the model's environment from requirements.txt
(virtualenv, its default, and uv) or from conda.yaml (conda). A defect of a file the
chosen manager never reads is a warning, with that manager's fix; a defect of the
requirements breaks every manager that installs them.
"""

from __future__ import annotations

import json
from importlib.metadata import version

import pytest

PINS = [
    f"{name}=={version(name)}" for name in ("kedro-mlflow", "pandas", "numpy", "kedro-datasets")
]
#: kedro-mlflow's tutorial layout: the project itself as a conda dependency, the rest for pip.
TUTORIAL_CONDA_ENV = {
    "name": "house_prices",
    "channels": ["conda-forge"],
    "dependencies": ["python=3.11", "pip", "house_prices==0.1", {"pip": PINS}],
}
_QUICK = {"drop_columns": ["price"], "explore": 0, "input_example_rows": 0}


def _train(project, in_process, log_model_kwargs: str, **dryrun: object):
    project.set_log_model_kwargs(log_model_kwargs)
    project.set_dryrun(**_QUICK, on_failure="warn", **dryrun)
    in_process(pipeline_names=["training"])
    return project.mlflow_view()


def test_the_tutorial_layout_passes_by_default_and_warns_for_conda(project, in_process):
    conda_env = f'{{"name": "house_prices", "conda_env": {TUTORIAL_CONDA_ENV!r}}}'

    view = _train(project, in_process, conda_env)

    assert view.tags["dryrun.environment"] == "passed", view.report.get("reason")
    assert view.tags["dryrun.status"] == "passed"
    environment = view.report["environment"]
    assert environment["env_manager"] == ["virtualenv"] and environment["findings"] == []
    (conda,) = environment["other_managers"].values()
    assert list(environment["other_managers"]) == ["conda"]
    assert "conda.yaml lists 'house_prices==0.1', the project's own package" in conda["findings"][0]
    # Its fix is conda's: the conda_env without the project's line, the pip part kept.
    assert conda["fix"]["key"] == "conda_env"
    assert "house_prices==0.1" not in conda["fix"]["value"]["dependencies"]
    assert {"pip": PINS} in conda["fix"]["value"]["dependencies"]
    (warning,) = [w for w in view.report["warnings"] if "--env-manager conda" in w]
    assert "would not load" in warning and "Fix: set log_model_kwargs['conda_env']" in warning

    (model,) = view.models
    uri = f"models:/{model.model_id}"
    project.set_dryrun(**_QUICK)  # on_failure: fail, the default
    served_with_conda = project.kedro(
        "dryrun", "--model-uri", uri, "--env-manager", "conda", "--json"
    )

    assert served_with_conda.returncode == 1, served_with_conda.output
    # The report follows Kedro's own import-time line (tests/test_dryrun_command.py).
    report = json.loads(served_with_conda.stdout[served_with_conda.stdout.find("{\n") :])
    assert report["status"] == "failed" and report["environment"]["env_manager"] == ["conda"]
    assert "built by --env-manager conda from conda.yaml" in report["reason"]


def test_the_tutorial_layout_fails_when_served_with_conda(project, in_process):
    conda_env = f'{{"name": "house_prices", "conda_env": {TUTORIAL_CONDA_ENV!r}}}'

    view = _train(project, in_process, conda_env, env_manager="conda")

    assert view.tags["dryrun.environment"] == "failed"
    reason = view.report["reason"]
    assert "built by --env-manager conda from conda.yaml" in reason
    assert "conda.yaml lists 'house_prices==0.1', the project's own package" in reason
    assert "Fix: set log_model_kwargs['conda_env']" in reason
    assert view.report["environment"]["other_managers"] == {}


@pytest.mark.parametrize("manager", ["virtualenv", "uv", "conda", ["local", "uv"]])
def test_a_requirement_defect_fails_under_every_manager_that_installs_them(
    project, in_process, manager
):
    pandas_only = f'{{"name": "house_prices", "pip_requirements": ["{PINS[1]}"]}}'

    view = _train(project, in_process, pandas_only, env_manager=manager)

    assert view.tags["dryrun.environment"] == "failed"
    reason = view.report["reason"]
    assert "it imports " in reason and "'kedro_mlflow'" in reason and f"'{PINS[0]}'" in reason
    assert "Fix: set log_model_kwargs['pip_requirements']" in reason


def test_served_locally_the_training_environment_holds_what_the_requirements_lack(
    project, in_process
):
    pandas_only = f'{{"name": "house_prices", "pip_requirements": ["{PINS[1]}"]}}'

    view = _train(project, in_process, pandas_only, env_manager="local")

    assert view.tags["dryrun.environment"] == "passed", view.report.get("reason")
    others = view.report["environment"]["other_managers"]
    assert sorted(others) == ["conda", "uv", "virtualenv"]
    for entry in others.values():
        assert any(f"'{PINS[0]}'" in finding for finding in entry["findings"]), entry
