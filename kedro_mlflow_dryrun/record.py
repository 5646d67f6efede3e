"""Record: the verdict on the MLflow run, as a tag, a report and one log line."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from kedro_mlflow_dryrun.sample import CAPTURED

logger = logging.getLogger(__name__)

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
REPORT_PATH = "dryrun/report.json"


@dataclass
class DryRunReport:
    """Everything the dry run found, as ``dryrun/report.json`` shows it."""

    status: str = PASSED
    reason: str | None = None
    input_name: str | None = None
    sample_rows: int | None = None
    sample_source: str | None = None
    output_name: str | None = None
    output_type: str | None = None
    json: dict[str, Any] | None = None
    signature: Any = None
    serve: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=lambda: _versions())

    def fail(self, reason: str) -> None:
        self.status, self.reason = FAILED, reason

    def to_dict(self) -> dict[str, Any]:
        report = asdict(self)
        report["signature"] = _signature_to_dict(self.signature)
        return report

    def summary(self, full_reason: bool = False) -> str:
        """The one log line a user reads after training."""
        total = self.seconds.get("total", 0.0)
        if self.status == SKIPPED:
            return f"Dry run skipped: {self.reason}"
        if self.status == FAILED:
            return f"Dry run failed in {total:.2f} s: {self._reason(full_reason)}"
        sampled = f"{self.sample_rows} rows of '{self.input_name}'"
        if self.sample_source != CAPTURED:
            sampled += f" ({self.sample_source})"
        return (
            f"Dry run passed: {sampled} -> '{self.output_name}' ({self.output_type}), "
            f"output schema {_describe_outputs(self.signature)}, {total:.2f} s"
        )

    def serve_summary(self, full_reason: bool = False) -> str:
        seconds = self.seconds.get("serve", 0.0)
        if self.status == FAILED:
            return f"Serve check failed in {seconds:.2f} s: {self._reason(full_reason)}"
        return (
            f"Serve check passed: {self.serve['model_uri']} answered the {self.serve['rows']} "
            f"sample rows as its output schema says, {seconds:.2f} s"
        )

    def _reason(self, full: bool) -> str:
        """All of it where no error message will follow; else its first line."""
        reason = self.reason or ""
        return reason if full else reason.splitlines()[0]


def record(run_id: str, report: DryRunReport) -> None:
    """Puts the tags and the report on the run kedro-mlflow is logging to."""
    from mlflow.entities import RunTag
    from mlflow.tracking import MlflowClient

    tags = {
        "dryrun.status": report.status,
        "dryrun.output": report.output_name,
        "dryrun.sample_rows": report.sample_rows,
    }
    client = MlflowClient()
    client.log_batch(
        run_id, tags=[RunTag(key, str(value)) for key, value in tags.items() if value is not None]
    )
    if report.status != SKIPPED:
        client.log_dict(run_id, report.to_dict(), REPORT_PATH)


def _signature_to_dict(signature: Any) -> dict[str, Any] | None:
    """MLflow stores each part as a JSON string; the report keeps them as JSON."""
    if signature is None:
        return None
    return {
        part: json.loads(value) if value else None for part, value in signature.to_dict().items()
    }


def _describe_outputs(signature: Any) -> str:
    if signature is None or signature.outputs is None:
        return "none"
    # Parentheses, not brackets: Kedro's rich log handler reads [..] as markup.
    return "(" + ", ".join(f"{spec.name}: {spec.type!r}" for spec in signature.outputs.inputs) + ")"


def _versions() -> dict[str, str]:
    """Read from the imported packages: ``importlib.metadata`` costs a scan per package."""
    import kedro
    import kedro_mlflow
    import mlflow
    import numpy
    import pandas

    import kedro_mlflow_dryrun

    packages = {
        "kedro-mlflow-dryrun": kedro_mlflow_dryrun,
        "kedro": kedro,
        "kedro-mlflow": kedro_mlflow,
        "mlflow": mlflow,
        "pandas": pandas,
        "numpy": numpy,
    }
    return {name: module.__version__ for name, module in packages.items()}
