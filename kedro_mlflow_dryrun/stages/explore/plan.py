"""What a search is given: the requests to generate, its budget, how answers compare.

Everything here is known before the model is logged (the signature, the sample as
served, the sample's output), so a search may start while the model is being logged
(:mod:`.beside_logging`) as well as after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy
    from mlflow.types import Schema

    from kedro_mlflow_dryrun.context import DryRunContext
    from kedro_mlflow_dryrun.stages.explore.body import Request


@dataclass(frozen=True)
class Plan:
    """One search of the served model, before any request is sent."""

    strategy: SearchStrategy[Request]
    #: Requests per pass (``explore``) and the safety cap (``explore_seconds``).
    requests: int
    seconds: float
    outputs: Schema | None
    #: Per output column (``None``: the whole answer), the relative tolerance of a float.
    tolerances: dict[str | None, float]
    #: Why ``row_count`` and ``batch_dependent`` do not apply, if they do not.
    not_aligned: str | None
    #: A row of the sample, mixed into the other batch each request's rows are sent in.
    companion: dict[str, Any] | list[Any] | None


def plan(context: DryRunContext) -> Plan | str:
    """The search this dry run makes, or why it makes none."""
    from kedro_mlflow_dryrun.answers import column_tolerances
    from kedro_mlflow_dryrun.stages.explore.checks import companion
    from kedro_mlflow_dryrun.stages.explore.strategies import (
        Request,
        UnsupportedSchemaError,
        request_body,
        requests,
    )

    reason = why_not(context)
    if reason is not None:
        return reason
    signature, served_input = context.signature, context.served_input
    assert signature is not None and served_input is not None
    try:
        strategy = requests(signature.inputs, served_input, signature.params)
    except UnsupportedSchemaError as error:
        return str(error)
    return Plan(
        strategy,
        requests=context.config.explore,
        seconds=context.config.explore_seconds,
        outputs=signature.outputs,
        tolerances=column_tolerances(signature.outputs),
        not_aligned=_not_row_aligned(context.output, len(served_input)),
        companion=companion(request_body(Request.of(served_input.iloc[:1]))),
    )


def why_not(context: DryRunContext) -> str | None:
    """Why the stage does not run, if it does not, as far as it is known before the
    strategies are built (the search's own imports, hypothesis's, and work)."""
    import pandas as pd

    if context.config.explore == 0:
        return "explore: 0 in dryrun.yml"
    signature = context.signature
    if signature is None or signature.inputs is None:
        return "the model has no input schema, so nothing says which requests it admits"
    if not isinstance(context.served_input, pd.DataFrame):
        return "the sample is not a table, so there is nothing to generate requests from"
    return None


def _not_row_aligned(output: object, rows: int) -> str | None:
    """Why ``row_count`` and ``batch_dependent`` do not apply to this output, if they do not."""
    import numpy as np
    import pandas as pd

    if not isinstance(output, pd.DataFrame | pd.Series | np.ndarray | list):
        return (
            f"the output is a {type(output).__name__}, not one entry per request row "
            "(DataFrame, Series, array or list)"
        )
    if isinstance(output, np.ndarray) and output.ndim == 0:
        return "the output is a single value, not one entry per request row"
    if len(output) != rows:
        return f"the output had {len(output)} entries for the sample's {rows} rows"
    return None
