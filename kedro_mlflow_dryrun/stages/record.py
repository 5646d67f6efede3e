"""Record: the verdict on the MLflow run, as tags, ``dryrun/report.json`` and
``dryrun/report.html``; and, when ``junit_xml`` asks, as a JUnit XML file for CI."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from kedro_mlflow_dryrun.report import ERROR, FAILED, HTML_REPORT_PATH, REPORT_PATH, SKIPPED

if TYPE_CHECKING:
    from kedro_mlflow_dryrun.report import DryRunReport

logger = logging.getLogger("kedro_mlflow_dryrun")


def record(run_id: str, report: DryRunReport) -> None:
    """Puts the tags and the report on the run kedro-mlflow is logging to."""
    from mlflow.entities import RunTag
    from mlflow.tracking import MlflowClient

    from kedro_mlflow_dryrun.reporting import html

    tags = {
        "dryrun.status": report.status,
        "dryrun.output": report.output_name,
        "dryrun.sample_rows": report.sample_rows,
    }
    if report.environment is not None:
        tags["dryrun.environment"] = report.environment.get("status")
    if report.drift is not None:
        tags["dryrun.drift"] = report.drift.get("verdict")
    if report.explore is not None:
        tags["dryrun.explore"] = report.explore.get("status")
    if report.spark is not None:
        tags["dryrun.spark"] = report.spark.get("status")
    client = MlflowClient()
    client.log_batch(
        run_id, tags=[RunTag(key, str(value)) for key, value in tags.items() if value is not None]
    )
    if report.status != SKIPPED:
        client.log_dict(run_id, report.to_dict(), REPORT_PATH)
        client.log_text(run_id, html.render(report), HTML_REPORT_PATH)


def publish(run_id: str, report: DryRunReport, line: str, junit_xml: str | None = None) -> None:
    """Records the report, then logs its line; an unreachable server loses nothing.

    ``junit_xml`` (the key of ``dryrun.yml``) is rewritten on every call, so it holds
    the run's last word, as the MLflow run does.
    """
    try:
        record(run_id, report)
    except Exception as error:  # noqa: BLE001 - the model is logged: warn, never crash
        logger.warning("The dry run could not be recorded on MLflow run %s: %s", run_id, error)
    if junit_xml:
        write_junit(Path(junit_xml), report, f"kedro run (MLflow run {run_id})")
    logger.log(logging.WARNING if report.status in (FAILED, ERROR) else logging.INFO, line)


def write_junit(path: Path, report: DryRunReport, suite: str) -> None:
    """The JUnit XML file, or a warning saying why it could not be written."""
    from kedro_mlflow_dryrun.reporting import junit

    try:
        junit.write(path, report, suite)
    except OSError as error:
        logger.warning("The dry run could not write its JUnit XML to %s: %s", path, error)
