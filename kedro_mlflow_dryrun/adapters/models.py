"""The served model's request path: what a client of ``mlflow models serve`` gets back.

Every request the dry run sends (the serve check's, explore's, the Spark check's)
goes through the scoring server's own app, built once per loaded model
(:mod:`~kedro_mlflow_dryrun.adapters.scoring_app`).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from kedro.pipeline import Node

from kedro_mlflow_dryrun import patches
from kedro_mlflow_dryrun.adapters.scoring_app import Reply, ScoringApp

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel

__all__ = ["Reply", "answer", "failing_node", "quiet_runner", "reply", "send_concurrently"]

#: The runner's lines, and kedro-mlflow's "Using params:... for the prediction" per request.
_RUNNER_LOGGERS = ("kedro.runner", "kedro.io", "kedro.pipeline", "kedro_mlflow.mlflow")

#: id(model) -> its app, dropped with the model (a ``PyFuncModel`` is not hashable).
_apps: dict[int, ScoringApp] = {}
_apps_lock = threading.Lock()


def scoring_app(model: PyFuncModel) -> ScoringApp:
    """The app ``mlflow models serve`` runs for ``model``, built on first use and kept as long
    as the model is: a search of hundreds of requests builds it once."""
    with _apps_lock:
        app = _apps.get(id(model))
        if app is None:
            app = _apps[id(model)] = ScoringApp.build(model)
            weakref.finalize(model, _apps.pop, id(model), None)
    return app


def reply(model: PyFuncModel, body: str) -> Reply:
    """The HTTP status and body the scoring server sends for the request ``body``."""
    (answered,) = send_concurrently(model, [body])
    return answered


def send_concurrently(model: PyFuncModel, bodies: Sequence[str]) -> list[Reply]:
    """The requests sent at once, answered as the server's thread pool answers them: the
    model's ``predict`` runs concurrently with itself. Replies in the order of ``bodies``."""
    app = scoring_app(model)
    with quiet_runner():
        return app.post_concurrently(bodies)


def answer(model: PyFuncModel, sample: object) -> Reply:
    """The scoring server's reply to ``sample`` sent as a ``dataframe_split`` request."""
    from mlflow.models import convert_input_example_to_serving_input

    return reply(model, convert_input_example_to_serving_input(sample) or "{}")


def served_cause(error: Exception) -> str:
    """The model's own exception, which the scoring server hides behind a generic message,
    and the node it was raised in, when a Kedro node raised it."""
    from mlflow.exceptions import MlflowException

    original = (
        (error.__cause__ or error.__context__) if isinstance(error, MlflowException) else error
    )
    if original is None:
        return str(error)
    node = failing_node(original)
    where = f"node '{node}' raised " if node else ""
    return f"{where}{type(original).__name__}: {original}"


def failing_node(error: BaseException) -> str | None:
    """The Kedro node whose function raised ``error``, read from its traceback's frames."""
    node = None
    traceback = error.__traceback__
    while traceback is not None:
        candidate = traceback.tb_frame.f_locals.get("self")
        if isinstance(candidate, Node):
            node = candidate.name
        traceback = traceback.tb_next
    return node


def quiet_runner() -> AbstractContextManager[None]:
    """Keeps the runner's per-node lines and resume hints out of the training log."""
    return patches.logger_levels(_RUNNER_LOGGERS, logging.CRITICAL)
