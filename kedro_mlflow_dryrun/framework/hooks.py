"""The hooks: what Kedro hands over, to a training run and its dry run.

``after_pipeline_run`` is a pluggy wrapper around kedro-mlflow's: the engine's dry
run goes around kedro-mlflow's ``log_model`` (the ``yield``), and raises nothing before
kedro-mlflow has logged, so nothing is lost. Artifacts training saves are kept
(``after_dataset_saved``) for the dry run, which need not read them back.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

from kedro.framework.hooks import hook_impl

from kedro_mlflow_dryrun.config import DryRunConfig

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline

    from kedro_mlflow_dryrun.framework.training import TrainingRun


class DryRunHook:
    """Dry-runs the inference pipeline of every ``PipelineML`` training run."""

    def __init__(self) -> None:
        self._config = DryRunConfig()
        self._run: TrainingRun | None = None

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        from kedro_mlflow_dryrun.framework.project import load_config

        self._config = load_config(context)

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, object], pipeline: Pipeline) -> None:
        from kedro_mlflow_dryrun.framework.training import TrainingRun

        self._run = TrainingRun.starting(self._config, run_params, pipeline)

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: object) -> None:
        if self._run:
            self._run.loaded(dataset_name, data)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: object) -> None:
        if self._run:
            self._run.saved_dataset(dataset_name, data)

    @hook_impl(wrapper=True)
    def after_pipeline_run(
        self, pipeline: Pipeline, catalog: CatalogProtocol
    ) -> Generator[None, object, object]:
        run, self._run = self._run, None
        if run is None:
            return (yield)
        with run.around_logging(pipeline, catalog):
            return (yield)  # kedro-mlflow logs the model and ends the MLflow run

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._run = None


dry_run_hook = DryRunHook()
