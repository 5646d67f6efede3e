"""Real Kedro projects and a real sqlite MLflow store, made fresh for each test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

for _name, _value in {
    "KEDRO_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}.items():
    os.environ.setdefault(_name, _value)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "house_prices"
PACKAGE = "house_prices"


@dataclass
class RunResult:
    returncode: int
    output: str


@dataclass
class MlflowView:
    """What a user sees in MLflow after a training run."""

    run: Any
    models: list[Any]
    model_info: Any
    report: dict[str, Any] | None

    @property
    def signature(self) -> Any:
        return self.model_info.signature if self.model_info else None

    @property
    def tags(self) -> dict[str, str]:
        return self.run.data.tags


class Project:
    """A copy of the example project that a test may change before running it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.path / 'mlflow.db'}"

    def write(self, relative: str, text: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))

    def append(self, relative: str, text: str) -> None:
        with (self.path / relative).open("a") as file:
            file.write("\n" + textwrap.dedent(text))

    def override_node(self, source: str) -> None:
        """Redefines node functions: the pipelines pick up the last definition."""
        self.append(f"src/{PACKAGE}/pipelines/nodes.py", source)

    def set_dryrun(self, **settings: Any) -> None:
        self.write("conf/base/dryrun.yml", json.dumps(settings))

    def set_log_model_kwargs(self, expression: str) -> None:
        registry = self.path / f"src/{PACKAGE}/pipeline_registry.py"
        text = registry.read_text()
        start = text.index("log_model_kwargs=")
        end = text.index("\n", start)
        registry.write_text(text[:start] + f"log_model_kwargs={expression}," + text[end:])

    def kedro(self, *args: str, env: dict[str, str] | None = None) -> RunResult:
        """``kedro <args>`` in a subprocess, as a user types it."""
        completed = subprocess.run(
            [sys.executable, "-m", "kedro", *args],
            cwd=self.path,
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "250", **(env or {})},
            timeout=600,
        )
        return RunResult(completed.returncode, completed.stdout + completed.stderr)

    def mlflow_view(self) -> MlflowView:
        """The single run of the store, its logged models, signature and report."""
        import mlflow
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri)
        experiments = client.search_experiments()
        runs = client.search_runs([e.experiment_id for e in experiments])
        assert len(runs) == 1, f"expected one MLflow run, found {len(runs)}"
        run = runs[0]
        models = client.search_logged_models(
            experiment_ids=[run.info.experiment_id],
            filter_string=f"source_run_id = '{run.info.run_id}'",
        )
        model_info = None
        if models:
            mlflow.set_tracking_uri(self.tracking_uri)
            model_info = mlflow.models.get_model_info(f"models:/{models[0].model_id}")
        artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "dryrun")]
        report = None
        if "dryrun/report.json" in artifacts:
            local = mlflow.artifacts.download_artifacts(
                run_id=run.info.run_id,
                artifact_path="dryrun/report.json",
                tracking_uri=self.tracking_uri,
                dst_path=str(self.path.parent / "downloaded"),
            )
            report = json.loads(Path(local).read_text())
        return MlflowView(run=run, models=list(models), model_info=model_info, report=report)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A fresh copy of the example project, with its own sqlite MLflow store."""
    path = tmp_path / "project"
    shutil.copytree(
        EXAMPLE, path, ignore=shutil.ignore_patterns("mlflow.db", "mlartifacts", "mlruns", "*.pkl")
    )
    return Project(path)


@pytest.fixture
def in_process(project: Project, monkeypatch: pytest.MonkeyPatch):
    """Runs the project with ``KedroSession`` in this process, then forgets it."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    monkeypatch.chdir(project.path)
    # MLflow caches one store per tracking URI: a relative sqlite URI would reach the
    # store of the first project this process ran.
    project.write(
        "conf/local/mlflow.yml",
        f"""
        server:
          mlflow_tracking_uri: {project.tracking_uri}
        tracking:
          experiment:
            name: house_prices
        """,
    )

    def run(runtime_params: dict[str, Any] | None = None, **run_kwargs: Any) -> dict[str, Any]:
        bootstrap_project(project.path)
        with KedroSession.create(
            project_path=project.path, runtime_params=runtime_params
        ) as session:
            return session.run(**run_kwargs)

    yield run
    import mlflow

    while mlflow.active_run():
        mlflow.end_run()
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    sys.path[:] = [p for p in sys.path if not p.startswith(str(project.path))]
