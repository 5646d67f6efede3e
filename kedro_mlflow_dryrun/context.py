"""What the stages share: one typed context, and one policy for the findings they make.

It sits below both the engine, which runs the stages over it, and the stages, which
read and write it, so that neither imports the other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from kedro_mlflow_dryrun.config import DryRunConfig
from kedro_mlflow_dryrun.errors import DriftError, DryRunError, ExploreError, SerializationError
from kedro_mlflow_dryrun.report import DryRunReport

if TYPE_CHECKING:
    import pandas as pd
    from kedro.io import CatalogProtocol
    from mlflow.models import ModelSignature
    from mlflow.pyfunc import PyFuncModel

    from kedro_mlflow_dryrun.adapters.model_sources import ModelSource
    from kedro_mlflow_dryrun.samples import Sample, SampleCapture

logger = logging.getLogger("kedro_mlflow_dryrun")

FindingKind = Literal["non_finite", "drift", "target_in_input", "registry_unreachable", "explore"]

#: Per kind of finding: does it fail the dry run under these settings (else it warns)?
FAILS_WHEN: dict[FindingKind, Callable[[DryRunConfig], bool]] = {
    "non_finite": lambda config: config.strict_json,
    "drift": lambda config: config.on_drift == "fail",
    "target_in_input": lambda config: False,
    # The registry is asked, never trusted to answer: training must not fail on it.
    "registry_unreachable": lambda config: False,
    "explore": lambda config: config.on_explore == "fail",
}
_ERRORS: dict[FindingKind, type[DryRunError]] = {
    "non_finite": SerializationError,
    "drift": DriftError,
    "explore": ExploreError,
}


@dataclass
class DryRunContext:
    """Everything the stages share: what they are given, and what they found."""

    config: DryRunConfig
    model: ModelSource
    input_name: str
    catalog: CatalogProtocol | None = None
    #: The first rows of ``input_name``, kept when training loaded it.
    captured: SampleCapture | None = None
    #: What kedro-mlflow will log the model with; the dry run fills in the signature.
    log_model_kwargs: dict[str, object] = field(default_factory=dict)
    #: The MLflow run the model is logged in (none in pre-flight).
    run_id: str | None = None
    #: The registered version ``kedro dryrun --model-uri`` checks; drift looks before it.
    model_version: int | None = None
    #: The Kedro project's root, whose package ships with the model (none: nothing ships).
    project_path: Path | None = None
    report: DryRunReport = field(default_factory=DryRunReport)
    sample: Sample | None = None
    #: The sample before ``drop_columns``, to tell whether a dropped column was needed.
    full_sample: Sample | None = None
    #: The sample as the scoring server hands it to the model.
    served_input: pd.DataFrame | None = None
    output: object = None
    signature: ModelSignature | None = None
    #: The model as the scoring server holds it, loaded once for the stages that send
    #: it requests (serve, explore): a model of a GiB is not loaded twice.
    served: PyFuncModel | None = None

    def found(self, kind: FindingKind, message: str) -> None:
        """A finding whose weight depends on the settings: it fails, or it warns."""
        if FAILS_WHEN[kind](self.config):
            raise _ERRORS.get(kind, DryRunError)(message)
        self.report.warnings.append(message)
        logger.warning(message)

    def logged_model_uri(self) -> str:
        """The ``models:/`` URI of the model kedro-mlflow logged in this run."""
        if self.report.model_uri is None:
            from kedro_mlflow_dryrun.adapters.logged_models import logged_model_of_run

            assert self.run_id is not None
            self.report.model_uri = f"models:/{logged_model_of_run(self.run_id).model_id}"
        return self.report.model_uri

    def served_model(self) -> PyFuncModel:
        """The logged model, loaded back once; before any is logged (pre-flight), the
        model source behind MLflow's pyfunc model, with the signature it would log."""
        if self.served is None:
            if self.run_id is not None:
                import mlflow

                self.served = mlflow.pyfunc.load_model(self.logged_model_uri())
            else:
                self.served = self.model.served(self.signature)
        return self.served


Stage = Callable[[DryRunContext], None]
