"""Markdown tables and the targets, met or not, of results files measured at one commit.

    python benchmarks/report.py benchmarks/results/runs.json [benchmarks/results/startup.json ...]

Files measured at different commits (or from different uncommitted changes) are not
merged: it says which, and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from provenance import MixedSources, describe, load_same_source
from suite_tables import (
    artifacts_suite,
    commands_suite,
    explore_suite,
    fmt,
    markdown_table,
    partial_suite,
    rows_suite,
    size_label,
    startup_suite,
)

# Targets of issue 5 (the input's size) and issue 13 (the model's size).
TARGET_A_OVER_B = 1.05
TARGET_A_OVER_C = 0.6
TARGET_RSS_A_OVER_B = 1.05
TARGET_DRYRUN_GROWTH = 1.5
TARGET_STARTUP_MS = 30.0
TARGET_PARTIAL_RATIO = 1.25  # "the same time": at most 25 % slower at the large size
TARGET_SIZES = (1_000_000, 2_000_000)
TARGET_ARTIFACT_MIB = 800
TARGET_ARTIFACT_A_OVER_B = 1.15
TARGET_ARTIFACT_RSS_A_OVER_B = 1.05


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    targets = []

    def add(name: str, value: float | None, limit: float, unit: str = "") -> None:
        targets.append(
            {
                "target": name,
                "value": value,
                "limit": limit,
                "unit": unit,
                "met": None if value is None else value <= limit,
            }
        )

    runs = results.get("runs")
    if runs:
        for rows in TARGET_SIZES:
            size = runs["sizes"].get(str(rows))
            if not size:
                continue
            label = size_label(rows)
            add(f"{label}: wall a/b", size["a_over_b"], TARGET_A_OVER_B)
            add(f"{label}: CPU a/b", size["cpu_a_over_b"], TARGET_A_OVER_B)
            add(
                f"{label}: attributed a/b (in-process)",
                size["attributed_a_over_b"],
                TARGET_A_OVER_B,
            )
            add(f"{label}: wall a/c", size["a_over_c"], TARGET_A_OVER_C)
            add(f"{label}: CPU a/c", size["cpu_a_over_c"], TARGET_A_OVER_C)
            add(f"{label}: peak RSS a/b", size["rss_a_over_b"], TARGET_RSS_A_OVER_B)
        growth = runs.get("dryrun_growth")
        if growth and growth["ratio"] is not None:
            add(
                f"dry-run total {size_label(growth['from'])} -> {size_label(growth['to'])}",
                growth["ratio"],
                TARGET_DRYRUN_GROWTH,
                "x",
            )
    artifacts = results.get("artifacts")
    size = artifacts and artifacts["sizes"].get(str(TARGET_ARTIFACT_MIB))
    if size:
        label = f"{TARGET_ARTIFACT_MIB} MiB model"
        add(f"{label}: wall a/b", size["a_over_b"], TARGET_ARTIFACT_A_OVER_B)
        add(f"{label}: peak RSS a/b", size["rss_a_over_b"], TARGET_ARTIFACT_RSS_A_OVER_B)
    startup = results.get("startup")
    if startup:
        add(
            "`kedro run --help` added by the plugin (whole process, wall)",
            startup["commands"]["kedro run --help"]["added_ms"],
            TARGET_STARTUP_MS,
            "ms",
        )
        add(
            "`kedro run --help` added by the plugin (whole process, CPU)",
            startup["commands"]["kedro run --help"]["added_cpu_ms"],
            TARGET_STARTUP_MS,
            "ms",
        )
        add(
            "`kedro run --help`: plugin modules' import (importtime)",
            startup["importtime_cli"]["median_ours_ms"],
            TARGET_STARTUP_MS,
            "ms",
        )
    partial = results.get("partial")
    if partial and len(partial["sizes"]) > 1:
        sizes = sorted(int(rows) for rows in partial["sizes"])
        for kind, value in partial["ratio_large_over_small"].items():
            add(
                f"read_partial {kind} {size_label(sizes[-1])}/{size_label(sizes[0])}",
                value,
                TARGET_PARTIAL_RATIO,
                "x",
            )
    return targets


def combine(paths: Sequence[Path]) -> dict[str, Any]:
    """Results files of one source as one dict for :func:`render`; else :class:`MixedSources`."""
    documents = load_same_source(paths)
    combined: dict[str, Any] = {
        "provenance": documents[0]["provenance"],
        "files": [document["path"] for document in documents],
        "args": {},
    }
    for document in documents:
        combined[document["suite"]] = document["results"]
        combined["args"].update(document["args"])
    combined["targets"] = evaluate_targets(combined)
    return combined


def render(results: dict[str, Any]) -> str:
    """The whole summary: one section per suite that ran, then the targets."""
    sections = (
        _machine,
        rows_suite,
        artifacts_suite,
        startup_suite,
        partial_suite,
        commands_suite,
        explore_suite,
        _targets,
    )
    return "\n".join(line for section in sections for line in section(results))


def _machine(results: dict[str, Any]) -> list[str]:
    provenance = results["provenance"]
    packages = ", ".join(f"{name} {ver}" for name, ver in provenance["packages"].items() if ver)
    files = ", ".join(f"`{Path(path).name}`" for path in results["files"])
    return [
        f"Results: {files}, measured at {describe(provenance)}.  \n"
        f"Machine: {provenance['cpu_count']} CPU ({provenance['cpu_model']}), "
        f"{provenance['ram_gb']} GB RAM, Python {provenance['python']}, "
        f"{provenance['platform']}.  \nPackages: {packages}."
    ]


def _targets(results: dict[str, Any]) -> list[str]:
    out: list[str] = []
    targets = results.get("targets")
    if targets:
        out.append("\n### Targets of issues 5 and 13\n")
        out.append(
            markdown_table(
                ["target", "measured", "limit", "met"],
                [
                    [
                        target["target"],
                        fmt(
                            target["value"],
                            ".3f" if not target["unit"] else ".2f",
                            f" {target['unit']}" if target["unit"] else "",
                        ),
                        f"<= {target['limit']:g}{' ' + target['unit'] if target['unit'] else ''}",
                        {True: "yes", False: "**no**", None: "n/a"}[target["met"]],
                    ]
                    for target in targets
                ],
            )
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="results files, e.g. results/*.json")
    args = parser.parse_args(argv)
    try:
        print(render(combine(args.files)))
    except MixedSources as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
