"""kedro-mlflow-dryrun: check at training time that a logged kedro-mlflow model can be served."""

import logging

from kedro_mlflow_dryrun.config import DryRunConfig
from kedro_mlflow_dryrun.errors import (
    ConfigError,
    DriftError,
    DryRunError,
    DryRunFailed,
    DryRunInternalError,
    DryRunSkipped,
    IncompatibleVersionError,
    InferenceError,
    ModelEnvironmentError,
    ModelNotFoundError,
    PipelineDefinitionError,
    RequestError,
    SampleError,
    SerializationError,
    ServeCheckError,
    SignatureMismatchError,
    TrackingServerError,
)
from kedro_mlflow_dryrun.pipeline import pipeline_ml_factory

__version__ = "0.2.0"

# Like kedro-mlflow: Kedro's default logging shows only its own and the project's
# INFO lines, and the dry run's one-line summary is meant to be seen.
logging.getLogger(__name__).setLevel(logging.INFO)

__all__ = [
    "ConfigError",
    "DriftError",
    "DryRunConfig",
    "DryRunError",
    "DryRunFailed",
    "DryRunInternalError",
    "DryRunSkipped",
    "IncompatibleVersionError",
    "InferenceError",
    "ModelEnvironmentError",
    "ModelNotFoundError",
    "PipelineDefinitionError",
    "RequestError",
    "SampleError",
    "SerializationError",
    "ServeCheckError",
    "SignatureMismatchError",
    "TrackingServerError",
    "__version__",
    "pipeline_ml_factory",
]
