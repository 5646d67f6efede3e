"""One verdict per check, from the report: what the HTML report lists and JUnit counts.

A check is a stage of the dry run (the dry run itself, serve, environment, drift, Spark)
or one explore property (a finding kind). Both renderers read this list, so the page a
reviewer opens and the test view CI shows cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kedro_mlflow_dryrun.report import (
    ERROR,
    FAILED,
    INCOMPLETE,
    PASSED,
    SKIPPED,
    VERDICT_STAGES,
    WARNED,
    Status,
)
from kedro_mlflow_dryrun.stages.explore.findings import KINDS, replay

if TYPE_CHECKING:
    from kedro_mlflow_dryrun.report import DryRunReport


@dataclass(frozen=True)
class Finding:
    """One explore finding, as a reader replays it."""

    kind: str
    columns: list[str]
    message: str
    replay: str
    #: ``batch_dependent``: another request holding the same rows, answered otherwise.
    replay_other: str | None = None


@dataclass(frozen=True)
class Check:
    """One check's outcome; ``message`` says why it failed or did not run, ``notes`` what
    it warned about while passing."""

    name: str
    outcome: Status
    message: str = ""
    seconds: float | None = None
    findings: list[Finding] = field(default_factory=list)
    notes: str = ""
    #: It passed, under a policy that only warns about what it found (``on_explore: warn``).
    warned: bool = False

    @property
    def shown(self) -> str:
        """The word a reader sees: a check that passed with warnings says ``warned``."""
        return WARNED if self.outcome == PASSED and self.warned else self.outcome


def checks(report: DryRunReport) -> list[Check]:
    """Every check, in the order the dry run runs them; one that did not run is skipped."""
    stages = [_stage(report, label, name) for label, name in _STAGES]
    return [*stages[:4], *_explore(report), *stages[4:]]


def findings(report: DryRunReport) -> list[Finding]:
    """Explore's findings and warnings, each with its ``curl`` replay command."""
    section = report.explore or {}
    return [_finding(entry) for key in ("findings", "warnings") for entry in section.get(key, [])]


#: The checks with a report section; explore has one check per finding kind instead.
_STAGES: tuple[tuple[str, str | None], ...] = (
    ("dry run", None),
    *((label, name) for label, name in VERDICT_STAGES if name not in ("explore", "log_model")),
)


def _deciding(report: DryRunReport) -> str | None:
    """The check the verdict came from; ``None``: the dry run itself (kedro-mlflow's
    ``log_model`` included: the run has no model to check after it)."""
    names = {name for _, name in _STAGES}
    return report.stage if report.stage in names or report.stage == "explore" else None


def _stage(report: DryRunReport, label: str, name: str | None) -> Check:
    seconds = report.seconds.get(name or "total")
    if not report.passed and _deciding(report) == name:
        return Check(label, report.status, report.reason or "", seconds)
    section = getattr(report, name) if name else {"status": PASSED}
    if not isinstance(section, dict):
        return Check(label, SKIPPED, _did_not_run(report), seconds)
    result = section.get("status", section.get("verdict"))
    if result == SKIPPED:
        return Check(label, SKIPPED, str(section.get("reason", "")), seconds)
    warned = result not in (PASSED, None, "none", "compatible")
    return Check(label, PASSED, seconds=seconds, notes=_notes(name, section, result), warned=warned)


def _notes(name: str | None, section: dict[str, Any], result: object) -> str:
    """What a check that passed warned about: drift that only warns, say."""
    if result in (PASSED, None, "none"):
        return ""
    if name == "drift" and "compared_with" in section:
        from kedro_mlflow_dryrun.stages.drift import describe

        return describe(section)
    reason = section.get("reason")
    return f"{result}: {reason}" if reason else str(result)


def _explore(report: DryRunReport) -> list[Check]:
    """One check per finding kind: failed (``on_explore: fail``), passed with notes
    (``warn``), or skipped with the reason explore or the kind did not run."""
    section = report.explore
    if report.stage == "explore" and report.errored:
        return [Check("explore", ERROR, report.reason or "")]
    if not isinstance(section, dict) or section.get("status") == SKIPPED:
        reason = str(section.get("reason", "")) if section else _did_not_run(report)
        return [Check(f"explore: {kind}", SKIPPED, reason) for kind in KINDS]
    found = findings(report)
    failing = {entry.get("kind") for entry in section.get("findings", [])}
    failing = failing if section.get("status") == FAILED else set()
    not_checked: dict[str, str] = section.get("not_checked") or {}
    kinds = [*KINDS, *sorted({f.kind for f in found} - set(KINDS))]
    result = []
    for kind in kinds:
        name = f"explore: {kind}"
        of_kind = [finding for finding in found if finding.kind == kind]
        text = "\n".join(f"{f.message}\nReplay: {f.replay}" for f in of_kind)
        if kind in not_checked:
            result.append(Check(name, SKIPPED, not_checked[kind]))
        elif kind in failing:
            result.append(Check(name, FAILED, text, findings=of_kind))
        elif of_kind:
            notes = f"{WARNED}: {text}"
            result.append(Check(name, PASSED, notes=notes, findings=of_kind, warned=True))
        elif section.get("status") == INCOMPLETE:
            notes = f"{INCOMPLETE}: {section.get('stopped')}"
            result.append(Check(name, PASSED, notes=notes, warned=True))
        else:
            result.append(Check(name, PASSED))
    return result


def _did_not_run(report: DryRunReport) -> str:
    if report.passed:
        return "not asked for in this run"
    return f"it did not run: the dry run {report.status} before it"


def _finding(entry: dict[str, Any]) -> Finding:
    other = entry.get("other")
    return Finding(
        kind=str(entry.get("kind")),
        columns=[str(column) for column in entry.get("columns", [])],
        message=str(entry.get("message", "")),
        # ``concurrent``: the command that sends its requests at once.
        replay=str(entry.get("replay") or replay(entry["request"])),
        replay_other=replay(other["request"]) if other else None,
    )
