"""The ways ``log_model`` takes a model's requirements, and the value that fixes each.

MLflow takes one of ``conda_env`` (a dict, or a YAML file), ``pip_requirements`` or
``extra_pip_requirements`` (a list, or a requirements file), or none of them (it
infers them). It refuses two at once, so "add it to ``pip_requirements``" breaks a
``conda_env`` project: a fix is the whole value to write where the user wrote theirs,
which works applied as shown.
"""

from __future__ import annotations

import textwrap
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro_mlflow_dryrun.adapters.distributions import requirement_name

#: The keys of ``log_model`` that give the requirements, the first one set wins.
KEYS = ("conda_env", "pip_requirements", "extra_pip_requirements")


@dataclass(frozen=True)
class RequirementsFix:
    """What to write: in ``log_model_kwargs[key]``, or in the file that key names."""

    key: str
    value: dict[str, Any] | list[str]
    file: Path | None = None

    def describe(self) -> str:
        if self.file is None:
            return f"Fix: set log_model_kwargs['{self.key}'] to {self.value!r}"
        return (
            f"Fix: write this to {self.file} (log_model_kwargs['{self.key}']):\n"
            + textwrap.indent(self.text(), "  ")
        )

    def text(self) -> str:
        """The file's new content."""
        import yaml

        if isinstance(self.value, dict):
            return str(yaml.safe_dump(self.value, sort_keys=False))
        return "".join(f"{line}\n" for line in self.value)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "file": str(self.file) if self.file else None, "value": self.value}


def fix(
    log_model_kwargs: Mapping[str, object],
    base: Path | None,
    add: list[str],
    remove: Collection[str],
) -> RequirementsFix | None:
    """The requirements as written, with the pins ``add`` and without the names ``remove``.

    Written nowhere (MLflow infers them): ``extra_pip_requirements``, which keeps the
    inference. A file named relative to the project (``base``) is shown by its full path.
    """
    if not add and not remove:
        return None
    key = next((key for key in KEYS if log_model_kwargs.get(key)), "extra_pip_requirements")
    written = log_model_kwargs.get(key) or []
    file = None
    if isinstance(written, str | Path):
        file = Path(written) if base is None else base / written
        written = _read(file, key)
    if isinstance(written, dict):
        value: dict[str, Any] | list[str] = _conda_env(written, add, remove)
    else:
        assert isinstance(written, list | tuple)
        value = _pip([str(line) for line in written], add, remove)
    # Nothing to change where the user writes them (a conda dependency, say, without
    # conda_env): the findings' own fix lines stand alone.
    return RequirementsFix(key, value, file) if value != written else None


def _read(file: Path, key: str) -> object:
    if key == "conda_env":
        import yaml

        return yaml.safe_load(file.read_text()) or {}
    return [line.strip() for line in file.read_text().splitlines() if line.strip()]


def _pip(lines: list[str], add: list[str], remove: Collection[str]) -> list[str]:
    kept = [line for line in lines if requirement_name(line) not in remove]
    return kept + [pin for pin in add if pin not in kept]


def _conda_env(
    environment: dict[str, Any], add: list[str], remove: Collection[str]
) -> dict[str, Any]:
    """The environment with the pins in its ``pip`` section, and without ``remove``."""
    dependencies: list[Any] = []
    pip: list[str] | None = None
    for entry in environment.get("dependencies") or []:
        if isinstance(entry, dict) and "pip" in entry:
            pip = _pip(list(entry["pip"] or []), add, remove)
            dependencies.append({**entry, "pip": pip})
        elif isinstance(entry, dict) or requirement_name(str(entry)) not in remove:
            dependencies.append(entry)
    if pip is None:
        if "pip" not in dependencies:
            dependencies.append("pip")
        dependencies.append({"pip": _pip([], add, remove)})
    return {**environment, "dependencies": dependencies}
