"""The engine, driven directly: stages in order, timed, one policy for findings."""

from __future__ import annotations

import pandas as pd
import pytest

from kedro_mlflow_dryrun import DryRunError, DryRunFailed
from kedro_mlflow_dryrun.config import DryRunConfig
from kedro_mlflow_dryrun.context import FAILS_WHEN, DryRunContext
from kedro_mlflow_dryrun.engine import raise_if_failed, run_stages

from engine_contexts import dry_run, output_context


def test_every_stage_is_timed_into_the_report():
    report = dry_run(output_context(pd.DataFrame({"p": [1.0]})))

    assert report.status == "passed"
    assert set(report.seconds) == {
        *("environment", "capture", "sample", "infer", "request", "execute", "check"),
        *("contract", "drift", "total"),
    }
    assert report.seconds["total"] >= report.seconds["execute"]


def test_the_first_failure_stops_the_stages_after_it():
    ran: list[str] = []
    context = output_context(pd.DataFrame({"p": [1.0]}))

    def refuses(context):
        ran.append("refuses")
        raise DryRunError("the model cannot serve")

    def after(context):
        ran.append("after")

    run_stages(context, [refuses, after])

    assert ran == ["refuses"]
    assert context.report.failed and context.report.reason == "the model cannot serve"


def test_a_bug_in_a_stage_is_reported_as_the_dry_runs_own():
    context = output_context(pd.DataFrame({"p": [1.0]}))

    def broken(context):
        raise ZeroDivisionError("division by zero")

    run_stages(context, [broken])

    report = context.report
    assert report.status == "error" and not report.failed
    assert report.reason.startswith(
        "The dry run could not check the model: stage 'test_engine' raised "
        "ZeroDivisionError: division by zero\nThis is the plugin's failure, not the model's "
        f"(kedro-mlflow-dryrun {report.versions['kedro-mlflow-dryrun']}, "
        f"kedro {report.versions['kedro']}"
    )
    assert report.reason.splitlines()[-1].startswith("Fix: ")


@pytest.mark.parametrize(("on_error", "raises"), [("warn", False), ("fail", True)])
def test_an_error_ends_the_command_only_under_on_error_fail(on_error, raises):
    context = output_context(pd.DataFrame({"p": [1.0]}), config=DryRunConfig(on_error=on_error))

    def broken(context: DryRunContext) -> None:
        raise ZeroDivisionError("division by zero")

    run_stages(context, [broken])

    if raises:
        with pytest.raises(DryRunFailed, match="To only warn, set 'on_error: warn'"):
            raise_if_failed(context)
    else:
        raise_if_failed(context)
    assert context.report.summary(full_reason=True).startswith("Dry run error: ")


@pytest.mark.parametrize(
    ("kind", "fails", "warns"),
    [
        ("non_finite", {"strict_json": True}, {"strict_json": False}),
        ("drift", {"on_drift": "fail"}, {"on_drift": "warn"}),
    ],
)
def test_the_settings_decide_whether_a_finding_fails(kind, fails, warns):
    assert FAILS_WHEN[kind](DryRunConfig(**fails))
    assert not FAILS_WHEN[kind](DryRunConfig(**warns))
    warning = output_context(None, config=DryRunConfig(**warns))
    warning.found(kind, "a finding")
    assert warning.report.warnings == ["a finding"] and not warning.report.failed
    with pytest.raises(DryRunError, match="a finding"):
        output_context(None, config=DryRunConfig(**fails)).found(kind, "a finding")


def test_a_target_in_the_input_only_warns():
    assert not FAILS_WHEN["target_in_input"](DryRunConfig(on_failure="fail", strict_json=True))


def test_an_unreachable_registry_only_warns_even_under_on_drift_fail():
    assert not FAILS_WHEN["registry_unreachable"](DryRunConfig(on_drift="fail"))
