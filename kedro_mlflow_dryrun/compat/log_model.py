"""MLflow's ``log_model``, patched while kedro-mlflow logs the model (``patches``).

Each patch only saves time or keeps a pin out: on an MLflow without the name it
patches, ``log_model`` runs as it is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, cast

from kedro_mlflow_dryrun import patches

logger = logging.getLogger("kedro_mlflow_dryrun")


@contextmanager
def serving_input_validation(replacement: Callable[[str, object], object]) -> Iterator[None]:
    """``log_model`` validates the input example with ``replacement`` (MLflow's own loads the
    model back and predicts); an MLflow without ``_validate_serving_input``: its own."""
    from mlflow.models import utils

    if not hasattr(utils, "_validate_serving_input"):
        yield
        return
    with patches.attribute(utils, "_validate_serving_input", replacement):
        yield


@contextmanager
def requirement_inference_without(left_out: Callable[[str], bool]) -> Iterator[None]:
    """MLflow's module -> distributions map, which requirement inference pins from, less the
    distributions ``left_out`` names; an MLflow without that map: unchanged.

    MLflow reads the map from every installed distribution's metadata (seconds in a large
    environment) once its subprocess has returned; here it is read while MLflow waits for
    that subprocess (:func:`requirement_inference_started`), and MLflow's read takes it.
    """
    try:
        from mlflow.utils import requirements_utils as inference

        read_map = inference._init_modules_to_packages_map
    except (ImportError, AttributeError):
        yield
        return
    unfiltered: list[dict[str, list[str]]] = []
    filtered: Future[dict[str, list[str]]] = Future()
    reading = threading.Lock()

    def read(_model_uri: str = "") -> None:
        with reading:
            if filtered.done():
                return
            try:
                read_map()
                unfiltered.append(cast("dict[str, list[str]]", inference._MODULES_TO_PACKAGES))
                filtered.set_result(
                    {
                        module: [name for name in names if not left_out(name)]
                        for module, names in unfiltered[0].items()
                    }
                )
            except Exception as error:  # noqa: BLE001 - MLflow's read then stands
                filtered.set_exception(error)

    def read_filtered() -> None:
        read()
        if filtered.exception() is not None:
            read_map()  # MLflow's own read, unfiltered, failing as it would
            return
        inference._MODULES_TO_PACKAGES = filtered.result()  # type: ignore[assignment]

    # MLflow's map is typed None: it starts so, and is read on first use.
    def apply() -> Callable[[], None]:
        before = inference._MODULES_TO_PACKAGES
        inference._init_modules_to_packages_map = read_filtered

        def undo() -> None:
            inference._init_modules_to_packages_map = read_map
            inference._MODULES_TO_PACKAGES = unfiltered[0] if unfiltered else before  # type: ignore[assignment]

        return undo

    with (
        patches.shared(("requirement inference without", id(inference)), apply),
        requirement_inference_started(read),
    ):
        yield


_inference_started: ContextVar[tuple[Callable[[str], None], ...]] = ContextVar(
    "kedro_mlflow_dryrun_inference_started", default=()
)


@contextmanager
def requirement_inference_started(started: Callable[[str], None]) -> Iterator[None]:
    """``started(path)`` when ``log_model`` in this context begins to infer the requirements
    of the model it saved at ``path``: the directory is complete (MLflow's subprocess loads
    it). What is started so runs in one thread beside MLflow's wait for its subprocess, in
    the order the callers entered, and returns before the inference does. An MLflow that
    infers otherwise: never called."""
    from mlflow import models

    token = _inference_started.set((*_inference_started.get(), started))
    try:
        with patches.attribute(models, "infer_pip_requirements", _inferring):
            yield
    finally:
        _inference_started.reset(token)


def _inferring(model_uri: str, *args: Any, **kwargs: Any) -> list[str]:
    from mlflow.utils.environment import infer_pip_requirements

    beside = threading.Thread(
        target=_start_each,
        args=(_inference_started.get(), model_uri),
        name="kedro-mlflow-dryrun beside requirement inference",
        daemon=True,
    )
    beside.start()
    try:
        return cast("list[str]", infer_pip_requirements(model_uri, *args, **kwargs))
    finally:
        beside.join()


def _start_each(started: tuple[Callable[[str], None], ...], model_uri: str) -> None:
    for start in started:
        try:
            start(model_uri)
        except Exception:  # the model must be logged whatever the plugin does
            logger.debug("Nothing started beside requirement inference", exc_info=True)
