"""Inputs beyond pandas, through kedro-datasets in a real project: training never breaks."""

from __future__ import annotations

import subprocess
import sys

# Training gets Polars, Spark, a dict or a box; a served model gets pandas, so the
# inference pipeline stays as it is.
TRAIN_ON_ANY_INPUT = """
    _fit_on_pandas = fit_regressor

    def fit_regressor(houses, features):
        if hasattr(houses, "toPandas"):
            houses = houses.toPandas()
        elif hasattr(houses, "to_pandas"):
            houses = houses.to_pandas()
        elif hasattr(houses, "frame"):
            houses = houses.frame
        else:
            houses = pd.DataFrame(houses)
        return _fit_on_pandas(houses, features)
"""

BASKET = '''
    class Basket:
        """A container of the training input that no engine knows."""

        def __init__(self, frame):
            self.frame = frame
'''

SPARK_HOUSES = """
    type: spark.SparkDataset
    file_format: csv
    filepath: data/01_raw/houses.csv
    load_args:
      header: true
      inferSchema: true
"""
SPARK_ENV = {"PYSPARK_SUBMIT_ARGS": "--master local[2] --conf spark.ui.enabled=false pyspark-shell"}
INPUTS = [("area", "double"), ("rooms", "long"), ("age", "long"), ("city", "string")]


def _train_on(project, catalog_entry: str) -> None:
    project.override_node(TRAIN_ON_ANY_INPUT)
    project.set_catalog_entry("houses", catalog_entry)


def _assert_passed_with_the_output_schema(project, result) -> dict:
    assert result.returncode == 0, result.output
    assert "Dry run passed: 100 rows of 'houses'" in result.output
    view = project.mlflow_view()
    assert view.run.info.status == "FINISHED"
    assert len(view.models) == 1
    outputs = [(c["name"], c["type"]) for c in view.signature.outputs.to_dict()]
    assert outputs == [("price", "double"), ("band", "string")]
    assert view.tags["dryrun.status"] == "passed"
    assert view.report["serve"]["status"] == 200
    return view.report


def _inputs(project) -> list[tuple[str, str]]:
    return [(c["name"], c["type"]) for c in project.mlflow_view().signature.inputs.to_dict()]


def test_a_polars_input_trains_and_passes(project):
    _train_on(
        project,
        """
        type: polars.EagerPolarsDataset
        file_format: csv
        filepath: data/01_raw/houses.csv
        """,
    )

    result = project.kedro_here("run", "--pipeline=training")

    report = _assert_passed_with_the_output_schema(project, result)
    assert report["sample_strategy"] == "random"
    assert _inputs(project) == INPUTS


def test_a_spark_input_trains_and_passes(project):
    _train_on(project, SPARK_HOUSES)

    result = project.kedro("run", "--pipeline=training", env=SPARK_ENV)

    report = _assert_passed_with_the_output_schema(project, result)
    # A random sample of a Spark frame would scan all of it: the first rows are taken.
    assert report["sample_strategy"] == "head"
    # MLflow reads the types from the Spark schema, as kedro-mlflow's "auto" does.
    assert _inputs(project) == [(n, "integer" if t == "long" else t) for n, t in INPUTS]


def _pickle_houses(project, expression: str) -> None:
    """Pickles the example's houses as ``expression`` makes them, with the project importable."""
    code = (
        "import pickle, pandas as pd\n"
        "from house_prices.basket import Basket\n"
        "houses = pd.read_csv('../data/01_raw/houses.csv')\n"
        f"pickle.dump({expression}, open('../data/01_raw/houses.pkl', 'wb'))\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=project.path / "src", check=True)
    _train_on(project, "{type: pickle.PickleDataset, filepath: data/01_raw/houses.pkl}")


def test_a_dict_of_columns_trains_and_is_served_as_a_table(project):
    project.write("src/house_prices/basket.py", BASKET)
    _pickle_houses(project, "houses.to_dict('list')")

    result = project.kedro_here("run", "--pipeline=training")

    _assert_passed_with_the_output_schema(project, result)
    assert _inputs(project) == INPUTS


def test_an_input_of_an_unknown_class_skips_the_dry_run_with_the_way_out(project):
    project.write("src/house_prices/basket.py", BASKET)
    _pickle_houses(project, "Basket(houses)")

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 0, result.output
    assert "Dry run skipped: " in result.output
    assert "is a house_prices.basket.Basket, which the dry run cannot sample" in result.output
    assert "Fix: set sample_dataset in dryrun.yml" in result.output
    assert (project.path / "data/06_models/regressor.pkl").exists(), "training ran to its end"
    view = project.mlflow_view()
    assert view.run.info.status == "FINISHED"
    assert len(view.models) == 1, "kedro-mlflow logged its model, as without the plugin"
    assert view.tags["dryrun.status"] == "skipped"
