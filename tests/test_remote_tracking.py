"""A real MLflow tracking server, and stores shared by runs that start together.

The report and the tag are written by the dry run's own MLflow client, and the
serve check loads the logged model back: both must reach the store kedro-mlflow
tracks to, over HTTP too, and keep to their own run when another one logs at the
same time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from servers import Server
from servers import mlflow_server as support_server
from support import Project, example_copy, logged_models

EXTRA_COLUMN = """
    _predict_prices = predict_prices

    def predict_prices(design, regressor, price_bands):
        return _predict_prices(design, regressor, price_bands).assign(currency="EUR")
"""

BASE_OUTPUTS = [("price", "double"), ("band", "string")]
RUN_SECONDS = 300
STOP_SECONDS = 15


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``mlflow server`` on a free port, serving its artifacts over HTTP."""
    with support_server(tmp_path_factory.mktemp("mlflow_server")) as server:
        yield server


def _track_to(project: Project, tracking_uri: str, experiment: str) -> None:
    """The project tracks to ``tracking_uri`` alone: its own store is gone."""
    (project.path / "mlflow.db").unlink()
    project.track_to(tracking_uri, experiment)


def _kedro_together(*projects: Project) -> list[tuple[int, str]]:
    """``kedro run --pipeline=training`` in every project, all started at once."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "kedro", "run", "--pipeline=training"],
            cwd=project.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "COLUMNS": "250"},
        )
        for project in projects
    ]
    results = []
    try:
        for process in processes:
            output, _ = process.communicate(timeout=RUN_SECONDS)
            results.append((process.returncode, output))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=STOP_SECONDS)
    return results


@contextmanager
def _global_tracking_uri(uri: str) -> Iterator[None]:
    """``models:/`` URIs resolve against the global tracking URI only."""
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


@dataclass
class RunView:
    run: Any
    model_ids: list[str]
    signature: Any
    report: dict[str, Any]


def _views_by_project(tracking_uri: str, experiment: str, download: Path) -> dict[str, RunView]:
    """Each run of the experiment, read back through the tracking URI, by project path."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r} at {tracking_uri}"
    experiment_id = found.experiment_id
    views = {}
    for run in client.search_runs([experiment_id]):
        run_id = run.info.run_id
        models = logged_models(client, run)
        with _global_tracking_uri(tracking_uri):
            info = mlflow.models.get_model_info(f"models:/{models[0].model_id}")
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id,
            artifact_path="dryrun/report.json",
            tracking_uri=tracking_uri,
            dst_path=str(download / run_id),
        )
        views[run.data.tags["project_path"]] = RunView(
            run=run,
            model_ids=[model.model_id for model in models],
            signature=info.signature,
            report=json.loads(Path(local).read_text()),
        )
    return views


def _outputs(signature: Any) -> list[tuple[str, str]]:
    return [(column["name"], column["type"]) for column in signature.outputs.to_dict()]


def _assert_own_dry_run(view: RunView, outputs: list[tuple[str, str]]) -> None:
    """The run's model, tag and report all describe this run's own output."""
    assert len(view.model_ids) == 1, "kedro-mlflow logs one model per run"
    assert view.run.info.status == "FINISHED"
    assert view.run.data.tags["dryrun.status"] == "passed"
    assert _outputs(view.signature) == outputs
    assert view.signature.inputs.input_names() == ["area", "rooms", "age", "city"]
    report = view.report
    assert report["status"] == "passed"
    assert report["sample_source"] == "captured from training"
    assert [(c["name"], c["type"]) for c in report["signature"]["outputs"]] == outputs
    # The serve check loaded this run's model, not the other run's.
    assert report["serve"]["model_uri"] == f"models:/{view.model_ids[0]}"
    assert report["serve"]["status"] == 200 and report["serve"]["rows"] == 100


def test_the_dry_run_reports_to_a_tracking_server(mlflow_server, tmp_path):
    project = example_copy(tmp_path / "project")
    _track_to(project, mlflow_server.url, "remote")

    result = project.kedro("run", "--pipeline=training")

    assert result.returncode == 0, result.output
    assert "Dry run passed: 100 rows of 'houses' -> 'predictions'" in result.output
    assert "Serve check passed" in result.output
    (view,) = _views_by_project(mlflow_server.url, "remote", tmp_path / "downloaded").values()
    _assert_own_dry_run(view, BASE_OUTPUTS)
    assert view.run.data.tags["dryrun.output"] == "predictions"
    assert view.run.info.artifact_uri.startswith("mlflow-artifacts:")
    # The audit read the model's small files through the server: the package is shipped.
    assert view.run.data.tags["dryrun.environment"] == "passed"
    assert view.report["environment"]["code"] == ["house_prices"]
    # The report went through the server to its artifact store, not into the project.
    stored = list(mlflow_server.artifacts.rglob("dryrun/report.json"))
    assert len(stored) == 1 and json.loads(stored[0].read_text()) == view.report
    assert not (project.path / "mlflow.db").exists()
    assert not (project.path / "mlruns").exists()


def _two_projects(tmp_path: Path, tracking_uri: str, experiment: str) -> tuple[Project, Project]:
    plain, extra = example_copy(tmp_path / "plain"), example_copy(tmp_path / "extra")
    extra.override_node(EXTRA_COLUMN)
    for project in (plain, extra):
        _track_to(project, tracking_uri, experiment)
    return plain, extra


def _assert_each_run_has_its_own_dry_run(
    tracking_uri: str, experiment: str, plain: Project, extra: Project, download: Path
) -> None:
    views = _views_by_project(tracking_uri, experiment, download)
    assert set(views) == {str(plain.path), str(extra.path)}
    _assert_own_dry_run(views[str(plain.path)], BASE_OUTPUTS)
    _assert_own_dry_run(views[str(extra.path)], [*BASE_OUTPUTS, ("currency", "string")])


def test_two_runs_at_once_against_one_server(mlflow_server, tmp_path):
    from mlflow import MlflowClient

    # One experiment for both, created beforehand as a team would have it: two
    # kedro-mlflow processes creating the same experiment at once race each other.
    MlflowClient(tracking_uri=mlflow_server.url).create_experiment("together")
    plain, extra = _two_projects(tmp_path, mlflow_server.url, "together")

    results = _kedro_together(plain, extra)

    for returncode, output in results:
        assert returncode == 0, output
        assert "Dry run passed" in output
    _assert_each_run_has_its_own_dry_run(
        mlflow_server.url, "together", plain, extra, tmp_path / "downloaded"
    )


def test_two_runs_at_once_against_one_sqlite_file(tmp_path):
    from mlflow import MlflowClient

    tracking_uri = f"sqlite:///{tmp_path / 'shared.db'}"
    # The store and its experiment exist before the runs: two processes creating the
    # tables of a new sqlite store at once race each other.
    MlflowClient(tracking_uri=tracking_uri).create_experiment(
        "shared", artifact_location=(tmp_path / "shared_artifacts").as_uri()
    )
    plain, extra = _two_projects(tmp_path, tracking_uri, "shared")

    results = _kedro_together(plain, extra)

    for returncode, output in results:
        assert returncode == 0, output
        assert "Dry run passed" in output
    _assert_each_run_has_its_own_dry_run(
        tracking_uri, "shared", plain, extra, tmp_path / "downloaded"
    )
