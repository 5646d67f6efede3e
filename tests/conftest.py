"""Fixtures: a fresh copy of the example project, run in a subprocess or in-process."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from support import Project, example_copy, in_project, relocated_copy, session_run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests on Spark run last: once the session is up, ``spark_udf: auto`` would
    run the Spark batch check in every later training run of this process. Whole files
    move: pytest-xdist (``--dist loadfile``) hands a file's tests to one worker, which
    then takes the files holding Spark tests after all the others."""
    spark_files = {item.path for item in items if _uses_spark(item)}
    items.sort(key=lambda item: (item.path in spark_files, _uses_spark(item)))


def _uses_spark(item: pytest.Item) -> bool:
    return "spark" in getattr(item, "fixturenames", ())


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
    """A fresh copy of the example project, with its own empty sqlite MLflow store."""
    return example_copy(tmp_path / "project")


@pytest.fixture(scope="session")
def trained_example(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The example after ``kedro run --pipeline=training`` in a subprocess, once per session
    (per xdist worker): tests of what comes after training take copies of it."""
    project = example_copy(tmp_path_factory.mktemp("trained") / "project")
    result = project.kedro("run", "--pipeline=training")
    assert result.returncode == 0, result.output
    return project


@pytest.fixture
def trained_project(trained_example: Project, tmp_path: Path) -> Project:
    """A copy of the trained example (its model, its store and the store's artifacts)."""
    return relocated_copy(trained_example, tmp_path / "project")


@pytest.fixture
def plugin_lines():
    """The plugin's log lines (Kedro's session sets up logging anew, past ``caplog``)."""
    lines: list[str] = []

    class Collected(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collected()
    logger = logging.getLogger("kedro_mlflow_dryrun")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


@pytest.fixture
def in_process(project: Project):
    """Runs the project with ``KedroSession`` in this process, then forgets it."""

    def run(runtime_params: dict[str, Any] | None = None, **run_kwargs: Any) -> dict[str, Any]:
        return session_run(project, runtime_params, **run_kwargs)

    with in_project(project):
        yield run


def _main_module_of_a_script() -> None:
    """A pytest-xdist worker's ``__main__`` is execnet's ``python -c`` string, with no
    ``__file__``: ``pyspark.sql.connect`` (which MLflow imports to recognise a Spark frame)
    takes that for a doctest run and calls ``sys.exit(0)`` mid-test. Give it the file a
    serial run has, pytest's own ``__main__`` (guarded: running it again does nothing)."""
    main = sys.modules["__main__"]
    if main.__spec__ is None and not hasattr(main, "__file__"):
        main.__file__ = str(Path(pytest.__file__).with_name("__main__.py"))


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


_main_module_of_a_script()
_hypothesis_profile()
