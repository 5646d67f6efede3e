"""The mechanics of a model's environment: pickles, distributions, virtualenvs.

The environment stage decides what the findings mean; this module only reads
what is there: the modules a pickle imports (from its opcodes, never unpickling
it), the distributions installed here and what each requires, and the one
touch of MLflow's requirement inference.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickletools
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

logger = logging.getLogger(__name__)

#: Above this size an artifact is not scanned: the report says so, fresh mode checks it.
SCAN_LIMIT_BYTES = 256 * 1024 * 1024
#: Opcodes read one by one (about 1 s per million) before a byte search takes over.
OPCODE_BUDGET = 100_000
_MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}
_MEMO_GETS = {"GET", "BINGET", "LONG_BINGET"}
_NAME_SEPARATORS = re.compile(r"[-_.]+")


def normalized(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return _NAME_SEPARATORS.sub("-", name).lower()


def pickle_modules(path: Path, opcode_budget: int = OPCODE_BUDGET) -> set[str]:
    """The modules unpickling ``path`` imports, read from its opcodes; nothing is unpickled.

    ``GLOBAL`` names its module inline; ``STACK_GLOBAL`` takes it from the two
    values pushed just before, literal strings or memo lookups. Past
    ``opcode_budget`` opcodes (a pickle of millions of small objects), the rest of
    the file is searched for ``STACK_GLOBAL`` after two literal strings instead.
    """
    modules: set[str] = set()
    memo: dict[int, object] = {}
    pushed: list[object] = [None, None]
    with path.open("rb") as file:
        for count, (opcode, arg, position) in enumerate(pickletools.genops(file)):
            name = opcode.name
            if count == opcode_budget:
                file.seek(position or 0)
                return modules | _stack_global_modules(file.read())
            if name in ("GLOBAL", "INST"):
                modules.add(str(arg).split(" ", 1)[0])
            elif name == "STACK_GLOBAL" and isinstance(pushed[-2], str):
                modules.add(pushed[-2])
            elif name == "MEMOIZE":
                memo[len(memo)] = pushed[-1]
            elif name in _MEMO_PUTS:
                memo[int(arg)] = pushed[-1]  # type: ignore[arg-type]
            elif name in _MEMO_GETS:
                pushed.append(memo.get(int(arg)))  # type: ignore[arg-type]
            elif opcode.stack_after:
                pushed.append(arg if isinstance(arg, str) else None)
            del pushed[:-2]
    return modules


#: SHORT_BINUNICODE module, MEMOIZE, SHORT_BINUNICODE name, MEMOIZE, STACK_GLOBAL.
_STACK_GLOBAL = re.compile(rb"\x8c(.)([A-Za-z_][\w.]*)\x94\x8c(.)([A-Za-z_][\w.]*)\x94\x93", re.S)


def _stack_global_modules(data: bytes) -> set[str]:
    """Modules named by ``STACK_GLOBAL`` after two literal strings whose lengths match."""
    return {
        match[2].decode()
        for match in _STACK_GLOBAL.finditer(data)
        if match[1][0] == len(match[2]) and match[3][0] == len(match[4])
    }


@cache
def installed() -> Mapping[str, Path]:
    """Each distribution installed here, by normalized name -> its ``.dist-info`` directory.

    One listing of each ``sys.path`` entry: ``importlib.metadata`` would scan them all
    again for every distribution it is asked about.
    """
    found: dict[str, Path] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                found.setdefault(normalized(name.split("-", 1)[0]), Path(entry or ".", name))
    return found


def requirement_closure(requirements: Iterable[str]) -> set[str]:
    """The distributions pip installs for ``requirements``: them and what they require.

    Read from the installed distributions' metadata, extras and markers included,
    as MLflow's ``_get_requires_recursive`` does when it prunes requirements.
    """
    pending = [parsed for line in requirements if (parsed := _parsed(line))]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        for line in _requires(name):
            if "extra ==" in line and not extras:
                continue
            if ";" in line and not _marker_holds(line, extras):
                continue
            if parsed := _parsed(line.split(";", 1)[0]):
                pending.append(parsed)
    return {name for name, _ in seen}


@cache
def provided_modules(name: str) -> frozenset[str]:
    """The top-level modules a distribution installs, from its ``top_level.txt`` or ``RECORD``."""
    directory = installed().get(normalized(name))
    if directory is None:
        return frozenset()
    top_level = directory / "top_level.txt"
    if top_level.exists():
        return frozenset(top_level.read_text().split())
    modules = set()
    for line in (directory / "RECORD").read_text().splitlines():
        first = line.split(",", 1)[0].split("/", 1)[0]
        if first.endswith(".py"):
            modules.add(first.removesuffix(".py"))
        elif "." not in first and first != "__pycache__":
            modules.add(first)
    return frozenset(modules)


def distribution_of(module: str) -> str | None:
    """The installed distribution that provides ``module``: a scan, for a finding's message."""
    if normalized(module) in installed():
        return normalized(module)
    return next((name for name in installed() if module in provided_modules(name)), None)


_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def _parsed(line: str) -> tuple[str, frozenset[str]] | None:
    """A requirement line's distribution and extras; not a name (a path, an option): None."""
    match = _REQUIREMENT.match(line)
    if match is None or line.lstrip().startswith("-"):
        return None
    extras = frozenset(e.strip() for e in (match.group(2) or "").split(",") if e.strip())
    return normalized(match.group(1)), extras


def _marker_holds(line: str, extras: frozenset[str]) -> bool:
    from packaging.markers import Marker

    marker = Marker(line.split(";", 1)[1])
    return any(marker.evaluate({"extra": extra}) for extra in extras | {""})


@cache
def _requires(name: str) -> tuple[str, ...]:
    """``Requires-Dist`` of an installed distribution, read from its ``METADATA`` headers."""
    directory = installed().get(name)
    if directory is None:
        return ()
    requires = []
    with (directory / "METADATA").open(encoding="utf-8") as metadata_file:
        for line in metadata_file:
            if line == "\n":
                break
            if line.startswith("Requires-Dist:"):
                requires.append(line.removeprefix("Requires-Dist:").strip())
    return tuple(requires)


def local_source(name: str) -> str | None:
    """Where ``name`` was installed from, when that is a directory here, editable or not.

    pip records it in ``direct_url.json`` (PEP 610): ``pip install -e .`` and
    ``pip install ./project`` both; a name pinned from such a distribution is looked
    up on the public index, where it is another project or none. A wheel or sdist
    file is not a directory: see :func:`archive_source`.
    """
    direct_url = _direct_url(name)
    if direct_url is None or "archive_info" in direct_url:
        return None
    editable = direct_url.get("dir_info", {}).get("editable", False)
    url = str(direct_url.get("url", ""))
    if editable or url.startswith("file://"):
        return ("editable " if editable else "") + url.removeprefix("file://")
    return None


def archive_source(name: str) -> str | None:
    """The wheel or sdist file here that ``name`` was installed from, if it was.

    Offline and Docker builds install releases that way: the name and version are
    those of the release an index has, unless the file was built from a project here.
    """
    direct_url = _direct_url(name)
    url = str(direct_url.get("url", "")) if direct_url else ""
    if direct_url is None or "archive_info" not in direct_url or not url.startswith("file://"):
        return None
    return url.removeprefix("file://")


def _direct_url(name: str) -> dict[str, Any] | None:
    directory = installed().get(normalized(name))
    direct_url_file = directory / "direct_url.json" if directory else None
    if direct_url_file is None or not direct_url_file.exists():
        return None
    direct_url: dict[str, Any] = json.loads(direct_url_file.read_text())
    return direct_url


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


def environment_directory(requirements: str) -> Path:
    """Where the environment built from ``requirements`` is cached, per Python version."""
    version = ".".join(map(str, sys.version_info[:3]))
    key = hashlib.sha256(f"{version}\n{requirements}".encode()).hexdigest()[:16]
    return plugin_cache("environments", key)


def plugin_cache(*names: str) -> Path:
    """The plugin's cache: ``$XDG_CACHE_HOME/kedro-mlflow-dryrun/...`` (default ``~/.cache``),
    never the project's directory."""
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache_home.joinpath("kedro-mlflow-dryrun", *names)


def build_environment(requirements_file: Path, directory: Path) -> Path:
    """A virtualenv holding ``requirements_file`` only; returns its Python.

    uv when installed (it reuses this interpreter and its download cache), else
    ``venv`` and pip. Built aside and renamed, so an interrupted build is not reused.
    """
    python = directory / "bin" / "python"
    if python.exists():
        return python
    building = directory.with_name(directory.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    uv = shutil.which("uv") or _beside_interpreter("uv")
    if uv:
        _run([uv, "venv", "--quiet", "--python", sys.executable, str(building)])
        install = [uv, "pip", "install", "--quiet", "--python", str(building / "bin" / "python")]
    else:
        _run([sys.executable, "-m", "venv", str(building)])
        install = [str(building / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    _run([*install, "-r", str(requirements_file)])
    building.rename(directory)
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


def _beside_interpreter(name: str) -> str | None:
    """A tool installed in this virtualenv, though its ``bin/`` is not on ``PATH``."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None


class EnvironmentBuildError(RuntimeError):
    """A command building or running the fresh environment failed."""


def installed_version(name: str) -> str:
    from importlib import metadata

    return metadata.version(name)


def requirement_name(line: str) -> str | None:
    """The distribution a ``requirements.txt`` line names; a path or an option: ``None``."""
    parsed = _parsed(line)
    return parsed[0] if parsed else None


def function_modules(function: Callable[..., object]) -> set[str]:
    """The module defining ``function``, and the modules of what that module imports.

    ``import numpy as np`` and ``from sklearn.linear_model import Ridge`` both leave a
    name in the module's namespace: a module, or a class or function that knows its own.
    """
    function = getattr(function, "func", function)  # functools.partial
    name = getattr(function, "__module__", None)
    module = sys.modules.get(name) if name else None
    if name is None or module is None:
        return set()
    imported = {
        value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None)
        for value in vars(module).values()
        if isinstance(value, ModuleType) or callable(value)
    }
    return {name} | {module_name for module_name in imported if isinstance(module_name, str)}


@dataclass
class ModelFiles:
    """What the audit reads of a logged model; never a large artifact downloaded."""

    requirements: list[str]
    #: The top-level names of what ``code_paths`` shipped, under the model's ``code/``.
    code: list[str]
    #: Pickle (``python_model.pkl``, ``artifacts/<name>``) -> the modules it imports.
    pickled_modules: dict[str, set[str]] = field(default_factory=dict)
    #: Artifacts left unscanned: too large, or neither here nor small.
    not_scanned: list[str] = field(default_factory=list)
    #: ``conda.yaml``'s dependencies other than its ``pip`` section (``conda`` env managers).
    conda_dependencies: list[str] = field(default_factory=list)


def logged_model_files(model_uri: str) -> ModelFiles:
    """The requirements, code and pickles of a logged model.

    Read in place when the artifact store is this machine's disk; otherwise only the
    small files are downloaded. An artifact's pickle is read from where training
    left it (the ``uri`` its ``MLmodel`` records) when that file is still there.
    """
    import yaml
    from mlflow import MlflowClient

    model_id = model_uri.removeprefix("models:/").split("/", 1)[0]
    location = MlflowClient().get_logged_model(model_id).artifact_location
    with tempfile.TemporaryDirectory(prefix="dryrun-model-") as temporary:
        directory = _local_directory(location) or _download_small_files(location, temporary)
        flavor = yaml.safe_load((directory / "MLmodel").read_text())["flavors"]["python_function"]
        requirements = [
            line.strip()
            for line in (directory / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        code = _code_names(directory / "code") if (directory / "code").is_dir() else []
        files = ModelFiles(requirements, code, conda_dependencies=_conda_dependencies(directory))
        files.pickled_modules["python_model.pkl"] = pickle_modules(
            directory / flavor["python_model"]
        )
        for artifact in (flavor.get("artifacts") or {}).values():
            path = _artifact_on_disk(artifact, directory)
            if path is None or path.stat().st_size > SCAN_LIMIT_BYTES:
                files.not_scanned.append(artifact["path"])
            elif _is_pickle(path):
                files.pickled_modules[artifact["path"]] = pickle_modules(path)
    return files


def _conda_dependencies(model: Path) -> list[str]:
    import yaml

    conda = model / "conda.yaml"
    environment = yaml.safe_load(conda.read_text()) if conda.exists() else None
    dependencies = environment.get("dependencies") if isinstance(environment, dict) else None
    return [str(entry) for entry in dependencies or [] if not isinstance(entry, dict)]


def _local_directory(location: str) -> Path | None:
    path = location.removeprefix("file://")
    return Path(path) if "://" not in path and Path(path).is_dir() else None


def _download_small_files(location: str, destination: str) -> Path:
    from mlflow.artifacts import download_artifacts, list_artifacts

    for name in ("MLmodel", "requirements.txt", "python_model.pkl", "conda.yaml"):
        download_artifacts(artifact_uri=f"{location}/{name}", dst_path=destination)
    code = Path(destination, "code")
    for entry in list_artifacts(artifact_uri=f"{location}/code") or []:
        code.mkdir(exist_ok=True)
        Path(code, Path(entry.path).name).touch()
    return Path(destination)


def _artifact_on_disk(artifact: Mapping[str, str], model: Path) -> Path | None:
    for candidate in (artifact.get("uri", "").removeprefix("file://"), model / artifact["path"]):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _code_names(code: Path) -> list[str]:
    return sorted(entry.name.removesuffix(".py") for entry in code.iterdir())


def _is_pickle(path: Path) -> bool:
    """Protocol 2 and later open with the PROTO opcode."""
    with path.open("rb") as file:
        return file.read(1) == b"\x80"
