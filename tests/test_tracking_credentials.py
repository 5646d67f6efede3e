"""An authenticated tracking server: the credentials kedro-mlflow reads, and none leaks.

One ``mlflow server --app-name basic-auth`` for the module, with a user whose password
is in the project's ``credentials.yml``, in the entry that ``mlflow.yml``'s
``server.credentials`` names: kedro-mlflow's own way. The tests' process never holds
that password in its environment, so every command reaches the server with what the
project says, or not at all.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from servers import Server, free_port, mlflow_server
from support import (
    Project,
    RunResult,
    example_copy,
    logged_models,
    stderr_logging,
    written_requirements,
)

USER, PASSWORD = "alice", f"pw-{secrets.token_hex(12)}"
ADMIN, ADMIN_PASSWORD = "admin", f"admin-{secrets.token_hex(12)}"
MODEL = "models:/house_prices/1"
REGISTERED = written_requirements(registered_model_name="house_prices")


@dataclass
class Authenticated:
    """The project, the server, and every output a command printed, to search for secrets."""

    project: Project
    server: Server
    outputs: list[str] = field(default_factory=list)

    def kedro(self, *args: str, env: dict[str, str] | None = None) -> RunResult:
        result = self.project.kedro(*args, env=env)
        self.outputs.append(result.output)
        return result

    def dryrun_json(self, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        """``kedro dryrun --json``, stdout parsed alone; the exit code under ``exit_code``."""
        recipe = stderr_logging(self.project.path.parent)
        result = self.kedro("dryrun", "--json", *args, env={**recipe, **(env or {})})
        return {**json.loads(result.stdout), "exit_code": result.returncode}


def _credentials(user: str, password: str) -> AbstractContextManager[Any]:
    return mock.patch.dict(
        os.environ, {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password}
    )


def _project_conf(project: Project, env: str, tracking_uri: str, password: str) -> None:
    """``mlflow.yml`` names the ``credentials.yml`` entry, as kedro-mlflow documents it."""
    project.write(
        f"conf/{env}/mlflow.yml",
        f"""
        server:
          mlflow_tracking_uri: {tracking_uri}
          credentials: mlflow_credentials
        tracking:
          experiment:
            name: house_prices
        """,
    )
    project.write(
        f"conf/{env}/credentials.yml",
        f"""
        mlflow_credentials:
          MLFLOW_TRACKING_USERNAME: {USER}
          MLFLOW_TRACKING_PASSWORD: {password}
        """,
    )


@pytest.fixture(scope="module")
def authenticated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Authenticated]:
    """The server, its user, and the example trained once without the plugin's check:
    ``house_prices`` version 1, logged without an output schema."""
    from mlflow.server.auth.client import AuthServiceClient

    root = tmp_path_factory.mktemp("auth_server")
    (root / "basic_auth.ini").write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{root / 'auth.db'}\n"
        f"admin_username = {ADMIN}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # One password hash per user and minute, not per request: a run makes hundreds.
        "auth_cache_ttl_seconds = 600\n"
    )
    server_env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(root / "basic_auth.ini"),
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
    }
    assert "MLFLOW_TRACKING_PASSWORD" not in os.environ
    with mlflow_server(root, "--app-name=basic-auth", env=server_env) as server:
        with _credentials(ADMIN, ADMIN_PASSWORD):
            AuthServiceClient(server.url).create_user(USER, PASSWORD)
        project = example_copy(tmp_path_factory.mktemp("authenticated") / "project")
        _project_conf(project, "local", server.url, PASSWORD)
        project.set_log_model_kwargs(REGISTERED)
        setup = Authenticated(project, server)
        trained = setup.kedro("run", "--pipeline=training", "--no-output-schema")
        assert trained.returncode == 0, trained.output
        yield setup


def _assert_no_password(setup: Authenticated) -> None:
    """Not in any output, tag, report, logged file or row of the tracking store."""
    for output in setup.outputs:
        assert PASSWORD not in output
    secret = PASSWORD.encode()
    stored = [setup.server.root / "server.db", *setup.server.artifacts.rglob("*")]
    leaked = [path for path in stored if path.is_file() and secret in path.read_bytes()]
    assert not leaked


def test_backfill_then_training_with_the_credentials_of_credentials_yml(authenticated):
    import mlflow
    from mlflow import MlflowClient

    backfill = authenticated.dryrun_json("--model-uri", MODEL, "--set-signature")
    trained = authenticated.kedro("run", "--pipeline=training")

    assert backfill["exit_code"] == 0, backfill
    assert backfill["status"] == "passed"
    assert backfill["drift"]["reason"] == "'house_prices' has no earlier version"
    assert trained.returncode == 0, trained.output
    assert "Serve check passed" in trained.output
    url = authenticated.server.url
    with _credentials(USER, PASSWORD):
        mlflow.set_tracking_uri(url)
        client = MlflowClient(url)
        backfilled = mlflow.models.get_model_info(MODEL).signature
        version_2 = client.get_model_version("house_prices", "2")
        assert version_2.run_id, "version 2 names the run that logged it"
        run = client.get_run(version_2.run_id)
        (model,) = logged_models(client, run)
        report = json.loads(
            Path(
                mlflow.artifacts.download_artifacts(
                    run_id=run.info.run_id,
                    artifact_path="dryrun/report.json",
                    dst_path=str(authenticated.project.path.parent / "downloaded"),
                )
            ).read_text()
        )
    assert [spec.name for spec in backfilled.outputs.inputs] == ["price", "band"]
    # The training run read the registry through the same credentials: drift against
    # the version the backfill gave an output schema.
    assert run.data.tags["dryrun.status"] == "passed"
    assert run.data.tags["dryrun.drift"] == "none"
    assert report["drift"]["compared_with"] == {"name": "house_prices", "version": 1}
    assert report["serve"]["model_uri"] == f"models:/{model.model_id}"
    assert all(PASSWORD not in value for value in run.data.tags.values())
    _assert_no_password(authenticated)


def test_preflight_needs_no_server_and_shows_no_credential(authenticated):
    report = authenticated.dryrun_json()

    assert report["exit_code"] == 0, report
    assert report["status"] == "passed"
    _assert_no_password(authenticated)


def test_a_wrong_password_is_an_error_of_its_own(authenticated):
    project, wrong = authenticated.project, f"wrong-{secrets.token_hex(8)}"
    _project_conf(project, "wrong_password", authenticated.server.url, wrong)

    report = authenticated.dryrun_json("--env", "wrong_password", "--model-uri", MODEL)

    assert report["exit_code"] == 2, report
    assert report["status"] == "error"
    assert report["reason"].startswith(
        f"The tracking server {authenticated.server.url} refused the credentials (HTTP 401) "
        f"while reading {MODEL}."
    )
    assert "credentials.yml" in report["reason"] and "No logged model" not in report["reason"]
    assert all(wrong not in output for output in authenticated.outputs)
    _assert_no_password(authenticated)


def test_an_unreachable_server_is_an_error_of_its_own(authenticated):
    project, offline = authenticated.project, f"http://127.0.0.1:{free_port()}"
    _project_conf(project, "offline", offline, PASSWORD)

    report = authenticated.dryrun_json(
        "--env", "offline", "--model-uri", MODEL, env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    )

    assert report["exit_code"] == 2, report
    assert report["status"] == "error"
    assert report["reason"].startswith(
        f"The tracking server {offline} did not answer while reading {MODEL}:"
    )
    assert "No logged model" not in report["reason"]
    _assert_no_password(authenticated)
