"""One exception hierarchy, so callers can catch every dry-run problem at once.

Each message is written to be read in a terminal: what is wrong, where, and how
to fix it, without the traceback.
"""


class DryRunError(Exception):
    """Base class for every error the dry run reports."""


class DryRunSkipped(DryRunError):
    """The dry run cannot check this run: recorded as skipped, with the reason and the fix."""


class ConfigError(DryRunError):
    """``dryrun.yml`` holds a key or value the plugin cannot use."""


class PipelineDefinitionError(DryRunError):
    """The training/inference pair cannot be served as registered."""


class SampleError(DryRunError):
    """No sample of the training input could be taken."""


class RequestError(DryRunError):
    """The sample, sent as a serving request, does not reach the model."""


class InferenceError(DryRunError):
    """The inference pipeline raised while running on the sample."""


class SerializationError(DryRunError):
    """The scoring server could not turn the output into JSON."""


class SignatureMismatchError(DryRunError):
    """The output does not match the signature set in ``log_model_kwargs``."""


class DriftError(DryRunError):
    """The output schema breaks the clients of the previous registered version."""


class ModelEnvironmentError(DryRunError):
    """The logged model's own environment lacks what loading or running it imports."""


class ServeCheckError(DryRunError):
    """The logged model, loaded back, did not answer a request as recorded."""


class ServingAppError(ServeCheckError):
    """``mlflow models serve`` cannot build its app (``scoring_server.init``) for the model."""


class ExploreError(DryRunError):
    """A request the signature admits is answered wrongly, under ``on_explore: fail``."""


class SparkCheckError(DryRunError):
    """The logged model, as ``mlflow.pyfunc.spark_udf``, does not answer as the server does."""


class DryRunInternalError(DryRunError):
    """The plugin could not check the model (not the model's fault): recorded as ``error``."""


class ModelNotFoundError(DryRunInternalError):
    """A model URI names no model MLflow can find: nothing was checked."""


class TrackingServerError(DryRunInternalError):
    """The tracking server did not answer, or refused the credentials: nothing was checked."""


class IncompatibleVersionError(DryRunInternalError):
    """MLflow, Kedro or kedro-datasets lacks a name the plugin uses (see ``compat``)."""

    def __init__(self, message: str, missing: str, what: str) -> None:
        super().__init__(message)
        #: The name that is missing, e.g. ``mlflow.models.utils._enforce_schema``.
        self.missing = missing
        #: What broke, in a sentence naming it and the versions.
        self.what = what


class DryRunFailed(DryRunError):
    """Raised after the model is logged, so that ``kedro run`` exits non-zero."""
