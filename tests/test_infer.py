"""Infer: a signature whose outputs keep every column MLflow can type."""

import logging
from decimal import Decimal

import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node
from mlflow.models import ModelSignature, infer_signature

from kedro_mlflow_dryrun import SignatureMismatchError
from kedro_mlflow_dryrun.infer import (
    check_against,
    infer_model_signature,
    infer_output_schema,
    inference_params,
    with_outputs,
)


def test_params_are_recorded_as_kedro_mlflow_records_them():
    inference = Pipeline([node(lambda x, b, t: x, ["houses", "params:bands", "params:t"], "y")])
    catalog = DataCatalog(
        {"params:bands": MemoryDataset({"low": 1}), "params:t": MemoryDataset(0.5)}
    )

    assert inference_params(inference, catalog) == {
        "bands": {"low": 1},
        "t": 0.5,
        "runner": "SequentialRunner",
    }


def test_signature_has_inputs_outputs_and_params():
    inputs_only = infer_model_signature(
        pd.DataFrame({"area": [1.0]}), {"runner": "SequentialRunner"}
    )
    signature = with_outputs(inputs_only, pd.DataFrame({"p": [2]}))

    assert inputs_only.outputs is None
    assert signature.inputs.input_names() == ["area"]
    assert signature.outputs.to_dict() == [{"type": "long", "name": "p", "required": True}]
    assert signature.params.params[0].name == "runner"


def test_one_untypable_column_keeps_the_others(caplog):
    output = pd.DataFrame({"price": [1.5], "weird": [{1, 2}], "band": ["low"]})
    assert infer_signature(model_output=output).outputs.to_dict() == [
        {"type": "any", "required": True}
    ], "MLflow alone loses every column: this is what the plugin fixes"

    with caplog.at_level(logging.WARNING):
        schema = infer_output_schema(output)

    assert [(c["name"], c["type"]) for c in schema.to_dict()] == [
        ("price", "double"),
        ("weird", "any"),
        ("band", "string"),
    ]
    assert "Output column 'weird' cannot be typed" in caplog.text


def test_a_user_signature_that_does_not_fit_the_output_fails():
    declared = ModelSignature(
        outputs=infer_signature(model_output=pd.DataFrame({"p": [1.0]})).outputs
    )

    check_against(declared, pd.DataFrame({"p": [2.0]}), "predictions")
    with pytest.raises(SignatureMismatchError, match="Output 'predictions' does not match"):
        check_against(declared, pd.DataFrame({"q": [Decimal(1)]}), "predictions")
