"""Suites of whole ``kedro run --pipeline=training`` processes, variants alternating.

Every run starts from the same state (an empty, already migrated MLflow store, no
model file) and is a child process, ``benchmarks/hook_timer.py``, which times the
plugin's hooks and MLflow's ``log_model`` from inside; its own wall time and peak
RSS come from ``os.wait4``. What MLflow recorded is read back and checked, or the
comparison would mean nothing.

- :func:`bench_rows`: the input at several sizes, variants a, b and c;
- :func:`bench_artifacts`: a fitted model that carries an N MiB array, a and b.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from measure import (
    PYTHON,
    REPO,
    Children,
    bootstrap_median_diff,
    fail_with_log,
    log,
    median,
    medians_of,
    ratio,
    run_child,
)
from projects import (
    VARIANTS,
    check_variant,
    generate_csv,
    link_input,
    make_project,
    make_template_db,
    read_back,
    reset_project,
    warm_page_cache,
)

HOOK_TIMER = REPO / "benchmarks" / "hook_timer.py"
LOG_MODEL_LABEL = "  mlflow.pyfunc.log_model"
LOAD_MODEL_LABEL = "  mlflow.pyfunc.load_model"
VALIDATION_LABEL = "    mlflow validates input_example"
STAGES = ("sample", "execute", "check", "infer", "total")
MIB = "MiB"


@dataclass
class KedroRuns:
    """Runs ``kedro run --pipeline=training`` in a project, each from a clean store."""

    workdir: Path
    children: Children
    template_db: Path = field(init=False)
    seen_run_ids: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.template_db = make_template_db(self.workdir, self.children)
        (self.workdir / "logs").mkdir(exist_ok=True)

    def run(self, project: Path, variant: str, tag: str) -> dict[str, Any]:
        reset_project(project, self.template_db)
        log_path = self.workdir / "logs" / f"{project.name}_{tag}.log"
        timings_path = log_path.with_suffix(".timings.json")
        cmd = [PYTHON, str(HOOK_TIMER), "--out", str(timings_path)]
        if not VARIANTS[variant].hooks:
            cmd.append("--without-plugin")
        measured = run_child(cmd, project, self.children.env(), log_path)
        if measured["rc"] != 0:
            fail_with_log(f"{project.name} ({tag}) exited {measured['rc']}", log_path)
        measured["in_process"] = in_process_timings(timings_path)
        found = read_back(project, variant)
        if found["run_id"] in self.seen_run_ids:
            raise SystemExit(f"stale MLflow store: run {found['run_id']} seen twice")
        self.seen_run_ids.add(found["run_id"])
        if problems := check_variant(variant, found):
            fail_with_log(f"{project.name} ({tag}): {'; '.join(problems)}", log_path)
        return {**measured, **found}


def bench_rows(
    workdir: Path,
    children: Children,
    sizes: Sequence[int],
    repeats: int,
    warmup: bool,
    progress: Callable[[dict[str, Any]], None] = lambda runs: None,
) -> dict[str, Any]:
    """The input at each size in ``sizes`` rows; variants a, b and c alternate."""
    runs = KedroRuns(workdir, children)
    projects = {variant: make_project(workdir, variant) for variant in VARIANTS}
    results: dict[str, Any] = {"command": "kedro run --pipeline=training", "sizes": {}}
    if warmup:
        _link_all(projects.values(), generate_csv(workdir, sizes[0], children))
        for variant, project in projects.items():
            runs.run(project, variant, "warmup")
        log("warm-up runs done (not counted)")
    for rows in sizes:
        csv = generate_csv(workdir, rows, children)
        warm_page_cache(csv)
        _link_all(projects.values(), csv)
        per_variant: dict[str, list[dict[str, Any]]] = {variant: [] for variant in VARIANTS}
        for repeat in range(repeats):
            for variant, project in projects.items():
                measured = runs.run(project, variant, f"{rows}_{repeat}")
                per_variant[variant].append(measured)
                _log_run(f"{rows:>9,} rows", variant, repeat, repeats, measured)
        results["sizes"][str(rows)] = {"rows": rows, **summarize(per_variant)}
        progress(results)
    first, last = results["sizes"][str(sizes[0])], results["sizes"][str(sizes[-1])]
    results["dryrun_growth"] = {
        "from": sizes[0],
        "to": sizes[-1],
        "ratio": ratio(last["dryrun_seconds"]["total"], first["dryrun_seconds"]["total"]),
        "per_stage": {
            stage: ratio(last["dryrun_seconds"].get(stage), value)
            for stage, value in first["dryrun_seconds"].items()
        },
    }
    return results


def bench_artifacts(
    workdir: Path,
    children: Children,
    sizes_mib: Sequence[int],
    rows: int,
    repeats: int,
    warmup: bool,
) -> dict[str, Any]:
    """A fitted model that carries an N MiB array, for each N; variants a and b alternate."""
    runs = KedroRuns(workdir, children)
    variants = ("a", "b")
    projects = {
        (mib, variant): make_project(workdir, variant, artifact_mib=mib, suffix=f"_{mib}mib")
        for mib in sizes_mib
        for variant in variants
    }
    csv = generate_csv(workdir, rows, children)
    _link_all(projects.values(), csv)
    if warmup:
        for variant in variants:
            runs.run(projects[sizes_mib[0], variant], variant, "warmup")
        log("warm-up runs done (not counted)")
    per_size: dict[int, dict[str, list[dict[str, Any]]]] = {
        mib: {variant: [] for variant in variants} for mib in sizes_mib
    }
    for repeat in range(repeats):
        for mib in sizes_mib:
            for variant in variants:
                measured = runs.run(projects[mib, variant], variant, str(repeat))
                per_size[mib][variant].append(measured)
                _log_run(f"{mib:>5} {MIB} model", variant, repeat, repeats, measured)
    return {
        "command": "kedro run --pipeline=training",
        "rows": rows,
        "sizes": {
            str(mib): {"artifact_mib": mib, **summarize(per_variant)}
            for mib, per_variant in per_size.items()
        },
    }


def _link_all(projects: Iterable[Path], csv: Path) -> None:
    for project in projects:
        link_input(project, csv)


def _log_run(what: str, variant: str, repeat: int, repeats: int, run: dict[str, Any]) -> None:
    dry_run = (
        f"  dry run {run['report']['seconds'].get('total', 0):.3f} s" if "report" in run else ""
    )
    log(
        f"{what}  {variant}  run {repeat + 1}/{repeats}: {run['wall_s']:6.2f} s  "
        f"{run['maxrss_mb']:7.1f} MB{dry_run}"
    )


def in_process_timings(path: Path) -> dict[str, float]:
    """The plugin's hooks and MLflow's calls, as ``hook_timer.py`` timed them."""
    timings = json.loads(path.read_text()) if path.exists() else {}
    return {
        "plugin_hooks_s": sum(
            seconds for label, (seconds, _) in timings.items() if label.startswith("dryrun ")
        ),
        "log_model_s": timings.get(LOG_MODEL_LABEL, [0.0])[0],
        "validation_s": timings.get(VALIDATION_LABEL, [0.0])[0],
        "load_model_s": timings.get(LOAD_MODEL_LABEL, [0.0])[0],
        "model_loads": timings.get(LOAD_MODEL_LABEL, [0.0, 0])[1],
    }


def summarize(per_variant: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians per variant; ratios to b; what the plugin adds, timed inside the process."""
    keys = ("wall_s", "maxrss_mb", "cpu_s")
    med = {variant: medians_of(runs, keys) for variant, runs in per_variant.items()}
    a, b = per_variant["a"], per_variant["b"]
    summary: dict[str, Any] = {"runs": per_variant, "median": med}
    for variant in med:
        if variant == "b":
            continue
        summary[f"{variant}_over_b"] = ratio(med[variant]["wall_s"], med["b"]["wall_s"])
        summary[f"cpu_{variant}_over_b"] = ratio(med[variant]["cpu_s"], med["b"]["cpu_s"])
        summary[f"rss_{variant}_over_b"] = ratio(med[variant]["maxrss_mb"], med["b"]["maxrss_mb"])
    if "c" in med:
        summary["a_over_c"] = ratio(med["a"]["wall_s"], med["c"]["wall_s"])
        summary["cpu_a_over_c"] = ratio(med["a"]["cpu_s"], med["c"]["cpu_s"])
        summary["paired_a_over_c"] = _paired(a, per_variant["c"], "wall_s")
    summary["a_minus_b_s"] = med["a"]["wall_s"] - med["b"]["wall_s"]
    summary["paired_a_over_b"] = _paired(a, b, "wall_s")
    summary["paired_rss_a_over_b"] = _paired(a, b, "maxrss_mb")
    summary["a_minus_b_95ci_s"] = bootstrap_median_diff(
        [run["wall_s"] for run in a], [run["wall_s"] for run in b]
    )
    in_process = [run["in_process"] for run in a]
    summary["plugin_hooks_s"] = median([timed["plugin_hooks_s"] for timed in in_process])
    summary["validation_s"] = median([timed["validation_s"] for timed in in_process])
    summary["model_loads"] = median([timed["model_loads"] for timed in in_process])
    summary["load_model_s"] = median([timed["load_model_s"] for timed in in_process])
    summary["log_model_added_s"] = median([run["in_process"]["log_model_s"] for run in a]) - median(
        [run["in_process"]["log_model_s"] for run in b]
    )
    # The plugin's own time: its hooks, plus MLflow's check of the input example it
    # hands to log_model (a model load and a predict).
    summary["attributed_s"] = median(
        [timed["plugin_hooks_s"] + timed["validation_s"] for timed in in_process]
    )
    summary["attributed_a_over_b"] = 1 + summary["attributed_s"] / med["b"]["wall_s"]
    reports = [run["report"]["seconds"] for run in a if "report" in run]
    summary["dryrun_seconds"] = {
        stage: median([seconds[stage] for seconds in reports if stage in seconds])
        for stage in stage_names(reports)
    }
    return summary


def _paired(first: list[dict[str, Any]], second: list[dict[str, Any]], key: str) -> float | None:
    """The median of the ratios of runs made one after the other."""
    return median([one[key] / two[key] for one, two in zip(first, second, strict=True)])


def stage_names(reports: Iterable[dict[str, Any]]) -> list[str]:
    """The report's stages, known ones first; later versions of the plugin may add some."""
    names = list(STAGES)
    for seconds in reports:
        names += [stage for stage in seconds if stage not in names]
    return names
