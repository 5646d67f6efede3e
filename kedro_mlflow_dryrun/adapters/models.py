"""Model sources: what the dry run asks for predictions.

Two things can answer a sample: the inference pipeline of a ``PipelineML`` still in
memory, with its artifacts in the project's catalog (after training, and in
pre-flight), or a model MLflow has logged (backfill). The stages see one
interface, :class:`ModelSource`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from kedro.framework.hooks import hook_impl
from kedro.io import CatalogProtocol, DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline
from kedro.runner import SequentialRunner

from kedro_mlflow_dryrun import compat, patches
from kedro_mlflow_dryrun.adapters.datasets import loads_anew, round_trips_exactly
from kedro_mlflow_dryrun.adapters.tracking import redact, server_error
from kedro_mlflow_dryrun.errors import InferenceError, ModelNotFoundError, ServeCheckError

if TYPE_CHECKING:
    import pandas as pd
    from kedro_mlflow.pipeline.pipeline_ml import PipelineML
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModel
    from mlflow.models import ModelSignature
    from mlflow.pyfunc import PyFuncModel
    from mlflow.pyfunc.scoring_server import InvocationsResponse

#: kedro-mlflow lets the caller of a served model pick the runner at predict time.
RUNNER_PARAM = {"runner": "SequentialRunner"}
#: The runner's lines, and kedro-mlflow's "Using params:... for the prediction" per request.
_RUNNER_LOGGERS = ("kedro.runner", "kedro.io", "kedro.pipeline", "kedro_mlflow.mlflow")


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

        The request goes through the server's own parsing and schema enforcement; the
        raw output is kept, so that the check stage can say where JSON fails.
        """
        from mlflow.exceptions import MlflowException

        recorder = _OutputRecorder(self.model)
        try:
            answer(recorder, sample)
        except MlflowException as error:
            raise InferenceError(
                f"The logged model {self.model_uri} rejects a request made of the sample: "
                f"{served_cause(error)}\n"
                "Fix: send a sample with the columns of the model's input schema "
                "(--input FILE, or sample_dataset in dryrun.yml)."
            ) from error
        except Exception:  # the server could not write the output: the check says where
            if not recorder.answered:
                raise
        return recorder.output


class _OutputRecorder:
    """Stands in for the model in the scoring server, keeping what the model returned."""

    def __init__(self, model: PyFuncModel) -> None:
        self._model = model
        self.metadata = model.metadata
        self.answered, self.output = False, None

    def predict(self, data: object, params: dict[str, object] | None = None) -> object:
        self.output = self._model.predict(data, params=params)
        self.answered = True
        return self.output


def answer(model: PyFuncModel | _OutputRecorder, sample: object) -> InvocationsResponse:
    """The scoring server's reply to ``sample`` sent as a ``dataframe_split`` request,
    through its own request path, ``invocations``, as ``mlflow models serve`` answers."""
    from mlflow.models import convert_input_example_to_serving_input

    request = convert_input_example_to_serving_input(sample) or "{}"
    return answer_request(model, request)


def answer_request(model: PyFuncModel | _OutputRecorder, body: str) -> InvocationsResponse:
    """The scoring server's reply to a JSON request ``body``, through ``invocations``."""
    with quiet_runner():
        return compat.invocations(body, model, model.metadata.get_input_schema())


@dataclass(frozen=True)
class Reply:
    """What a client of ``mlflow models serve`` gets back for one request."""

    status: int
    text: str
    #: What the model returned, when it returned.
    output: object = None
    #: Why the server did not answer 200: the model raised (400), the request was
    #: refused (400), or the answer could not be written as JSON (500).
    error: Exception | None = None
    #: An ``MlflowException`` the model's own code raised (a nested pyfunc model
    #: enforcing its schema): the server passes it on as it passes a refused request.
    raised_in_model: bool = False

    @property
    def model_raised(self) -> bool:
        """The model's ``predict`` raised: the server's 400 for any exception, or the
        model's own ``MlflowException`` passed on."""
        return self.raised_in_model or (self.status == 400 and _MODEL_RAISED in self.text)


_MODEL_RAISED = "Encountered an unexpected error while evaluating the model"


def reply(model: PyFuncModel, body: str) -> Reply:
    """The HTTP status and body the scoring server sends for the request ``body``.

    ``invocations`` raises where the server's app turns the exception into a reply:
    an ``MlflowException`` into its own status and JSON, anything else into a 500.
    """
    from mlflow.exceptions import MlflowException

    recorder = _OutputRecorder(model)
    try:
        response = answer_request(recorder, body)
    except MlflowException as error:
        status = error.get_http_status_code()
        inside = _raised_inside(error, compat.model_implementation(model))
        return Reply(status, error.serialize_as_json(), recorder.output, error, inside)
    except Exception as error:  # noqa: BLE001 - the server answers any other error with a 500
        return Reply(500, "Internal Server Error", recorder.output, error)
    return Reply(response.status, response.response, recorder.output)


def _raised_inside(error: BaseException, implementation: object) -> bool:
    """Whether ``error`` came out of the model's implementation (past schema enforcement),
    read from its traceback's frames, as :func:`failing_node` reads the node."""
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_locals.get("self") is implementation:
            return True
        traceback = traceback.tb_next
    return False


def served_cause(error: Exception) -> str:
    """The model's own exception, which the scoring server hides behind a generic message,
    and the node it was raised in, when a Kedro node raised it."""
    original = error.__cause__ or error.__context__
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


def quiet_runner() -> AbstractContextManager[None]:
    """Keeps the runner's per-node lines and resume hints out of the training log."""
    return patches.logger_levels(_RUNNER_LOGGERS, logging.CRITICAL)


def logged_models_of_run(
    run_id: str, client: MlflowClient | None = None, experiment_id: str | None = None
) -> list[LoggedModel]:
    """Every model logged in ``run_id``: the one search every caller goes through."""
    from mlflow import MlflowClient

    client = client or MlflowClient()
    experiment_id = experiment_id or client.get_run(run_id).info.experiment_id
    return list(
        client.search_logged_models(
            experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run_id}'"
        )
    )


def logged_model_of_run(
    run_id: str, client: MlflowClient | None = None, experiment_id: str | None = None
) -> LoggedModel:
    """The model kedro-mlflow logged in ``run_id``."""
    models = logged_models_of_run(run_id, client, experiment_id)
    if not models:
        raise ServeCheckError(f"kedro-mlflow logged no model in run {run_id}.")
    return models[-1]


@dataclass(frozen=True)
class LoggedModelRef:
    """A logged model, whichever URI named it, and the registered version it is, if any."""

    model_id: str
    registered_name: str | None = None
    version: int | None = None

    @property
    def uri(self) -> str:
        """``set_signature`` takes this form only: ``runs:/`` URIs fail there."""
        return f"models:/{self.model_id}"

    def describe(self) -> str:
        registered = f" ({self.registered_name} version {self.version})" if self.version else ""
        return f"{self.uri}{registered}"


def resolve_model_uri(uri: str) -> LoggedModelRef:
    """``models:/<id>``, ``models:/<name>/<version>``, ``models:/<name>@<alias>`` or
    ``runs:/<run_id>/<path>``: the logged model it names, and its registered version."""
    import mlflow
    from mlflow import MlflowClient

    try:
        # The MLmodel file names its logged model; MLflow 3.0's ModelInfo.model_id raises.
        info = mlflow.models.Model.load(uri)
    except Exception as error:  # MLflow raises several types for a bad URI
        raise server_error(error, uri) or ModelNotFoundError(
            f"No logged model at {uri}: {type(error).__name__}: {redact(str(error))}\n"
            "Fix: pass models:/<model_id>, models:/<name>/<version>, models:/<name>@<alias> "
            "or runs:/<run_id>/<path>, with the tracking URI of conf/<env>/mlflow.yml."
        ) from error
    if info.model_id is None:
        raise ModelNotFoundError(
            f"{uri} is a model MLflow 2 logged as run artifacts; it has no logged model id, "
            "so its signature cannot be set.\nFix: log it again with MLflow 3."
        )
    source = f"models:/{info.model_id}"
    versions = [
        version
        for version in MlflowClient().search_model_versions(f"run_id = '{info.run_id}'")
        if version.source == source
    ]
    named = uri.removeprefix("models:/").split("/")[0].split("@")[0]
    version = next((v for v in versions if v.name == named), versions[0] if versions else None)
    if version is None:
        return LoggedModelRef(info.model_id)
    return LoggedModelRef(info.model_id, version.name, int(version.version))


def set_signature(model: LoggedModelRef, signature: ModelSignature) -> ModelSignature | None:
    """Writes ``signature`` into the logged model's MLmodel; returns it as MLflow reads it back."""
    import mlflow

    mlflow.models.set_signature(model.uri, signature)
    return mlflow.models.get_model_info(model.uri).signature


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
