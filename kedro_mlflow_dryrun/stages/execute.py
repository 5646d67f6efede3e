"""Execute: the model source answers the sample, as served, without writing anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kedro_mlflow_dryrun.errors import InferenceError
from kedro_mlflow_dryrun.stages.request import as_served

if TYPE_CHECKING:
    from kedro_mlflow_dryrun.engine import DryRunContext


def run(context: DryRunContext) -> None:
    """Runs the model on the served sample; on failure, says what serving changed.

    A failure may come from a column training typed otherwise (``category``, say),
    or from a column ``drop_columns`` took out: the message tells which.
    """
    model, sample, full = context.model, context.sample, context.full_sample
    assert sample is not None and full is not None
    context.report.output_name = model.output_name
    try:
        context.output = model.predict(context.served_input)
    except InferenceError as error:
        if sample is not full:
            _raise_if_a_dropped_column_was_needed(context, error)
        changes = dtype_changes(sample.data, context.served_input)
        if not changes:
            raise
        what, _, fix = str(error).partition("\nFix: ")
        raise InferenceError(
            f"{what}\nServing changed the type of {'; '.join(changes)}.\n"
            f"Fix: {fix.rstrip('.')}: convert the column inside the node (astype, say) "
            "rather than rely on the type training loaded."
        ) from error
    context.report.output_type = type(context.output).__name__


def _raise_if_a_dropped_column_was_needed(context: DryRunContext, error: InferenceError) -> None:
    assert context.full_sample is not None
    try:
        context.model.predict(as_served(context.full_sample.data, None))
    except InferenceError:
        return
    raise InferenceError(
        f"{error}\nIt runs when drop_columns {list(context.config.drop_columns)} are "
        "kept: the inference pipeline needs a dropped column. Take it out of "
        "drop_columns in dryrun.yml, or stop the pipeline from reading it."
    ) from error


def dtype_changes(training: object, served: object) -> list[str]:
    """The columns whose dtype in training is not the one a served model gets."""
    import pandas as pd

    if not isinstance(training, pd.DataFrame) or not isinstance(served, pd.DataFrame):
        return []
    return [
        f"column {name!r} ({dtype} in training, {served[name].dtype} as served)"
        for name, dtype in training.dtypes.items()
        if name in served.columns and served[name].dtype != dtype
    ]
