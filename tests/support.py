"""What the tests share: copies of the example project, their runs, what MLflow shows of them.

Imported by the tests as ``support``; beside it ``servers``, ``virtualenvs`` and
``engine_contexts``; ``conftest.py`` only holds the fixtures.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from click.testing import CliRunner

for _name, _value in {
    "KEDRO_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # MLflow infers a model's requirements in a subprocess and, past 120 s, logs its defaults
    # alone: on a busy machine the logged model then misses kedro, which the environment
    # stage rightly reports. Give it the time; an idle machine needs a few seconds.
    "MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT": "600",
    # Kedro's console in this process (Project.kedro_here) as wide as a subprocess's.
    "COLUMNS": "250",
}.items():
    os.environ.setdefault(_name, _value)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "house_prices"
PACKAGE = "house_prices"
#: The README's recipe for ``kedro dryrun --json``: Kedro's own start-up lines, logged
#: before any plugin runs, go to stderr too.
STDERR_LOGGING = """\
version: 1
disable_existing_loggers: False
formatters:
  plain:
    format: "%(levelname)s %(name)s: %(message)s"
handlers:
  stderr:
    class: logging.StreamHandler
    formatter: plain
    stream: ext://sys.stderr
loggers:
  kedro:
    level: INFO
root:
  handlers: [stderr]
"""
#: Explore's requests in the tests' copies of the example (the default is 50): every check
#: still runs, each training run a few seconds sooner. The example's NaN warning comes later
#: in the search (with its shrinking and a second pass, 2 s more a run): the tests of
#: explore, which set their own, find it.
TEST_EXPLORE = 5
#: The example's own ``log_model_kwargs``: MLflow infers the model's requirements.
INFERRED = '{"name": "house_prices"}'
#: The distributions MLflow infers for the example's model (less flask and lz4, which the
#: model never imports).
EXAMPLE_REQUIREMENTS = (
    "mlflow",
    "cloudpickle",
    "kedro-datasets",
    "kedro-mlflow",
    "numpy",
    "pandas",
)


@dataclass
class RunResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """What a terminal shows: both streams."""
        return self.stdout + self.stderr


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

    def set_catalog_entry(self, name: str, entry: str) -> None:
        """Declares ``name`` anew in ``conf/base/catalog.yml``, in place of its entry."""
        import yaml

        path = self.path / "conf/base/catalog.yml"
        catalog = yaml.safe_load(path.read_text())
        catalog[name] = yaml.safe_load(textwrap.dedent(entry))
        path.write_text(yaml.safe_dump(catalog, sort_keys=False))

    def override_node(self, source: str) -> None:
        """Redefines node functions: the pipelines pick up the last definition."""
        self.append(f"src/{PACKAGE}/pipelines/nodes.py", source)

    def made_with_installed_kedro(self) -> None:
        """Declares the installed Kedro as the one that made the project, as ``kedro new`` would.

        Kedro before 1.2 refuses a project made with another minor version, and the
        lowest-versions run of ``.ci/run`` installs Kedro 1.0.
        """
        import kedro

        path = self.path / "pyproject.toml"
        text = path.read_text()
        made_with = re.search(r'^kedro_init_version = "(.+)"$', text, re.MULTILINE)
        assert made_with, "the example's pyproject.toml names its kedro_init_version"
        if made_with[1].split(".")[:2] != kedro.__version__.split(".")[:2]:
            start, end = made_with.span(1)
            path.write_text(text[:start] + kedro.__version__ + text[end:])

    def set_dryrun(self, **settings: Any) -> None:
        """``conf/base/dryrun.yml`` holding ``settings`` alone (and the tests' ``explore``)."""
        self.write("conf/base/dryrun.yml", json.dumps({"explore": TEST_EXPLORE, **settings}))

    def track_to(self, tracking_uri: str, experiment: str = "house_prices") -> None:
        """``conf/local/mlflow.yml`` naming ``tracking_uri`` and ``experiment``; written only
        if it differs, so that a snapshot of the project's files taken after it holds."""
        path = self.path / "conf/local/mlflow.yml"
        text = textwrap.dedent(
            f"""
            server:
              mlflow_tracking_uri: {tracking_uri}
            tracking:
              experiment:
                name: {experiment}
            """
        )
        if not path.exists() or path.read_text() != text:
            path.write_text(text)

    def set_log_model_kwargs(self, expression: str) -> None:
        registry = self.path / f"src/{PACKAGE}/pipeline_registry.py"
        text = registry.read_text()
        start = text.index("log_model_kwargs=")
        end = text.index("\n", start)
        registry.write_text(text[:start] + f"log_model_kwargs={expression}," + text[end:])

    def kedro(
        self, *args: str, env: dict[str, str] | None = None, python: Path | None = None
    ) -> RunResult:
        """``kedro <args>`` in a subprocess, as a user types it (in another virtualenv:
        ``python``)."""
        completed = subprocess.run(
            [python or sys.executable, "-m", "kedro", *args],
            cwd=self.path,
            capture_output=True,
            text=True,
            env=self._environment(env),
            timeout=600,
        )
        return RunResult(completed.returncode, completed.stdout, completed.stderr)

    def kedro_here(self, *args: str, env: dict[str, str] | None = None) -> RunResult:
        """``kedro <args>`` in this process: Kedro's own CLI (its commands, the plugins' and
        the project's) through click's test runner, the project's directory the current one,
        then the project forgotten. What a terminal shows, less Python's start and Kedro's
        and MLflow's imports (4 s of a 13 s training run). Not for a traceback (click keeps
        the exception), ``--json`` (a ``kedro.init`` entry point) or logging set up anew."""
        from kedro.framework.cli.cli import KedroCLI

        environ = os.environ.copy()
        os.environ.update(env or {})
        try:
            with in_project(self):
                result = _cli_runner().invoke(KedroCLI(self.path), list(args))
        finally:
            os.environ.clear()
            os.environ.update(environ)
        return RunResult(result.exit_code, result.stdout, result.stderr)

    def kedro_for(self, runner: str) -> Callable[..., RunResult]:
        """:meth:`kedro_here`, or :meth:`kedro` under ParallelRunner, which starts
        processes: they inherit what a process of its own gives them."""
        return self.kedro if runner == "ParallelRunner" else self.kedro_here

    def _environment(self, env: dict[str, str] | None) -> dict[str, str]:
        """This process's environment, less what an in-process run of another project left
        there: its ``src/`` on ``PYTHONPATH`` (Kedro puts it), whose package would shadow
        this project's, and MLflow's URI variables (``mlflow.set_registry_uri`` sets one),
        which would override this project's ``mlflow.yml``. ``env`` may set them."""
        environ = {**os.environ, "COLUMNS": "250"}
        for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            environ.pop(variable, None)
        temporary, own = tempfile.gettempdir(), str(self.path)
        paths = environ.pop("PYTHONPATH", "").split(os.pathsep)
        kept = [p for p in paths if p and (not p.startswith(temporary) or p.startswith(own))]
        if kept:
            environ["PYTHONPATH"] = os.pathsep.join(kept)
        return {**environ, **(env or {})}

    def mlflow_view(self) -> MlflowView:
        """The single run of the store, its logged models, signature and report."""
        import mlflow
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri)
        experiments = client.search_experiments()
        runs = client.search_runs([e.experiment_id for e in experiments])
        assert len(runs) == 1, f"expected one MLflow run, found {len(runs)}"
        run = runs[0]
        models = logged_models(client, run)
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


def example_copy(path: Path, log_model_kwargs: str | None = None) -> Project:
    """A fresh copy of the example project at ``path``, with nothing training left, an
    empty MLflow store (its tables made, no run), :data:`TEST_EXPLORE`, and
    ``log_model_kwargs`` (by default :func:`written_requirements`)."""
    ignored = shutil.ignore_patterns("mlflow.db", "mlartifacts", "mlruns", "*.pkl")
    shutil.copytree(EXAMPLE, path, ignore=ignored)
    shutil.copy(empty_store(), path / "mlflow.db")
    project = Project(path)
    project.made_with_installed_kedro()
    project.append("conf/base/dryrun.yml", f"explore: {TEST_EXPLORE}")
    project.set_log_model_kwargs(log_model_kwargs or written_requirements())
    return project


def written_requirements(**more: str) -> str:
    """The example's ``log_model_kwargs`` with ``more``, and the requirements MLflow
    infers for it written by hand, at the installed versions: MLflow's inference (a
    subprocess, 3 s of CPU of a training run's 5) then does not run. The tests of what
    it gives ask for :data:`INFERRED`."""
    from importlib.metadata import version

    pins = [f"{name}=={version(name)}" for name in EXAMPLE_REQUIREMENTS]
    return json.dumps({"name": PACKAGE, **more, "pip_requirements": pins})


@functools.cache
def empty_store() -> Path:
    """An MLflow sqlite store with its tables made, once per process: MLflow's migrations
    of a new store cost 3 to 10 s, the copy of this one a millisecond."""
    from mlflow.tracking._tracking_service.utils import _get_sqlalchemy_store

    path = Path(tempfile.mkdtemp(prefix="empty-store-")) / "mlflow.db"
    _get_sqlalchemy_store(f"sqlite:///{path}", None)
    return path


def relocated_copy(project: Project, path: Path) -> Project:
    """A copy of ``project`` at ``path`` whose MLflow store names the copy's files, not the
    original's: the store keeps absolute artifact locations, which a plain copy would share."""
    shutil.copytree(project.path, path)
    store = path / "mlflow.db"
    if store.exists():
        _replace_in_store(store, str(project.path), str(path))
    return Project(path)


def _replace_in_store(store: Path, old: str, new: str) -> None:
    """Every text value of the sqlite store with ``old`` in it, ``old`` replaced by ``new``."""
    with closing(sqlite3.connect(store)) as database, database:
        tables = database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for (table,) in tables.fetchall():
            for _, column, kind, *_ in database.execute(f'PRAGMA table_info("{table}")'):
                if kind.upper().startswith(("VARCHAR", "TEXT")):
                    database.execute(
                        f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                        f'WHERE instr("{column}", ?) > 0',
                        (old, new, old),
                    )


def track_in_project(project: Project) -> None:
    """The project's tracking store by its absolute URI: MLflow caches one store per URI,
    so a relative sqlite URI would reach the store of the first project this process ran."""
    project.track_to(project.tracking_uri)


def _cli_runner() -> CliRunner:
    """click's test runner, stdout and stderr apart (click before 8.2 mixes them unless
    told not to: the lowest versions)."""
    from click.testing import CliRunner

    apart = "mix_stderr" in inspect.signature(CliRunner).parameters
    options: dict[str, Any] = {"mix_stderr": False} if apart else {}
    return CliRunner(**options)


@contextmanager
def in_project(project: Project) -> Iterator[None]:
    """This process run from the project, as Kedro runs there: its directory the current
    one, its tracking store by absolute URI; then the directory as it was and the project
    forgotten."""
    previous = Path.cwd()
    track_in_project(project)
    os.chdir(project.path)
    try:
        yield
    finally:
        os.chdir(previous)
        forget(project)


def session_run(
    project: Project, runtime_params: dict[str, Any] | None = None, **run_kwargs: Any
) -> dict[str, Any]:
    """``KedroSession.run`` of the project, in this process (its directory the current one)."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project.path)
    with KedroSession.create(project_path=project.path, runtime_params=runtime_params) as session:
        return session.run(**run_kwargs)


def forget(project: Project) -> None:
    """Ends any MLflow run left open, and forgets the project's package and paths, so that
    the next project (same package name, other code) is imported afresh."""
    import mlflow

    while mlflow.active_run():
        mlflow.end_run()
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    sys.path[:] = [p for p in sys.path if not p.startswith(str(project.path))]
    # Kedro puts src/ on PYTHONPATH too: a later `kedro run` in a subprocess would import
    # this project's package, not its own.
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    kept = [p for p in paths if p and not p.startswith(str(project.path))]
    if kept:
        os.environ["PYTHONPATH"] = os.pathsep.join(kept)
    else:
        os.environ.pop("PYTHONPATH", None)


def logged_models(client: Any, run: Any) -> list[Any]:
    """The models a run logged, found the way the plugin finds them."""
    from kedro_mlflow_dryrun.adapters.logged_models import logged_models_of_run

    return logged_models_of_run(run.info.run_id, client, run.info.experiment_id)


def stderr_logging(directory: Path) -> dict[str, str]:
    """The environment of the README's ``--json`` recipe, its logging file in ``directory``."""
    path = directory / "stderr_logging.yml"
    path.write_text(STDERR_LOGGING)
    return {"KEDRO_LOGGING_CONFIG": str(path)}
