"""kedro-mlflow-dryrun: check at training time that a logged kedro-mlflow model can be served."""

import logging

from kedro_mlflow_dryrun.config import DryRunConfig
from kedro_mlflow_dryrun.errors import (
    ConfigError,
    DryRunError,
    DryRunFailed,
    InferenceError,
    SampleError,
    SerializationError,
    SignatureMismatchError,
)

__version__ = "0.1.0"

# Like kedro-mlflow: Kedro's default logging shows only its own and the project's
# INFO lines, and the dry run's one-line summary is meant to be seen.
logging.getLogger(__name__).setLevel(logging.INFO)

__all__ = [
    "ConfigError",
    "DryRunConfig",
    "DryRunError",
    "DryRunFailed",
    "InferenceError",
    "SampleError",
    "SerializationError",
    "SignatureMismatchError",
    "__version__",
]
