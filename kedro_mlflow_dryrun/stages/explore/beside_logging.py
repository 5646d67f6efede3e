"""The search beside the logging: explore starts while MLflow infers the requirements.

kedro-mlflow's ``log_model`` saves the model to a directory; MLflow then infers its
requirements by loading that directory in a subprocess, which records what the model
imports, and waits for it (seconds: a Python starting, the model's imports, its load).
The directory is by then the model as it will be logged. The search loads it in a
thread of this process and runs during that wait, on the core the wait leaves idle.
Once the model is logged, the stage takes what the search found and replays it against
the logged model as served (:mod:`.fidelity`), as it does a search run then.

The search's copy of the model costs memory while MLflow logs, so it is let go as soon
as the search ends, before MLflow's subprocess has loaded its own: hypothesis's wrapped
test is a reference cycle that holds the search, and with it the model, until a garbage
collection, which the thread runs then rather than leave to chance (at 800 MiB, seconds
later, after the serve check's load: a second copy). A model MLflow infers no
requirements for (requirements written by hand, a conda environment), and one whose
directory did not load, are searched after logging, on the model the serve check loads.
The stages after logging wait for the search to end, its copy let go.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kedro_mlflow_dryrun.compat import log_model
from kedro_mlflow_dryrun.report import PASSED
from kedro_mlflow_dryrun.stages.explore.plan import plan, why_not

if TYPE_CHECKING:
    from kedro_mlflow_dryrun.context import DryRunContext
    from kedro_mlflow_dryrun.stages.explore.search import Searched

logger = logging.getLogger("kedro_mlflow_dryrun")


@dataclass
class _Search:
    """A search in a thread of its own, on the model MLflow saved in ``model_directory``,
    planned there too: hypothesis's import and the strategies leave the main thread."""

    context: DryRunContext
    model_directory: str
    #: ``None`` where the plan says no search is made (the stage says why, after logging).
    result: Future[Searched | None] = field(default_factory=Future)
    called_off: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(
            target=self._run, name="kedro-mlflow-dryrun explore", daemon=True
        )

    def ended(self) -> Future[Searched | None]:
        """The search's result, its thread gone."""
        self.thread.join()
        return self.result

    def _run(self) -> None:
        import mlflow

        from kedro_mlflow_dryrun.stages.explore.search import search_model

        try:
            planned = plan(self.context)
            if isinstance(planned, str):
                self.result.set_result(None)
                return
            model = mlflow.pyfunc.load_model(self.model_directory, suppress_warnings=True)
            searched = search_model(model, planned, self.called_off)
        except BaseException as error:  # noqa: BLE001 - handed to the stage, which searches again
            self.result.set_exception(error)
            return
        del model
        gc.collect()
        self.result.set_result(searched)


#: id(context) -> its search, from the start of requirement inference until taken.
_searches: dict[int, _Search] = {}
_lock = threading.Lock()


@contextmanager
def searching(context: DryRunContext) -> Iterator[None]:
    """While kedro-mlflow logs the model: the search starts with requirement inference."""
    if why_not(context) is not None or context.report.status != PASSED:
        yield
        return

    def start(model_directory: str) -> None:
        with _lock:
            if id(context) in _searches:  # one search per dry run
                return
            _searches[id(context)] = search = _Search(context, model_directory)
            search.thread.start()

    with log_model.requirement_inference_started(start):
        yield


def started(context: DryRunContext) -> bool:
    """Whether a search of this dry run's model started beside the logging."""
    with _lock:
        return id(context) in _searches


def finished(context: DryRunContext) -> None:
    """Waits for the search beside the logging to end, its model let go; its result is
    kept for :func:`taken`."""
    with _lock:
        search = _searches.get(id(context))
    if search is not None:
        search.ended()


def taken(context: DryRunContext) -> Searched | None:
    """What the search beside the logging found, once it ends; ``None`` if none ran or
    it could not (the stage then searches the logged model)."""
    with _lock:
        search = _searches.pop(id(context), None)
    if search is None:
        return None
    try:
        return search.ended().result()
    except Exception:  # searched again after logging, which reports its own errors
        logger.debug("Explore: the search beside the logging failed", exc_info=True)
        return None


def call_off(context: DryRunContext) -> None:
    """Ends a search nothing will take (the dry run ended before explore), and waits for it."""
    with _lock:
        search = _searches.pop(id(context), None)
    if search is not None:
        search.called_off.set()
        search.ended()
