"""A training run as the hooks see it: what they learn before it ends, and its dry run.

The hooks hand each event over to a :class:`TrainingRun`; around kedro-mlflow's
logging of the model, the engine's :func:`~kedro_mlflow_dryrun.engine.dry_run` takes
over, with kedro-mlflow as the way the model gets logged.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kedro_mlflow_dryrun import engine
from kedro_mlflow_dryrun.framework.project import (
    combined_pipeline_ml_names,
    skip_reason,
    training_context,
)
from kedro_mlflow_dryrun.samples import SampleCapture

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline

    from kedro_mlflow_dryrun.adapters.model_sources import SavedArtifacts
    from kedro_mlflow_dryrun.config import DryRunConfig
    from kedro_mlflow_dryrun.context import DryRunContext

logger = logging.getLogger("kedro_mlflow_dryrun")


@dataclass
class TrainingRun:
    """What the hooks learn about one ``PipelineML`` run before it ends; kedro-mlflow
    logs its model (an :class:`~kedro_mlflow_dryrun.engine.ModelLogging`)."""

    config: DryRunConfig
    capture: SampleCapture | None
    skip_reason: str | None = None
    project_path: Path | None = None
    saved: SavedArtifacts | None = None
    checks_logged_model = True
    audits_environment = False

    @classmethod
    def starting(
        cls, config: DryRunConfig, run_params: dict[str, object], pipeline: Pipeline
    ) -> TrainingRun | None:
        """The run of a ``PipelineML``, or of one that kedro-mlflow will not log (it ran
        together with others); ``None`` for any other pipeline."""
        from kedro_mlflow.pipeline.pipeline_ml import PipelineML

        from kedro_mlflow_dryrun.adapters.model_sources import SavedArtifacts

        if isinstance(pipeline, PipelineML):
            dataset = config.sample_dataset or pipeline.input_name
            capture = SampleCapture(dataset, config.sample_size, config.sample_strategy)
            artifacts = pipeline.inference.inputs() - {pipeline.input_name}
            project_path = Path(str(run_params.get("project_path") or Path.cwd()))
            reason = skip_reason(config, run_params)
            return cls(config, capture, reason, project_path, SavedArtifacts(artifacts))
        if combined := combined_pipeline_ml_names(run_params, pipeline):
            reason = (
                f"{', '.join(map(repr, combined))} ran together with other pipelines, so "
                "kedro-mlflow logs no model; run it alone to dry-run it"
            )
            return cls(config, capture=None, skip_reason=reason)
        return None

    def loaded(self, dataset_name: str, data: object) -> None:
        if self.capture and not self.skip_reason:
            self.capture.offer(dataset_name, data)

    def saved_dataset(self, dataset_name: str, data: object) -> None:
        if self.saved and not self.skip_reason:
            self.saved.offer(dataset_name, data)

    def around_logging(
        self, pipeline: Pipeline, catalog: CatalogProtocol
    ) -> AbstractContextManager[None]:
        """The dry run, around kedro-mlflow's logging of the model and ending of its run."""
        import mlflow

        from kedro_mlflow_dryrun.report import DryRunReport
        from kedro_mlflow_dryrun.stages.record import publish

        active = mlflow.active_run()
        if active is None:
            logger.info("Dry run skipped: kedro-mlflow tracks no run, so it logs no model.")
            return nullcontext()
        run_id = active.info.run_id
        if self.capture is None or self.skip_reason:
            report = DryRunReport()
            report.skip(self.skip_reason or "")
            publish(run_id, report, report.summary(), self.config.junit_xml)
            return nullcontext()
        context = training_context(
            self.config, pipeline, catalog, self.capture, run_id, self.project_path, self.saved
        )
        return engine.dry_run(context, self)

    def while_logging(self, context: DryRunContext) -> AbstractContextManager[None]:
        """MLflow loads the model back while logging it: the artifacts training saved are
        not held beside it."""
        if self.saved:
            self.saved.objects.clear()
        return engine.while_logging(context)

    def spark_scoring(self, context: DryRunContext) -> AbstractContextManager[bool]:
        """Spark scores the model kedro-mlflow logged, if a session or the settings say so."""
        return nullcontext(True)
