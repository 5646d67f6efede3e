"""Spark at the edge: the session to score on, and ``mlflow.pyfunc.spark_udf`` run on it.

pyspark is imported only when a session may exist: a process that never imported it
has none, so ``spark_udf: auto`` costs nothing where training does not use Spark.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

#: Columns the check adds to the sample; no model reads them.
ROW, PARTITION, PREDICTION = "__dryrun_row", "__dryrun_partition", "__dryrun_prediction"
LOCAL_MASTER = "local[2]"


@dataclass
class Scored:
    """What ``spark_udf`` returned for the sample, row by row in the sample's order."""

    #: The UDF's return type, as Spark writes it (``struct<price:double,band:string>``).
    return_type: str
    #: The partition each row of the sample was scored in.
    partitions: list[int]
    #: One value per row (a dict for a struct), or ``None`` when the Spark job failed.
    predictions: list[object] | None = None
    #: The Python worker's exception, in one line, when the job failed.
    error: str | None = None
    #: True when the failure happened in the Python worker (the model or its conversion).
    in_worker: bool = False


def active_session() -> SparkSession | None:
    """The session this process already has (the active one, else the default one)."""
    if "pyspark" not in sys.modules:
        return None
    from pyspark.errors import PySparkRuntimeError
    from pyspark.sql import SparkSession

    try:
        return SparkSession.active()
    except PySparkRuntimeError:  # NO_ACTIVE_OR_DEFAULT_SESSION
        return None


@contextmanager
def local_session() -> Iterator[SparkSession]:
    """A local session for the check, stopped after it; its Python workers run this
    interpreter (else Spark starts the system's ``python3``, without the project's packages).

    A SparkContext already running is reused and left running: only what was started stops.
    """
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    started = SparkContext._active_spark_context is None
    python = {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    previous = {name: os.environ.get(name) for name in python}
    os.environ.update(python)
    try:
        spark = (
            SparkSession.builder.master(LOCAL_MASTER)
            .appName("kedro-mlflow-dryrun")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if started:
        spark.sparkContext.setLogLevel("FATAL")  # its failures are explained, not logged
    try:
        yield spark
    finally:
        if started:
            spark.stop()


def score(spark: SparkSession, model_uri: str, rows: pd.DataFrame, partitions: int) -> Scored:
    """``spark_udf(spark, model_uri)``, no ``result_type``, on ``rows`` spread over
    ``partitions`` partitions of consecutive rows, collected in the sample's order."""
    import mlflow
    from pyspark.sql.functions import col, spark_partition_id, struct

    frame = _frame(spark, rows, partitions)
    udf = mlflow.pyfunc.spark_udf(spark, model_uri)
    with _workers_on_this_python(spark):
        arguments = struct(*[col(f"`{name}`") for name in rows.columns])
        scored = frame.select(
            ROW, spark_partition_id().alias(PARTITION), udf(arguments).alias(PREDICTION)
        )
    return_type = scored.schema[PREDICTION].dataType.simpleString()
    try:
        collected = sorted(scored.collect(), key=lambda row: row[ROW])
    except Exception as error:  # noqa: BLE001 - py4j, Spark and worker errors alike: diagnosed
        return Scored(
            return_type,
            _partitions_of(frame),
            error=_last_line(error),
            in_worker=type(error).__name__ == "PythonException",
        )
    return Scored(
        return_type,
        [row[PARTITION] for row in collected],
        [_python_value(row[PREDICTION]) for row in collected],
    )


def _frame(spark: SparkSession, rows: pd.DataFrame, partitions: int) -> DataFrame:
    """The rows in ``partitions`` partitions, each a run of consecutive rows."""
    numbered = rows.assign(**{ROW: range(len(rows))})
    return spark.createDataFrame(numbered).repartitionByRange(partitions, ROW)


def _partitions_of(frame: DataFrame) -> list[int]:
    """The partition of each row, when the scoring job itself failed (no UDF runs here)."""
    from pyspark.sql.functions import spark_partition_id

    rows = frame.select(ROW, spark_partition_id().alias(PARTITION)).collect()
    return [row[PARTITION] for row in sorted(rows, key=lambda row: row[ROW])]


@contextmanager
def _workers_on_this_python(spark: SparkSession) -> Iterator[None]:
    """On a local master, the UDF's Python workers run this interpreter, which holds the
    model's packages; a cluster's workers are left as the session set them."""
    try:
        context = spark.sparkContext
    except Exception:  # noqa: BLE001 - Spark Connect has no SparkContext: nothing to set
        yield
        return
    if not str(context.master).startswith("local") or context.pythonExec == sys.executable:
        yield
        return
    previous, context.pythonExec = context.pythonExec, sys.executable
    try:
        yield
    finally:
        context.pythonExec = previous


def _python_value(value: object) -> object:
    """A collected value as plain Python: a struct as a dict, bytes as bytes."""
    from pyspark.sql import Row

    if isinstance(value, Row):
        return {name: _python_value(item) for name, item in value.asDict().items()}
    if isinstance(value, list):
        return [_python_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _python_value(item) for key, item in value.items()}
    if isinstance(value, bytearray):
        return bytes(value)
    return value


def _last_line(error: Exception) -> str:
    """The exception the Python worker raised, without Spark's and py4j's traceback."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    raised = [line for line in lines if ": " in line and not line.startswith(("File ", "at "))]
    last = raised[-1] if raised else (lines[-1] if lines else type(error).__name__)
    return last.removeprefix("pyspark.errors.exceptions.base.")
