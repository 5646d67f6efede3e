"""What the entry points read from a Kedro project: settings, pipelines, run options."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kedro.config import MissingConfigException

from kedro_mlflow_dryrun.config import CONFIG_PATTERNS, DryRunConfig, resolve

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline

    from kedro_mlflow_dryrun.adapters.models import SavedArtifacts
    from kedro_mlflow_dryrun.engine import DryRunContext
    from kedro_mlflow_dryrun.stages.sample import SampleCapture

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
    capture: SampleCapture,
    run_id: str,
    saved: SavedArtifacts | None = None,
) -> DryRunContext:
    """The engine's context for the ``PipelineML`` that training just ran."""
    from kedro_mlflow.pipeline.pipeline_ml import PipelineML

    from kedro_mlflow_dryrun.adapters.models import PipelineModel
    from kedro_mlflow_dryrun.engine import DryRunContext

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
    )


def load_config(context: KedroContext) -> DryRunConfig:
    """``conf/<env>/dryrun.yml``, registered as kedro-mlflow registers ``mlflow.yml``."""
    config_loader = context.config_loader
    config_loader.config_patterns.setdefault("dryrun", CONFIG_PATTERNS)  # type: ignore[attr-defined]
    try:
        values = config_loader["dryrun"]
    except MissingConfigException:
        values = {}
    return resolve(values)


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
