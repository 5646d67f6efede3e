"""Model sources: what the dry run asks for predictions.

Two things can answer a sample: the inference pipeline of a ``PipelineML`` still in
memory, with its artifacts in the project's catalog (after training, and in
pre-flight), or a model MLflow has logged (backfill). The stages see one
interface, :class:`ModelSource`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from kedro.framework.hooks import hook_impl
from kedro.io import CatalogProtocol, DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline
from kedro.runner import SequentialRunner

from kedro_mlflow_dryrun import compat
from kedro_mlflow_dryrun.adapters.datasets import loads_anew, round_trips_exactly
from kedro_mlflow_dryrun.adapters.models import answer, quiet_runner, served_cause
from kedro_mlflow_dryrun.adapters.tracking import redact, server_error
from kedro_mlflow_dryrun.errors import InferenceError

if TYPE_CHECKING:
    import pandas as pd
    from kedro_mlflow.pipeline.pipeline_ml import PipelineML
    from mlflow.models import ModelSignature
    from mlflow.pyfunc import PyFuncModel

#: kedro-mlflow lets the caller of a served model pick the runner at predict time.
RUNNER_PARAM = {"runner": "SequentialRunner"}


class ModelSource(Protocol):
    """Something that turns a sample into the output a served model would return."""

    @property
    def output_name(self) -> str: ...

    @property
    def producer(self) -> str | None:
        """The node that returns the output, when there are nodes."""
        ...

    @property
    def fills_outputs(self) -> bool:
        """True when its output schema comes from what it answers although ``signature()``
        is set: a logged model keeps its inputs and params, and gets outputs."""
        ...

    def predict(self, sample: pd.DataFrame) -> object: ...

    def params(self) -> dict[str, object]: ...

    def signature(self) -> ModelSignature | str | None:
        """The signature it is (or will be) logged with; ``"auto"``: to be inferred."""
        ...

    def served(self, signature: ModelSignature | None) -> PyFuncModel:
        """The model as the scoring server holds it, for requests through ``invocations``."""
        ...


class PipelineModel:
    """The inference pipeline of a ``PipelineML``, run in a catalog of its own.

    Every dataset of that catalog is a ``MemoryDataset``: the artifacts and parameters
    are loaded from the project's catalog, the sample replaces ``input_name``, and the
    outputs stay in memory. No project hook is given to the runner.

    Each artifact is loaded once per prediction and handed to the nodes as is, as
    kedro-mlflow's served model does (``copy_mode="assign"``): a model of a GiB is
    not copied. Only an object the project's catalog may hand out again (a
    ``MemoryDataset``, a project's caching dataset) is copied, once, so that a node
    changing it in place cannot change what training left. An artifact training has
    just saved to a pickle is not even read back: the object saved is used, once.
    """

    fills_outputs = False

    def __init__(
        self,
        inference: Pipeline,
        catalog: CatalogProtocol,
        input_name: str,
        signature: ModelSignature | str | None = "auto",
        saved: SavedArtifacts | None = None,
    ) -> None:
        self.inference, self.catalog, self.input_name = inference, catalog, input_name
        self.saved = saved or SavedArtifacts(())
        (self.output_name,) = inference.outputs()
        self.producer: str | None = next(
            n.name for n in inference.nodes if self.output_name in n.outputs
        )
        self._signature = signature

    def signature(self) -> ModelSignature | str | None:
        return self._signature

    def served(self, signature: ModelSignature | None) -> PyFuncModel:
        """Before any model is logged: the inference pipeline behind MLflow's pyfunc model,
        which enforces ``signature``'s input schema on each request as a logged one does."""
        from mlflow.models import Model
        from mlflow.pyfunc import PyFuncModel

        return PyFuncModel(model_meta=Model(signature=signature), model_impl=_ServedPipeline(self))

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
            catalog[name] = MemoryDataset(self._load_artifact(name), copy_mode="assign")
        last_node = _NodeRecorder()
        hook_manager = compat.create_hook_manager()
        hook_manager.register(last_node)
        try:
            with quiet_runner():
                outputs = SequentialRunner().run(self.inference, catalog, hook_manager)
        except Exception as error:
            raise InferenceError(self._describe_failure(error, last_node.node)) from error
        return outputs[self.output_name].load()

    def _load_artifact(self, name: str) -> object:
        """What the project's catalog holds under ``name``, as an object of the dry run's own."""
        dataset = self.catalog.get(name)
        if round_trips_exactly(dataset) and name in self.saved.objects:
            return self.saved.objects.pop(name)
        try:
            data = self.catalog.load(name)
        except Exception as error:
            raise InferenceError(
                f"The inference pipeline needs '{name}', which the training run did not "
                f"leave loadable: {type(error).__name__}: {error}\n"
                f"Fix: make the training pipeline produce '{name}' and persist it in the catalog."
            ) from error
        return data if loads_anew(dataset) else copy.deepcopy(data)

    def _describe_failure(self, error: Exception, node: Node | None) -> str:
        where = f"node '{node.name}'" if node else "the inference pipeline"
        return (
            f"The inference pipeline raised in {where} on a sample of '{self.input_name}': "
            f"{type(error).__name__}: {error}\n"
            f"Fix: make {where} accept the rows of '{self.input_name}' as a serving request "
            "carries them."
        )


class SavedArtifacts:
    """The objects training saved under the names of the inference pipeline's artifacts.

    Kept from ``after_dataset_saved`` until the dry run uses them, then let go: a
    model of a GiB is not held while MLflow loads it back.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)
        self.objects: dict[str, object] = {}

    def offer(self, dataset_name: str, data: object) -> None:
        if dataset_name in self.names:
            self.objects[dataset_name] = data


class LoggedPyfuncModel:
    """A model MLflow has logged, loaded back as ``mlflow models serve`` loads it.

    Its signature keeps its inputs and params; the output schema is filled in from
    what it answers, so a model logged without one can get it (backfill).
    """

    producer = None
    fills_outputs = True

    def __init__(self, model_uri: str) -> None:
        import mlflow

        self.model_uri = model_uri
        try:
            self.model: PyFuncModel = mlflow.pyfunc.load_model(model_uri)
        except Exception as error:
            raise server_error(error, model_uri) or InferenceError(
                f"The logged model {model_uri} cannot be loaded: {type(error).__name__}: "
                f"{redact(str(error))}\nFix: install in this environment what the model imports."
            ) from error
        self.output_name = "predictions"  # a served model has one output, under that key

    def signature(self) -> ModelSignature | str | None:
        """A model logged without any signature gets one inferred from the sample."""
        return self.model.metadata.signature or "auto"

    def served(self, signature: ModelSignature | None) -> PyFuncModel:
        """The model as loaded, whose own signature the scoring server enforces."""
        return self.model

    def params(self) -> dict[str, object]:
        signature = self.model.metadata.signature
        if signature is None or signature.params is None:
            return {}
        return {param.name: param.default for param in signature.params.params}

    def predict(self, sample: pd.DataFrame) -> object:
        """What the model returns for the sample sent as a request to the scoring server.

        The request goes through the server's own app, parsing and schema enforcement;
        the raw output is kept, so that the check stage can say where JSON fails.
        """
        answered = answer(self.model, sample)
        if not answered.answered:
            assert answered.error is not None
            raise InferenceError(
                f"The logged model {self.model_uri} rejects a request made of the sample: "
                f"{served_cause(answered.error)}\n"
                "Fix: send a sample with the columns of the model's input schema "
                "(--input FILE, or sample_dataset in dryrun.yml)."
            ) from answered.error
        return answered.output


class _ServedPipeline:
    """A :class:`PipelineModel` as the implementation of a pyfunc model: it raises what
    the node raised, as kedro-mlflow's served ``KedroPipelineModel`` does."""

    def __init__(self, model: PipelineModel) -> None:
        self._model = model

    def predict(self, data: pd.DataFrame, params: dict[str, object] | None = None) -> object:
        """``params``: the served model applies them to the catalog; these are its own."""
        try:
            return self._model.predict(data)
        except InferenceError as error:
            raise (error.__cause__ or error) from None


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
def saved_pipeline_model(
    pipeline: PipelineML,
    catalog: CatalogProtocol,
    signature: ModelSignature | None,
    code_paths: list[str],
) -> Iterator[str]:
    """The inference pipeline saved as kedro-mlflow logs it, in a temporary directory, for
    a check that needs a model before any is logged; nothing is written to the project."""
    import tempfile
    from pathlib import Path

    import mlflow
    from kedro_mlflow.mlflow import KedroPipelineModel

    with tempfile.TemporaryDirectory(prefix="kedro-mlflow-dryrun-") as folder:
        model = KedroPipelineModel(
            pipeline=pipeline.inference,
            catalog=catalog,
            input_name=pipeline.input_name,
            **pipeline.kpm_kwargs,
        )
        artifacts = model.extract_pipeline_artifacts(parameters_saving_folder=Path(folder))
        path = str(Path(folder) / "model")
        with quiet_runner():
            mlflow.pyfunc.save_model(
                path,
                python_model=model,
                artifacts=artifacts,
                signature=signature,
                code_paths=code_paths or None,
                pip_requirements=[],  # loaded here, never in an environment of its own
            )
        yield path
