"""Model sources: what the dry run asks for predictions.

Two things can answer a sample: the inference pipeline of a ``PipelineML`` still in
memory, with its artifacts in the project's catalog (after training, and in
pre-flight), or a model MLflow has logged (backfill). The stages see one
interface, :class:`ModelSource`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from kedro.framework.hooks import _create_hook_manager, hook_impl
from kedro.io import CatalogProtocol, DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline
from kedro.runner import SequentialRunner

from kedro_mlflow_dryrun.errors import InferenceError, ServeCheckError

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModel
    from mlflow.models import ModelSignature
    from mlflow.pyfunc import PyFuncModel

#: kedro-mlflow lets the caller of a served model pick the runner at predict time.
RUNNER_PARAM = {"runner": "SequentialRunner"}
_RUNNER_LOGGERS = ("kedro.runner", "kedro.io", "kedro.pipeline")


class ModelSource(Protocol):
    """Something that turns a sample into the output a served model would return."""

    output_name: str
    producer: str | None

    def predict(self, sample: pd.DataFrame) -> object: ...

    def params(self) -> dict[str, object]: ...

    def signature(self) -> ModelSignature | str | None:
        """The signature it is (or will be) logged with; ``"auto"``: to be inferred."""
        ...


class PipelineModel:
    """The inference pipeline of a ``PipelineML``, run in a catalog of its own.

    Every dataset of that catalog is a ``MemoryDataset``: the artifacts and parameters
    are loaded from the project's catalog, the sample replaces ``input_name``, and the
    outputs stay in memory. No project hook is given to the runner.
    """

    def __init__(
        self,
        inference: Pipeline,
        catalog: CatalogProtocol,
        input_name: str,
        signature: ModelSignature | str | None = "auto",
    ) -> None:
        self.inference, self.catalog, self.input_name = inference, catalog, input_name
        (self.output_name,) = inference.outputs()
        self.producer = next(n.name for n in inference.nodes if self.output_name in n.outputs)
        self._signature = signature

    def signature(self) -> ModelSignature | str | None:
        return self._signature

    def params(self) -> dict[str, object]:
        """The params schema exactly as kedro-mlflow records it for ``signature: auto``."""
        return {
            name.removeprefix("params:"): self.catalog.load(name)
            for name in sorted(self.inference.inputs())
            if name.startswith("params:")
        } | RUNNER_PARAM

    def predict(self, sample: pd.DataFrame) -> object:
        """The inference pipeline's output for the sample; writes nothing."""
        catalog = DataCatalog({self.input_name: MemoryDataset(sample, copy_mode="deepcopy")})
        for name in sorted(self.inference.inputs() - {self.input_name}):
            catalog[name] = MemoryDataset(self._load_artifact(name), copy_mode="deepcopy")
        last_node = _NodeRecorder()
        hook_manager = _create_hook_manager()
        hook_manager.register(last_node)
        try:
            with quiet_runner():
                outputs = SequentialRunner().run(self.inference, catalog, hook_manager)
        except Exception as error:
            raise InferenceError(self._describe_failure(error, last_node.node)) from error
        return outputs[self.output_name].load()

    def _load_artifact(self, name: str) -> object:
        try:
            return self.catalog.load(name)
        except Exception as error:
            raise InferenceError(
                f"The inference pipeline needs '{name}', which the training run did not "
                f"leave loadable: {type(error).__name__}: {error}\n"
                f"Fix: make the training pipeline produce '{name}' and persist it in the catalog."
            ) from error

    def _describe_failure(self, error: Exception, node: Node | None) -> str:
        where = f"node '{node.name}'" if node else "the inference pipeline"
        return (
            f"The inference pipeline raised in {where} on a sample of '{self.input_name}': "
            f"{type(error).__name__}: {error}\n"
            f"Fix: make {where} accept the rows of '{self.input_name}' as a serving request "
            "carries them."
        )


class LoggedPyfuncModel:
    """A model MLflow has logged, loaded back as ``mlflow models serve`` loads it."""

    producer = None

    def __init__(self, model_uri: str) -> None:
        import mlflow

        self.model_uri = model_uri
        self.model: PyFuncModel = mlflow.pyfunc.load_model(model_uri)
        self.output_name = "predictions"  # a served model has one output, under that key

    def signature(self) -> ModelSignature | str | None:
        return self.model.metadata.signature

    def params(self) -> dict[str, object]:
        signature = self.model.metadata.signature
        if signature is None or signature.params is None:
            return {}
        return {param.name: param.default for param in signature.params.params}

    def predict(self, sample: pd.DataFrame) -> object:
        try:
            with quiet_runner():
                return self.model.predict(sample)
        except Exception as error:
            raise InferenceError(
                f"The logged model {self.model_uri} raised on the sample: "
                f"{type(error).__name__}: {error}\n"
                "Fix: check that the sample has the columns of the model's input schema."
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


def logged_model_of_run(
    run_id: str, client: MlflowClient | None = None, experiment_id: str | None = None
) -> LoggedModel:
    """The model kedro-mlflow logged in ``run_id``: the one lookup every caller uses."""
    from mlflow import MlflowClient

    client = client or MlflowClient()
    experiment_id = experiment_id or client.get_run(run_id).info.experiment_id
    models = client.search_logged_models(
        experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    if not models:
        raise ServeCheckError(f"kedro-mlflow logged no model in run {run_id}.")
    return models[-1]
