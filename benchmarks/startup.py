"""Start-up cost: what the plugin adds to ``kedro run --help`` and ``kedro info``.

Whole processes with the plugin's entry points visible or hidden (Kedro has no
switch to hide a plugin's CLI entry points, so both are started by the same
launcher, which filters ``importlib.metadata.entry_points``), and
``python -X importtime`` of the plugin's modules after everything ``kedro`` and
``kedro-mlflow`` import anyway.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from measure import PLUGIN_MODULE, PYTHON, Children, bootstrap_median_diff, log, median, run_child
from projects import make_project

# Started as ``python -c LAUNCHER <kedro args>``, with the plugin's entry points
# visible or not. Both sides go through the same filter, so they cost the same.
LAUNCHER = r"""
import importlib.metadata as _md
import os as _os
import sys as _sys

_hidden = _os.environ.get("KMD_BENCH_HIDE_PLUGIN") == "1"
_all_entry_points = _md.entry_points


def _entry_points(**params):
    found = _all_entry_points()
    # Python < 3.12 returns a dict of groups (SelectableGroups) when called bare.
    flat = [ep for group in found.values() for ep in group] if hasattr(found, "values") else found
    kept = _md.EntryPoints(
        ep for ep in flat
        if not (_hidden and ep.value.split(".")[0].split(":")[0] == "kedro_mlflow_dryrun")
    )
    return kept.select(**params)


_md.entry_points = _entry_points
_sys.argv[0] = "kedro"
from kedro.framework.cli import main

main()
"""

# What ``kedro run`` imports anyway before it loads the plugin: Kedro's CLI,
# session, catalog and config, and kedro-mlflow's CLI and hooks.
PREIMPORTS = (
    "kedro.framework.cli.cli",
    "kedro.framework.cli.project",
    "kedro.framework.session",
    "kedro.framework.hooks",
    "kedro.config",
    "kedro.io",
    "kedro.pipeline",
    "kedro.runner",
    "kedro_mlflow.framework.cli.cli",
    "kedro_mlflow.framework.hooks",
)
IMPORT_MARK = "@@kmd-bench-mark@@"


def parse_importtime(stderr: str) -> dict[str, Any]:
    """Self time of every module imported after the mark, ours apart."""
    after = stderr.split(IMPORT_MARK, 1)[1] if IMPORT_MARK in stderr else ""
    ours_us = added_us = 0
    ours_modules, added_modules = [], []
    for line in after.splitlines():
        match = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
        if not match:
            continue
        self_us, module = int(match.group(1)), match.group(4)
        added_us += self_us
        added_modules.append(module)
        if module.split(".")[0] == PLUGIN_MODULE:
            ours_us += self_us
            ours_modules.append(module)
    return {
        "ours_ms": ours_us / 1000,
        "added_ms": added_us / 1000,
        "ours_modules": ours_modules,
        "added_modules": added_modules,
    }


def bench_importtime(
    workdir: Path, children: Children, targets: Sequence[str], repeats: int
) -> dict[str, Any]:
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in PREIMPORTS)
        + f"sys.stderr.write('{IMPORT_MARK}\\n'); sys.stderr.flush()\n"
        + "".join(f"import {module}\n" for module in targets)
    )
    samples = []
    for attempt in range(repeats + 1):  # the first one compiles the snapshot's .pyc
        proc = subprocess.run(
            [PYTHON, "-X", "importtime", "-c", code],
            env=children.env(),
            capture_output=True,
            text=True,
            check=True,
            cwd=workdir,  # not the repository, whose plugin folder would shadow the snapshot
        )
        if attempt:
            samples.append(parse_importtime(proc.stderr))
    return {
        "targets": list(targets),
        "preimported": list(PREIMPORTS),
        "ours_ms": [s["ours_ms"] for s in samples],
        "added_ms": [s["added_ms"] for s in samples],
        "median_ours_ms": median([s["ours_ms"] for s in samples]),
        "median_added_ms": median([s["added_ms"] for s in samples]),
        "our_modules": samples[-1]["ours_modules"],
        "other_modules_added": [
            m for m in samples[-1]["added_modules"] if m.split(".")[0] != PLUGIN_MODULE
        ],
    }


def bench_startup(
    workdir: Path, children: Children, repeats: int, import_repeats: int
) -> dict[str, Any]:
    project = workdir / "project_a"
    if not project.exists():
        project = make_project(workdir, "a")
    commands = {"kedro run --help": ["run", "--help"], "kedro info": ["info"]}

    # Sanity: the launcher really shows / hides the plugin.
    shown = subprocess.run(
        [PYTHON, "-c", LAUNCHER, "run", "--help"],
        cwd=project,
        env=children.env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    hidden = subprocess.run(
        [PYTHON, "-c", LAUNCHER, "run", "--help"],
        cwd=project,
        env=children.env(KMD_BENCH_HIDE_PLUGIN="1"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "--no-output-schema" not in shown or "--no-output-schema" in hidden:
        raise SystemExit("the launcher does not show/hide the plugin's run command as expected")

    results: dict[str, Any] = {
        "method": (
            "whole process, `python -c LAUNCHER <args>` in the example project; LAUNCHER "
            "filters importlib.metadata.entry_points, dropping the plugin's entry points "
            "only in the 'hidden' case"
        ),
        "commands": {},
    }
    for name, args in commands.items():
        cases = [
            ("plugin", [PYTHON, "-c", LAUNCHER, *args], children.env()),
            ("hidden", [PYTHON, "-c", LAUNCHER, *args], children.env(KMD_BENCH_HIDE_PLUGIN="1")),
        ]
        if name == "kedro run --help":
            cases.append(("python -m kedro", [PYTHON, "-m", "kedro", *args], children.env()))
        times: dict[str, list[float]] = {case[0]: [] for case in cases}
        cpu: dict[str, list[float]] = {case[0]: [] for case in cases}
        for repeat in range(repeats + 1):  # the first round is a warm-up
            for case, cmd, env in cases:
                measured = run_child(cmd, project, env)
                if measured["rc"] != 0:
                    raise SystemExit(f"{' '.join(cmd[-len(args) :])} exited {measured['rc']}")
                if repeat:
                    times[case].append(measured["wall_s"])
                    cpu[case].append(measured["cpu_s"])
        low, high = bootstrap_median_diff(times["plugin"], times["hidden"])
        results["commands"][name] = {
            "seconds": times,
            "median_plugin_s": median(times["plugin"]),
            "median_hidden_s": median(times["hidden"]),
            "median_python_m_kedro_s": median(times.get("python -m kedro", [])),
            "added_ms": (median(times["plugin"]) - median(times["hidden"])) * 1000,
            "added_ms_95ci": [low * 1000, high * 1000],
            "cpu_seconds": cpu,
            "added_cpu_ms": (median(cpu["plugin"]) - median(cpu["hidden"])) * 1000,
            "added_cpu_ms_95ci": [
                value * 1000 for value in bootstrap_median_diff(cpu["plugin"], cpu["hidden"])
            ],
        }
        log(
            f"start-up {name}: plugin {median(times['plugin']):.3f} s, hidden "
            f"{median(times['hidden']):.3f} s, +{results['commands'][name]['added_ms']:.1f} ms"
        )
    results["importtime_cli"] = bench_importtime(
        workdir, children, [f"{PLUGIN_MODULE}.framework.cli"], import_repeats
    )
    results["importtime_cli_and_hooks"] = bench_importtime(
        workdir,
        children,
        [f"{PLUGIN_MODULE}.framework.cli", f"{PLUGIN_MODULE}.framework.hooks"],
        import_repeats,
    )
    log(
        "importtime: cli {:.1f} ms (all added {:.1f} ms), cli+hooks {:.1f} ms (all added "
        "{:.1f} ms)".format(
            results["importtime_cli"]["median_ours_ms"],
            results["importtime_cli"]["median_added_ms"],
            results["importtime_cli_and_hooks"]["median_ours_ms"],
            results["importtime_cli_and_hooks"]["median_added_ms"],
        )
    )
    return results
