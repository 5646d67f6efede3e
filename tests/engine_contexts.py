"""The engine's context for an inference pipeline, made without a Kedro project, and what
the stages before logging make of it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def as_frame(data: object) -> pd.DataFrame:
    """``data`` as the pandas frame the test expects it to be (a sample or an output is
    typed ``object``: the plugin takes every kind of input)."""
    import pandas as pd

    assert isinstance(data, pd.DataFrame), f"expected a pandas DataFrame, got {type(data)}"
    return data


def engine_context(
    inference: Any,
    catalog: Any,
    input_name: str,
    rows: Any,
    config: Any = None,
    signature: Any = "auto",
) -> Any:
    """The engine's context for an inference pipeline, as if training had loaded ``rows``."""
    from kedro_mlflow_dryrun.adapters.model_sources import PipelineModel
    from kedro_mlflow_dryrun.config import DryRunConfig
    from kedro_mlflow_dryrun.context import DryRunContext
    from kedro_mlflow_dryrun.samples import SampleCapture

    config = config or DryRunConfig()
    capture = SampleCapture(input_name, config.sample_size, config.sample_strategy)
    capture.offer(input_name, rows)
    model = PipelineModel(inference, catalog, input_name, signature=signature)
    return DryRunContext(
        config, model=model, input_name=input_name, catalog=catalog, captured=capture
    )


def output_context(output: Any, output_name: str = "predictions", config: Any = None) -> Any:
    """The context of an inference pipeline whose one node returns ``output``."""
    import pandas as pd
    from kedro.io import DataCatalog
    from kedro.pipeline import Pipeline, node

    def produce(rows: Any) -> Any:
        return output

    inference = Pipeline([node(produce, "rows", output_name, name="produce")])
    return engine_context(inference, DataCatalog(), "rows", pd.DataFrame({"x": [1]}), config)


def dry_run(context: Any) -> Any:
    """The stages that run before logging, as the hooks run them; returns the report."""
    from kedro_mlflow_dryrun.engine import before_logging, run_stages

    run_stages(context, before_logging(), total="total")
    return context.report
