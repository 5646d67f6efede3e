"""Serve: the logged model, loaded back from MLflow, answers one real request.

The request is the sample as a client would send it (``dataframe_split`` JSON)
and goes through the scoring server's own request path, ``invocations``; the
reply must match the output schema the model was logged with.

``log_model`` would load the model back and predict on the input example the dry
run hands it, only to warn if that fails. The serve check makes the same request
with the whole sample and fails the dry run: :func:`instead_of_mlflow_validation`
leaves it alone, so that a model of a GiB is loaded back and copied once, not twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kedro_mlflow_dryrun import compat, patches
from kedro_mlflow_dryrun.errors import ServeCheckError

if TYPE_CHECKING:
    from mlflow.types import Schema

    from kedro_mlflow_dryrun.context import DryRunContext

#: MLflow's switch for recording the environment variables a model reads while validated.
_RECORD_ENV_VARS = "MLFLOW_RECORD_ENV_VARS_IN_MODEL_LOGGING"

# JSON value types that each MLflow column type may come back as.
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "string": (str,),
    "binary": (str,),
    "datetime": (str,),
}


def run(context: DryRunContext) -> None:
    """The logged model answers the sample through the scoring server's request path."""
    assert context.sample is not None
    outputs = context.signature.outputs if context.signature is not None else None
    model_uri = context.logged_model_uri()
    context.report.serve = serve_round_trip(model_uri, context.sample.data, outputs)


@contextmanager
def instead_of_mlflow_validation() -> Iterator[None]:
    """While kedro-mlflow logs the model, MLflow does not load it to try the input example.

    ``pyfunc.log_model`` has no switch for it, so MLflow's validation is patched. Nothing
    runs the model then, so MLflow's recording of the environment variables it reads
    (which patches ``os.environ`` for the call, and is not reentrant) is switched off too.
    """
    with (
        patches.environment_variable(_RECORD_ENV_VARS, "false"),
        compat.serving_input_validation(_left_to_the_serve_check),
    ):
        yield


def _left_to_the_serve_check(model_uri: str, serving_input: object) -> None:
    """MLflow's ``_validate_serving_input``, whose request the serve check makes."""


def serve_round_trip(model_uri: str, sample: Any, output_schema: Schema | None) -> dict[str, Any]:
    """Returns what the served model answered, or raises :class:`ServeCheckError`."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from kedro_mlflow_dryrun.adapters.models import answer, served_cause

    model = mlflow.pyfunc.load_model(model_uri)
    try:
        reply = answer(model, sample)
    except MlflowException as error:
        raise ServeCheckError(
            f"The logged model {model_uri}, loaded back, rejects a request made of the "
            f"sample: {served_cause(error)}\n"
            "Fix: the input schema must list every column the inference pipeline reads."
        ) from error
    if reply.status != 200:
        raise ServeCheckError(
            f"The logged model {model_uri} answered HTTP {reply.status}: {reply.response[:200]}"
        )
    predictions = json.loads(reply.response)["predictions"]
    _compare(predictions, len(sample), output_schema, model_uri)
    return {"model_uri": model_uri, "status": reply.status, "rows": len(predictions)}


def _compare(predictions: Any, rows: int, schema: Any, model_uri: str) -> None:
    if not isinstance(predictions, list) or len(predictions) != rows:
        count = len(predictions) if isinstance(predictions, list) else type(predictions).__name__
        raise ServeCheckError(
            f"The logged model {model_uri} answered {count} predictions for {rows} rows."
        )
    if schema is None or not schema.has_input_names() or not predictions:
        return
    expected = schema.input_names()
    for row, record in enumerate(predictions):
        if not isinstance(record, dict) or list(record) != expected:
            got = list(record) if isinstance(record, dict) else type(record).__name__
            raise ServeCheckError(
                f"The logged model {model_uri} answered row {row} with {got}, "
                f"but its output schema lists {expected}."
            )
        for spec in schema.inputs:
            value = record[spec.name]
            allowed = _JSON_TYPES.get(repr(spec.type))
            if value is None or allowed is None:
                continue
            if not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool)):
                raise ServeCheckError(
                    f"The logged model {model_uri} answered column {spec.name!r}, row {row} "
                    f"with {value!r}, but its output schema says {spec.type!r}."
                )
