"""Serve: the logged model, loaded back from MLflow, answers one real request.

The request is the sample as a client would send it (``dataframe_split`` JSON)
and goes through the scoring server's own app, as ``mlflow models serve`` builds
it (an app that cannot be built fails the check); the reply must match the
output schema the model was logged with.

``log_model`` would load the model back and predict on the input example the dry
run hands it, only to warn if that fails. The serve check makes the same request
with the whole sample and fails the dry run: :func:`instead_of_mlflow_validation`
leaves it alone, so that a model of a GiB is loaded back and copied once, not twice.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlflow.types import ColSpec

from kedro_mlflow_dryrun import compat, patches
from kedro_mlflow_dryrun.compat import log_model
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
    # ISO text; a numpy datetime64 array is written as nanoseconds since the epoch.
    "datetime": (str, int),
}


def run(context: DryRunContext) -> None:
    """The logged model answers the sample through the scoring server's request path."""
    assert context.sample is not None
    outputs = context.signature.outputs if context.signature is not None else None
    model_uri = context.logged_model_uri()
    model = context.served_model()
    context.report.serve = serve_round_trip(
        model, model_uri, context.sample.data, outputs, dry_run_output=context.output
    )


@contextmanager
def instead_of_mlflow_validation() -> Iterator[None]:
    """While kedro-mlflow logs the model, MLflow does not load it to try the input example.

    ``pyfunc.log_model`` has no switch for it, so MLflow's validation is patched. Nothing
    runs the model then, so MLflow's recording of the environment variables it reads
    (which patches ``os.environ`` for the call, and is not reentrant) is switched off too.
    """
    with (
        patches.environment_variable(_RECORD_ENV_VARS, "false"),
        log_model.serving_input_validation(_left_to_the_serve_check),
    ):
        yield


def _left_to_the_serve_check(model_uri: str, serving_input: object) -> None:
    """MLflow's ``_validate_serving_input``, whose request the serve check makes."""


def serve_round_trip(
    model: PyFuncModel,
    model_uri: str,
    sample: Any,
    output_schema: Schema | None,
    dry_run_output: object = None,
) -> dict[str, Any]:
    """Returns what the served model answered, or raises :class:`ServeCheckError`.

    An output of one unnamed column is also compared, value by value, with what the
    dry run's inference pipeline returned for the same rows.
    """
    from kedro_mlflow_dryrun.adapters.models import answer, served_cause

    reply = answer(model, sample)
    if reply.status == 400 and not reply.answered:
        assert reply.error is not None
        raise ServeCheckError(
            f"The logged model {model_uri}, loaded back, rejects a request made of the "
            f"sample: {served_cause(reply.error)}\n"
            "Fix: the input schema must list every column the inference pipeline reads."
        ) from reply.error
    if reply.status != 200:
        raise ServeCheckError(
            f"The logged model {model_uri} answered HTTP {reply.status}: {reply.text[:200]}"
        )
    predictions = json.loads(reply.text)["predictions"]
    rows = len(sample)
    if not isinstance(predictions, list) or len(predictions) != rows:
        count = len(predictions) if isinstance(predictions, list) else type(predictions).__name__
        raise ServeCheckError(
            f"The logged model {model_uri} answered {count} predictions for {rows} rows."
        )
    mismatch = output_mismatch(predictions, output_schema)
    if mismatch is not None:
        raise ServeCheckError(f"The logged model {model_uri} {mismatch.text}.")
    spec = one_column(output_schema) if output_schema is not None else None
    if spec is not None and dry_run_output is not None:
        _compare_column(predictions, dry_run_output, spec, model_uri)
    return {"model_uri": model_uri, "status": reply.status, "rows": len(predictions)}


@dataclass(frozen=True)
class Mismatch:
    """The first place where an answer leaves the output schema."""

    #: The output columns concerned: missing, extra, or of another type.
    columns: tuple[str, ...]
    #: What the model did, e.g. "answered column 'band', row 0 with 3, but ...".
    text: str


def output_mismatch(predictions: list[Any], schema: Schema | None) -> Mismatch | None:
    """Where decoded ``predictions`` (one record per row, or one value per row for one
    unnamed column) break the output schema: its column names, each value's JSON
    type, no null in a required column."""
    if schema is None or not predictions:
        return None
    if (spec := one_column(schema)) is not None:
        found = (
            _value_mismatch(_scalar(value), spec, row) for row, value in enumerate(predictions)
        )
        return next((mismatch for mismatch in found if mismatch is not None), None)
    if not schema.has_input_names():
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
        for column in schema.inputs:
            assert isinstance(column, ColSpec)  # a schema with names is made of columns
            mismatch = _value_mismatch(record[str(column.name)], column, row)
            if mismatch is not None:
                return mismatch
    return None


def _value_mismatch(value: Any, spec: ColSpec, row: int) -> Mismatch | None:
    """One answered value against its column's spec."""
    columns = (str(spec.name),) if spec.name else ()
    where = f"column {spec.name!r}, row {row}" if spec.name else f"row {row}"
    if value is None:
        if spec.required:
            return Mismatch(
                columns,
                f"answered {where} with null, but its output schema says the column is required",
            )
        return None
    allowed = _JSON_TYPES.get(repr(spec.type))
    if allowed is None:
        return None
    if not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool)):
        return Mismatch(
            columns, f"answered {where} with {value!r}, but its output schema says {spec.type!r}"
        )
    return None


def one_column(schema: Schema) -> ColSpec | None:
    """The one unnamed column of scalars, served as a JSON list of them, if that is the schema."""
    (spec, *others) = schema.inputs
    return spec if isinstance(spec, ColSpec) and spec.name is None and not others else None


def _scalar(prediction: Any) -> Any:
    """A pandas Series is answered as one-key records (``{"0": value}``); the rest as values."""
    if isinstance(prediction, dict) and len(prediction) == 1:
        return next(iter(prediction.values()))
    return prediction


def _compare_column(predictions: list[Any], output: object, spec: ColSpec, model_uri: str) -> None:
    """The served values are the dry run's, row by row (floats as precise as the column's type)."""
    from kedro_mlflow_dryrun.answers import relative_tolerance, same

    tolerance = relative_tolerance(spec.type)
    written = io.StringIO()
    compat.predictions_to_json(output, written)  # what the server would write for it
    expected = json.loads(written.getvalue())["predictions"]
    for row, (served, computed) in enumerate(zip(predictions, expected, strict=False)):
        served, computed = _scalar(served), _scalar(computed)
        if not same(served, computed, tolerance):
            raise ServeCheckError(
                f"The logged model {model_uri} answered row {row} with {served!r}, but the "
                f"inference pipeline returned {computed!r} for it in the dry run: the model "
                f"as logged does not compute what training's pipeline computes ({spec.type!r})."
                "\nFix: make the inference pipeline deterministic, and check that its "
                "artifacts are the ones training saved."
            )
