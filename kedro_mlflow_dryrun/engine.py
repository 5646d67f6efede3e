"""The stage engine: one typed context, the stages in order, one policy for findings.

Every dry run is :func:`dry_run`, whichever way its model comes: a training run (the
hooks), ``kedro dryrun`` before training and ``kedro dryrun --model-uri`` (the
command), and the tests::

    before the model is logged:  environment (code shipped) -> sample -> infer inputs
                                 -> request -> execute -> check -> infer outputs
                                 -> contract -> drift
    the model is logged:         the body of ``with dry_run(...)`` (kedro-mlflow's
                                 ``log_model`` in a training run)
    after it is logged:          environment (audit, fresh) -> serve -> explore -> spark
                                 (explore's search starts while MLflow infers the
                                 model's requirements, during the logging)
    then:                        record, the verdict

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
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Protocol

from kedro_mlflow_dryrun.config import DryRunConfig
from kedro_mlflow_dryrun.context import DryRunContext, Stage
from kedro_mlflow_dryrun.errors import (
    DryRunError,
    DryRunFailed,
    DryRunInternalError,
    DryRunSkipped,
)
from kedro_mlflow_dryrun.report import ERROR, PASSED, DryRunReport

logger = logging.getLogger("kedro_mlflow_dryrun")


class ModelLogging(Protocol):
    """How the model the stages check comes to be logged: by kedro-mlflow in a training
    run, already (``kedro dryrun --model-uri``), or never (the pre-flight)."""

    #: Whether the stages on a logged model run: its environment, the serve check.
    checks_logged_model: bool
    #: Without them, whether its environment is audited all the same (an env manager
    #: named on ``kedro dryrun --model-uri``'s command line).
    audits_environment: bool

    def while_logging(self, context: DryRunContext) -> AbstractContextManager[None]:
        """What wraps the model's logging, the body of :func:`dry_run`."""
        ...

    def spark_scoring(self, context: DryRunContext) -> AbstractContextManager[bool]:
        """Around the Spark batch check, once every other stage passed: whether it runs,
        on the model ``context`` names."""
        ...


@contextmanager
def dry_run(context: DryRunContext, logged: ModelLogging) -> Iterator[None]:
    """The whole dry run, around the model's logging (the body of the ``with``).

    In a training run the body is kedro-mlflow's ``log_model``, which runs whatever the
    stages found: after an ``error``, with the arguments kedro-mlflow alone would log
    with; after a Ctrl-C, before the interrupt goes on. The report goes to the training's
    MLflow run at each step, and the verdict may end the run only once the model is
    logged. ``kedro dryrun`` has no run: its command prints the verdict.
    """
    report, written = context.report, dict(context.log_model_kwargs)
    interrupted: KeyboardInterrupt | None = None
    try:
        run_stages(context, before_logging(), total="total")
    except KeyboardInterrupt as interrupt:
        report.error("Interrupted during the dry run.")
        interrupted = interrupt
    if report.errored:  # the model is logged exactly as kedro-mlflow alone logs it
        context.log_model_kwargs.clear()
        context.log_model_kwargs.update(written)
    _tell(context, report.summary(not raises(context)))
    try:
        try:
            with logged.while_logging(context):
                yield
        except Exception as error:
            _not_logged(report, error)
            _tell(context, report.verdict(full_reason=True))
            raise  # kedro-mlflow's own error, as without the plugin
        if interrupted is not None:
            raise interrupted
        _searched_beside_logging(context)
        if report.passed:
            stages = after_logging(
                context.config,
                logged.checks_logged_model,
                spark=False,
                audit=logged.audits_environment,
            )
            run_stages(context, stages)
            if report.passed:
                _spark_check(context, logged)
            _tell(context, report.serve_summary(not raises(context)))
    finally:
        _call_off_searches(context)
    if context.run_id is not None:  # training; kedro dryrun's command says its own verdict
        level = logging.INFO if report.passed else logging.WARNING
        logger.log(level, report.verdict(not raises(context)))
        raise_if_failed(context)


def _searched_beside_logging(context: DryRunContext) -> None:
    """Explore's search beside the logging ends before the stages after logging begin: the
    serve check loads the logged model once the search's copy is let go. The wait counts
    as explore's time."""
    from kedro_mlflow_dryrun.stages import explore
    from kedro_mlflow_dryrun.stages.explore import beside_logging

    if beside_logging.started(context):
        with _timed(context.report.seconds, stage_name(explore.run)):
            beside_logging.finished(context)


def _call_off_searches(context: DryRunContext) -> None:
    """A search started beside the logging that no stage took (one failed before) stops."""
    from kedro_mlflow_dryrun.stages.explore import beside_logging

    beside_logging.call_off(context)


def _spark_check(context: DryRunContext, logged: ModelLogging) -> None:
    from kedro_mlflow_dryrun.stages import spark

    with logged.spark_scoring(context) as scoring:
        if scoring:
            run_stages(context, (spark.run,))


def _tell(context: DryRunContext, line: str) -> None:
    """A training run's MLflow run records the report, and the log says the line."""
    from kedro_mlflow_dryrun.stages.record import publish

    if context.run_id is not None:
        publish(context.run_id, context.report, line, context.config.junit_xml)


def _not_logged(report: DryRunReport, error: Exception) -> None:
    """kedro-mlflow raised while logging: whatever the dry run found, no model serves.

    MLflow leaves a logged model in status FAILED, without its files; the run must not
    say ``passed`` beside it.
    """
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
    pins, and leaves the input example's validation to the serve check; explore searches
    while MLflow waits for the requirements."""
    from kedro_mlflow_dryrun.stages import environment, serve
    from kedro_mlflow_dryrun.stages.explore import beside_logging

    with ExitStack() as stack:
        if context.report.errored:  # nothing of the plugin's touches the logging
            yield
            return
        stack.enter_context(environment.while_logging(context))
        if context.config.serve_check and context.report.status == PASSED:
            stack.enter_context(serve.instead_of_mlflow_validation())
        stack.enter_context(beside_logging.searching(context))
        yield


def after_logging(
    config: DryRunConfig, logged: bool = True, spark: bool = True, audit: bool = False
) -> tuple[Stage, ...]:
    """What needs the model logged: its environment and one request (``logged``: the
    model is there to check; else ``audit``: its environment alone), then many requests,
    then Spark (``spark``)."""
    from kedro_mlflow_dryrun.stages import environment, explore, fresh_environment, serve
    from kedro_mlflow_dryrun.stages import spark as spark_batch

    checks = {
        "off": (),
        "audit": (environment.audit,),
        "fresh": (environment.audit, fresh_environment.run),
    }
    if logged:
        on_logged_model = (
            *checks[config.environment],
            *((serve.run,) if config.serve_check else ()),
        )
    else:
        on_logged_model = (environment.audit,) if audit else ()
    return (*on_logged_model, explore.run, *((spark_batch.run,) if spark else ()))
