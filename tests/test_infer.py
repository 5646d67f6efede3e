"""Infer: a signature whose outputs keep every column MLflow can type."""

import logging

import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node
from mlflow.models import ModelSignature, infer_signature

from kedro_mlflow_dryrun.adapters.model_sources import PipelineModel
from kedro_mlflow_dryrun.stages.infer import infer_output_schema

from engine_contexts import dry_run, engine_context, output_context


def test_params_are_recorded_as_kedro_mlflow_records_them():
    inference = Pipeline([node(lambda x, b, t: x, ["houses", "params:bands", "params:t"], "y")])
    catalog = DataCatalog(
        {"params:bands": MemoryDataset({"low": 1}), "params:t": MemoryDataset(0.5)}
    )

    assert PipelineModel(inference, catalog, "houses").params() == {
        "bands": {"low": 1},
        "t": 0.5,
        "runner": "SequentialRunner",
    }


def test_signature_has_inputs_outputs_and_params():
    context = output_context(pd.DataFrame({"p": [2]}))

    report = dry_run(context)

    signature = context.log_model_kwargs["signature"]
    assert report.signature is signature
    assert signature.inputs.input_names() == ["x"]
    assert signature.outputs.to_dict() == [{"type": "long", "name": "p", "required": True}]
    assert signature.params.params[0].name == "runner"


def test_a_failed_dry_run_still_hands_kedro_mlflow_an_input_signature():
    def broken(rows):
        raise ValueError("no")

    inference = Pipeline([node(broken, "rows", "predictions", name="broken")])
    context = engine_context(inference, DataCatalog(), "rows", pd.DataFrame({"x": [1.0]}))

    report = dry_run(context)

    assert report.failed and "node 'broken'" in report.reason
    signature = context.log_model_kwargs["signature"]
    assert signature.inputs.input_names() == ["x"] and signature.outputs is None


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

    def context_of(output):
        inference = Pipeline([node(lambda rows: output, "rows", "predictions", name="n")])
        rows = pd.DataFrame({"x": [1]})
        return engine_context(inference, DataCatalog(), "rows", rows, signature=declared)

    assert not dry_run(context_of(pd.DataFrame({"p": [2.0]}))).failed
    report = dry_run(context_of(pd.DataFrame({"q": [1.0]})))
    assert report.failed and "Output 'predictions' does not match" in report.reason
