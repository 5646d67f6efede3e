"""The distributions installed here: what each provides and requires, and where it came from.

Read from each ``.dist-info`` directory on ``sys.path``, never by importing: the
audit asks about hundreds of names, and ``importlib.metadata`` would scan every
path entry again for each.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

_NAME_SEPARATORS = re.compile(r"[-_.]+")


def normalized(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return _NAME_SEPARATORS.sub("-", name).lower()


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


def installed_version(name: str) -> str:
    from importlib import metadata

    return metadata.version(name)


def requirement_name(line: str) -> str | None:
    """The distribution a ``requirements.txt`` line names; a path or an option: ``None``."""
    parsed = _parsed(line)
    return parsed[0] if parsed else None
