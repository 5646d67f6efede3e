"""Fixtures: a fresh copy of the example project, run in a subprocess or in-process."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from support import Project, example_copy, forget, session_run, track_in_project


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests on Spark run last: once the session is up, ``spark_udf: auto`` would
    run the Spark batch check in every later training run of this process."""
    items.sort(key=lambda item: "spark" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="module")
def spark():
    """One local Spark per test module: it takes about 10 s to start. Its Python workers
    run this interpreter, which holds the models' packages; they keep the modules they
    imported, so a module whose projects hold other node code gets workers of its own."""
    import os

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A fresh copy of the example project, with its own sqlite MLflow store."""
    return example_copy(tmp_path / "project")


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


@pytest.fixture
def in_process(project: Project, monkeypatch: pytest.MonkeyPatch):
    """Runs the project with ``KedroSession`` in this process, then forgets it."""
    monkeypatch.chdir(project.path)
    track_in_project(project)

    def run(runtime_params: dict[str, Any] | None = None, **run_kwargs: Any) -> dict[str, Any]:
        return session_run(project, runtime_params, **run_kwargs)

    yield run
    forget(project)


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
