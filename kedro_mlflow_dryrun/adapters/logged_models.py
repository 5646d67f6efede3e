"""Logged models: the one a run logged, the one a URI names, and its signature rewritten."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kedro_mlflow_dryrun.adapters.tracking import redact, server_error
from kedro_mlflow_dryrun.errors import ModelNotFoundError, ServeCheckError

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModel
    from mlflow.models import ModelSignature


def logged_models_of_run(
    run_id: str, client: MlflowClient | None = None, experiment_id: str | None = None
) -> list[LoggedModel]:
    """Every model logged in ``run_id``: the one search every caller goes through."""
    from mlflow import MlflowClient

    client = client or MlflowClient()
    experiment_id = experiment_id or client.get_run(run_id).info.experiment_id
    return list(
        client.search_logged_models(
            experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run_id}'"
        )
    )


def logged_model_of_run(
    run_id: str, client: MlflowClient | None = None, experiment_id: str | None = None
) -> LoggedModel:
    """The model kedro-mlflow logged in ``run_id``."""
    models = logged_models_of_run(run_id, client, experiment_id)
    if not models:
        raise ServeCheckError(f"kedro-mlflow logged no model in run {run_id}.")
    return models[-1]


@dataclass(frozen=True)
class LoggedModelRef:
    """A logged model, whichever URI named it, and the registered version it is, if any."""

    model_id: str
    registered_name: str | None = None
    version: int | None = None

    @property
    def uri(self) -> str:
        """``set_signature`` takes this form only: ``runs:/`` URIs fail there."""
        return f"models:/{self.model_id}"

    def describe(self) -> str:
        registered = f" ({self.registered_name} version {self.version})" if self.version else ""
        return f"{self.uri}{registered}"


def resolve_model_uri(uri: str) -> LoggedModelRef:
    """``models:/<id>``, ``models:/<name>/<version>``, ``models:/<name>@<alias>`` or
    ``runs:/<run_id>/<path>``: the logged model it names, and its registered version."""
    import mlflow
    from mlflow import MlflowClient

    try:
        # The MLmodel file names its logged model; MLflow 3.0's ModelInfo.model_id raises.
        info = mlflow.models.Model.load(uri)
    except Exception as error:  # MLflow raises several types for a bad URI
        raise server_error(error, uri) or ModelNotFoundError(
            f"No logged model at {uri}: {type(error).__name__}: {redact(str(error))}\n"
            "Fix: pass models:/<model_id>, models:/<name>/<version>, models:/<name>@<alias> "
            "or runs:/<run_id>/<path>, with the tracking URI of conf/<env>/mlflow.yml."
        ) from error
    if info.model_id is None:
        raise ModelNotFoundError(
            f"{uri} is a model MLflow 2 logged as run artifacts; it has no logged model id, "
            "so its signature cannot be set.\nFix: log it again with MLflow 3."
        )
    source = f"models:/{info.model_id}"
    versions = [
        version
        for version in MlflowClient().search_model_versions(f"run_id = '{info.run_id}'")
        if version.source == source
    ]
    named = uri.removeprefix("models:/").split("/")[0].split("@")[0]
    version = next((v for v in versions if v.name == named), versions[0] if versions else None)
    if version is None:
        return LoggedModelRef(info.model_id)
    return LoggedModelRef(info.model_id, version.name, int(version.version))


def set_signature(model: LoggedModelRef, signature: ModelSignature) -> ModelSignature | None:
    """Writes ``signature`` into the logged model's MLmodel; returns it as MLflow reads it back."""
    import mlflow

    mlflow.models.set_signature(model.uri, signature)
    return mlflow.models.get_model_info(model.uri).signature
