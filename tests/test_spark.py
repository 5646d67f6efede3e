"""The Spark batch check: the logged model as ``mlflow.pyfunc.spark_udf``, on a real local Spark.

The tests that use the ``spark`` fixture run last (``conftest.py``), so no other test
trains with a SparkSession active, which ``spark_udf: auto`` would check on.
"""

from __future__ import annotations

import json
import logging
import sys

import pytest
from test_inputs_end_to_end import SPARK_HOUSES, TRAIN_ON_ANY_INPUT

from kedro_mlflow_dryrun import DryRunFailed

# Every test appends this same block: Spark's Python workers are reused from test to
# test and keep the project's modules they imported, so the code must not differ; the
# parameter ``price_bands.output`` picks what the inference pipeline returns.
SPARK_PROJECT = (
    TRAIN_ON_ANY_INPUT
    + """
    _predict_prices = predict_prices

    def predict_prices(design, regressor, price_bands):
        prices = _predict_prices(design, regressor, price_bands)
        output = price_bands.get("output", "frame")
        if output == "typed":
            return prices.assign(
                rooms=design[:, 2].astype("int64"),
                pricey=prices["price"] > price_bands["high"],
                discount=(prices["price"] * 0.01).astype("float32"),
            )
        if output == "price":
            return prices[["price"]]
        if output == "optional":  # object, not str: pandas 3 writes a missing str as NaN
            band = prices["band"].astype(object).where(prices["price"] > price_bands["low"], None)
            return prices.assign(band=band)
        if output == "fixed_rows":
            return prices.reindex(range(100))
        if output == "batch":
            return prices.assign(price=prices["price"] / prices["price"].mean())
        return prices
"""
)


def _train(project, in_process, output: str | None = None):
    project.override_node(SPARK_PROJECT)
    # Requirements written, so MLflow spends no process inferring them; the audit is off.
    project.set_log_model_kwargs('{"name": "house_prices", "pip_requirements": ["pandas"]}')
    project.set_dryrun(drop_columns=["price"], environment="off")
    bands = {"low": 250000, "high": 500000} | ({"output": output} if output else {})
    project.write(
        "conf/base/parameters.yml",
        json.dumps({"features": ["area", "rooms", "age"], "price_bands": bands}),
    )
    return in_process(pipeline_names=["training"])


def _failed(project, in_process, output: str) -> tuple[str, dict]:
    with pytest.raises(DryRunFailed) as failure:
        _train(project, in_process, output)
    view = project.mlflow_view()
    assert view.tags["dryrun.spark"] == "failed"
    assert view.tags["dryrun.status"] == "failed"
    return str(failure.value), view.report


def test_auto_with_no_session_active_starts_nothing(project, in_process):
    from pyspark import SparkContext

    imported = "pyspark" in sys.modules
    assert SparkContext._active_spark_context is None
    _train(project, in_process)

    view = project.mlflow_view()
    assert view.tags["dryrun.spark"] == "skipped"
    assert "no SparkSession is active" in view.report["spark"]["reason"]
    assert SparkContext._active_spark_context is None
    assert ("pyspark" in sys.modules) == imported


@pytest.fixture
def plugin_lines():
    """The plugin's log lines (Kedro's logging setup leaves caplog's handler out)."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("kedro_mlflow_dryrun")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def test_a_table_is_scored_as_a_struct_of_its_output_schema(
    project, in_process, spark, plugin_lines
):
    import mlflow

    from kedro_mlflow_dryrun.adapters.models import answer

    _train(project, in_process, "typed")

    view = project.mlflow_view()
    assert view.tags["dryrun.spark"] == "passed", view.report
    struct = "struct<price:double,band:string,rooms:bigint,pricey:boolean,discount:float>"
    assert view.report["spark"]["return_type"] == struct
    assert view.report["spark"]["partitions"] == 2
    assert [line for line in plugin_lines if f"returns {struct}" in line]
    # What a user's batch job gets, beside what the scoring server answers.
    uri = f"models:/{view.models[0].model_id}"
    rows = __import__("pandas").read_csv(project.path / "data/01_raw/houses.csv").head(20)
    rows = rows.drop(columns="price")
    udf = mlflow.pyfunc.spark_udf(spark, uri)
    frame = spark.createDataFrame(rows)
    scored = frame.select(udf(*rows.columns).alias("p")).collect()
    served = json.loads(answer(mlflow.pyfunc.load_model(uri), rows).text)["predictions"]
    assert [row["p"].asDict()["band"] for row in scored] == [r["band"] for r in served]
    assert [row["p"].asDict()["rooms"] for row in scored] == [r["rooms"] for r in served]


def test_a_one_column_output_is_scored_as_that_type(project, in_process, spark):
    _train(project, in_process, "price")

    view = project.mlflow_view()
    assert view.tags["dryrun.spark"] == "passed", view.report
    assert view.report["spark"]["return_type"] == "double"


def test_an_optional_output_column_is_named_with_the_fix(project, in_process, spark):
    message, report = _failed(project, in_process, "optional")

    assert "spark_udf cannot type output column 'band'" in message
    assert "marks it optional" in message
    assert "Fix: fill the missing values of 'band' in node 'predict_prices'" in message
    assert report["spark"]["status"] == "failed"


def test_an_output_not_one_row_per_row_is_named_with_the_fix(project, in_process, spark):
    message, _ = _failed(project, in_process, "fixed_rows")

    assert "its output is not one row per input row" in message
    assert "the scoring server answers 100 rows" in message
    assert "Fix: make node 'predict_prices' return exactly one row per input row" in message


def test_a_batch_dependent_answer_shows_one_row_and_both_answers_in_every_command(
    project, in_process, spark
):
    from click.testing import CliRunner
    from kedro.framework.startup import bootstrap_project

    from kedro_mlflow_dryrun.framework.cli import commands

    message, _ = _failed(project, in_process, "batch")

    assert "answers rows differently on Spark" in message
    assert "the scoring server, all 100 rows at once: {'price':" in message
    assert "spark_udf, in partition" in message
    assert "Fix: make node 'predict_prices' answer each row from that row" in message
    # The same finding before training (pre-flight), and on the logged model.
    uri = f"models:/{project.mlflow_view().models[0].model_id}"
    metadata = bootstrap_project(project.path)
    before = sorted(path for path in project.path.rglob("*") if "mlruns" not in path.parts)

    preflight = CliRunner().invoke(commands, ["dryrun", "--spark", "--json"], obj=metadata)
    logged = CliRunner().invoke(commands, ["dryrun", "--model-uri", uri, "--spark"], obj=metadata)

    assert preflight.exit_code == 1, preflight.output
    report = json.loads(preflight.stdout[preflight.stdout.index("{") :])
    assert report["spark"]["status"] == "failed"
    assert (
        "(the inference pipeline, saved as logged) answers rows differently"
        in (report["spark"]["reason"])
    )
    assert sorted(p for p in project.path.rglob("*") if "mlruns" not in p.parts) == before
    assert logged.exit_code == 1, logged.output
    assert f"The model {uri} answers rows differently on Spark" in logged.output


def test_a_spark_training_run_is_checked_on_its_own_session_left_running(
    project, in_process, spark
):
    from pyspark.sql import SparkSession

    project.set_catalog_entry("houses", SPARK_HOUSES)
    _train(project, in_process)

    view = project.mlflow_view()
    assert view.tags["dryrun.spark"] == "passed", view.report
    assert view.report["spark"]["session"] == "the active SparkSession"
    assert view.report["spark"]["return_type"] == "struct<price:double,band:string>"
    assert SparkSession.getActiveSession() is not None
    assert spark.range(3).count() == 3
