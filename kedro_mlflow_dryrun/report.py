"""The report: everything the dry run found, as ``dryrun/report.json`` and the log show it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from mlflow.models import ModelSignature

#: ``failed``: the model would not serve; ``error``: the plugin could not tell.
Status = Literal["passed", "failed", "skipped", "error"]
PASSED: Status = "passed"
FAILED: Status = "failed"
SKIPPED: Status = "skipped"
ERROR: Status = "error"
REPORT_PATH = "dryrun/report.json"
CAPTURED = "captured from training"


@dataclass
class DryRunReport:
    """What each stage found; the stages fill it in, the record stage writes it."""

    status: Status = PASSED
    reason: str | None = None
    input_name: str | None = None
    input_type: str | None = None
    sample_rows: int | None = None
    sample_source: str | None = None
    sample_strategy: str | None = None
    output_name: str | None = None
    output_type: str | None = None
    model_uri: str | None = None
    json: dict[str, Any] | None = None
    signature: ModelSignature | None = None
    serve: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    drift: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=lambda: _versions())

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    @property
    def errored(self) -> bool:
        return self.status == ERROR

    def fail(self, reason: str) -> None:
        """The first failure is the one reported: later stages do not run after it."""
        if self.status == PASSED:
            self.status, self.reason = FAILED, reason

    def error(self, reason: str) -> None:
        """The plugin could not check: not a verdict on the model."""
        if self.status == PASSED:
            self.status, self.reason = ERROR, reason

    def skip(self, reason: str) -> None:
        self.status, self.reason = SKIPPED, reason

    def to_dict(self) -> dict[str, Any]:
        report = asdict(self)
        report["signature"] = signature_to_dict(self.signature)
        return report

    def summary(self, full_reason: bool = False) -> str:
        """The one log line a user reads after training."""
        total = self.seconds.get("total", 0.0)
        if self.status == SKIPPED:
            return f"Dry run skipped: {self.reason}"
        if self.errored:
            return f"Dry run error: {self._reason(full_reason)}"
        if self.failed:
            return f"Dry run failed in {total:.2f} s: {self._reason(full_reason)}"
        sampled = f"{self.sample_rows} rows of '{self.input_name}'"
        if self.sample_source != CAPTURED:
            sampled += f" ({self.sample_source})"
        return (
            f"Dry run passed: {sampled} -> '{self.output_name}' ({self.output_type}), "
            f"output schema {describe_outputs(self.signature)}, {total:.2f} s"
        )

    def serve_summary(self, full_reason: bool = False) -> str:
        seconds = self.seconds.get("serve", 0.0) + self.seconds.get("environment", 0.0)
        if self.errored:
            return f"Serve check error: {self._reason(full_reason)}"
        if self.failed:
            return f"Serve check failed in {seconds:.2f} s: {self._reason(full_reason)}"
        checked = []
        if self.environment and self.environment.get("status") == PASSED:
            checked.append(f"its environment holds what it imports ({self.environment['mode']})")
        if self.serve:
            checked.append(
                f"it answered the {self.serve['rows']} sample rows as its output schema says"
            )
        return f"Serve check passed: {self.model_uri}: {'; '.join(checked)}, {seconds:.2f} s"

    def _reason(self, full: bool) -> str:
        """All of it where no error message will follow; else its first line."""
        reason = self.reason or ""
        return reason if full else reason.splitlines()[0]


def signature_to_dict(signature: ModelSignature | None) -> dict[str, Any] | None:
    """MLflow stores each part as a JSON string; the report keeps them as JSON."""
    if signature is None:
        return None
    return {
        part: json.loads(value) if value else None for part, value in signature.to_dict().items()
    }


def describe_outputs(signature: ModelSignature | None) -> str:
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
