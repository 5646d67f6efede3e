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


def _plain_text_records() -> None:
    """Kedro's ``RichHandler`` reads console markup in messages by default, and would take
    a replay's ``"data": [[null, 4, 76, "Nantes"]]`` for a style tag and drop it: the
    plugin's records say ``markup=False``, which rich's handler honours per record."""
    make_record = logging.getLogRecordFactory()
    if make_record.__name__ == "plain_text_record":  # installed already (a reimport)
        return

    def plain_text_record(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if record.name == __name__ or record.name.startswith(f"{__name__}."):
            record.markup = False
        return record

    logging.setLogRecordFactory(plain_text_record)


_plain_text_records()

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
