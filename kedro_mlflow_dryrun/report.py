"""The report: everything the dry run found, as ``dryrun/report.json`` and the log show it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, TensorSpec

#: ``failed``: the model would not serve; ``error``: the plugin could not tell.
Status = Literal["passed", "failed", "skipped", "error"]
PASSED: Status = "passed"
FAILED: Status = "failed"
SKIPPED: Status = "skipped"
ERROR: Status = "error"
#: An explore section whose findings 'on_explore: warn' only warns about.
WARNED = "warned"
#: A search ``explore_seconds`` cut: not a verdict that the model passed.
INCOMPLETE = "incomplete"
REPORT_PATH = "dryrun/report.json"
#: The same report for people: the MLflow UI shows it in the run's artifact view.
HTML_REPORT_PATH = "dryrun/report.html"
#: The stages the verdict line names beside the dry run itself, in its order: a label,
#: and the name of the stage's ``stages/`` module, which is also its report section
#: (a dict with a ``status`` or a ``verdict``). A stage with a section adds one line
#: here; every other stage counts as the dry run. ``log_model`` is kedro-mlflow's.
VERDICT_STAGES: tuple[tuple[str, str], ...] = (
    ("serve check", "serve"),
    ("environment", "environment"),
    ("drift", "drift"),
    ("explore", "explore"),
    ("Spark batch check", "spark"),
    ("kedro-mlflow's log_model", "log_model"),
)
CAPTURED = "captured from training"


@dataclass
class DryRunReport:
    """What each stage found; the stages fill it in, the record stage writes it."""

    status: Status = PASSED
    reason: str | None = None
    #: The stage whose failure, error or skip decided the status (``None``: passed).
    stage: str | None = None
    input_name: str | None = None
    input_type: str | None = None
    sample_rows: int | None = None
    sample_source: str | None = None
    sample_strategy: str | None = None
    output_name: str | None = None
    output_type: str | None = None
    model_uri: str | None = None
    json: dict[str, Any] | None = None
    #: The sample's first rows and the model's answers (``reporting/preview.py``).
    preview: dict[str, Any] | None = None
    signature: ModelSignature | None = None
    serve: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    drift: dict[str, Any] | None = None
    explore: dict[str, Any] | None = None
    spark: dict[str, Any] | None = None
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

    def fail(self, reason: str, stage: str | None = None) -> None:
        """The first failure is the one reported: later stages do not run after it."""
        if self.status == PASSED:
            self.status, self.reason, self.stage = FAILED, reason, stage

    def error(self, reason: str, stage: str | None = None) -> None:
        """The plugin could not check: not a verdict on the model."""
        if self.status == PASSED:
            self.status, self.reason, self.stage = ERROR, reason, stage

    def skip(self, reason: str, stage: str | None = None) -> None:
        self.status, self.reason, self.stage = SKIPPED, reason, stage

    def to_dict(self) -> dict[str, Any]:
        report = asdict(self)
        report["signature"] = signature_to_dict(self.signature)
        return report

    def summary(self, full_reason: bool = False) -> str:
        """The one log line a user reads after training."""
        total = self.seconds.get("total", 0.0)
        if self.status == SKIPPED:
            return f"Dry run skipped: {self.reason}"
        if not self.passed:
            return self._stage_line(total, full_reason)
        sampled = f"{self.sample_rows} rows of '{self.input_name}'"
        if self.sample_source != CAPTURED:
            sampled += f" ({self.sample_source})"
        return (
            f"Dry run passed: {sampled} -> '{self.output_name}' ({self.output_type}), "
            f"output schema {describe_outputs(self.signature)}, {total:.2f} s"
        )

    def serve_summary(self, full_reason: bool = False) -> str:
        seconds = self.seconds.get("serve", 0.0) + self.seconds.get("environment", 0.0)
        if not self.passed:
            return self._stage_line(seconds, full_reason)
        checked = []
        if self.environment and self.environment.get("status") == PASSED:
            checked.append(f"its environment holds what it imports ({self.environment['mode']})")
        if self.serve:
            checked.append(
                f"it answered the {self.serve['rows']} sample rows as its output schema says"
            )
        if not checked:  # serve_check: false, environment: off; explore alone ran
            return f"Serve check skipped: {self.model_uri} (serve_check: false, environment: off)"
        return f"Serve check passed: {self.model_uri}: {'; '.join(checked)}, {seconds:.2f} s"

    def verdict(self, full_reason: bool = False) -> str:
        """The run's last line: each stage that ran and its result, the status, and why."""
        if self.status == SKIPPED:
            return self.summary()
        results = ", ".join(f"{label} {result}" for label, result in self.results())
        why = f"{self.model_uri or 'the model'} would serve" if self.passed else None
        return f"Dry run verdict: {self.status} ({results}): {why or self._reason(full_reason)}"

    def results(self) -> list[tuple[str, str]]:
        """Each stage that ran, by its label, and its result: the dry run first."""
        own = self.status if self._label() == "dry run" else PASSED
        results: list[tuple[str, str]] = [("dry run", own)]
        for label, name in VERDICT_STAGES:
            section = getattr(self, name, None)
            if self.stage == name:
                results.append((label, self.status))
            elif isinstance(section, dict):
                result = section.get("status", section.get("verdict"))
                if result != SKIPPED:  # a stage skipped did not run
                    results.append((label, result if isinstance(result, str) else PASSED))
        return results

    def _stage_line(self, seconds: float, full_reason: bool) -> str:
        """The failure or error, under the name of the stage it came from."""
        label = self._label().capitalize()
        if self.errored:
            return f"{label} error: {self._reason(full_reason)}"
        return f"{label} failed in {seconds:.2f} s: {self._reason(full_reason)}"

    def _label(self) -> str:
        """The label of the stage that decided the status: its own, or the dry run's."""
        return next((label for label, name in VERDICT_STAGES if name == self.stage), "dry run")

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
    return "(" + ", ".join(map(_describe_spec, signature.outputs.inputs)) + ")"


def _describe_spec(spec: ColSpec | TensorSpec) -> str:
    """``price: double``, ``string`` (one unnamed column), ``tensor float64 (-1, 2)``."""
    from mlflow.types import TensorSpec

    if isinstance(spec, TensorSpec):
        kind = f"tensor {spec.type} {tuple(spec.shape)}"
    else:
        kind = repr(spec.type)
    return f"{spec.name}: {kind}" if spec.name is not None else kind


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
