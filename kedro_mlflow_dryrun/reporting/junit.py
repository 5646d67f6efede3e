"""JUnit XML: the checks of one dry run as one test suite, for CI systems' test views.

GitHub Actions, GitLab, Jenkins and Azure read this format. Each check is a test case:
a failure carries the reason (and, for an explore finding, the ``curl`` that replays
it), the plugin's own failure is an ``<error>``, a check that did not run ``<skipped>``.
Written with the standard library; warnings of a passing check go to ``<system-out>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

from kedro_mlflow_dryrun.report import ERROR, FAILED, SKIPPED
from kedro_mlflow_dryrun.reporting.checks import Check, checks

if TYPE_CHECKING:
    from kedro_mlflow_dryrun.report import DryRunReport

#: The element each outcome becomes inside its ``<testcase>``.
_ELEMENTS = {FAILED: "failure", ERROR: "error", SKIPPED: "skipped"}


def to_xml(report: DryRunReport, suite: str) -> str:
    """``<testsuites>`` holding one ``<testsuite name=suite>``, one case per check."""
    cases = checks(report)
    counts = {outcome: sum(c.outcome == outcome for c in cases) for outcome in _ELEMENTS}
    attributes = {
        "name": suite,
        "tests": str(len(cases)),
        "failures": str(counts[FAILED]),
        "errors": str(counts[ERROR]),
        "skipped": str(counts[SKIPPED]),
        "time": f"{report.seconds.get('total', 0.0):.3f}",
    }
    root = ET.Element("testsuites", {k: v for k, v in attributes.items() if k != "name"})
    testsuite = ET.SubElement(root, "testsuite", attributes)
    properties = ET.SubElement(testsuite, "properties")
    for name, value in _properties(report).items():
        ET.SubElement(properties, "property", {"name": name, "value": value})
    classname = f"kedro_mlflow_dryrun.{report.input_name or 'dryrun'}"
    for check in cases:
        testsuite.append(_case(check, classname))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write(path: Path, report: DryRunReport, suite: str) -> None:
    """Writes :func:`to_xml` to ``path``, creating its folder: CI collects it from there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_xml(report, suite), encoding="utf-8")


def _case(check: Check, classname: str) -> ET.Element:
    case = ET.Element("testcase", {"name": check.name, "classname": classname})
    if check.seconds is not None:
        case.set("time", f"{check.seconds:.3f}")
    element = _ELEMENTS.get(check.outcome)
    if element is not None:
        first = check.message.splitlines()[0] if check.message else check.outcome
        outcome = ET.SubElement(case, element, {"message": first})
        if element != "skipped":
            outcome.set("type", check.name)
            outcome.text = check.message
    if check.notes:
        ET.SubElement(case, "system-out").text = check.notes
    return case


def _properties(report: DryRunReport) -> dict[str, str]:
    """The run's identity, as CI shows beside the suite."""
    known = {
        "dryrun.status": report.status,
        "model_uri": report.model_uri,
        "input": report.input_name,
        "output": report.output_name,
        **{f"version.{name}": version for name, version in report.versions.items()},
    }
    return {name: str(value) for name, value in known.items() if value is not None}
