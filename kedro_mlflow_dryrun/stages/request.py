"""Request: the sample as the scoring server hands it to the model.

A served model never sees training's dtypes: it sees a ``dataframe_split`` JSON
request, parsed by the scoring server and enforced against the input schema, as
``pyfunc`` ``predict`` does. The inference pipeline is tried on the sample in that
form, so a node that only works on training's dtypes fails now, not when served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kedro_mlflow_dryrun import compat
from kedro_mlflow_dryrun.errors import RequestError

if TYPE_CHECKING:
    from mlflow.types import Schema

    from kedro_mlflow_dryrun.context import DryRunContext


def run(context: DryRunContext) -> None:
    """Stores ``served_input``: the sample, sent, parsed and enforced as when served."""
    assert context.sample is not None
    signature = context.signature
    schema = signature.inputs if signature is not None else None
    try:
        context.served_input = as_served(context.sample.data, schema)
    except compat.IncompatibleVersionError:
        raise
    except Exception as error:
        raise RequestError(
            f"A serving request made of the sample of '{context.input_name}' is rejected "
            f"before it reaches the model: {type(error).__name__}: {error}\n"
            "Fix: give the input columns a type a JSON request can carry (a nullable "
            "integer column with missing values: cast it to float), or take the column "
            "out with drop_columns in dryrun.yml."
        ) from error


def as_served(data: object, schema: Schema | None) -> object:
    """``data`` turned into a request, then parsed and enforced as ``mlflow models serve`` does."""
    from mlflow.models import convert_input_example_to_serving_input

    request = convert_input_example_to_serving_input(data) or "{}"
    parsed = compat.parse_request(request, schema)
    return compat.enforce_schema(parsed, schema) if schema is not None else parsed
