"""The hooks: what Kedro hands over, to the engine, around kedro-mlflow's ``log_model``.

``after_pipeline_run`` is a pluggy wrapper around kedro-mlflow's: before it, the
dry run hands kedro-mlflow a signature; during it, MLflow leaves the input example's
validation to the serve check; after it (the model logged, the MLflow run ended) the
logged model is checked and a failure raised. Nothing raised here comes before
kedro-mlflow has logged, so nothing is lost. Artifacts training saves are kept
(``after_dataset_saved``) for the dry run, which need not read them back.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kedro.framework.hooks import hook_impl

from kedro_mlflow_dryrun.config import DryRunConfig
from kedro_mlflow_dryrun.stages.sample import SampleCapture

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline

    from kedro_mlflow_dryrun.adapters.models import SavedArtifacts
    from kedro_mlflow_dryrun.report import DryRunReport

logger = logging.getLogger("kedro_mlflow_dryrun")


@dataclass
class _PipelineRun:
    """What the hooks learn about one ``PipelineML`` run before it ends."""

    capture: SampleCapture | None
    skip_reason: str | None = None
    project_path: Path | None = None
    saved: SavedArtifacts | None = None


class DryRunHook:
    """Dry-runs the inference pipeline of every ``PipelineML`` training run."""

    def __init__(self) -> None:
        self._config = DryRunConfig()
        self._run: _PipelineRun | None = None

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        from kedro_mlflow_dryrun.framework.project import load_config

        self._config = load_config(context)

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, object], pipeline: Pipeline) -> None:
        from kedro_mlflow.pipeline.pipeline_ml import PipelineML

        from kedro_mlflow_dryrun.adapters.models import SavedArtifacts
        from kedro_mlflow_dryrun.framework.project import combined_pipeline_ml_names, skip_reason

        self._run = None
        if isinstance(pipeline, PipelineML):
            dataset = self._config.sample_dataset or pipeline.input_name
            capture = SampleCapture(dataset, self._config.sample_size, self._config.sample_strategy)
            artifacts = pipeline.inference.inputs() - {pipeline.input_name}
            project_path = Path(str(run_params.get("project_path") or Path.cwd()))
            reason = skip_reason(self._config, run_params)
            self._run = _PipelineRun(capture, reason, project_path, SavedArtifacts(artifacts))
        elif combined := combined_pipeline_ml_names(run_params, pipeline):
            reason = (
                f"{', '.join(map(repr, combined))} ran together with other pipelines, so "
                "kedro-mlflow logs no model; run it alone to dry-run it"
            )
            self._run = _PipelineRun(capture=None, skip_reason=reason)

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: object) -> None:
        if self._run and self._run.capture and not self._run.skip_reason:
            self._run.capture.offer(dataset_name, data)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: object) -> None:
        if self._run and self._run.saved and not self._run.skip_reason:
            self._run.saved.offer(dataset_name, data)

    @hook_impl(wrapper=True)
    def after_pipeline_run(
        self, pipeline: Pipeline, catalog: CatalogProtocol
    ) -> Generator[None, object, object]:
        import mlflow

        from kedro_mlflow_dryrun import engine
        from kedro_mlflow_dryrun.framework.project import training_context
        from kedro_mlflow_dryrun.report import PASSED, DryRunReport
        from kedro_mlflow_dryrun.stages.record import publish

        run, self._run, active, config = self._run, None, mlflow.active_run(), self._config
        if run is None or active is None:
            if run is not None:
                logger.info("Dry run skipped: kedro-mlflow tracks no run, so it logs no model.")
            return (yield)
        run_id = active.info.run_id
        if run.capture is None or run.skip_reason:
            report = DryRunReport()
            report.skip(run.skip_reason or "")
            publish(run_id, report, report.summary(), config.junit_xml)
            return (yield)
        written = dict(pipeline.log_model_kwargs)  # type: ignore[attr-defined]
        context = training_context(
            config, pipeline, catalog, run.capture, run_id, run.project_path, run.saved
        )
        interrupted: KeyboardInterrupt | None = None
        try:
            engine.run_stages(context, engine.before_logging(), total="total")
        except KeyboardInterrupt as interrupt:
            context.report.error("Interrupted during the dry run.")
            interrupted = interrupt
        if run.saved:
            run.saved.objects.clear()  # not held while MLflow loads the model back
        report = context.report
        if report.errored:  # the model is logged exactly as kedro-mlflow alone logs it
            context.log_model_kwargs.clear()
            context.log_model_kwargs.update(written)
        publish(run_id, report, report.summary(not engine.raises(context)), config.junit_xml)
        try:
            with engine.while_logging(context):
                result = yield  # kedro-mlflow logs the model and ends the MLflow run
        except Exception as error:
            not_logged(report, error)
            publish(run_id, report, report.verdict(full_reason=True), config.junit_xml)
            raise  # kedro-mlflow's own error, as without the plugin
        if interrupted is not None:
            raise interrupted
        if report.status == PASSED and (stages := engine.after_logging(config)):
            engine.run_stages(context, stages)
            line = report.serve_summary(not engine.raises(context))
            publish(run_id, report, line, config.junit_xml)
        level = logging.INFO if report.passed else logging.WARNING
        logger.log(level, report.verdict(not engine.raises(context)))
        engine.raise_if_failed(context)
        return result

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._run = None


def not_logged(report: DryRunReport, error: Exception) -> None:
    """kedro-mlflow raised while logging: whatever the dry run found, no model serves.

    MLflow leaves a logged model in status FAILED, without its files; the run must not
    say ``passed`` beside it.
    """
    from kedro_mlflow_dryrun.report import ERROR

    earlier = [] if report.passed else [f"Before that, the dry run had {report.status}:"]
    report.reason = "\n".join(
        [
            f"kedro-mlflow could not log the model: {type(error).__name__}: {error}",
            "No model was logged (MLflow marks it FAILED), so nothing after logging was checked.",
            *earlier,
            *([report.reason or ""] if earlier else []),
            "Fix: correct what kedro-mlflow's error names (often log_model_kwargs in "
            "pipeline_ml_factory), then train again.",
        ]
    )
    report.status, report.stage = ERROR, "log_model"


dry_run_hook = DryRunHook()
