"""What the entry points read from a Kedro project: settings, pipelines, run options."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.config import MissingConfigException

from kedro_mlflow_dryrun.config import DryRunConfig, resolve
from kedro_mlflow_dryrun.errors import ConfigError, PipelineDefinitionError

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.framework.startup import ProjectMetadata
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro_mlflow.pipeline.pipeline_ml import PipelineML

    from kedro_mlflow_dryrun.adapters.model_sources import SavedArtifacts
    from kedro_mlflow_dryrun.context import DryRunContext
    from kedro_mlflow_dryrun.samples import SampleCapture

#: ``run_params`` keys of ``KedroSession.run`` that run part of a pipeline, and their flags.
PARTIAL_RUN_OPTIONS = {
    "node_names": "--nodes",
    "from_nodes": "--from-nodes",
    "to_nodes": "--to-nodes",
    "from_inputs": "--from-inputs",
    "to_outputs": "--to-outputs",
    "tags": "--tags",
    "namespaces": "--namespaces",
    "only_missing_outputs": "--only-missing-outputs",
}


def skip_reason(config: DryRunConfig, run_params: dict[str, object]) -> str | None:
    if config.skip_reason:
        return config.skip_reason
    partial = [flag for key, flag in PARTIAL_RUN_OPTIONS.items() if run_params.get(key)]
    if partial:
        return (
            f"a partial training run ({', '.join(partial)}) may not produce every "
            "artifact the inference pipeline needs"
        )
    return None


def training_context(
    config: DryRunConfig,
    pipeline: Pipeline,
    catalog: CatalogProtocol,
    capture: SampleCapture | None = None,
    run_id: str | None = None,
    project_path: Path | None = None,
    saved: SavedArtifacts | None = None,
) -> DryRunContext:
    """The engine's context for a ``PipelineML``: the one training just ran, or (with
    no capture and no run) the one ``kedro dryrun`` checks before training."""
    from kedro_mlflow.pipeline.pipeline_ml import PipelineML

    from kedro_mlflow_dryrun.adapters.model_sources import PipelineModel
    from kedro_mlflow_dryrun.context import DryRunContext

    assert isinstance(pipeline, PipelineML)
    kwargs = pipeline.log_model_kwargs
    model = PipelineModel(
        pipeline.inference,
        catalog,
        pipeline.input_name,
        signature=kwargs.get("signature"),
        saved=saved,
    )
    return DryRunContext(
        config,
        model=model,
        input_name=model.input_name,
        catalog=catalog,
        captured=capture,
        log_model_kwargs=kwargs,
        run_id=run_id,
        project_path=project_path,
    )


def load_config(context: KedroContext) -> DryRunConfig:
    """The settings: ``conf/<env>/dryrun.yml``, then the variable and the CLI flags."""
    return resolve(config_file(context, "dryrun"))


def config_file(context: KedroContext, name: str) -> dict[str, Any]:
    """``conf/<env>/<name>.yml``, its pattern registered as kedro-mlflow registers ``mlflow``."""
    config_loader = context.config_loader
    patterns = [f"{name}*", f"{name}*/**", f"**/{name}*"]
    config_loader.config_patterns.setdefault(name, patterns)  # type: ignore[attr-defined]
    try:
        return config_loader[name] or {}
    except MissingConfigException:
        return {}


def combined_pipeline_ml_names(run_params: dict[str, object], pipeline: Pipeline) -> list[str]:
    """The ``PipelineML`` pipelines that Kedro demoted by running them with others."""
    from kedro.framework.project import pipelines
    from kedro_mlflow.pipeline.pipeline_ml import PipelineML

    names = run_params.get("pipeline_names") or ["__default__"]
    if names == ["__default__"]:
        names = [name for name in pipelines if name != "__default__"]
    run_nodes = set(pipeline.nodes)
    return [
        name
        for name in names  # type: ignore[attr-defined]
        if isinstance(pipelines.get(name), PipelineML)
        and set(pipelines[name].nodes) <= run_nodes
        and len(run_nodes) > len(pipelines[name].nodes)
    ]


def project_context(
    metadata: ProjectMetadata, env: str | None, runtime_params: dict[str, Any] | None
) -> KedroContext:
    """The project's context as ``KedroSession.load_context`` makes it, without plugin hooks.

    kedro-mlflow's ``after_context_created`` sets the tracking URI and the experiment,
    which creates the tracking store (a sqlite file, say): ``kedro dryrun`` writes
    nothing, so only the project's own hooks from ``settings.py`` run, not kedro-mlflow's.
    """
    from kedro.framework.project import settings

    from kedro_mlflow_dryrun import compat

    env = env or os.getenv("KEDRO_ENV")
    config_loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(metadata.project_path / settings.CONF_SOURCE),
        env=env,
        runtime_params=runtime_params,
        **settings.CONFIG_LOADER_ARGS,
    )
    hook_manager = compat.create_hook_manager()
    for hook in settings.HOOKS:
        if not type(hook).__module__.startswith("kedro_mlflow"):
            hook_manager.register(hook)
    context = settings.CONTEXT_CLASS(
        package_name=metadata.package_name,
        project_path=metadata.project_path,
        config_loader=config_loader,
        env=env,
        runtime_params=runtime_params,
        hook_manager=hook_manager,
    )
    hook_manager.hook.after_context_created(context=context)
    return context


def registered_pipeline_ml(name: str | None) -> PipelineML:
    """The ``PipelineML`` called ``name``, or the only one the project registers."""
    from kedro.framework.project import pipelines
    from kedro_mlflow.pipeline.pipeline_ml import PipelineML

    found: dict[int, str] = {}
    for pipeline_name, pipeline in pipelines.items():
        if isinstance(pipeline, PipelineML) and (name is None or pipeline_name == name):
            found.setdefault(id(pipeline), pipeline_name)
    if len(found) == 1:
        (only,) = found.values()
        return pipelines[only]
    every = sorted(n for n, p in pipelines.items() if isinstance(p, PipelineML))
    if name is not None:
        problem = f"'{name}' is not a registered PipelineML"
    elif every:
        problem = f"The project registers several PipelineML pipelines ({', '.join(every)})"
    else:
        problem = "The project registers no PipelineML"
    fix = (
        f"Fix: name one of them, kedro dryrun --pipeline {every[0]}."
        if every
        else "Fix: register one with pipeline_ml_factory in pipeline_registry.py."
    )
    raise PipelineDefinitionError(f"{problem}.\n{fix}")


def use_project_tracking(context: KedroContext) -> None:
    """Points MLflow at the tracking server of kedro-mlflow's ``mlflow.yml``, as
    kedro-mlflow's own ``KedroMlflowConfig.setup`` does before a training run.

    The same URIs (relative paths made absolute from the project), the credentials of
    the ``credentials.yml`` entry that ``server.credentials`` names, exported as
    ``MLFLOW_TRACKING_USERNAME`` and ``MLFLOW_TRACKING_PASSWORD`` by kedro-mlflow's own
    code, and its request header provider. Its last step is left out: setting the
    experiment creates it, and the tracking store with it; ``kedro dryrun`` creates nothing.
    """
    import mlflow
    from kedro_mlflow.config.kedro_mlflow_config import KedroMlflowConfig

    from kedro_mlflow_dryrun import compat

    try:
        config = KedroMlflowConfig.model_validate(config_file(context, "mlflow"))
    except ValueError as error:  # pydantic's ValidationError
        raise ConfigError(
            f"conf/<env>/mlflow.yml is not what kedro-mlflow accepts: {error}\n"
            "Fix: correct it as the message says; kedro run stops on it too."
        ) from error
    server = config.server
    default = os.environ.get("MLFLOW_TRACKING_URI", "mlruns")
    tracking_uri = _project_uri(context, server.mlflow_tracking_uri or default)
    registry_uri = server.mlflow_registry_uri
    compat.export_credentials(config, context)
    compat.register_request_header_provider(config, context)
    mlflow.set_tracking_uri(tracking_uri)
    # As kedro-mlflow: none in mlflow.yml leaves MLflow's own rule (MLFLOW_REGISTRY_URI,
    # else the tracking URI), and sets no variable for later processes to inherit.
    registry = _project_uri(context, registry_uri) if registry_uri else None
    mlflow.set_registry_uri(registry)  # type: ignore[arg-type]


def _project_uri(context: KedroContext, uri: str) -> str:
    from urllib.parse import urlparse

    if urlparse(uri).scheme or uri in ("databricks", "databricks-uc"):
        return uri
    return (context.project_path / uri).resolve().as_uri()
