"""Execute: the model source answers the sample, without writing anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kedro_mlflow_dryrun.errors import InferenceError

if TYPE_CHECKING:
    from kedro_mlflow_dryrun.engine import DryRunContext


def run(context: DryRunContext) -> None:
    """Runs the model on the sample; on failure, tells whether a dropped column was needed."""
    model, sample, full = context.model, context.sample, context.full_sample
    assert sample is not None and full is not None
    context.report.output_name = model.output_name
    try:
        context.output = model.predict(sample.data)
    except InferenceError as error:
        if sample is full:
            raise
        try:
            model.predict(full.data)
        except InferenceError:
            raise error from None
        raise InferenceError(
            f"{error}\nIt runs when drop_columns {list(context.config.drop_columns)} are "
            "kept: the inference pipeline needs a dropped column. Take it out of "
            "drop_columns in dryrun.yml, or stop the pipeline from reading it."
        ) from error
    context.report.output_type = type(context.output).__name__
