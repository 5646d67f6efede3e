"""The logged model serves outside the training process: from its own requirements only.

The end-to-end tests build a virtualenv from the logged model's ``requirements.txt``
alone (uv, from the package index this machine has), then load the model there and
predict, from a directory outside the project, with ``PYTHONPATH`` unset and Python
in isolated mode: what ``mlflow models serve --env-manager uv`` does, without the
plugin's own fresh mode.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import INFERRED, PACKAGE, Project, example_copy
from virtualenvs import UV, overlay_python, plugin_cache_in, uv_install

PREDICT = """
import sys
import mlflow.pyfunc
import pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
rows = pd.read_csv(sys.argv[2]).drop(columns=["price"]).head(7)
print(len(model.predict(rows)))
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """The example as it is: MLflow infers the requirements that this module audits."""
    return example_copy(tmp_path / "project", INFERRED)


@pytest.fixture(scope="session")
def fresh_python(tmp_path_factory):
    """A virtualenv per distinct ``requirements.txt``, shared by the tests that log it."""
    root = tmp_path_factory.mktemp("fresh-environments")

    def build(requirements: Path) -> Path:
        key = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
        python = root / key / "bin" / "python"
        if not python.exists():
            subprocess.run([UV, "venv", "-q", "--python", sys.executable, root / key], check=True)
            subprocess.run(
                [UV, "pip", "install", "-q", "--python", python, "-r", requirements], check=True
            )
        return python

    return build


def _logged_model_directory(project, view) -> Path:
    """Where the store keeps the logged model's files, on this disk."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=project.tracking_uri)
    location = client.get_logged_model(view.models[0].model_id).artifact_location
    return Path(location.removeprefix("file://"))


def _logged_model_predicts_in_a_fresh_environment(project, fresh_python, outside: Path) -> str:
    """Copies the logged model outside the project, predicts with it there; its requirements."""
    import mlflow

    view = project.mlflow_view()
    mlflow.set_tracking_uri(project.tracking_uri)
    outside.mkdir()
    model = mlflow.artifacts.download_artifacts(
        f"models:/{view.models[0].model_id}", dst_path=str(outside / "model")
    )
    requirements = Path(model) / "requirements.txt"
    python = fresh_python(requirements)
    environ = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    completed = subprocess.run(
        [python, "-I", "-c", PREDICT, model, project.path / "data/01_raw/houses.csv"],
        cwd=outside,
        env=environ,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.split()[-1] == "7"
    return requirements.read_text()


def test_a_project_not_installed_ships_its_package_and_serves_fresh(
    project, fresh_python, tmp_path
):
    package = project.path / "src" / PACKAGE
    for junk in ("__pycache__/nodes.cpython-311.pyc", "stray.pyc", "nodes.py~", ".nodes.py.swp"):
        project.write(f"src/{PACKAGE}/{junk}", "not source")
    project.write(f"src/{PACKAGE}/pipelines/.DS_Store", "not source")
    sources = sorted(str(p.relative_to(package)) for p in package.rglob("*.py"))

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 0, result.output
    view = project.mlflow_view()
    assert view.tags["dryrun.environment"] == "passed"
    assert view.report["environment"]["code"] == [PACKAGE]
    assert view.report["environment"]["modules"][PACKAGE] == "code"
    shipped = _logged_model_directory(project, view) / "code" / PACKAGE
    files = sorted(str(p.relative_to(shipped)) for p in shipped.rglob("*") if p.is_file())
    assert files == sources, "the model's code/ must hold the package's source files only"
    requirements = _logged_model_predicts_in_a_fresh_environment(
        project, fresh_python, tmp_path / "outside"
    )
    assert "kedro-mlflow==" in requirements and "kedro-mlflow-dryrun" not in requirements


def test_an_editable_project_is_shipped_as_code_never_pinned(project, fresh_python, tmp_path):
    python = overlay_python(tmp_path / "overlay")
    uv_install(python, "-e", project.path)
    result = project.kedro("run", "--pipeline=training", python=python)

    assert result.returncode == 0, result.output
    view = project.mlflow_view()
    assert view.tags["dryrun.environment"] == "passed"
    requirements = _logged_model_predicts_in_a_fresh_environment(
        project, fresh_python, tmp_path / "outside"
    )
    assert "house-prices" not in requirements and "house_prices" not in requirements


def test_ship_project_code_false_fails_naming_the_package(project):
    project.set_dryrun(drop_columns=["price"], ship_project_code=False)

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 1, result.output
    assert f"'{PACKAGE}' is the project's package" in result.output
    assert "Fix: set 'ship_project_code: true'" in result.output
    # Logged under the stage that failed, then the verdict of the whole run.
    assert "Environment failed in" in result.output and "Serve check failed" not in result.output
    assert "Dry run verdict: failed (dry run passed, environment failed):" in result.output
    view = project.mlflow_view()
    assert len(view.models) == 1 and view.run.info.status == "FINISHED"
    assert view.tags["dryrun.status"] == "failed"
    assert view.tags["dryrun.environment"] == "failed"
    assert view.report["environment"]["modules"][PACKAGE] == "missing"


def test_hand_written_requirements_without_kedro_mlflow_fail_naming_it(project):
    written = '["kedro-datasets", "pandas"]'
    project.set_log_model_kwargs(f'{{"name": "house_prices", "pip_requirements": {written}}}')

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 1, result.output
    assert "'kedro_mlflow'" in result.output and "'kedro-mlflow==" in result.output
    view = project.mlflow_view()
    assert len(view.models) == 1 and view.run.info.status == "FINISHED"
    assert view.tags["dryrun.status"] == "failed"
    assert view.tags["dryrun.environment"] == "failed"
    # Written by hand, left as written: the audit reports, it does not rewrite.
    assert "kedro-mlflow" not in "".join(view.report["environment"]["requirements"])


def test_environment_off_skips_the_audit(project):
    written = '["pandas"]'
    project.set_log_model_kwargs(f'{{"name": "house_prices", "pip_requirements": {written}}}')
    project.set_dryrun(drop_columns=["price"], environment="off")

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 0, result.output
    assert project.mlflow_view().tags["dryrun.environment"] == "skipped"


def test_fresh_mode_serves_the_sample_from_a_cached_environment(project, tmp_path):
    import shutil

    import mlflow
    from mlflow import MlflowClient

    project.set_dryrun(drop_columns=["price"], environment="fresh", env_manager=["uv", "conda"])

    for _ in range(2):
        result = project.kedro_here(
            "run", "--pipeline=training", env=plugin_cache_in(tmp_path / "cache")
        )
        assert result.returncode == 0, result.output
        assert "its environment holds what it imports (fresh)" in result.output

    client = MlflowClient(tracking_uri=project.tracking_uri)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    runs = client.search_runs(experiments, order_by=["attributes.start_time ASC"])
    assert [run.data.tags["dryrun.environment"] for run in runs] == ["passed", "passed"]
    first, second = (
        mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/dryrun/report.json")["environment"]
        for run in runs
    )
    assert first["mode"] == second["mode"] == "fresh"
    built, reused = first["fresh"]["uv"], second["fresh"]["uv"]
    assert (built["status"], reused["status"]) == ("passed", "passed")
    assert (built["cached"], reused["cached"]) == (False, True)
    assert Path(built["environment"]).is_relative_to(tmp_path / "cache")
    assert set(built["seconds"]) == {"build", "answer"}
    assert set(reused["seconds"]) == {"reuse", "answer"}
    if shutil.which("conda") is None:  # said, not failed: conda is not installed here
        assert first["fresh"]["conda"] == {"status": "skipped", "reason": "conda is not on PATH"}


def test_fresh_mode_catches_an_import_no_pickle_names(project, tmp_path):
    from importlib.metadata import version

    project.override_node(
        """
        def predict_prices(design, regressor, price_bands):
            import hypothesis  # imported when it runs: no pickle, no module global names it

            return pd.DataFrame({"price": design @ regressor["coefficients"], "band": "mid"})
        """
    )
    written = [f"{name}=={version(name)}" for name in ("kedro-mlflow", "kedro-datasets", "pandas")]
    project.set_log_model_kwargs(f'{{"name": "house_prices", "pip_requirements": {written}}}')
    project.set_dryrun(drop_columns=["price"], environment="fresh", env_manager="uv")

    result = project.kedro_here("run", "--pipeline=training", env=plugin_cache_in(tmp_path))

    assert result.returncode == 1, result.output
    assert "fresh environment built by uv from requirements.txt" in result.output
    assert "No module named 'hypothesis'" in result.output
    view = project.mlflow_view()
    assert len(view.models) == 1 and view.run.info.status == "FINISHED"
    assert view.tags["dryrun.environment"] == "failed"


TABULATE_NODES = """
    import tabulate

    _predict_with_numpy = predict_prices

    def predict_prices(design, regressor, price_bands):
        tabulate.tabulate([[len(design)]])  # the model runs a package installed from a wheel
        return _predict_with_numpy(design, regressor, price_bands)
"""


def test_a_wheel_file_install_is_pinned_and_the_projects_own_wheel_is_shipped(project, tmp_path):
    """As offline and Docker builds install: ``pip install ./tabulate-0.9.0-py3-none-any.whl``."""
    project.override_node(TABULATE_NODES)
    wheels = tmp_path / "wheels"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels]
    subprocess.run([*pip_wheel, "tabulate==0.9.0"], check=True)
    subprocess.run([UV, "build", "-q", "--wheel", "--out-dir", wheels, project.path], check=True)
    python = overlay_python(tmp_path / "overlay")
    uv_install(python, *sorted(wheels.glob("*.whl")))  # house_prices and tabulate

    result = project.kedro("run", "--pipeline=training", python=python)

    assert result.returncode == 0, result.output
    view = project.mlflow_view()
    assert view.tags["dryrun.status"] == view.tags["dryrun.environment"] == "passed"
    environment = view.report["environment"]
    assert "tabulate==0.9.0" in environment["requirements"]
    assert not any("house" in line for line in environment["requirements"])
    assert environment["modules"]["tabulate"] == "requirements (tabulate)"
    assert environment["modules"][PACKAGE] == "code" and environment["code"] == [PACKAGE]
