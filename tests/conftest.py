"""Fixtures: a fresh copy of the example project, run in a subprocess or in-process."""

from __future__ import annotations

import logging
import os
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
    return Project(path)


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow sqlite store with its tables made, once: MLflow's migrations of a new
    store cost about 10 s on a busy machine, a copy of this one 0.1 s."""
    from mlflow.tracking._tracking_service.utils import _get_sqlalchemy_store

    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    _get_sqlalchemy_store(f"sqlite:///{path}", None)
    return path


@pytest.fixture
def stored(project: Project, empty_store: Path) -> Project:
    """The project, its MLflow store already made (for tests of what a run logs)."""
    shutil.copy(empty_store, project.path / "mlflow.db")
    return project


@pytest.fixture
def plugin_lines():
    """The plugin's log lines (Kedro's session sets up logging anew, past ``caplog``)."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("kedro_mlflow_dryrun")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


@pytest.fixture(scope="session")
def spark():
    """One local Spark for the tests (it takes about 10 s to start); its Python workers
    run this interpreter, which has the project's packages (the system's has not)."""

    from pyspark.sql import SparkSession

    workers = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    yield session
    session.stop()
    if workers is None:
        del os.environ["PYSPARK_PYTHON"]
    else:
        os.environ["PYSPARK_PYTHON"] = workers


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

    # Kedro puts the project's src/ on PYTHONPATH too: a later `kedro run` in a subprocess
    # would import this project's package instead of its own.
    pythonpath = os.environ.get("PYTHONPATH")
    yield run
    if pythonpath is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = pythonpath
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
