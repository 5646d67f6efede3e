"""Execute: the inference pipeline on the sample, in a catalog of its own.

Every dataset of that catalog is a ``MemoryDataset``: the artifacts and parameters
are loaded from the training catalog, the sample replaces ``input_name``, and the
outputs stay in memory. No project hook is given to the runner, so nothing the
project or kedro-mlflow would do on a node run happens here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kedro.framework.hooks import _create_hook_manager, hook_impl
from kedro.io import CatalogProtocol, DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline
from kedro.runner import SequentialRunner

from kedro_mlflow_dryrun.errors import InferenceError

_RUNNER_LOGGERS = ("kedro.runner", "kedro.io", "kedro.pipeline")


def output_name_of(inference: Pipeline) -> str:
    (name,) = inference.outputs()
    return name


def producer_of(inference: Pipeline, dataset_name: str) -> str:
    return next(node.name for node in inference.nodes if dataset_name in node.outputs)


def run_inference(
    inference: Pipeline,
    training_catalog: CatalogProtocol,
    input_name: str,
    sample: Any,
) -> Any:
    """Returns the inference pipeline's output for the sample; writes nothing."""
    catalog = DataCatalog({input_name: MemoryDataset(sample, copy_mode="deepcopy")})
    for name in sorted(inference.inputs() - {input_name}):
        catalog[name] = MemoryDataset(_load_artifact(training_catalog, name), copy_mode="deepcopy")

    last_node = _NodeRecorder()
    hook_manager = _create_hook_manager()
    hook_manager.register(last_node)
    output_name = output_name_of(inference)
    try:
        with quiet_runner():
            outputs = SequentialRunner().run(inference, catalog, hook_manager)
    except Exception as error:
        raise InferenceError(_describe_failure(error, last_node.node, input_name)) from error
    return outputs[output_name].load()


def _load_artifact(training_catalog: CatalogProtocol, name: str) -> Any:
    try:
        return training_catalog.load(name)
    except Exception as error:
        raise InferenceError(
            f"The inference pipeline needs '{name}', which the training run did not "
            f"leave loadable: {type(error).__name__}: {error}\n"
            f"Fix: make the training pipeline produce '{name}' and persist it in the catalog."
        ) from error


class _NodeRecorder:
    """The only hook the dry run's runner calls: it remembers the node running last.

    A failure in the node's function or in saving what it returned (``None``, say)
    happens while that node is the last one started.
    """

    def __init__(self) -> None:
        self.node: Node | None = None

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        self.node = node


def _describe_failure(error: Exception, node: Node | None, input_name: str) -> str:
    where = f"node '{node.name}'" if node else "the inference pipeline"
    return (
        f"The inference pipeline raised in {where} on a sample of '{input_name}': "
        f"{type(error).__name__}: {error}\n"
        f"Fix: make {where} accept the rows of '{input_name}' that training loaded."
    )


@contextmanager
def quiet_runner() -> Iterator[None]:
    """Keeps the runner's per-node lines and resume hints out of the training log."""
    loggers = [logging.getLogger(name) for name in _RUNNER_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
