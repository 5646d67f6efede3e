"""Execute: the model source answers the sample, as served, without writing anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kedro_mlflow_dryrun.errors import InferenceError
from kedro_mlflow_dryrun.stages.request import as_served

if TYPE_CHECKING:
    from kedro_mlflow_dryrun.context import DryRunContext


def run(context: DryRunContext) -> None:
    """Runs the model on the served sample; on failure, says what serving changed.

    A failure may come from a column serving types otherwise (``category``, say) or
    leaves out, or from a column ``drop_columns`` took out: the message tells which.
    """
    model, sample, full = context.model, context.sample, context.full_sample
    assert sample is not None and full is not None
    context.report.output_name = model.output_name
    try:
        context.output = model.predict(context.served_input)
    except InferenceError as error:
        if sample is not full:
            _raise_if_a_dropped_column_was_needed(context, error)
        changes = serving_changes(sample.data, context.served_input)
        if not changes:
            raise
        raise InferenceError(
            f"{error}\nServed, the sample is not what training loaded: {'; '.join(changes)}."
        ) from error
    context.report.output_type = type(context.output).__name__


def _raise_if_a_dropped_column_was_needed(context: DryRunContext, error: InferenceError) -> None:
    """Runs the served sample again with the dropped columns, as a request would carry them."""
    import pandas as pd

    assert context.full_sample is not None
    full, served = context.full_sample.data, context.served_input
    if not isinstance(full, pd.DataFrame) or not isinstance(served, pd.DataFrame):
        return
    dropped = as_served(full[list(context.config.drop_columns)], None)
    try:
        context.model.predict(pd.concat([served, dropped], axis=1))
    except InferenceError:
        return
    raise InferenceError(
        f"{error}\nIt runs when drop_columns {list(context.config.drop_columns)} are "
        "kept: the inference pipeline needs a dropped column. Take it out of "
        "drop_columns in dryrun.yml, or stop the pipeline from reading it."
    ) from error


def serving_changes(training: object, served: object) -> list[str]:
    """What a served model gets otherwise than training: columns left out, or retyped."""
    import pandas as pd

    if not isinstance(training, pd.DataFrame) or not isinstance(served, pd.DataFrame):
        return []
    changes = [
        f"column {name!r} is {dtype} in training, {served[name].dtype} as served: convert it "
        "inside the node (astype, say) rather than rely on the type training loaded"
        for name, dtype in training.dtypes.items()
        if name in served.columns and served[name].dtype != dtype
    ]
    left_out = [repr(name) for name in training.columns if name not in served.columns]
    if left_out:
        changes.append(
            f"the input schema leaves out {', '.join(left_out)}, so a served model never "
            "gets them: list them in the signature's inputs"
        )
    return changes
