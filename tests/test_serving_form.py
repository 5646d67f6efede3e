"""The inference pipeline gets the sample as the scoring server hands it to a served model."""

from __future__ import annotations

import pandas as pd
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline, node

from kedro_mlflow_dryrun.config import DryRunConfig

from engine_contexts import dry_run, engine_context

TRAINING_TYPES = pd.DataFrame(
    {
        "city": pd.Categorical(["Lyon", "Paris", "Lyon"]),
        "built": pd.to_datetime(["2001-02-03", "2010-01-01", "1999-12-31"]),
        "owners": pd.array([1, 2, 3], dtype="Int64"),
        "area": [50.0, 60.0, 70.0],
    }
)


def test_the_model_gets_the_dtypes_a_request_carries():
    received: list[pd.DataFrame] = []

    def predict(rows):
        received.append(rows)
        return pd.DataFrame({"price": rows["area"] * 2})

    inference = Pipeline([node(predict, "rows", "predictions", name="predict")])
    context = engine_context(inference, DataCatalog(), "rows", TRAINING_TYPES)

    report = dry_run(context)

    assert not report.failed, report.reason
    (rows,) = received
    assert {name: str(dtype) for name, dtype in rows.dtypes.items()} == {
        "city": "str",
        "built": "datetime64[ns]",
        "owners": "int64",
        "area": "float64",
    }


def test_an_input_column_named_as_an_output_column_warns_with_the_fix():
    inference = Pipeline([node(lambda rows: rows[["price"]] * 2, "rows", "predictions")])
    rows = pd.DataFrame({"area": [50.0], "price": [1.0]})
    context = engine_context(inference, DataCatalog(), "rows", rows, DryRunConfig())

    report = dry_run(context)

    assert not report.failed, report.reason
    (warning,) = report.warnings
    assert "The input schema lists 'price', which the output also holds" in warning
    assert "Every serving request will have to carry it" in warning
    assert "Fix: add 'price' to drop_columns in dryrun.yml." in warning


CAT_CODES = """
    _design_on_floats = design_matrix

    def design_matrix(houses, regressor):
        houses = houses.assign(city_code=houses["city"].cat.codes)  # training's dtype only
        return _design_on_floats(houses, regressor)
"""


def test_a_node_that_needs_training_dtypes_fails_at_training_time(project):
    project.set_catalog_entry(
        "houses",
        """
        type: pandas.CSVDataset
        filepath: data/01_raw/houses.csv
        load_args:
          dtype: {city: category}
        """,
    )
    project.override_node(CAT_CODES)

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 1, result.output
    assert "The inference pipeline raised in node 'design_matrix'" in result.output
    assert "Can only use .cat accessor with a 'category' dtype" in result.output
    assert "Served, the sample is not what training loaded: column 'city' is category in " in (
        result.output
    )
    assert "training, str as served: convert it inside the node (astype, say)" in result.output
    view = project.mlflow_view()
    assert len(view.models) == 1 and view.run.info.status == "FINISHED"
    assert view.signature.inputs.to_dict()[3] == {
        "type": "string",
        "name": "city",
        "required": True,
    }
