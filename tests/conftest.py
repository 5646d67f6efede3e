"""Fixtures: a fresh copy of the example project, run in a subprocess or in-process."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from support import EXAMPLE, PACKAGE, Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A fresh copy of the example project, with its own sqlite MLflow store."""
    path = tmp_path / "project"
    shutil.copytree(
        EXAMPLE, path, ignore=shutil.ignore_patterns("mlflow.db", "mlartifacts", "mlruns", "*.pkl")
    )
    project = Project(path)
    project.made_with_installed_kedro()
    return project


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


def _hypothesis_profile() -> None:
    """Property tests write nothing and judge no speed: the machine is shared and noisy."""
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "dryrun-tests",
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    settings.load_profile("dryrun-tests")


_hypothesis_profile()
