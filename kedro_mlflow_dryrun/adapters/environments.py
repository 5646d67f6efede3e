"""Fresh environments: virtualenvs built from a model's requirements only, and the
code shipped with a model, copied without caches.

Built once per requirements and Python version, in the plugin's cache, never in
the project's directory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

#: What a project's directory holds that is not its source: bytecode, caches, editor files.
NOT_SOURCE = (
    *("__pycache__", "*.py[co]", ".mypy_cache", ".pytest_cache", ".ruff_cache"),
    *("*~", ".*.sw?", ".#*", "#*#", ".DS_Store", "Thumbs.db", ".ipynb_checkpoints"),
)


@contextmanager
def source_only(code_paths: Iterable[str]) -> Iterator[list[str]]:
    """Copies of the directories among ``code_paths`` without what :data:`NOT_SOURCE` names,
    under their own names (MLflow ships each as ``code/<name>``), until the block ends.

    It runs as kedro-mlflow logs the model, so it never raises: a directory it cannot
    copy is shipped as it is, and MLflow says what it makes of it.
    """
    with tempfile.TemporaryDirectory(prefix="dryrun-code-") as temporary:
        copies = []
        for index, path in enumerate(map(str, code_paths)):
            copy = Path(temporary, str(index), os.path.basename(os.path.abspath(path)))
            try:
                if os.path.isdir(path):
                    shutil.copytree(path, copy, ignore=shutil.ignore_patterns(*NOT_SOURCE))
                    path = str(copy)
            except OSError as error:
                logger.warning("%s is shipped as it is, caches included: %s", path, error)
            copies.append(path)
        yield copies


def environment_directory(manager: str, files: str) -> Path:
    """Where ``manager``'s environment built from ``files`` is cached, per Python version."""
    version = ".".join(map(str, sys.version_info[:3]))
    key = hashlib.sha256(f"{manager}\n{version}\n{files}".encode()).hexdigest()[:16]
    return plugin_cache("environments", f"{manager}-{key}")


def plugin_cache(*names: str) -> Path:
    """The plugin's cache: ``$XDG_CACHE_HOME/kedro-mlflow-dryrun/...`` (default ``~/.cache``),
    never the project's directory."""
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache_home.joinpath("kedro-mlflow-dryrun", *names)


def missing_tool(manager: str) -> str | None:
    """Why ``manager`` cannot build here (its tool is not installed), or ``None``."""
    if manager == "uv" and _tool("uv") is None:
        return "uv is not installed here (neither on PATH nor beside this Python)"
    if manager == "conda" and _tool("conda") is None:
        return "conda is not on PATH"
    return None


def build_environment(manager: str, model: Path, directory: Path) -> Path:
    """The environment ``mlflow models serve --env-manager <manager>`` builds for the model
    in ``model``, from the same files; returns its Python.

    virtualenv: ``venv`` and pip, from requirements.txt; uv: ``uv venv`` and ``uv pip``
    (this interpreter, uv's download cache), from requirements.txt; conda: ``conda env
    create`` from conda.yaml. Built aside, one folder per process, and renamed: an
    interrupted build is not reused, and two trainings building the same one do not collide.
    """
    python = directory / "bin" / "python"
    if python.exists():
        return python
    building = directory.with_name(f"{directory.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    requirements = ["-r", str(model / "requirements.txt")]
    if manager == "conda":
        conda = _tool("conda") or "conda"
        _run(
            [
                conda,
                "env",
                "create",
                "--quiet",
                "--prefix",
                str(building),
                "--file",
                str(model / "conda.yaml"),
            ]
        )
    elif manager == "uv":
        uv = _tool("uv") or "uv"
        _run([uv, "venv", "--quiet", "--python", sys.executable, str(building)])
        _run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(building / "bin" / "python"),
                *requirements,
            ]
        )
    else:
        _run([sys.executable, "-m", "venv", str(building)])
        _run([str(building / "bin" / "python"), "-m", "pip", "install", "--quiet", *requirements])
    try:
        building.rename(directory)
    except OSError:  # another process finished the same environment first: use it
        shutil.rmtree(building, ignore_errors=True)
    return python


def run_isolated(python: Path, script: str, *args: str, cwd: Path) -> str:
    """``python -I -c script args`` in ``cwd``, without ``PYTHONPATH``; returns its stdout."""
    environ = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return _run([str(python), "-I", "-c", script, *args], cwd=cwd, env=environ)


def _run(command: list[str], cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        raise EnvironmentBuildError(
            f"{' '.join(command[:4])} ... exited {completed.returncode}:\n"
            f"{(completed.stderr or completed.stdout).strip()[-2000:]}"
        )
    return completed.stdout


def _tool(name: str) -> str | None:
    """A command on ``PATH``, or installed in this virtualenv though its ``bin/`` is not."""
    candidate = Path(sys.executable).parent / name
    return shutil.which(name) or (str(candidate) if candidate.exists() else None)


class EnvironmentBuildError(RuntimeError):
    """A command building or running the fresh environment failed."""
