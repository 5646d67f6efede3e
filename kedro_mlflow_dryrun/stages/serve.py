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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kedro_mlflow_dryrun import compat, patches
from kedro_mlflow_dryrun.errors import ServeCheckError

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel
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
    model = context.served_model()
    context.report.serve = serve_round_trip(model, model_uri, context.sample.data, outputs)


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


def serve_round_trip(
    model: PyFuncModel, model_uri: str, sample: Any, output_schema: Schema | None
) -> dict[str, Any]:
    """Returns what the served model answered, or raises :class:`ServeCheckError`."""
    from mlflow.exceptions import MlflowException

    from kedro_mlflow_dryrun.adapters.models import answer, served_cause

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
    rows = len(sample)
    if not isinstance(predictions, list) or len(predictions) != rows:
        count = len(predictions) if isinstance(predictions, list) else type(predictions).__name__
        raise ServeCheckError(
            f"The logged model {model_uri} answered {count} predictions for {rows} rows."
        )
    mismatch = output_mismatch(predictions, output_schema)
    if mismatch is not None:
        raise ServeCheckError(f"The logged model {model_uri} {mismatch.text}.")
    return {"model_uri": model_uri, "status": reply.status, "rows": len(predictions)}


@dataclass(frozen=True)
class Mismatch:
    """The first place where an answer leaves the output schema."""

    #: The output columns concerned: missing, extra, or of another type.
    columns: tuple[str, ...]
    #: What the model did, e.g. "answered column 'band', row 0 with 3, but ...".
    text: str


def output_mismatch(predictions: list[Any], schema: Schema | None) -> Mismatch | None:
    """Where decoded ``predictions`` (one record per row) break the output schema:
    its column names, each value's JSON type, no null in a required column."""
    if schema is None or not schema.has_input_names() or not predictions:
        return None
    expected = [str(name) for name in schema.input_names()]
    for row, record in enumerate(predictions):
        if not isinstance(record, dict) or list(record) != expected:
            names = [str(name) for name in record] if isinstance(record, dict) else []
            got = names if isinstance(record, dict) else type(record).__name__
            differ = [n for n in [*expected, *names] if (n in expected) != (n in names)]
            return Mismatch(
                tuple(differ or expected),
                f"answered row {row} with {got}, but its output schema lists {expected}",
            )
        for spec in schema.inputs:
            name = str(spec.name)
            value = record[name]
            if value is None:
                if spec.required:
                    return Mismatch(
                        (name,),
                        f"answered column {name!r}, row {row} with null, but its output "
                        "schema says the column is required",
                    )
                continue
            allowed = _JSON_TYPES.get(repr(spec.type))
            if allowed is None:
                continue
            if not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool)):
                return Mismatch(
                    (name,),
                    f"answered column {name!r}, row {row} with {value!r}, but its output "
                    f"schema says {spec.type!r}",
                )
    return None
