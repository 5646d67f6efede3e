#!/usr/bin/env python
"""Spark and the input contract: what the plugin costs where the input is large.

One command, self-contained (it generates its data and copies the example project)::

    python benchmarks/bench_spark.py [--repeats 5] [--run-rows 100000]

It prints, measured side by side in one run, medians, and writes them with the run's
provenance (commit, uncommitted changes, machine, versions) to
``benchmarks/results/spark-<run rows>-rows.json``:

1. the Spark sample (``limit(n)`` then ``toPandas()``, and the schema MLflow reads
   from the Spark frame) of a Parquet input of 10^5 and of 10^6 rows, alternated,
   beside collecting the whole frame with ``toPandas()``;
2. the input profile at 10^6 rows of a pandas frame (the sample, the dtypes, one
   ``isna().any()`` per column), beside what kedro-mlflow's ``signature: "auto"``
   pays for the same schema: ``infer_signature`` on the whole frame, after reading
   the whole CSV file again;
3. ``kedro run --pipeline=training`` of the example trained on a Spark input
   (``spark.SparkDataset``, local[2]), with the plugin on, and with kedro-mlflow
   alone (``DISABLE_HOOKS_FOR_PLUGINS = ("kedro-mlflow-dryrun",)``), alternated;
   the plugin's own seconds are read from ``dryrun/report.json``. Whole-process
   times of Spark runs vary by seconds from run to run: the in-process time is the
   plugin's share, the whole-process ratio says that nothing else grew;
4. the Spark batch check: the same training run with ``spark_udf: auto`` (it runs on
   the training's session, whose Python workers start for it) against
   ``spark_udf: never``, alternated; then the check alone, repeated in this process
   on an active session whose workers have started, on the model the last run logged.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "house_prices"
sys.path.insert(0, str(EXAMPLE / "src"))

from measure import kedro_training_run, machine_info  # noqa: E402
from provenance import RESULTS, plugin_sha256, source, write  # noqa: E402

from house_prices.synthetic import make_houses  # noqa: E402
from kedro_mlflow_dryrun.adapters.inputs import take  # noqa: E402

SPARK_ARGS = (
    "--master local[2] --conf spark.ui.enabled=false --conf spark.ui.showConsoleProgress=false "
    "pyspark-shell"
)
ENV = {
    **os.environ,
    "KEDRO_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PYSPARK_SUBMIT_ARGS": SPARK_ARGS,
}
SPARK_CATALOG = """
houses:
  type: spark.SparkDataset
  file_format: csv
  filepath: data/01_raw/houses.csv
  load_args: {header: true, inferSchema: true}
regressor:
  type: pickle.PickleDataset
  filepath: data/06_models/regressor.pkl
"""
#: The plugin's own seconds in a training run, from ``dryrun/report.json``.
PLUGIN_PARTS = ("capture", "total", "serve", "environment", "spark")
TRAIN_ON_SPARK = """

_fit_on_pandas = fit_regressor


def fit_regressor(houses, features):
    return _fit_on_pandas(houses.toPandas(), features)
"""


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def spark_sample(folder: Path, repeats: int) -> dict[str, Any]:
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_SUBMIT_ARGS"] = SPARK_ARGS
    spark = SparkSession.builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    paths = {}
    for rows in (10**5, 10**6):
        paths[rows] = str(folder / f"houses_{rows}.parquet")
        make_houses(rows).to_parquet(paths[rows], row_group_size=100_000)
        take(spark.read.parquet(paths[rows]), 100, "random")  # warm up: JVM, code paths
    sample: dict[int, list[float]] = {rows: [] for rows in paths}
    for _ in range(repeats):  # alternated, so a slower moment of the machine hits both
        for rows, path in paths.items():
            start = time.perf_counter()
            take(spark.read.parquet(path), 100, "random")
            sample[rows].append(time.perf_counter() - start)
    print("\n## Spark sample: limit(100).toPandas() and the schema, Parquet input, local[2]\n")
    print("| rows | sample | whole frame toPandas() |")
    print("| --- | --- | --- |")
    measured: dict[str, Any] = {}
    for rows, path in paths.items():
        whole = median_seconds(lambda path=path: spark.read.parquet(path).toPandas(), repeats)
        median = statistics.median(sample[rows])
        measured[str(rows)] = {"sample_s": median, "whole_to_pandas_s": whole}
        print(f"| {rows:,} | {median * 1e3:.0f} ms | {whole * 1e3:.0f} ms |")
    ratio = statistics.median(sample[10**6]) / statistics.median(sample[10**5])
    print(f"\nsample at 10^6 / sample at 10^5: {ratio:.2f}")
    spark.stop()
    return {"rows": measured, "sample_ratio_1e6_over_1e5": ratio}


def input_profile(folder: Path, repeats: int) -> dict[str, float]:
    from mlflow.models import infer_signature

    frame = make_houses(10**6)
    frame.loc[654_321, "area"] = None
    path = folder / "houses_profile.csv"
    frame.to_csv(path, index=False)
    profile = median_seconds(lambda: take(frame, 100, "random"), repeats)
    inference = median_seconds(lambda: infer_signature(model_input=frame), repeats)
    reload = median_seconds(lambda: pd.read_csv(path), repeats)
    print("\n## Input profile at 10^6 rows (pandas, 5 columns)\n")
    print("| plugin: sample + schema | kedro-mlflow: infer_signature | kedro-mlflow: + reload |")
    print("| --- | --- | --- |")
    cells = (profile, inference, inference + reload)
    print("| " + " | ".join(f"{seconds * 1e3:.1f} ms" for seconds in cells) + " |")
    print(
        f"\nplugin / infer_signature: 1 / {inference / profile:,.0f}; "
        f"plugin / (reload + infer_signature): 1 / {(inference + reload) / profile:,.0f}"
    )
    return {"plugin_s": profile, "infer_signature_s": inference, "reload_s": reload}


def spark_project(
    folder: Path, name: str, rows: int, plugin: bool, spark_udf: str = "auto"
) -> Path:
    project = folder / name
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("mlflow.db", "mlartifacts"))
    (project / "conf/base/catalog.yml").write_text(SPARK_CATALOG)
    make_houses(rows).to_csv(project / "data/01_raw/houses.csv", index=False)
    nodes = project / "src/house_prices/pipelines/nodes.py"
    nodes.write_text(nodes.read_text() + TRAIN_ON_SPARK)
    dryrun = project / "conf/base/dryrun.yml"
    dryrun.write_text(dryrun.read_text() + f"\nspark_udf: {spark_udf}\n")
    if not plugin:
        settings = project / "src/house_prices/settings.py"
        settings.write_text(
            settings.read_text() + '\nDISABLE_HOOKS_FOR_PLUGINS = ("kedro-mlflow-dryrun",)\n'
        )
    return project


def kedro_run(project: Path) -> float:
    """Whole-process seconds of one training run."""
    return kedro_training_run(project, ENV)


def last_report(project: Path) -> dict:
    """``dryrun/report.json`` of the run just made."""
    import mlflow

    tracking_uri = f"sqlite:///{project / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    (experiment,) = [e for e in client.search_experiments() if e.name == "house_prices"]
    (run,) = client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1
    )
    local = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id,
        artifact_path="dryrun/report.json",
        tracking_uri=tracking_uri,
        dst_path=str(project.parent / "downloaded"),
    )
    return json.loads(Path(local).read_text())


def plugin_seconds(project: Path) -> dict[str, float]:
    """The plugin's own time in the run just made: capture, dry run, serve check, audit."""
    seconds = last_report(project)["seconds"]
    return {part: seconds.get(part, 0.0) for part in PLUGIN_PARTS}


def training_share(folder: Path, rows: int, repeats: int) -> dict[str, Any]:
    with_plugin = spark_project(folder, "with_plugin", rows, plugin=True)
    alone = spark_project(folder, "kedro_mlflow_alone", rows, plugin=False)
    runs: dict[str, list[float]] = {"plugin": [], "alone": [], "inside": []}
    parts: dict[str, list[float]] = {part: [] for part in PLUGIN_PARTS}
    for _ in range(repeats):
        runs["plugin"].append(kedro_run(with_plugin))
        for part, seconds in plugin_seconds(with_plugin).items():
            parts[part].append(seconds)
        runs["inside"].append(sum(parts[part][-1] for part in PLUGIN_PARTS))
        runs["alone"].append(kedro_run(alone))
    plugin, only, inside = (statistics.median(runs[key]) for key in ("plugin", "alone", "inside"))
    differences = sorted(a - b for a, b in zip(runs["plugin"], runs["alone"], strict=True))
    print(f"\n## Spark training run, {rows:,} rows, kedro run --pipeline=training\n")
    print("| plugin on | kedro-mlflow alone | on / alone | plugin, timed in-process |")
    print("| --- | --- | --- | --- |")
    print(
        f"| {plugin:.2f} s | {only:.2f} s | {plugin / only:.3f} | "
        f"{inside:.2f} s ({inside / only:.1%} of the run) |"
    )
    print(
        f"\npaired differences on - alone: {differences[0]:+.2f} .. {differences[-1]:+.2f} s; "
        "the in-process time is the capture (the Spark sample and schema), the dry run, "
        "the serve check and the environment audit, from dryrun/report.json"
    )
    print(
        "in-process, medians: "
        + ", ".join(f"{part} {statistics.median(parts[part]):.2f} s" for part in PLUGIN_PARTS)
    )
    return {
        "rows": rows,
        "runs_s": runs,
        "median_s": {"plugin": plugin, "alone": only, "inside": inside},
        "paired_differences_s": differences,
        "inside_median_s": {part: statistics.median(parts[part]) for part in PLUGIN_PARTS},
    }


def spark_check(folder: Path, rows: int, repeats: int) -> dict[str, object]:
    """The Spark batch check on, against off, in a training run; then alone, warm."""
    on = spark_project(folder, "spark_check_on", rows, plugin=True)
    off = spark_project(folder, "spark_check_off", rows, plugin=True, spark_udf="never")
    runs: dict[str, list[float]] = {"on": [], "off": [], "check": []}
    for _ in range(repeats):
        runs["on"].append(kedro_run(on))
        report = last_report(on)
        assert report["spark"]["status"] == "passed", report["spark"]
        runs["check"].append(report["seconds"]["spark"])
        runs["off"].append(kedro_run(off))
    with_check, without, check = (statistics.median(runs[key]) for key in ("on", "off", "check"))
    warm = warm_check(on, report["spark"]["model_uri"], repeats)
    print(f"\n## Spark batch check, {rows:,} rows, kedro run --pipeline=training\n")
    print("| spark_udf: auto | spark_udf: never | on / off | the check in the run | warm |")
    print("| --- | --- | --- | --- | --- |")
    print(
        f"| {with_check:.2f} s | {without:.2f} s | {with_check / without:.3f} | "
        f"{check:.2f} s (its session's Python workers start) | {warm:.2f} s |"
    )
    print(f"\nthe check in each run: {', '.join(f'{s:.2f}' for s in runs['check'])} s")
    return {"runs": runs, "on_over_off": with_check / without, "check": check, "warm": warm}


def warm_check(project: Path, model_uri: str, repeats: int) -> float:
    """The check alone, repeated on one active session: the median once workers run."""
    import mlflow
    from pyspark.sql import SparkSession

    from kedro_mlflow_dryrun.adapters.model_sources import LoggedPyfuncModel
    from kedro_mlflow_dryrun.config import DryRunConfig
    from kedro_mlflow_dryrun.context import DryRunContext
    from kedro_mlflow_dryrun.stages import request, spark

    os.environ["PYSPARK_SUBMIT_ARGS"] = SPARK_ARGS
    session = SparkSession.builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    model = LoggedPyfuncModel(model_uri)
    houses = pd.read_csv(project / "data/01_raw/houses.csv", nrows=100).drop(columns="price")
    times = []
    for _ in range(repeats + 1):  # the first starts the workers
        context = DryRunContext(DryRunConfig(), model=model, input_name="houses")
        context.served_input = request.as_served(houses, model.model.metadata.get_input_schema())
        context.report.model_uri = model_uri
        start = time.perf_counter()
        spark.run(context)
        times.append(time.perf_counter() - start)
        assert context.report.spark is not None and context.report.spark["status"] == "passed"
    session.stop()
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--run-rows", type=int, default=100_000)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--only-spark-check", action="store_true", help="suite 4 alone")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # MLflow's hint on integer columns, pyspark on pandas 3
    provenance = {**source(plugin_sha256(ROOT)), **machine_info()}
    with tempfile.TemporaryDirectory() as folder:
        if args.only_spark_check:
            results = {"spark_check": spark_check(Path(folder), args.run_rows, args.repeats)}
        else:
            results = {
                "spark_sample": spark_sample(Path(folder), args.repeats),
                "input_profile": input_profile(Path(folder), args.repeats),
                "training": training_share(Path(folder), args.run_rows, args.repeats),
                "spark_check": spark_check(Path(folder), args.run_rows, args.repeats),
            }
    written = write(
        args.results_dir,
        "spark",
        {**provenance, "load_average_at_end": os.getloadavg()},
        {"repeats": args.repeats, "run_rows": args.run_rows},
        results,
        name=f"spark-{args.run_rows}-rows" + ("-check" if args.only_spark_check else ""),
    )
    print(f"\nResults written to {written}.")


if __name__ == "__main__":
    main()
