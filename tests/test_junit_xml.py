"""JUnit XML, parsed as CI systems parse it (``junitparser``): one case per check."""

from __future__ import annotations

from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped, TestSuite
from test_end_to_end import DECIMAL_PRICES
from test_html_report import _report, centred

from kedro_mlflow_dryrun.reporting.junit import to_xml
from kedro_mlflow_dryrun.stages.explore.findings import KINDS, replay

from support import Project

#: Every check, in the order the dry run runs them: one test case each, whatever ran.
CHECKS = [
    "dry run",
    "serve check",
    "environment",
    "drift",
    *(f"explore: {kind}" for kind in KINDS),
    "Spark batch check",
]


def _suite(path: Path) -> TestSuite:
    (suite,) = list(JUnitXml.fromfile(str(path)))
    return suite


def _outcomes(suite: TestSuite) -> dict[str, str]:
    """Each case by name: ``passed``, or the class of its result."""
    return {
        case.name: type(case.result[0]).__name__.lower() if case.result else "passed"
        for case in suite
    }


@pytest.fixture
def trained(project: Project) -> Project:
    """The example, trained once without the dry run: the artifacts the pre-flight loads."""
    result = project.kedro_here("run", "--pipeline=training", "--no-output-schema")
    assert result.returncode == 0, result.output
    return project


def test_preflight_of_a_passing_project_has_no_failures(trained, tmp_path):
    path = tmp_path / "reports" / "dryrun.xml"

    result = trained.kedro_here("dryrun", "--junit-xml", str(path))

    assert result.returncode == 0, result.output
    suite = _suite(path)
    assert suite.name == "kedro dryrun"
    assert [case.name for case in suite] == CHECKS
    assert (suite.failures, suite.errors) == (0, 0)
    outcomes = _outcomes(suite)
    assert outcomes["dry run"] == "passed"
    assert {outcomes[name] for name in CHECKS if name.startswith("explore: ")} <= {
        "passed",
        "skipped",
    }
    # No logged model in the pre-flight: nothing to serve, audit or compare; no Spark session.
    for name in ("serve check", "environment", "drift", "Spark batch check"):
        assert outcomes[name] == "skipped"
        (skipped,) = next(case for case in suite if case.name == name).result
        assert isinstance(skipped, Skipped) and skipped.message


def test_preflight_of_an_unservable_output_fails_the_dry_run_case(trained, tmp_path):
    trained.override_node(DECIMAL_PRICES)
    path = tmp_path / "dryrun.xml"

    result = trained.kedro_here("dryrun", "--junit-xml", str(path))

    assert result.returncode == 1, result.output
    suite = _suite(path)
    assert [case.name for case in suite] == CHECKS
    assert (suite.failures, suite.errors) == (1, 0)
    (failure,) = next(case for case in suite if case.name == "dry run").result
    assert isinstance(failure, Failure)
    assert "cannot be served" in failure.message
    assert "Fix: convert Decimal to float." in failure.text
    skipped = {name for name, outcome in _outcomes(suite).items() if outcome == "skipped"}
    assert set(CHECKS) - {"dry run"} == skipped


def test_an_explore_finding_fails_its_case_with_the_replay_command(tmp_path):
    report = _report(centred, on_explore="fail")
    path = tmp_path / "explore.xml"
    path.write_text(to_xml(report, "findings"))

    suite = _suite(path)

    assert report.status == "failed" and report.explore is not None
    (finding,) = report.explore["findings"]
    (failure,) = next(case for case in suite if case.name == "explore: batch_dependent").result
    assert isinstance(failure, Failure)
    assert failure.message == finding["message"]
    assert f"Replay: {replay(finding['request'])}" in failure.text
    assert _outcomes(suite)["dry run"] == "passed"
    assert (suite.failures, suite.errors) == (1, 0)


def test_a_warned_finding_passes_and_says_so(tmp_path):
    report = _report(centred)  # on_explore: warn, the default
    path = tmp_path / "explore.xml"
    path.write_text(to_xml(report, "findings"))

    suite = _suite(path)

    case = next(case for case in suite if case.name == "explore: batch_dependent")
    assert case.is_passed
    assert case.system_out.startswith("warned: ") and "Replay: curl" in case.system_out
    assert (suite.failures, suite.errors) == (0, 0)


def test_the_plugin_s_own_failure_is_an_error_not_a_failure(trained, tmp_path):
    path = tmp_path / "dryrun.xml"

    result = trained.kedro_here(
        "dryrun", "--model-uri", "models:/no_such_model/1", "--junit-xml", str(path)
    )

    assert result.returncode == 2, result.output
    suite = _suite(path)
    assert (suite.failures, suite.errors) == (0, 1)
    (error,) = next(case for case in suite if case.name == "dry run").result
    assert (
        isinstance(error, Error) and "No logged model at models:/no_such_model/1" in error.message
    )


def test_a_training_run_writes_the_file_dryrun_yml_names(project, in_process):
    project.set_dryrun(drop_columns=["price"], junit_xml="reports/training.xml")

    in_process(pipeline_name="training")

    suite = _suite(project.path / "reports" / "training.xml")
    assert suite.name.startswith("kedro run (MLflow run ")
    outcomes = _outcomes(suite)
    assert [case.name for case in suite] == CHECKS
    assert (suite.failures, suite.errors) == (0, 0)
    for name in ("dry run", "serve check", "environment"):
        assert outcomes[name] == "passed"
    properties = {p.name: p.value for p in suite.properties()}
    assert properties["dryrun.status"] == "passed"
    assert properties["model_uri"].startswith("models:/")
