"""Serve: the logged model, loaded back from MLflow, answers one real request.

The request is the sample as a client would send it (``dataframe_split`` JSON)
and goes through the scoring server's own request path, ``invocations``; the
reply must match the output schema the model was logged with.

``log_model`` loads the model back once already, to validate the input example
the dry run hands it: :func:`reusing_validation_load` keeps that load for the
serve check, so that a model of a GiB is read back once, not twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kedro_mlflow_dryrun.errors import ServeCheckError

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel
    from mlflow.types import Schema

    from kedro_mlflow_dryrun.engine import DryRunContext

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
    loaded, context.loaded_model = context.loaded_model, None  # freed after the check
    if loaded is not None and f"models:/{loaded.metadata.model_id}" != model_uri:
        loaded = None
    context.report.serve = serve_round_trip(model_uri, context.sample.data, outputs, loaded)


@contextmanager
def reusing_validation_load(context: DryRunContext) -> Iterator[None]:
    """Keeps in ``context.loaded_model`` the model ``log_model`` loads back to validate."""
    import mlflow.pyfunc as pyfunc

    load_model = pyfunc.load_model

    def load_and_keep(*args: Any, **kwargs: Any) -> PyFuncModel:
        context.loaded_model = load_model(*args, **kwargs)
        return context.loaded_model

    pyfunc.load_model = load_and_keep
    try:
        yield
    finally:
        pyfunc.load_model = load_model


def serve_round_trip(
    model_uri: str, sample: Any, output_schema: Schema | None, model: PyFuncModel | None = None
) -> dict[str, Any]:
    """Returns what the served model answered, or raises :class:`ServeCheckError`.

    ``model``: the model at ``model_uri``, if it is loaded already.
    """
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.models import convert_input_example_to_serving_input
    from mlflow.pyfunc.scoring_server import CONTENT_TYPE_JSON, invocations

    from kedro_mlflow_dryrun.adapters.models import quiet_runner

    request = convert_input_example_to_serving_input(sample)
    model = model or mlflow.pyfunc.load_model(model_uri)
    try:
        with quiet_runner():
            reply = invocations(
                request, CONTENT_TYPE_JSON, model, model.metadata.get_input_schema()
            )
    except MlflowException as error:
        # The server hides the model's own exception behind a generic message.
        original = error.__cause__ or error.__context__
        cause = f"{type(original).__name__}: {original}" if original else error.message
        raise ServeCheckError(
            f"The logged model {model_uri}, loaded back, rejects a request made of the "
            f"sample: {cause}\n"
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
