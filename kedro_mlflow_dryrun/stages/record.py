"""Record: the verdict on the MLflow run, as tags and ``dryrun/report.json``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kedro_mlflow_dryrun.report import ERROR, FAILED, REPORT_PATH, SKIPPED

if TYPE_CHECKING:
    from kedro_mlflow_dryrun.report import DryRunReport

logger = logging.getLogger("kedro_mlflow_dryrun")


def record(run_id: str, report: DryRunReport) -> None:
    """Puts the tags and the report on the run kedro-mlflow is logging to."""
    from mlflow.entities import RunTag
    from mlflow.tracking import MlflowClient

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


def publish(run_id: str, report: DryRunReport, line: str) -> None:
    """Records the report, then logs its line; an unreachable server loses nothing."""
    try:
        record(run_id, report)
    except Exception as error:  # noqa: BLE001 - the model is logged: warn, never crash
        logger.warning("The dry run could not be recorded on MLflow run %s: %s", run_id, error)
    logger.log(logging.WARNING if report.status in (FAILED, ERROR) else logging.INFO, line)
