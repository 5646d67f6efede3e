"""Explore: requests the signature admits, answered as served, checked for properties.

The serve check sends training's rows once, as one batch. A served model answers any
request its input schema admits: one row, a few, values the sample never held. This
stage generates such requests (:mod:`.strategies`), sends each to the served model
through the scoring server's ``invocations`` (parsing, schema enforcement,
``predict``, the JSON writer; :mod:`.sender`), and checks what comes back
(:mod:`.checks`, one function per finding kind):

- ``unanswered``: the model raised (HTTP 400), or the answer cannot be written (500);
  one finding per distinct error (exception type and node);
- ``schema_mismatch``: a column missing, of another type, or null where required;
- ``row_count``: another number of rows than the request has;
- ``nondeterministic``: the same request, sent twice, answered otherwise;
- ``batch_dependent``: a row answered otherwise inside another batch;
- ``concurrent``: requests sent at once answered otherwise than each alone;
- ``non_finite``: NaN or Infinity in the answer (a finding under ``strict_json``,
  else a warning, as for the sample).

``row_count`` and ``batch_dependent`` need an output with one row per request row;
for any other output the report says they were not checked, and why.

The served model is the one the serve check loaded (loaded once, for both); with no
logged model (``kedro dryrun``), it is the inference pipeline in MLflow's pyfunc model,
which enforces the input schema of the signature a training run would log. The search
(:mod:`.search`) shares kedro-mlflow's artifacts across requests; a finding is
reported only if it replays against the model as served (:mod:`.fidelity`).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from kedro_mlflow_dryrun import compat
from kedro_mlflow_dryrun.report import FAILED, INCOMPLETE, PASSED, SKIPPED, WARNED

if TYPE_CHECKING:
    from kedro_mlflow_dryrun.context import DryRunContext
    from kedro_mlflow_dryrun.stages.explore.findings import Finding
    from kedro_mlflow_dryrun.stages.explore.search import Search

logger = logging.getLogger("kedro_mlflow_dryrun")

_PREFLIGHT = (
    "no logged model: the inference pipeline in MLflow's pyfunc model, which enforces "
    "the input schema of the signature a training run would log"
)


def run(context: DryRunContext) -> None:
    """Sends the requests, records the section ``explore``, and warns or fails on findings."""
    import hypothesis

    from kedro_mlflow_dryrun.adapters.models import quiet_runner
    from kedro_mlflow_dryrun.answers import column_tolerances
    from kedro_mlflow_dryrun.stages.explore import checks, fidelity, search
    from kedro_mlflow_dryrun.stages.explore.sender import OutOfTime, Sender
    from kedro_mlflow_dryrun.stages.explore.strategies import (
        Request,
        UnsupportedSchemaError,
        request_body,
        requests,
        silent_changes,
    )

    config, report = context.config, context.report
    reason = _why_not(context)
    if reason is None:
        assert context.signature is not None and context.served_input is not None
        try:
            strategy = requests(
                context.signature.inputs, context.served_input, context.signature.params
            )
        except UnsupportedSchemaError as error:
            reason = str(error)
    if reason is not None:
        report.explore = {"status": SKIPPED, "reason": reason}
        logger.info("Explore skipped: %s", reason)
        return
    assert context.signature is not None and context.served_input is not None
    start, cpu = time.perf_counter(), time.process_time()
    model = context.served_model()
    not_aligned = _not_row_aligned(context.output, len(context.served_input))
    tolerances = column_tolerances(context.signature.outputs)
    sender = Sender(model, deadline=start + config.explore_seconds)
    explored = search.Search(
        sender,
        outputs=context.signature.outputs,
        tolerances=tolerances,
        row_aligned=not_aligned is None,
        companion=checks.companion(request_body(Request(context.served_input.iloc[:1]))),
    )
    with quiet_runner():
        with compat.artifacts_shared(model):
            stopped = search.explore(explored, strategy, config.explore)
            found = explored.findings()
            nondeterministic = any(f.kind == "nondeterministic" for f in found)
            if not stopped and not nondeterministic:
                try:
                    at_once = checks.concurrent(sender, explored.stable, tolerances)
                except OutOfTime:
                    stopped, at_once = True, None
                found += [at_once] if at_once is not None else []
        found, unconfirmed, replayed = fidelity.confirmed(found, model, tolerances)
    seconds = round(time.perf_counter() - start, 4)
    strict = config.strict_json
    findings = [f for f in found if f.kind != "non_finite" or strict]
    warnings = [f for f in found if f.kind == "non_finite" and not strict]
    not_checked = {"row_count": not_aligned, "batch_dependent": not_aligned} if not_aligned else {}
    if nondeterministic:
        not_checked["concurrent"] = "the model answers the same request otherwise when sent again"
    section: dict[str, Any] = {
        "status": PASSED,
        "served": report.model_uri or _PREFLIGHT,
        "requests": explored.requests,
        "rows": explored.rows,
        "sent": sender.sent,
        # The cost: each send is the model's own predict.
        "sends_per_request": round(sender.sent / max(explored.requests, 1), 2),
        "replayed": replayed,
        "unconfirmed": len(unconfirmed),
        "seconds": seconds,
        # What it cost this process, whatever else the machine runs meanwhile.
        "cpu_seconds": round(time.process_time() - cpu, 4),
        "budget": {"requests": config.explore, "seconds": config.explore_seconds},
        "stopped": (
            f"explore_seconds ({config.explore_seconds} s) reached after "
            f"{explored.requests} of {config.explore} requests"
            if stopped
            else None
        ),
        "not_checked": not_checked,
        "hypothesis": hypothesis.__version__,
        "findings": [finding.to_dict() for finding in findings],
        "warnings": [finding.to_dict() for finding in warnings],
    }
    if explored.refused is not None:
        section["refused"] = explored.refused
    section["schema_warnings"] = silent_changes(context.signature.inputs)
    for warning in section["schema_warnings"]:
        report.warnings.append(f"Explore: {warning}")
        logger.warning("Explore: %s", warning)
    report.explore = section
    head = _headline(explored, section, len(findings))
    for warning in warnings:
        context.found("non_finite", f"Explore: {warning.block()[2:]}")
    if not findings:
        section["status"] = INCOMPLETE if stopped else PASSED
        (logger.warning if stopped else logger.info)(head)
        return
    _report_findings(context, section, head, findings)


def _report_findings(
    context: DryRunContext, section: dict[str, Any], head: str, findings: list[Finding]
) -> None:
    fails = context.config.on_explore == "fail"
    section["status"] = FAILED if fails else WARNED
    fix = (
        "'on_explore: warn' in dryrun.yml only warns."
        if fails
        else "'on_explore: fail' in dryrun.yml makes them fail the run."
    )
    context.found(
        "explore",
        f"{head}; each request below is admitted by the model's input schema, and "
        "replays against the model as served:\n"
        + "\n".join(finding.block() for finding in findings)
        + "\n  Fix: make the inference pipeline answer such requests as it answers the "
        f"sample, or narrow the input schema; {fix}",
    )


def _why_not(context: DryRunContext) -> str | None:
    """Why the stage does not run, if it does not."""
    import pandas as pd

    if context.config.explore == 0:
        return "explore: 0 in dryrun.yml"
    signature = context.signature
    if signature is None or signature.inputs is None:
        return "the model has no input schema, so nothing says which requests it admits"
    if not isinstance(context.served_input, pd.DataFrame):
        return "the sample is not a table, so there is nothing to generate requests from"
    return None


def _headline(explored: Search, section: dict[str, Any], findings: int) -> str:
    line = (
        f"Explore: {explored.requests} requests the signature admits, {findings} "
        f"finding{'s' if findings != 1 else ''}, {section['seconds']:.1f} s, "
        f"{section['sends_per_request']} sends per request"
    )
    if section["stopped"]:
        line += f"; incomplete: {section['stopped']}"
    if section["unconfirmed"]:
        line += (
            f"; {section['unconfirmed']} found with shared artifacts did not replay against "
            "the model as served, and are not reported"
        )
    if explored.refused is not None:
        line += f"; {explored.refused['count']} generated requests refused by the input schema"
    return line


def _not_row_aligned(output: object, rows: int) -> str | None:
    """Why ``row_count`` and ``batch_dependent`` do not apply to this output, if they do not."""
    import numpy as np
    import pandas as pd

    if not isinstance(output, pd.DataFrame | pd.Series | np.ndarray | list):
        return (
            f"the output is a {type(output).__name__}, not one entry per request row "
            "(DataFrame, Series, array or list)"
        )
    if isinstance(output, np.ndarray) and output.ndim == 0:
        return "the output is a single value, not one entry per request row"
    if len(output) != rows:
        return f"the output had {len(output)} entries for the sample's {rows} rows"
    return None
