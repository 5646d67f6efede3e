"""Where a results file's numbers come from: one commit, its uncommitted changes, one machine.

Each suite run writes ``benchmarks/results/<suite>.json``::

    {"suite": "runs", "provenance": {...}, "args": {...}, "results": {...}}

``provenance`` names the commit the work tree was at, whether it had uncommitted
changes (and a hash of them), the hash of the plugin's source as measured, the
machine and the package versions. :func:`load_same_source` refuses to put together
files measured from different sources, so that a table cannot mix two versions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
#: What makes two results files comparable: the same code, measured.
SOURCE_KEYS = ("commit", "dirty", "changes_sha256")


class MixedSources(ValueError):
    """Results files measured at different commits, or from different uncommitted changes."""


def source(plugin_sha256: str) -> dict[str, Any]:
    """The code a run measures: the commit, and its uncommitted changes, if any.

    The results directory is left out: a run that rewrites it is not dirty for that.
    """
    commit = _git("rev-parse", "HEAD")
    paths = ("--", ".", ":(exclude)benchmarks/results")
    status = _git("status", "--porcelain", "--untracked-files=all", *paths)
    changes = None
    if status:
        digest = hashlib.sha256(_git("diff", "HEAD", "--binary", *paths).encode())
        for line in sorted(status.splitlines()):
            if line.startswith("??"):
                untracked = REPO / line[3:]
                digest.update(line.encode() + untracked.read_bytes())
        changes = digest.hexdigest()
    return {
        "commit": commit,
        "dirty": bool(status),
        "changes_sha256": changes,
        "plugin_sha256": plugin_sha256,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
    }


def plugin_sha256(root: Path, package: str = "kedro_mlflow_dryrun") -> str:
    """The hash of the plugin's source under ``root``: what a run measured, byte for byte."""
    digest = hashlib.sha256()
    for path in sorted((root / package).rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def write(
    directory: Path,
    suite: str,
    provenance: dict[str, Any],
    args: dict[str, Any],
    results: dict[str, Any],
    name: str | None = None,
) -> Path:
    """``<directory>/<name or suite>.json``, the suite's results with the run's provenance."""
    path = directory / f"{name or suite}.json"
    finished = dt.datetime.now().isoformat(timespec="seconds")
    document = {
        "suite": suite,
        "provenance": {**provenance, "finished": finished},
        "args": args,
        "results": results,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def load_same_source(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The files, each with its ``path``; :class:`MixedSources` unless one source
    measured them all and no suite comes twice."""
    documents = [{**json.loads(path.read_text()), "path": path} for path in paths]
    sources = {
        tuple(document["provenance"].get(key) for key in SOURCE_KEYS) for document in documents
    }
    suites = [document["suite"] for document in documents]
    if len(sources) > 1:
        listed = "\n".join(
            f"  {document['path'].name}: {describe(document['provenance'])}"
            for document in documents
        )
        raise MixedSources(
            f"These results were measured from different sources and are not merged:\n{listed}\n"
            "Render them one at a time, or measure them again in one run."
        )
    if len(set(suites)) < len(suites):
        raise MixedSources(f"A suite comes twice: {', '.join(sorted(suites))}.")
    return documents


def describe(provenance: dict[str, Any]) -> str:
    """``commit 1a2b3c4``, and what is known of its uncommitted changes."""
    commit = str(provenance.get("commit"))[:7]
    dirty = provenance.get("dirty")
    if dirty is None:
        return f"commit {commit} (uncommitted changes not recorded)"
    return f"commit {commit}" + (" with uncommitted changes" if dirty else "")


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
    ).stdout.strip()
