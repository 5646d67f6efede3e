"""What a logged model holds and imports, read without loading it.

The requirements and shipped code of its directory, the modules its pickles
import (from their opcodes, never unpickling them), and the modules the
inference pipeline's node functions import.
"""

from __future__ import annotations

import pickletools
import re
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

#: Above this size an artifact is not scanned: the report says so, fresh mode checks it.
SCAN_LIMIT_BYTES = 256 * 1024 * 1024
#: Opcodes read one by one (about 1 s per million) before a byte search takes over.
OPCODE_BUDGET = 100_000
_MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}
_MEMO_GETS = {"GET", "BINGET", "LONG_BINGET"}


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
