"""Every private name of MLflow, Kedro and kedro-datasets the plugin uses, and only here.

Each name is looked up when first used, never at start-up (importing MLflow costs
about 1.8 s), then kept. A name that a new version renamed or removed raises
:class:`~kedro_mlflow_dryrun.errors.IncompatibleVersionError`, which names it and
the installed versions: the engine records it as status ``error``, and
kedro-mlflow logs the model as it would without the plugin.

Public API is used wherever one exists: ``mlflow.models.validate_schema``, the
scoring server's ``infer_and_parse_data``, ``convert_input_example_to_serving_input``.
The scoring server's ``invocations`` and ``predictions_to_json`` carry no underscore
but no documentation either: they are what ``mlflow models serve`` runs, so they
are looked up here too. What the dry run patches while kedro-mlflow logs the model is
in :mod:`.log_model`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING, Any, cast

from kedro_mlflow_dryrun import patches
from kedro_mlflow_dryrun.errors import IncompatibleVersionError

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    from kedro.framework.context import KedroContext
    from kedro.io import AbstractDataset
    from mlflow.pyfunc import PyFuncModel
    from mlflow.types import DataType, Schema
    from pluggy import PluginManager

#: The distributions whose versions an incompatibility names, by top-level package.
DISTRIBUTIONS = {
    "mlflow": "mlflow",
    "kedro": "kedro",
    "kedro_mlflow": "kedro-mlflow",
    "kedro_datasets": "kedro-datasets",
    "kedro_mlflow_dryrun": "kedro-mlflow-dryrun",
}


@cache
def private(module: str, name: str) -> Any:
    """``module.name``, looked up once; absent: :class:`IncompatibleVersionError`."""
    try:
        owner = importlib.import_module(module)
    except ImportError as error:
        raise incompatible(module, error, "cannot import") from error
    try:
        return getattr(owner, name)
    except AttributeError as error:
        raise incompatible(f"{module}.{name}", error) from error


def attribute(owner: object, name: str) -> Any:
    """A private attribute of a Kedro or kedro-datasets object (``_load_args``, ``_fs``...)."""
    try:
        return getattr(owner, name)
    except AttributeError as error:
        # Named after the Kedro or kedro-datasets class a project's dataset extends.
        kinds = type(owner).__mro__
        kind = next((k for k in kinds if k.__module__.split(".")[0] in DISTRIBUTIONS), kinds[0])
        raise incompatible(f"{kind.__module__}.{kind.__qualname__}.{name}", error) from error


def incompatible(
    name: str, error: BaseException, problem: str = "has no"
) -> IncompatibleVersionError:
    """What broke and the versions, first line first: the one warning a user reads."""
    owner = DISTRIBUTIONS.get(name.split(".")[0], name.split(".")[0])
    plugin = "kedro-mlflow-dryrun"
    what = (
        f"{owner} {version(owner)} {problem} {name}, which {plugin} {version(plugin)} uses "
        f"({type(error).__name__}: {error})"
    )
    return IncompatibleVersionError(
        f"The dry run could not check the model: {what}.\n"
        f"This is the plugin's failure, not the model's (installed: {installed_versions()}). "
        "The model is logged as kedro-mlflow alone logs it, and the run is tagged "
        "dryrun.status=error.\n"
        f"Fix: install a version of {owner} that {plugin} supports (its README lists them), "
        f"or upgrade {plugin}; meanwhile 'enabled: false' in conf/<env>/dryrun.yml turns the "
        "dry run off.",
        missing=name,
        what=what,
    )


def installed_versions() -> str:
    return ", ".join(f"{name} {version(name)}" for name in DISTRIBUTIONS.values())


def version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "(not installed)"


# MLflow: schemas, as ``infer_signature`` and ``pyfunc`` ``predict`` compute them.


def infer_schema(data: object) -> Schema:
    """MLflow's schema of ``data``; unlike ``infer_signature``, it raises on what it cannot type."""
    return cast("Schema", private("mlflow.types.utils", "_infer_schema")(data))


def infer_pandas_column(column: pd.Series) -> DataType:
    return cast("DataType", private("mlflow.types.utils", "_infer_pandas_column")(column))


def enforce_schema(data: object, schema: Schema) -> object:
    """``data`` converted as ``pyfunc`` ``predict`` converts it; ``validate_schema`` drops it."""
    return private("mlflow.models.utils", "_enforce_schema")(data, schema)


def enforce_type(value: object, column_type: object) -> object:
    """One value converted as schema enforcement converts a column of ``column_type``."""
    return private("mlflow.models.utils", "_enforce_type")(value, column_type)


# MLflow: the scoring server of ``mlflow models serve``.


def jsonable(output: object) -> object:
    """The output as the scoring server hands it to its JSON encoder."""
    return private("mlflow.utils.proto_json_utils", "_get_jsonable_obj")(
        output, pandas_orient="records"
    )


def parse_request(request: str, schema: Schema | None) -> object:
    """A JSON request's data, parsed as the server parses it before ``predict``."""
    import json

    return private("mlflow.pyfunc.scoring_server", "infer_and_parse_data")(
        json.loads(request), schema
    )


def predictions_to_json(output: object, stream: Any) -> None:
    private("mlflow.pyfunc.scoring_server", "predictions_to_json")(output, stream)


def scoring_app(model: object) -> Any:
    """The FastAPI app ``mlflow models serve`` runs for ``model``."""
    return private("mlflow.pyfunc.scoring_server", "init")(model)


def model_implementation(model: PyFuncModel) -> object:
    """What a pyfunc model's ``predict`` calls once the input schema is enforced."""
    return attribute(model, "_model_impl")


def python_model(model: PyFuncModel) -> object | None:
    """The ``PythonModel`` a pyfunc model wraps (kedro-mlflow's ``KedroPipelineModel``);
    ``None`` for a model of another flavor."""
    return getattr(model_implementation(model), "python_model", None)


# hypothesis: the explore stage's search writes nothing in the project and draws the same
# requests whatever this process has imported.

_PROVIDERS = "hypothesis.internal.conjecture.providers"


@contextmanager
def hypothesis_isolated(home: Path) -> Iterator[None]:
    """hypothesis keeps what it caches (its Unicode tables) under ``home``, not in the
    working directory's ``.hypothesis/``, and draws no constants from the local modules
    imported so far (they differ from one command to another).

    An older hypothesis, which drew no such constants, has nothing else changed.
    """
    configuration = importlib.import_module("hypothesis.configuration")
    private("hypothesis.configuration", "__hypothesis_home_directory")
    with ExitStack() as stack:
        stack.enter_context(patches.attribute(configuration, "__hypothesis_home_directory", home))
        try:
            providers = importlib.import_module(_PROVIDERS)
        except ImportError:
            providers = None
        if hasattr(providers, "_get_local_constants"):
            no_constants = private(_PROVIDERS, "Constants")
            stack.enter_context(patches.attribute(providers, "_get_local_constants", no_constants))
            cache = private(_PROVIDERS, "CONSTANTS_CACHE").cache
            cache.clear()  # the constants drawn so far, local ones included
            stack.callback(cache.clear)
        yield


# kedro-mlflow: its served model's per-request copy of the artifacts.


@contextmanager
def artifacts_shared(model: PyFuncModel) -> Iterator[None]:
    """kedro-mlflow's served model deep-copies its catalog, artifacts included, for every
    request (a quarter of a second for a model of 800 MiB): inside this block its
    requests share the artifacts instead, so that many requests cost what the model
    computes, not what it weighs. A node that changes an artifact in place then makes
    answers drift from request to request where the served model, copying, would not:
    what is found so must be replayed outside the block. Each request's load of an
    artifact hands it out as it is (a ``MemoryDataset`` copies on load, a dict deeply).
    Not kedro-mlflow's model:
    nothing is copied, nothing changes.
    """
    from kedro.io import MemoryDataset

    kedro_model = python_model(model)
    catalog = getattr(kedro_model, "loaded_catalog", None)
    pipeline = getattr(kedro_model, "pipeline", None)
    input_name = getattr(kedro_model, "input_name", None)
    if catalog is None or pipeline is None:
        yield
        return
    names = sorted(pipeline.inputs() - {input_name})
    artifacts = [catalog[name] for name in names if not name.startswith("params:")]
    shared = [dataset for dataset in artifacts if type(dataset) is MemoryDataset]
    with ExitStack() as stack:
        for dataset in shared:
            attribute(dataset, "_copy_mode")  # Kedro's: a load copies by it, unless "assign"
            stack.enter_context(patches.attribute(dataset, "_copy_mode", "assign"))
            dataset.__class__ = _shared_memory_dataset()
            stack.callback(setattr, dataset, "__class__", MemoryDataset)
        yield


@contextmanager
def hook_manager_reused() -> Iterator[None]:
    """kedro-mlflow's served model builds a Kedro hook manager for every request, every
    hook spec registered anew (an eighth of a small model's answer), and registers no hook
    in it; a runner only calls it. Inside this block its requests share one."""
    module = "kedro_mlflow.mlflow.kedro_pipeline_model"
    private(module, "_create_hook_manager")
    manager = create_hook_manager()
    with patches.attribute(
        importlib.import_module(module), "_create_hook_manager", lambda: manager
    ):
        yield


@cache
def _shared_memory_dataset() -> type:
    """A ``MemoryDataset`` that a deep copy of its catalog shares rather than copies."""
    from kedro.io import MemoryDataset

    class SharedMemoryDataset(MemoryDataset):
        def __deepcopy__(self, memo: dict[int, object]) -> SharedMemoryDataset:
            return self

    return SharedMemoryDataset


# Kedro.


def create_hook_manager() -> PluginManager:
    """A hook manager with Kedro's hook specs, none registered; Kedro has no public one."""
    return cast("PluginManager", private("kedro.framework.hooks", "_create_hook_manager")())


# kedro-datasets: the attributes its file datasets share.


def load_args(dataset: AbstractDataset) -> dict[str, Any]:
    return cast("dict[str, Any]", attribute(dataset, "_load_args"))


def with_load_args(dataset: AbstractDataset, **load_args_: object) -> AbstractDataset:
    """A copy of ``dataset`` whose loads take ``load_args_`` as well."""
    merged = {**load_args(dataset), **load_args_}
    copy = attribute(dataset, "_copy")
    return cast("AbstractDataset", copy(_load_args=merged))


def load_path(dataset: AbstractDataset) -> str:
    """Where a load reads: the path, or the version's path of a versioned dataset."""
    return str(attribute(dataset, "_get_load_path")())


def filesystem(dataset: AbstractDataset) -> Any:
    """The ``fsspec`` filesystem a file dataset reads with."""
    return attribute(dataset, "_fs")


# kedro-mlflow: the steps of ``KedroMlflowConfig.setup`` that create nothing.


def export_credentials(config: Any, context: KedroContext) -> None:
    """The ``credentials.yml`` entry that ``server.credentials`` names, into ``os.environ``."""
    attribute(config, "_export_credentials")(context)


def register_request_header_provider(config: Any, context: KedroContext) -> None:
    """``server.request_header_provider``, registered with MLflow as kedro-mlflow does."""
    attribute(config, "_register_request_header_provider")(context)
