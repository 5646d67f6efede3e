"""The hooks that put the dry run between training and kedro-mlflow's ``log_model``.

``after_pipeline_run`` is implemented twice: ``tryfirst`` runs the dry run and
hands its signature to kedro-mlflow, which then logs the model and ends the MLflow
run; ``trylast`` raises a failure only after that, so nothing is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click
from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl

from kedro_mlflow_dryrun.config import CONFIG_PATTERNS, DryRunConfig
from kedro_mlflow_dryrun.errors import DryRunError, DryRunFailed
from kedro_mlflow_dryrun.record import FAILED, SKIPPED, DryRunReport
from kedro_mlflow_dryrun.sample import SampleCapture

logger = logging.getLogger(__name__)

_PARTIAL_RUN_OPTIONS = {
    "node_names": "--nodes",
    "from_nodes": "--from-nodes",
    "to_nodes": "--to-nodes",
    "from_inputs": "--from-inputs",
    "to_outputs": "--to-outputs",
    "tags": "--tags",
    "namespaces": "--namespaces",
}


@dataclass
class _PipelineRun:
    """What the hooks learn about one ``PipelineML`` run, from start to end."""

    capture: SampleCapture
    skip_reason: str | None = None
    failure: str | None = None
    interrupted: BaseException | None = None


class DryRunHook:
    """Dry-runs the inference pipeline of every ``PipelineML`` training run."""

    def __init__(self) -> None:
        self._config = DryRunConfig()
        self._run: _PipelineRun | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        config_loader = context.config_loader
        config_loader.config_patterns.setdefault("dryrun", CONFIG_PATTERNS)
        try:
            values = config_loader["dryrun"]
        except MissingConfigException:
            values = {}
        self._config = DryRunConfig.from_mapping(values)

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any) -> None:
        self._run = None
        if not _is_pipeline_ml(pipeline):
            return
        self._run = _PipelineRun(
            capture=SampleCapture(pipeline.input_name, self._config.sample_size),
            skip_reason=self._skip_reason(run_params),
        )

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any) -> None:
        if self._run is not None and self._run.skip_reason is None:
            self._run.capture.offer(dataset_name, data)

    @hook_impl(tryfirst=True)
    def after_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        import mlflow

        run, active = self._run, mlflow.active_run()
        if run is None:
            return
        if active is None:
            logger.info("Dry run skipped: kedro-mlflow tracks no run, so it logs no model.")
            self._run = None
            return
        from kedro_mlflow_dryrun.record import record

        report = DryRunReport(input_name=pipeline.input_name)
        if run.skip_reason:
            report.status, report.reason = SKIPPED, run.skip_reason
        else:
            try:
                self._dry_run(pipeline, catalog, run.capture, report)
            except DryRunError as error:
                report.fail(str(error))
            except Exception as error:  # noqa: BLE001 - never stop kedro-mlflow's log_model
                report.fail(f"The dry run itself failed: {type(error).__name__}: {error}")
            except KeyboardInterrupt as interrupt:
                report.fail("Interrupted during the dry run.")
                run.interrupted = interrupt
        record(active.info.run_id, report)
        if report.status == FAILED:
            run.failure = report.reason
            logger.warning(report.summary())
        else:
            logger.info(report.summary())

    @hook_impl(trylast=True, specname="after_pipeline_run")
    def raise_failure(self) -> None:
        """Runs after kedro-mlflow has logged the model and ended the MLflow run."""
        run, self._run = self._run, None
        if run is None:
            return
        if run.interrupted is not None:
            raise run.interrupted
        if run.failure and self._config.on_failure == "fail":
            raise DryRunFailed(
                f"{run.failure}\n"
                "The model was logged anyway; the run is tagged dryrun.status=failed and "
                "dryrun/report.json says why. To only warn, set 'on_failure: warn' in "
                "conf/<env>/dryrun.yml."
            )

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._run = None

    def _skip_reason(self, run_params: dict[str, Any]) -> str | None:
        if _output_schema_flag_off():
            return "kedro run --no-output-schema"
        if not self._config.enabled:
            return "enabled: false in dryrun.yml"
        partial = [flag for key, flag in _PARTIAL_RUN_OPTIONS.items() if run_params.get(key)]
        if partial:
            return (
                f"a partial training run ({', '.join(partial)}) may not produce every "
                "artifact the inference pipeline needs"
            )
        return None

    def _dry_run(
        self, pipeline: Any, catalog: Any, capture: SampleCapture, report: DryRunReport
    ) -> None:
        """capture/sample -> execute -> check -> infer, each stage timed in the report."""
        from mlflow.models import ModelSignature

        from kedro_mlflow_dryrun.check import check_json, ensure_servable
        from kedro_mlflow_dryrun.execute import output_name_of, run_inference
        from kedro_mlflow_dryrun.infer import (
            check_against,
            infer_model_signature,
            inference_params,
        )
        from kedro_mlflow_dryrun.sample import read_partial

        config, seconds = self._config, report.seconds
        signature_setting = pipeline.log_model_kwargs.get("signature")
        infers_signature = signature_setting == "auto"
        with _timed(seconds, "total"):
            with _timed(seconds, "sample"):
                sample = capture.sample or read_partial(
                    catalog, pipeline.input_name, config.sample_size
                )
                params = inference_params(pipeline.inference, catalog)
            report.sample_rows, report.sample_source = sample.rows, sample.source
            if infers_signature:
                # Inputs alone, until the output is known: kedro-mlflow must not reload.
                pipeline.log_model_kwargs["signature"] = infer_model_signature(sample.data, params)
            report.output_name = output_name_of(pipeline.inference)
            with _timed(seconds, "execute"):
                output = run_inference(
                    pipeline.inference, catalog, pipeline.input_name, sample.data
                )
            report.output_type = type(output).__name__
            with _timed(seconds, "check"):
                verdict = check_json(output)
            report.json = verdict.to_dict()
            with _timed(seconds, "infer"):
                if isinstance(signature_setting, ModelSignature):
                    check_against(signature_setting, output, report.output_name)
                    signature = signature_setting
                elif infers_signature:
                    signature = infer_model_signature(sample.data, params, output)
                    pipeline.log_model_kwargs["signature"] = signature
                else:
                    signature = None
            report.signature = signature
        warning = ensure_servable(verdict, report.output_name, strict=config.strict_json)
        if warning:
            report.warnings.append(warning)
            logger.warning(warning)


def _is_pipeline_ml(pipeline: Any) -> bool:
    from kedro_mlflow.pipeline.pipeline_ml import PipelineML

    return isinstance(pipeline, PipelineML)


def _output_schema_flag_off() -> bool:
    """True when this run was started by ``kedro run --no-output-schema``."""
    context = click.get_current_context(silent=True)
    return bool(context and context.params.get("no_output_schema"))


@contextmanager
def _timed(seconds: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[stage] = round(time.perf_counter() - start, 4)


dry_run_hook = DryRunHook()
