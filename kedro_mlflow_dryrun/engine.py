"""The stage engine: one typed context, the stages in order, one policy for findings.

The hooks, ``kedro dryrun`` and the tests all run the dry run through here::

    before the model is logged:  environment (code shipped) -> sample -> infer inputs
                                 -> request -> execute -> check -> infer outputs
                                 -> contract -> drift
    after it is logged:          environment (audit, fresh) -> serve
    then:                        record

Stages read and write a :class:`DryRunContext`. A stage that finds the model
cannot serve raises a :class:`~kedro_mlflow_dryrun.errors.DryRunError`; a finding
that may only warn goes through :meth:`DryRunContext.found`, where
:data:`FAILS_WHEN` decides, per kind, whether it fails the dry run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from kedro_mlflow_dryrun.config import DryRunConfig
from kedro_mlflow_dryrun.errors import (
    DriftError,
    DryRunError,
    DryRunFailed,
    DryRunSkipped,
    SerializationError,
)
from kedro_mlflow_dryrun.report import PASSED, DryRunReport

if TYPE_CHECKING:
    import pandas as pd
    from kedro.io import CatalogProtocol
    from mlflow.models import ModelSignature

    from kedro_mlflow_dryrun.adapters.models import ModelSource
    from kedro_mlflow_dryrun.stages.sample import Sample, SampleCapture

logger = logging.getLogger("kedro_mlflow_dryrun")

FindingKind = Literal["non_finite", "drift", "target_in_input", "registry_unreachable"]

#: Per kind of finding: does it fail the dry run under these settings (else it warns)?
FAILS_WHEN: dict[FindingKind, Callable[[DryRunConfig], bool]] = {
    "non_finite": lambda config: config.strict_json,
    "drift": lambda config: config.on_drift == "fail",
    "target_in_input": lambda config: False,
    # The registry is asked, never trusted to answer: training must not fail on it.
    "registry_unreachable": lambda config: False,
}
_ERRORS: dict[FindingKind, type[DryRunError]] = {
    "non_finite": SerializationError,
    "drift": DriftError,
}


@dataclass
class DryRunContext:
    """Everything the stages share: what they are given, and what they found."""

    config: DryRunConfig
    model: ModelSource
    input_name: str
    catalog: CatalogProtocol | None = None
    #: The first rows of ``input_name``, kept when training loaded it.
    captured: SampleCapture | None = None
    #: What kedro-mlflow will log the model with; the dry run fills in the signature.
    log_model_kwargs: dict[str, object] = field(default_factory=dict)
    #: The MLflow run the model is logged in (none in pre-flight).
    run_id: str | None = None
    #: The registered version ``kedro dryrun --model-uri`` checks; drift looks before it.
    model_version: int | None = None
    #: The Kedro project's root, whose package ships with the model (none: nothing ships).
    project_path: Path | None = None
    report: DryRunReport = field(default_factory=DryRunReport)
    sample: Sample | None = None
    #: The sample before ``drop_columns``, to tell whether a dropped column was needed.
    full_sample: Sample | None = None
    #: The sample as the scoring server hands it to the model.
    served_input: pd.DataFrame | None = None
    output: object = None
    signature: ModelSignature | None = None

    def found(self, kind: FindingKind, message: str) -> None:
        """A finding whose weight depends on the settings: it fails, or it warns."""
        if FAILS_WHEN[kind](self.config):
            raise _ERRORS.get(kind, DryRunError)(message)
        self.report.warnings.append(message)
        logger.warning(message)

    def logged_model_uri(self) -> str:
        """The ``models:/`` URI of the model kedro-mlflow logged in this run."""
        if self.report.model_uri is None:
            from kedro_mlflow_dryrun.adapters.models import logged_model_of_run

            assert self.run_id is not None
            self.report.model_uri = f"models:/{logged_model_of_run(self.run_id).model_id}"
        return self.report.model_uri


Stage = Callable[[DryRunContext], None]


def run_stages(context: DryRunContext, stages: Sequence[Stage], total: str | None = None) -> None:
    """Runs ``stages`` in order, each timed into the report; stops at the first failure.

    Only a :class:`DryRunError` is the model's fault; anything else is the dry run's
    own, reported as such: neither may stop kedro-mlflow from logging the model.
    """
    report = context.report
    with _timed(report.seconds, total):
        for stage in stages:
            if report.status != PASSED:
                return
            try:
                with _timed(report.seconds, stage_name(stage)):
                    stage(context)
            except DryRunSkipped as skipped:
                report.skip(str(skipped))
            except DryRunError as error:
                report.fail(str(error))
            except Exception as error:
                logger.debug("The dry run itself failed", exc_info=True)
                report.fail(f"The dry run itself failed: {type(error).__name__}: {error}")


def raise_if_failed(context: DryRunContext) -> None:
    """Under ``on_failure: fail``, a failed dry run ends the command with its reason."""
    report = context.report
    if report.failed and context.config.on_failure == "fail":
        where = (
            "The model was logged anyway; the run is tagged dryrun.status=failed and "
            "dryrun/report.json says why. "
            if context.run_id
            else ""
        )
        raise DryRunFailed(
            f"{report.reason}\n{where}To only warn, set 'on_failure: warn' in "
            "conf/<env>/dryrun.yml."
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
        stack.enter_context(environment.while_logging(context))
        if context.config.serve_check and context.report.status == PASSED:
            stack.enter_context(serve.instead_of_mlflow_validation())
        yield


def after_logging(config: DryRunConfig) -> tuple[Stage, ...]:
    """What needs the logged model."""
    from kedro_mlflow_dryrun.stages import environment, serve

    checks = {
        "off": (),
        "audit": (environment.audit,),
        "fresh": (environment.audit, environment.fresh),
    }
    return (*checks[config.environment], *((serve.run,) if config.serve_check else ()))
