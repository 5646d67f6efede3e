"""One PipelineML: kedro-mlflow logs its inference pipeline after training."""

from kedro.pipeline import Pipeline

from house_prices.pipelines import inference_pipeline, training_pipeline
from kedro_mlflow_dryrun import pipeline_ml_factory


def register_pipelines() -> dict[str, Pipeline]:
    training = pipeline_ml_factory(
        training=training_pipeline(),
        inference=inference_pipeline(),
        input_name="houses",
        output_name="predictions",
        log_model_kwargs={"name": "house_prices"},
    )
    return {"training": training, "__default__": training}
