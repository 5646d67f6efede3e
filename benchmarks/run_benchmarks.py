#!/usr/bin/env python
"""Benchmarks of kedro-mlflow-dryrun against kedro-mlflow alone (issues 5 and 13).

One command::

    python benchmarks/run_benchmarks.py [--sizes 10000,100000,1000000,2000000]
                                        [--artifact-sizes 1,100,800] [--repeats 3]
                                        [--commands-rows 1000] [--commands-repeats 3]
                                        [--explore-sizes 10000,100000,1000000]
                                        [--skip runs,artifacts,startup,partial,commands,explore]

Suites (each in its own module; a new suite is a function and a line in ``SUITES``):

- ``runs`` (kedro_runs.py): ``kedro run --pipeline=training`` of ``examples/house_prices``
  with its input at each of ``--sizes`` rows: a. the plugin on; b. kedro-mlflow alone,
  ``signature: None``; c. kedro-mlflow alone, ``signature: "auto"``, alternating;
- ``artifacts`` (kedro_runs.py): the same, a and b, with a fitted model that carries an
  N MiB numpy array for each N of ``--artifact-sizes``;
- ``startup`` (startup.py): what the plugin adds to ``kedro run --help`` and ``kedro info``;
- ``partial`` (partial.py): the fallback partial read of a CSV and a Parquet file;
- ``commands`` (commands.py): ``kedro run --pipeline=training``, ``kedro dryrun`` and
  ``kedro dryrun --model-uri`` on the model that training logged, alternating, with the
  serve check's and the environment audit's own seconds;
- ``explore`` (explore_stage.py): the explore stage's own seconds in training runs at the
  defaults, with the input at each of ``--explore-sizes`` rows and with the model of
  each of ``--artifact-sizes``.

Children run the plugin from a snapshot of the work tree, so edits made while the
benchmark runs do not mix two versions. Each suite that ran writes
``--results-dir``/<suite>.json with the run's provenance (``provenance.py``: the
commit, whether the tree had uncommitted changes, the plugin's hash, the machine and
the versions); the other suites' files are left as they are. A Markdown summary of
this run's suites is printed; ``report.py`` renders files measured at one commit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from commands import bench_commands
from explore_stage import bench_explore
from kedro_runs import bench_artifacts, bench_rows
from measure import QUIET_ENV, Children, log, machine_info, snapshot_plugin
from partial import bench_partial
from projects import VARIANTS
from provenance import RESULTS, source, write
from report import combine, render
from startup import bench_startup

#: The arguments each suite reads: kept with its results, from the run that measured them.
SUITE_ARGS = {
    "runs": ("sizes", "repeats", "warmup"),
    "artifacts": ("artifact_sizes", "artifact_rows", "artifact_repeats", "warmup"),
    "startup": ("startup_repeats", "import_repeats"),
    "partial": ("partial_sizes", "partial_repeats"),
    "commands": ("commands_rows", "commands_repeats", "warmup"),
    "explore": ("explore_sizes", "artifact_sizes", "artifact_rows", "explore_repeats"),
}

Suite = Callable[[Path, Children, argparse.Namespace], dict[str, Any]]
SUITES: dict[str, Suite] = {
    "runs": lambda workdir, children, args: bench_rows(
        workdir, children, args.sizes, args.repeats, args.warmup
    ),
    "artifacts": lambda workdir, children, args: bench_artifacts(
        workdir,
        children,
        args.artifact_sizes,
        args.artifact_rows,
        args.artifact_repeats,
        args.warmup,
    ),
    "startup": lambda workdir, children, args: bench_startup(
        workdir, children, args.startup_repeats, args.import_repeats
    ),
    "partial": lambda workdir, children, args: bench_partial(
        workdir, children, args.partial_sizes or args.sizes, args.partial_repeats, 100
    ),
    "commands": lambda workdir, children, args: bench_commands(
        workdir, children, args.commands_rows, args.commands_repeats, args.warmup
    ),
    "explore": lambda workdir, children, args: bench_explore(
        workdir,
        children,
        args.explore_sizes,
        args.artifact_sizes,
        args.artifact_rows,
        args.explore_repeats,
    ),
}


def _sizes(text: str) -> list[int]:
    return sorted(int(size) for size in text.split(",") if size)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[10_000, 100_000, 1_000_000, 2_000_000],
        help="rows of the houses CSV, comma-separated",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant and size")
    parser.add_argument(
        "--artifact-sizes",
        type=_sizes,
        default=[1, 100, 800],
        help="MiB of the array the fitted model carries, comma-separated",
    )
    parser.add_argument("--artifact-rows", type=int, default=10_000, help="input rows")
    parser.add_argument(
        "--artifact-repeats", type=int, default=None, help="runs per variant (default --repeats)"
    )
    parser.add_argument(
        "--results-dir", default=str(RESULTS), help="where each suite writes <suite>.json"
    )
    parser.add_argument("--startup-repeats", type=int, default=15)
    parser.add_argument("--import-repeats", type=int, default=15)
    parser.add_argument(
        "--partial-sizes", type=_sizes, default=None, help="rows for read_partial (--sizes)"
    )
    parser.add_argument("--partial-repeats", type=int, default=31)
    parser.add_argument(
        "--commands-rows", type=int, default=1_000, help="input rows of the commands suite"
    )
    parser.add_argument(
        "--commands-repeats", type=int, default=None, help="rounds of commands (default --repeats)"
    )
    parser.add_argument(
        "--explore-sizes",
        type=_sizes,
        default=[10_000, 100_000, 1_000_000],
        help="rows of the houses CSV for the explore suite, comma-separated",
    )
    parser.add_argument(
        "--explore-repeats", type=int, default=None, help="runs per size (default --repeats)"
    )
    parser.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="skip the uncounted first run of each variant",
    )
    parser.add_argument(
        "--skip", default="", help=f"comma-separated suites to skip: {','.join(SUITES)}"
    )
    parser.add_argument("--workdir", default=None, help="keep the projects and data here")
    args = parser.parse_args(argv)
    args.artifact_repeats = args.artifact_repeats or args.repeats
    args.commands_repeats = args.commands_repeats or args.repeats
    args.explore_repeats = args.explore_repeats or args.repeats
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.update(QUIET_ENV)
    skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    if unknown := skip - set(SUITES):
        raise SystemExit(f"unknown suites to skip: {', '.join(sorted(unknown))}")
    results_dir = Path(args.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="kmd-bench-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"work dir {workdir}")
    children, plugin_sha256 = snapshot_plugin(workdir)
    sys.path.insert(0, str(children.snapshot))  # in-process suites import the snapshot too
    provenance = {
        **source(plugin_sha256),
        **machine_info(),
        "variants": {name: variant.label for name, variant in VARIANTS.items()},
    }
    if provenance["dirty"]:
        log("the work tree has uncommitted changes: the results say so")
    start = time.perf_counter()
    written = []
    try:
        for name, suite in SUITES.items():
            if name in skip:
                continue
            results = suite(workdir, children, args)
            suite_args = {key: getattr(args, key) for key in SUITE_ARGS[name]}
            provenance["load_average_at_end"] = os.getloadavg()
            written.append(write(results_dir, name, provenance, suite_args, results))
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    if written:
        print(render(combine(written)))
    elapsed = time.perf_counter() - start
    print(f"\n{len(written)} results files written to {results_dir} ({elapsed:.0f} s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
