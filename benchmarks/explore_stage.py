"""What the explore stage costs, and that it does not grow with the data or the model.

Whole ``kedro run --pipeline=training`` processes of the example (plugin on, defaults:
``explore: 50``; ``explore_seconds: 120``, a cap that must not cut it), each from an
empty store; the stage's own seconds, requests, sends and sends per request are read
from ``dryrun/report.json`` (``seconds.explore`` and the ``explore`` section):

- the training input at each of ``sizes`` rows (the stage samples nothing more: flat);
- a fitted model that carries an N MiB array, for each N of ``artifact_sizes`` (the
  served model is loaded once, by the serve check, and its artifacts are not copied
  per request: flat).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kedro_runs import KedroRuns
from measure import Children, log, median, ratio
from projects import generate_csv, link_input, make_project, warm_page_cache


def bench_explore(
    workdir: Path,
    children: Children,
    sizes: Sequence[int],
    artifact_sizes: Sequence[int],
    artifact_rows: int,
    repeats: int,
) -> dict[str, Any]:
    """The stage at each input size, then with each model size; medians of ``repeats``."""
    runs = KedroRuns(workdir, children)
    by_rows: dict[str, Any] = {}
    project = make_project(workdir, "a", suffix="_explore")
    for rows in sizes:
        csv = generate_csv(workdir, rows, children)
        warm_page_cache(csv)
        link_input(project, csv)
        measured = [_explored(runs, project, f"explore_{rows}_{n}") for n in range(repeats)]
        by_rows[str(rows)] = {"rows": rows, **_summary(measured)}
        log(f"explore  {rows:>9,} rows: {by_rows[str(rows)]['explore_s']} s (median)")
    by_model: dict[str, Any] = {}
    csv = generate_csv(workdir, artifact_rows, children)
    for mib in artifact_sizes:
        project = make_project(workdir, "a", artifact_mib=mib, suffix=f"_explore_{mib}mib")
        link_input(project, csv)
        measured = [_explored(runs, project, f"explore_{mib}mib_{n}") for n in range(repeats)]
        by_model[str(mib)] = {"artifact_mib": mib, **_summary(measured)}
        log(f"explore  {mib:>5} MiB model: {by_model[str(mib)]['explore_s']} s (median)")
    first, last = by_rows[str(sizes[0])], by_rows[str(sizes[-1])]
    small, big = by_model[str(artifact_sizes[0])], by_model[str(artifact_sizes[-1])]
    return {
        "command": "kedro run --pipeline=training",
        "repeats": repeats,
        "rows": by_rows,
        "artifacts": by_model,
        "growth_with_rows": ratio(last["explore_s"], first["explore_s"]),
        "growth_with_model": ratio(big["explore_s"], small["explore_s"]),
    }


def _explored(runs: KedroRuns, project: Path, tag: str) -> dict[str, Any]:
    measured = runs.run(project, "a", tag)
    report = measured["report"]
    explore = report.get("explore") or {}
    if explore.get("status") != "passed":  # "incomplete": explore_seconds cut it
        raise SystemExit(f"explore ({tag}): {explore or 'no explore section'}")
    return {
        "wall_s": measured["wall_s"],
        "explore_s": report["seconds"].get("explore"),
        "serve_s": report["seconds"].get("serve"),
        "requests": explore["requests"],
        "sent": explore["sent"],
        "sends_per_request": explore.get("sends_per_request"),
        "search_s": explore["seconds"],
        "search_cpu_s": explore.get("cpu_seconds"),
    }


_MEDIANS = ("wall_s", "explore_s", "serve_s", "requests", "sent", "search_s", "search_cpu_s")


def _summary(measured: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        key: median([run[key] for run in measured])
        for key in (
            "wall_s",
            "explore_s",
            "serve_s",
            "requests",
            "sent",
            "search_s",
            "search_cpu_s",
        )
    }
    summary["ms_per_send"] = 1000 * summary["search_s"] / summary["sent"]
    summary["cpu_ms_per_send"] = 1000 * summary["search_cpu_s"] / summary["sent"]
    summary["runs"] = measured
    return summary
