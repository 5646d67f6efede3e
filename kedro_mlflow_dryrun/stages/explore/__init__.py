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
reported only if it replays against the model as served (:mod:`.fidelity`). In a
training run, the search has run already, while MLflow inferred the model's
requirements (:mod:`.beside_logging`).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from kedro_mlflow_dryrun.report import FAILED, INCOMPLETE, PASSED, SKIPPED, WARNED

if TYPE_CHECKING:
    from kedro_mlflow_dryrun.context import DryRunContext
    from kedro_mlflow_dryrun.stages.explore.findings import Finding
    from kedro_mlflow_dryrun.stages.explore.search import Searched

logger = logging.getLogger("kedro_mlflow_dryrun")

_PREFLIGHT = (
    "no logged model: the inference pipeline in MLflow's pyfunc model, which enforces "
    "the input schema of the signature a training run would log"
)


def run(context: DryRunContext) -> None:
    """Sends the requests, records the section ``explore``, and warns or fails on findings."""
    import hypothesis

    from kedro_mlflow_dryrun.adapters.models import quiet_runner
    from kedro_mlflow_dryrun.stages.explore import beside_logging, fidelity
    from kedro_mlflow_dryrun.stages.explore.plan import plan
    from kedro_mlflow_dryrun.stages.explore.search import search_model
    from kedro_mlflow_dryrun.stages.explore.strategies import silent_changes

    config, report = context.config, context.report
    planned = plan(context)
    if isinstance(planned, str):
        report.explore = {"status": SKIPPED, "reason": planned}
        logger.info("Explore skipped: %s", planned)
        return
    assert context.signature is not None
    model = context.served_model()
    ahead = beside_logging.taken(context)
    searched = ahead or search_model(model, planned)
    start, cpu = time.perf_counter(), time.process_time()
    with quiet_runner():
        found, unconfirmed, replayed = fidelity.confirmed(searched.found, model, planned.tolerances)
    stopped = searched.stopped
    strict = config.strict_json
    findings = [f for f in found if f.kind != "non_finite" or strict]
    warnings = [f for f in found if f.kind == "non_finite" and not strict]
    not_aligned = planned.not_aligned
    not_checked = {"row_count": not_aligned, "batch_dependent": not_aligned} if not_aligned else {}
    if searched.nondeterministic:
        not_checked["concurrent"] = "the model answers the same request otherwise when sent again"
    section: dict[str, Any] = {
        "status": PASSED,
        "served": report.model_uri or _PREFLIGHT,
        "requests": searched.requests,
        "rows": searched.rows,
        "sent": searched.sent,
        # The cost: each send is the model's own predict.
        "sends_per_request": round(searched.sent / max(searched.requests, 1), 2),
        "replayed": replayed,
        "unconfirmed": len(unconfirmed),
        "seconds": round(searched.seconds + time.perf_counter() - start, 4),
        # What it cost this process, whatever else the machine runs meanwhile.
        "cpu_seconds": round(searched.cpu_seconds + time.process_time() - cpu, 4),
        # Searched while MLflow inferred the requirements (.beside_logging).
        "beside_logging": ahead is not None,
        "budget": {"requests": config.explore, "seconds": config.explore_seconds},
        "stopped": (
            f"explore_seconds ({config.explore_seconds} s) reached after "
            f"{searched.requests} of {config.explore} requests"
            if stopped
            else None
        ),
        "not_checked": not_checked,
        "hypothesis": hypothesis.__version__,
        "findings": [finding.to_dict() for finding in findings],
        "warnings": [finding.to_dict() for finding in warnings],
    }
    if searched.refused is not None:
        section["refused"] = searched.refused
    section["schema_warnings"] = silent_changes(context.signature.inputs)
    for warning in section["schema_warnings"]:
        report.warnings.append(f"Explore: {warning}")
        logger.warning("Explore: %s", warning)
    report.explore = section
    head = _headline(searched, section, len(findings))
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


def _headline(searched: Searched, section: dict[str, Any], findings: int) -> str:
    line = (
        f"Explore: {searched.requests} requests the signature admits, {findings} "
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
    if searched.refused is not None:
        line += f"; {searched.refused['count']} generated requests refused by the input schema"
    return line
