"""The hooks that put the dry run between training and kedro-mlflow's ``log_model``.

``after_pipeline_run`` is implemented twice: ``tryfirst`` runs the dry run and
hands its signature to kedro-mlflow, which then logs the model and ends the MLflow
run; ``trylast`` checks the logged model and raises a failure only after that, so
nothing is lost.
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
from kedro_mlflow_dryrun.errors import DryRunError, DryRunFailed, InferenceError
from kedro_mlflow_dryrun.record import FAILED, PASSED, SKIPPED, DryRunReport
from kedro_mlflow_dryrun.sample import Sample, SampleCapture

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
    run_id: str | None = None
    experiment_id: str | None = None
    report: DryRunReport | None = None
    served_sample: Sample | None = None
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
            combined = _combined_pipeline_ml_names(run_params, pipeline)
            if combined:
                self._run = _PipelineRun(
                    capture=SampleCapture("", 0),
                    skip_reason=(
                        f"{_listed(combined)} ran together with other pipelines, so "
                        "kedro-mlflow logs no model; run it alone to dry-run it"
                    ),
                )
            return
        sampled = self._config.sample_dataset or pipeline.input_name
        self._run = _PipelineRun(
            capture=SampleCapture(sampled, self._config.sample_size),
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
        run.run_id, run.experiment_id = active.info.run_id, active.info.experiment_id
        run.report = report = DryRunReport(input_name=getattr(pipeline, "input_name", None))
        if run.skip_reason:
            report.status, report.reason = SKIPPED, run.skip_reason
        else:
            try:
                run.served_sample = self._dry_run(pipeline, catalog, run.capture, report)
            except DryRunError as error:
                report.fail(str(error))
            except Exception as error:  # noqa: BLE001 - never stop kedro-mlflow's log_model
                report.fail(f"The dry run itself failed: {type(error).__name__}: {error}")
            except KeyboardInterrupt as interrupt:
                report.fail("Interrupted during the dry run.")
                run.interrupted = interrupt
        self._record(run)

    @hook_impl(trylast=True, specname="after_pipeline_run")
    def check_logged_model(self) -> None:
        """Runs after kedro-mlflow has logged the model and ended the MLflow run."""
        run, self._run = self._run, None
        if run is None or run.report is None:
            return
        if run.interrupted is not None:
            raise run.interrupted
        report = run.report
        if report.status == PASSED and self._config.serve_check:
            self._serve_check(run)
        if report.status == FAILED and self._config.on_failure == "fail":
            raise DryRunFailed(
                f"{report.reason}\n"
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
    ) -> Sample:
        """capture/sample -> execute -> check -> infer, each stage timed in the report.

        Returns the sample the inference pipeline ran on, for the serve check.
        """
        from mlflow.models import ModelSignature

        from kedro_mlflow_dryrun.check import check_json, ensure_servable
        from kedro_mlflow_dryrun.execute import output_name_of, producer_of
        from kedro_mlflow_dryrun.infer import (
            check_against,
            infer_model_signature,
            inference_params,
            with_outputs,
        )
        from kedro_mlflow_dryrun.sample import read_partial, with_rows, without_columns

        config, seconds, log_model_kwargs = self._config, report.seconds, pipeline.log_model_kwargs
        signature_setting = log_model_kwargs.get("signature")
        infers_signature = signature_setting == "auto"
        with _timed(seconds, "total"):
            with _timed(seconds, "sample"):
                full_sample = with_rows(
                    capture.sample
                    or read_partial(catalog, capture.dataset_name, config.sample_size),
                    capture.dataset_name,
                )
                sample = without_columns(full_sample, config.drop_columns)
                params = inference_params(pipeline.inference, catalog)
            report.sample_rows, report.sample_source = sample.rows, sample.source
            if infers_signature:
                # Inputs alone, until the output is known: kedro-mlflow must not reload.
                log_model_kwargs["signature"] = infer_model_signature(sample.data, params)
            report.output_name = output_name_of(pipeline.inference)
            with _timed(seconds, "execute"):
                output = self._execute(pipeline, catalog, sample, full_sample)
            report.output_type = type(output).__name__
            with _timed(seconds, "check"):
                verdict = check_json(output)
            report.json = verdict.to_dict()
            with _timed(seconds, "infer"):
                if isinstance(signature_setting, ModelSignature):
                    check_against(signature_setting, output, report.output_name)
                    report.signature = signature_setting
                elif infers_signature:
                    report.signature = with_outputs(log_model_kwargs["signature"], output)
                    log_model_kwargs["signature"] = report.signature
        producer = producer_of(pipeline.inference, report.output_name)
        warning = ensure_servable(verdict, report.output_name, config.strict_json, producer)
        if warning:
            report.warnings.append(warning)
            logger.warning(warning)
        if infers_signature and config.input_example_rows:
            log_model_kwargs.setdefault("input_example", sample.data[: config.input_example_rows])
        return sample

    def _execute(self, pipeline: Any, catalog: Any, sample: Sample, full_sample: Sample) -> Any:
        """Runs inference; on failure, tells whether a dropped column was needed."""
        from kedro_mlflow_dryrun.execute import run_inference

        try:
            return run_inference(pipeline.inference, catalog, pipeline.input_name, sample.data)
        except InferenceError as error:
            if sample is full_sample:
                raise
            try:
                run_inference(pipeline.inference, catalog, pipeline.input_name, full_sample.data)
            except InferenceError:
                raise error from None
            raise InferenceError(
                f"{error}\nIt runs when drop_columns {list(self._config.drop_columns)} are "
                "kept: the inference pipeline needs a dropped column. Take it out of "
                "drop_columns in dryrun.yml, or stop the pipeline from reading it."
            ) from error

    def _serve_check(self, run: _PipelineRun) -> None:
        from kedro_mlflow_dryrun.serve import logged_model_uri, serve_round_trip

        report = run.report
        with _timed(report.seconds, "serve"):
            try:
                model_uri = logged_model_uri(run.run_id, run.experiment_id)
                report.serve = serve_round_trip(
                    model_uri, run.served_sample.data, _outputs_of(report.signature)
                )
            except DryRunError as error:
                report.fail(str(error))
            except Exception as error:  # noqa: BLE001 - the model is logged: report, not crash
                report.fail(f"The serve check itself failed: {type(error).__name__}: {error}")
        self._record(run, serve=True)

    def _record(self, run: _PipelineRun, serve: bool = False) -> None:
        from kedro_mlflow_dryrun.record import record

        report = run.report
        try:
            record(run.run_id, report)
        except Exception as error:  # noqa: BLE001 - an unreachable server must not lose the model
            logger.warning(
                "The dry run could not be recorded on MLflow run %s: %s", run.run_id, error
            )
        # With on_failure: warn no error follows, so the log line carries the whole reason.
        full_reason = self._config.on_failure == "warn"
        summary = report.serve_summary(full_reason) if serve else report.summary(full_reason)
        logger.log(logging.WARNING if report.status == FAILED else logging.INFO, summary)


def _is_pipeline_ml(pipeline: Any) -> bool:
    from kedro_mlflow.pipeline.pipeline_ml import PipelineML

    return isinstance(pipeline, PipelineML)


def _combined_pipeline_ml_names(run_params: dict[str, Any], pipeline: Any) -> list[str]:
    """The ``PipelineML`` pipelines that kedro demoted by running them with others."""
    from kedro.framework.project import pipelines
    from kedro_mlflow.pipeline.pipeline_ml import PipelineML

    names = run_params.get("pipeline_names") or ["__default__"]
    if names == ["__default__"]:
        names = [name for name in pipelines if name != "__default__"]
    run_nodes = set(pipeline.nodes)
    return [
        name
        for name in names
        if isinstance(pipelines.get(name), PipelineML)
        and set(pipelines[name].nodes) <= run_nodes
        and len(run_nodes) > len(pipelines[name].nodes)
    ]


def _listed(names: list[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _outputs_of(signature: Any) -> Any:
    return signature.outputs if signature is not None else None


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
