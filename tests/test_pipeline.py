"""pipeline_ml_factory with output_name: wrong names fail at registration."""

import logging

import pytest
from kedro.pipeline import Pipeline, node
from kedro_mlflow.pipeline import pipeline_ml_factory as kedro_mlflow_factory
from kedro_mlflow.pipeline.pipeline_ml import PipelineML

from kedro_mlflow_dryrun import PipelineDefinitionError, pipeline_ml_factory


def identity(x):
    return x


TRAINING = Pipeline([node(identity, "houses", "model", name="fit")])
INFERENCE = Pipeline(
    [
        node(lambda h, m: h, ["houses", "model"], "features", name="features"),
        node(identity, "features", "predictions", name="predict"),
        node(identity, "features", "explanations", name="explain"),
    ]
)


def test_output_name_cuts_the_inference_pipeline_to_what_it_needs(caplog):
    with caplog.at_level(logging.INFO, logger="kedro_mlflow_dryrun"):
        pipeline = pipeline_ml_factory(
            TRAINING, INFERENCE, input_name="houses", output_name="predictions"
        )

    assert isinstance(pipeline, PipelineML)
    assert pipeline.inference.outputs() == {"predictions"}
    assert {n.name for n in pipeline.inference.nodes} == {"features", "predict"}
    assert "leaves out node(s) 'explain'" in caplog.text


def test_kedro_mlflow_arguments_pass_through():
    pipeline = pipeline_ml_factory(
        TRAINING,
        INFERENCE,
        input_name="houses",
        output_name="explanations",
        log_model_kwargs={"name": "explainer"},
    )

    assert pipeline.log_model_kwargs["name"] == "explainer"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"input_name": "houses"},
            "has 2 outputs ('explanations', 'predictions') and kedro-mlflow serves one",
        ),
        (
            {"input_name": "houses", "output_name": "prediction"},
            "output_name='prediction' is not produced by the inference pipeline; "
            "its outputs are 'explanations', 'predictions'",
        ),
        (
            {"input_name": "house", "output_name": "predictions"},
            "input_name='house' is not an input of the inference pipeline that produces "
            "'predictions'; its inputs are 'houses', 'model'",
        ),
    ],
)
def test_wrong_names_list_the_valid_ones(kwargs, message):
    with pytest.raises(PipelineDefinitionError) as error:
        pipeline_ml_factory(TRAINING, INFERENCE, **kwargs)

    assert message in str(error.value)


def test_kedro_mlflow_own_factory_is_unchanged():
    single = INFERENCE.only_nodes("features", "predict")

    assert kedro_mlflow_factory(TRAINING, single, "houses").inference == single
