"""The stage engine: one typed context, the stages in order, one policy for findings.

The hooks, ``kedro dryrun`` and the tests all run the dry run through here::

    before the model is logged:  environment (code shipped) -> sample -> infer inputs
                                 -> request -> execute -> check -> infer outputs
                                 -> contract -> drift
    after it is logged:          environment (audit, fresh) -> serve -> spark
    then:                        record

Stages read and write a :class:`~kedro_mlflow_dryrun.context.DryRunContext`. A stage
that finds the model cannot serve raises a :class:`~kedro_mlflow_dryrun.errors.DryRunError`
(status ``failed``); a finding that may only warn goes through ``DryRunContext.found``.
Anything else a stage raises is the plugin's own failure, not the model's: status
``error``, which never fails training unless ``on_error: fail`` says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

from kedro_mlflow_dryrun.config import DryRunConfig
from kedro_mlflow_dryrun.context import DryRunContext, Stage
from kedro_mlflow_dryrun.errors import (
    DryRunError,
    DryRunFailed,
    DryRunInternalError,
    DryRunSkipped,
)
from kedro_mlflow_dryrun.report import PASSED

logger = logging.getLogger("kedro_mlflow_dryrun")


def run_stages(context: DryRunContext, stages: Sequence[Stage], total: str | None = None) -> None:
    """Runs ``stages`` in order, each timed into the report; stops at the first failure.

    Only a :class:`DryRunError` is the model's fault (``failed``); anything else,
    :class:`DryRunInternalError` included, is the plugin's own (``error``): neither may
    stop kedro-mlflow from logging the model.
    """
    report = context.report
    with _timed(report.seconds, total):
        for stage in stages:
            if report.status != PASSED:
                return
            name = stage_name(stage)
            try:
                with _timed(report.seconds, name):
                    stage(context)
            except DryRunSkipped as skipped:
                report.skip(str(skipped), name)
            except DryRunInternalError as error:
                report.error(str(error), name)
            except DryRunError as error:
                report.fail(str(error), name)
            except Exception as error:
                logger.debug("The dry run could not check the model", exc_info=True)
                report.error(could_not_check(f"stage '{name}'", error, report.versions), name)


def could_not_check(
    where: str, error: BaseException, versions: dict[str, str], training: bool = True
) -> str:
    """The reason of an ``error``: what broke, where, with which versions, and the way on."""
    from kedro_mlflow_dryrun.adapters.tracking import redact

    installed = ", ".join(f"{name} {version}" for name, version in versions.items())
    logged = (
        " The model is logged all the same, and the run is tagged dryrun.status=error."
        if training
        else ""
    )
    return (
        f"The dry run could not check the model: {where} raised "
        f"{type(error).__name__}: {redact(str(error))}\n"
        f"This is the plugin's failure, not the model's ({installed}).{logged}\n"
        "Fix: report it to kedro-mlflow-dryrun with this message; meanwhile "
        "'enabled: false' in conf/<env>/dryrun.yml turns the dry run off."
    )


def raises(context: DryRunContext) -> bool:
    """Whether the command ends in an error: ``failed`` under ``on_failure: fail``,
    ``error`` under ``on_error: fail``."""
    report, config = context.report, context.config
    return (report.failed and config.on_failure == "fail") or (
        report.errored and config.on_error == "fail"
    )


def raise_if_failed(context: DryRunContext) -> None:
    """Ends the command with the reason when :func:`raises` says so."""
    if not raises(context):
        return
    report = context.report
    key = "on_failure" if report.failed else "on_error"
    where = (
        f"The model was logged anyway; the run is tagged dryrun.status={report.status} "
        "and dryrun/report.json says why. "
        if context.run_id
        else ""
    )
    raise DryRunFailed(
        f"{report.reason}\n{where}To only warn, set '{key}: warn' in conf/<env>/dryrun.yml."
    )


def stage_name(stage: Stage) -> str:
    """``stages/infer.py``'s functions all count as ``infer`` in the report."""
    return stage.__module__.rsplit(".", 1)[-1]


@contextmanager
def _timed(seconds: dict[str, float], name: str | None) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        if name is not None:
            seconds[name] = round(seconds.get(name, 0.0) + time.perf_counter() - start, 4)


def before_logging() -> tuple[Stage, ...]:
    """What runs before kedro-mlflow logs the model; imported late, to start fast."""
    from kedro_mlflow_dryrun.stages import (
        check,
        contract,
        drift,
        environment,
        execute,
        infer,
        request,
        sample,
    )

    return (
        environment.prepare,
        sample.take,
        infer.inputs,
        request.run,
        execute.run,
        check.run,
        infer.outputs,
        contract.target,
        drift.compare,
    )


@contextmanager
def while_logging(context: DryRunContext) -> Iterator[None]:
    """What wraps kedro-mlflow's ``log_model``: MLflow infers requirements without local
    pins, and leaves the input example's validation to the serve check."""
    from kedro_mlflow_dryrun.stages import environment, serve

    with ExitStack() as stack:
        if context.report.errored:  # nothing of the plugin's touches the logging
            yield
            return
        stack.enter_context(environment.while_logging(context))
        if context.config.serve_check and context.report.status == PASSED:
            stack.enter_context(serve.instead_of_mlflow_validation())
        yield


def after_logging(config: DryRunConfig, spark: bool = True) -> tuple[Stage, ...]:
    """What needs the logged model: its environment, one request, then many, then Spark;
    ``spark=False`` leaves the Spark batch check to a caller that runs it later (once the
    signature is written)."""
    from kedro_mlflow_dryrun.stages import environment, explore, fresh_environment, serve
    from kedro_mlflow_dryrun.stages import spark as spark_batch

    checks = {
        "off": (),
        "audit": (environment.audit,),
        "fresh": (environment.audit, fresh_environment.run),
    }
    return (
        *checks[config.environment],
        *((serve.run,) if config.serve_check else ()),
        explore.run,
        *((spark_batch.run,) if spark else ()),
    )


def without_logging() -> tuple[Stage, ...]:
    """What ``kedro dryrun`` adds to the stages before logging: the model it checks (the
    inference pipeline, or a logged model) answers the requests the signature admits."""
    from kedro_mlflow_dryrun.stages import explore

    return (explore.run,)
