"""One Markdown section per benchmark suite, from its results (``report.py`` puts them
together with the targets)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from kedro_runs import stage_names


def fmt(value: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def size_label(rows: int) -> str:
    for unit, name in ((1_000_000, "M"), (1_000, "k")):
        if rows >= unit and rows % (unit // 10) == 0:
            value = rows / unit
            return f"{value:g}{name}"
    return str(rows)


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def rows_suite(results: dict[str, Any]) -> list[str]:
    out: list[str] = []
    runs = results.get("runs")
    if runs:
        repeats = results["args"]["repeats"]
        out.append(
            f"\n### `kedro run --pipeline=training`, median of {repeats} runs per variant\n\n"
            "a = plugin on (signature `auto`, answered from the 100-row sample); "
            "b = kedro-mlflow alone, `signature: None`; c = kedro-mlflow alone, "
            '`signature: "auto"` (reloads the whole input). Ratios are of medians, except '
            "paired a/b, the median of the a/b ratios of runs made one after the other; a/b and "
            "a/c are wall time, CPU a/b and CPU a/c are the child's user+sys time (less "
            "sensitive to other load on the machine). Peak RSS is the child's `ru_maxrss`.\n"
        )
        rows_out = []
        for size in runs["sizes"].values():
            med = size["median"]
            rows_out.append(
                [
                    f"{size['rows']:,}",
                    fmt(med["a"]["wall_s"], ".2f", " s"),
                    fmt(med["b"]["wall_s"], ".2f", " s"),
                    fmt(med["c"]["wall_s"], ".2f", " s"),
                    fmt(size["a_over_b"], ".3f"),
                    f"{size['a_minus_b_s']:+.2f} s",
                    fmt(size["paired_a_over_b"], ".3f"),
                    fmt(size["a_over_c"], ".3f"),
                    fmt(size["cpu_a_over_b"], ".3f"),
                    fmt(size["cpu_a_over_c"], ".3f"),
                    fmt(med["a"]["maxrss_mb"], ".0f", " MB"),
                    fmt(med["b"]["maxrss_mb"], ".0f", " MB"),
                    fmt(med["c"]["maxrss_mb"], ".0f", " MB"),
                    fmt(size["rss_a_over_b"], ".3f"),
                ]
            )
        out.append(
            markdown_table(
                [
                    "rows",
                    "wall a",
                    "wall b",
                    "wall c",
                    "a/b",
                    "a-b",
                    "paired a/b",
                    "a/c",
                    "CPU a/b",
                    "CPU a/c",
                    "peak RSS a",
                    "peak RSS b",
                    "peak RSS c",
                    "RSS a/b",
                ],
                rows_out,
            )
        )
        out.append(
            "\n### What the plugin adds to a run, timed inside the process (median, ms)\n\n"
            "Whole-process times on this shared machine vary by several tenths of a second "
            "from run to run, more than the plugin costs, so every run is also timed inside "
            "the process by `benchmarks/hook_timer.py`: the plugin's hooks (the dry run, "
            "recording, the serve check) and MLflow's validation of the input example the "
            "plugin hands to `log_model` (a model load and a predict). Attributed a/b = "
            "(wall b + plugin in all) / wall b. MLflow also predicts on the input example in "
            "the subprocess that infers the model's pip requirements; that is not in 'plugin "
            "in all', and hides in the spread of `log_model` a-b (the whole `log_model`, "
            "subprocess included).\n"
        )
        out.append(
            markdown_table(
                [
                    "rows",
                    "wall a-b (95% CI)",
                    "plugin's hooks",
                    "input example validation",
                    "log_model a-b",
                    "plugin in all",
                    "attributed a/b",
                ],
                [
                    [
                        f"{size['rows']:,}",
                        f"{size['a_minus_b_s'] * 1000:+.0f} "
                        f"({size['a_minus_b_95ci_s'][0] * 1000:+.0f} .. "
                        f"{size['a_minus_b_95ci_s'][1] * 1000:+.0f})",
                        fmt(size["plugin_hooks_s"] * 1000, ".0f"),
                        fmt(size["validation_s"] * 1000, ".0f"),
                        f"{size['log_model_added_s'] * 1000:+.0f}",
                        fmt(size["attributed_s"] * 1000, ".0f"),
                        fmt(size["attributed_a_over_b"], ".3f"),
                    ]
                    for size in runs["sizes"].values()
                ],
            )
        )
        out.append("\n### The dry run's own time (variant a, `dryrun/report.json`, median, ms)\n")
        stages = stage_names(size["dryrun_seconds"] for size in runs["sizes"].values())
        out.append(
            markdown_table(
                ["rows", *stages],
                [
                    [f"{size['rows']:,}"]
                    + [
                        fmt(
                            None
                            if size["dryrun_seconds"].get(stage) is None
                            else size["dryrun_seconds"][stage] * 1000,
                            ".1f",
                        )
                        for stage in stages
                    ]
                    for size in runs["sizes"].values()
                ],
            )
        )
        out.append(
            "\n`total` is what the report times as the dry run (sample, execute, check, "
            "infer); stages after it, if any, are timed apart by the plugin."
        )
        growth = runs.get("dryrun_growth")
        if growth:
            per_stage = ", ".join(
                f"{stage} x{fmt(value, '.2f')}" for stage, value in growth["per_stage"].items()
            )
            out.append(
                f"\nDry-run total from {growth['from']:,} to {growth['to']:,} rows: "
                f"x{fmt(growth['ratio'], '.2f')} (per stage: {per_stage})."
            )
    return out


def artifacts_suite(results: dict[str, Any]) -> list[str]:
    artifacts = results.get("artifacts")
    if not artifacts:
        return []
    out = [
        f"\n### A model that carries an N MiB array, {artifacts['rows']:,} rows, median of "
        f"{results['args']['artifact_repeats']} runs per variant\n\n"
        "a = plugin on; b = kedro-mlflow alone, `signature: None`. Loads: calls of "
        "`mlflow.pyfunc.load_model` in a run of a (the serve check's; explore's search beside "
        "the logging; MLflow's validation of the input "
        "example, where it runs). Plugin in all: its hooks plus that "
        "validation, timed inside the process.\n"
    ]
    rows = []
    for size in artifacts["sizes"].values():
        med = size["median"]
        rows.append(
            [
                f"{size['artifact_mib']:,} MiB",
                fmt(med["a"]["wall_s"], ".2f", " s"),
                fmt(med["b"]["wall_s"], ".2f", " s"),
                fmt(size["a_over_b"], ".3f"),
                fmt(size["paired_a_over_b"], ".3f"),
                fmt(size["cpu_a_over_b"], ".3f"),
                fmt(med["a"]["maxrss_mb"], ",.0f", " MiB"),
                fmt(med["b"]["maxrss_mb"], ",.0f", " MiB"),
                fmt(size["rss_a_over_b"], ".3f"),
                fmt(size["model_loads"], ".0f"),
                fmt(size["attributed_s"] * 1000, ".0f", " ms"),
            ]
        )
    headers = ["model", "wall a", "wall b", "a/b", "paired a/b", "CPU a/b", "peak RSS a"]
    more = ["peak RSS b", "RSS a/b", "loads", "plugin in all"]
    out.append(markdown_table([*headers, *more], rows))
    return out


def startup_suite(results: dict[str, Any]) -> list[str]:
    out: list[str] = []
    startup = results.get("startup")
    if startup:
        out.append("\n### Start-up\n")
        rows_out = []
        for name, command in startup["commands"].items():
            low, high = command["added_ms_95ci"]
            cpu_low, cpu_high = command["added_cpu_ms_95ci"]
            rows_out.append(
                [
                    f"`{name}`",
                    fmt(command["median_hidden_s"] * 1000, ".0f", " ms"),
                    fmt(command["median_plugin_s"] * 1000, ".0f", " ms"),
                    f"{command['added_ms']:+.0f} ms (95% CI {low:+.0f} .. {high:+.0f})",
                    f"{command['added_cpu_ms']:+.0f} ms (95% CI {cpu_low:+.0f} .. {cpu_high:+.0f})",
                    fmt(
                        command["median_python_m_kedro_s"]
                        and command["median_python_m_kedro_s"] * 1000,
                        ".0f",
                        " ms",
                    ),
                ]
            )
        out.append(
            markdown_table(
                [
                    f"command (median of {results['args']['startup_repeats']})",
                    "plugin hidden",
                    "plugin installed",
                    "added (wall)",
                    "added (CPU)",
                    "`python -m kedro`",
                ],
                rows_out,
            )
        )
        cli, both = startup["importtime_cli"], startup["importtime_cli_and_hooks"]
        out.append(
            f"\n`python -X importtime`, after importing what Kedro and kedro-mlflow import "
            f"anyway (median of {results['args']['import_repeats']}): the plugin's modules "
            f"take {cli['median_ours_ms']:.1f} ms for the CLI (`kedro run --help`) and "
            f"{both['median_ours_ms']:.1f} ms for CLI + hooks (`kedro run`); everything "
            f"newly imported, ours included: {cli['median_added_ms']:.1f} ms and "
            f"{both['median_added_ms']:.1f} ms."
        )
    return out


def partial_suite(results: dict[str, Any]) -> list[str]:
    out: list[str] = []
    partial = results.get("partial")
    if partial:
        out.append(
            f"\n### Fallback partial read: `read_partial(catalog, name, "
            f"{partial['sample_size']})`, median of {results['args']['partial_repeats']}\n"
        )
        rows_out = []
        for rows, entry in partial["sizes"].items():
            for kind, value in entry.items():
                rows_out.append(
                    [
                        kind,
                        f"{int(rows):,}",
                        f"{value['file_mb']:.1f} MB",
                        fmt(value["median_partial_ms"], ".2f", " ms"),
                        fmt(value["full_load_s"] * 1000, ".0f", " ms"),
                    ]
                )
        out.append(
            markdown_table(["dataset", "rows", "file", "read_partial", "full load()"], rows_out)
        )
        out.append(
            "\nLarge/small ratio: "
            + ", ".join(
                f"{kind} x{fmt(value, '.2f')}"
                for kind, value in partial["ratio_large_over_small"].items()
            )
            + "."
        )
        nxt = partial.get("ratio_large_over_next")
        if nxt:
            largest = max(int(rows) for rows in partial["sizes"])
            out.append(
                f"From {nxt['from']:,} to {largest:,} rows: "
                + ", ".join(
                    f"{kind} x{fmt(value, '.2f')}" for kind, value in nxt.items() if kind != "from"
                )
                + "."
            )
    return out


def commands_suite(results: dict[str, Any]) -> list[str]:
    commands = results.get("commands")
    if not commands:
        return []

    def ms(seconds: dict[str, float | None], stage: str) -> str:
        value = seconds.get(stage)
        return fmt(None if value is None else value * 1000, ",.0f", " ms")

    out = [
        f"\n### The commands, {commands['rows']:,} rows, median of "
        f"{results['args']['commands_repeats']} rounds\n\n"
        "Each round, on one copy of the example (plugin on): a training run from an empty "
        "store, then `kedro dryrun --json` (the pre-flight, on the artifacts it left), then "
        "`kedro dryrun --json --model-uri` on the model it logged, then `kedro dryrun --help` "
        "(the start-up alone). Ratios are of medians, to the training run. Dry run, serve "
        "check and environment audit: the stages' own seconds, from `dryrun/report.json` "
        "(training) or the printed report (`--json`).\n"
    ]
    rows = []
    for command, med in commands["median"].items():
        over = commands["over_training"][command]
        seconds = commands["dryrun_seconds"][command]
        rows.append(
            [
                f"`{command}`",
                fmt(med["wall_s"], ".2f", " s"),
                fmt(over["wall_s"], ".3f"),
                fmt(over["cpu_s"], ".3f"),
                fmt(med["maxrss_mb"], ",.0f", " MiB"),
                fmt(over["maxrss_mb"], ".3f"),
                ms(seconds, "total"),
                ms(seconds, "serve"),
                ms(seconds, "environment"),
            ]
        )
    headers = ["command", "wall", "wall / training", "CPU / training", "peak RSS"]
    more = ["RSS / training", "dry run", "serve check", "environment audit"]
    out.append(markdown_table([*headers, *more], rows))
    parts = ", ".join(
        f"{part} {fmt(None if value is None else value * 1000, ',.1f', ' ms')}"
        for part, value in commands["environment_seconds"].items()
    )
    if parts:
        out.append(
            f"\nThe environment audit's own timings (report's `environment.seconds`): {parts}."
        )
    return out


def explore_suite(results: dict[str, Any]) -> list[str]:
    """The suite's Markdown section, when it ran."""
    explore = results.get("explore")
    if not explore:
        return []
    headers = ("", "explore stage", "the search", "its CPU", "requests", "sent", "CPU ms per send")

    def row(label: str, entry: dict[str, Any]) -> list[str]:
        return [
            label,
            fmt(entry["explore_s"], ".2f", " s"),
            fmt(entry["search_s"], ".2f", " s"),
            fmt(entry["search_cpu_s"], ".2f", " s"),
            fmt(entry["requests"], ".0f"),
            fmt(entry["sent"], ".0f"),
            fmt(entry["cpu_ms_per_send"], ".1f"),
        ]

    rows = [row(f"{size_label(e['rows'])} rows", e) for e in explore["rows"].values()]
    rows += [row(f"{e['artifact_mib']} MiB model", e) for e in explore["artifacts"].values()]
    return [
        f"\n## Explore stage (`{explore['command']}`, defaults, median of {explore['repeats']})\n",
        markdown_table(headers, rows),
        f"\nlargest / smallest input: {fmt(explore['growth_with_rows'], '.3f')}; "
        f"largest / smallest model: {fmt(explore['growth_with_model'], '.3f')}",
    ]
