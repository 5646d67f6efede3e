"""A 1-D output of scalars is one column of their type: the MLflow UI and Spark read it.

MLflow's ``infer_signature`` records a numpy array of labels as ``tensor(object)``
(``str`` here), which ``mlflow.pyfunc.spark_udf`` cannot type; the plugin records
one ``string`` column, which it returns as strings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.models import ModelSignature, infer_signature

from kedro_mlflow_dryrun.report import describe_outputs
from kedro_mlflow_dryrun.stages.infer import infer_output_schema

STRING_BANDS = """
    def predict_prices(design, regressor, price_bands):
        price = design @ regressor["coefficients"]
        low, high = price_bands["low"], price_bands["high"]
        return np.where(price < low, "low", np.where(price < high, "mid", "high"))
"""


@pytest.mark.parametrize(
    ("output", "column"),
    [
        (np.array(["low", "high"]), "string"),
        (np.array([1.5, 2.0]), "double"),
        (np.array([1, 2]), "long"),
        (np.array([True, False]), "boolean"),
        (np.array(["2026-01-01"], dtype="datetime64[ns]"), "datetime"),
    ],
)
def test_a_1d_array_of_scalars_is_one_column_of_their_type(output, column):
    assert infer_signature(model_output=output).outputs.to_dict()[0]["type"] == "tensor"

    assert infer_output_schema(output).to_dict() == [{"type": column, "required": True}]


@pytest.mark.parametrize(
    ("output", "described"),
    [
        (np.array([[1.0, 2.0]]), "(tensor float64 (-1, 2))"),
        (np.array(["a", None], dtype=object), "(tensor object (-1,))"),
        (pd.DataFrame({"price": [1.0], "band": ["low"]}), "(price: double, band: string)"),
    ],
)
def test_other_tensors_keep_their_tensor_spec_described_readably(output, described):
    assert describe_outputs(ModelSignature(outputs=infer_output_schema(output))) == described


def test_labels_are_a_string_column_that_spark_udf_returns(
    project, in_process, plugin_lines, spark
):
    import mlflow

    project.override_node(STRING_BANDS)

    in_process(pipeline_names=["training"])

    view = project.mlflow_view()
    assert view.tags["dryrun.status"] == "passed"
    assert view.signature.outputs.to_dict() == [{"type": "string", "required": True}]
    assert any("output schema (string)" in line for line in plugin_lines)
    assert view.report["serve"]["rows"] == 100, "answered and compared, value by value"

    model_uri = f"models:/{view.models[0].model_id}"
    rows = pd.read_csv(project.path / "data/01_raw/houses.csv").drop(columns=["price"]).head(20)
    frame = spark.createDataFrame(rows).coalesce(1)  # one Python worker to start
    udf = mlflow.pyfunc.spark_udf(spark, model_uri)
    scored = frame.withColumn("band", udf(*rows.columns))

    assert scored.schema["band"].dataType.simpleString() == "string"
    expected = mlflow.pyfunc.load_model(model_uri).predict(rows)
    assert sorted(row.band for row in scored.collect()) == sorted(expected)
