"""What the plugin's commands cost, beside the training run they stand in for.

On one copy of the example (plugin on), alternating, each repeat runs:

- ``kedro run --pipeline=training``, from an empty store: its wall time, and the
  serve check's and the environment audit's own seconds from its ``dryrun/report.json``;
- ``kedro dryrun`` (the pre-flight, on the artifacts that training left);
- ``kedro dryrun --model-uri models:/<id>`` on the model that training logged;
- ``kedro dryrun --help``: the start-up the others pay too.

Both dry runs run with ``--json``, whose report holds their stages' own seconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from measure import PYTHON, Children, fail_with_log, log, median, medians_of, ratio, run_child
from projects import (
    check_variant,
    generate_csv,
    link_input,
    make_project,
    make_template_db,
    read_back,
    reset_project,
)

TRAINING = "kedro run --pipeline=training"
PREFLIGHT = "kedro dryrun"
LOGGED_MODEL = "kedro dryrun --model-uri models:/<id>"
STARTUP = "kedro dryrun --help"
COMMANDS = (TRAINING, PREFLIGHT, LOGGED_MODEL, STARTUP)


def bench_commands(
    workdir: Path, children: Children, rows: int, repeats: int, warmup: bool
) -> dict[str, Any]:
    """The three commands in turn, ``repeats`` times; medians and ratios to training."""
    project = make_project(workdir, "a", suffix="_commands")
    link_input(project, generate_csv(workdir, rows, children))
    template_db = make_template_db(workdir, children)
    (workdir / "logs").mkdir(exist_ok=True)
    if warmup:
        _round(project, template_db, children, "warmup")
        log("commands: warm-up round done (not counted)")
    runs: dict[str, list[dict[str, Any]]] = {command: [] for command in COMMANDS}
    for repeat in range(repeats):
        for command, measured in _round(project, template_db, children, str(repeat)).items():
            runs[command].append(measured)
            log(
                f"commands  {command:40s} run {repeat + 1}/{repeats}: "
                f"{measured['wall_s']:6.2f} s  {measured['maxrss_mb']:7.1f} MB"
            )
    return {"rows": rows, **summarize(runs)}


def _round(
    project: Path, template_db: Path, children: Children, tag: str
) -> dict[str, dict[str, Any]]:
    """One training from an empty store, both dry runs on what it left, the start-up."""
    reset_project(project, template_db)
    training = _kedro(project, children, ["run", "--pipeline=training"], f"training_{tag}")
    found = read_back(project, "a")
    if problems := check_variant("a", found):
        raise SystemExit(f"commands ({tag}): {'; '.join(problems)}")
    training["dryrun_seconds"] = found["report"]["seconds"]
    training["environment_seconds"] = found["report"]["environment_seconds"]
    model_uri = f"models:/{found['model_id']}"
    preflight = _kedro(project, children, ["dryrun", "--json"], f"preflight_{tag}")
    logged = _kedro(
        project, children, ["dryrun", "--json", "--model-uri", model_uri], f"logged_{tag}"
    )
    startup = _kedro(project, children, ["dryrun", "--help"], f"startup_{tag}")
    return {TRAINING: training, PREFLIGHT: preflight, LOGGED_MODEL: logged, STARTUP: startup}


def _kedro(project: Path, children: Children, args: Sequence[str], tag: str) -> dict[str, Any]:
    """One ``kedro`` process; with ``--json``, the stages' seconds of the report it printed."""
    log_path = project.parent / "logs" / f"{project.name}_{tag}.log"
    measured = run_child([PYTHON, "-m", "kedro", *args], project, children.env(), log_path)
    if measured["rc"] != 0:
        fail_with_log(f"kedro {' '.join(args)} ({tag}) exited {measured['rc']}", log_path)
    if "--json" in args:
        report = _printed_report(log_path.read_text(errors="replace"))
        if report.get("status") != "passed":
            fail_with_log(f"kedro {' '.join(args)} ({tag}): {report.get('status')}", log_path)
        measured["dryrun_seconds"] = report.get("seconds", {})
    return measured


def _printed_report(output: str) -> dict[str, Any]:
    """The JSON report ``--json`` prints on stdout, among the log lines of stderr."""
    lines = output.splitlines()
    if "{" not in lines:
        raise SystemExit(f"no JSON report in the output:\n{output[-2000:]}")
    start = lines.index("{")
    end = len(lines) - lines[::-1].index("}")
    report: dict[str, Any] = json.loads("\n".join(lines[start:end]))
    return report


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians per command, ratios to training, and the stages each timed from inside."""
    med = {
        command: medians_of(measured, ("wall_s", "maxrss_mb", "cpu_s"))
        for command, measured in runs.items()
    }
    training = med[TRAINING]
    return {
        "runs": runs,
        "median": med,
        "over_training": {
            command: {
                key: ratio(values[key], training[key]) for key in ("wall_s", "maxrss_mb", "cpu_s")
            }
            for command, values in med.items()
        },
        "dryrun_seconds": {
            command: _median_seconds([run.get("dryrun_seconds", {}) for run in measured])
            for command, measured in runs.items()
        },
        "environment_seconds": _median_seconds(
            [run["environment_seconds"] for run in runs[TRAINING]]
        ),
    }


def _median_seconds(timings: Sequence[dict[str, float]]) -> dict[str, float | None]:
    names = dict.fromkeys(name for seconds in timings for name in seconds)
    return {
        name: median([seconds[name] for seconds in timings if name in seconds]) for name in names
    }
