"""``kedro dryrun`` as a user sees it: the pre-flight, logged models, drift. In a subprocess
where the process is what is tested (what it writes, a traceback, ``--json``, the lowest
versions), else Kedro's CLI in the test's process."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from test_end_to_end import DECIMAL_PRICES

from support import (
    Project,
    RunResult,
    example_copy,
    logged_models,
    relocated_copy,
    stderr_logging,
    track_in_project,
    written_requirements,
)

#: A project's own conf/logging.yml whose handler writes to stdout, as many do.
PROJECT_LOGGING = """
version: 1
disable_existing_loggers: False
formatters:
  plain:
    format: "%(name)s - %(message)s"
handlers:
  console:
    class: logging.StreamHandler
    formatter: plain
    stream: ext://sys.stdout
root:
  level: INFO
  handlers: [console]
"""
REGISTERED = written_requirements(registered_model_name="house_prices")
NO_BAND = """
    _predict_prices = predict_prices

    def predict_prices(design, regressor, price_bands):
        return _predict_prices(design, regressor, price_bands).drop(columns=["band"])
"""
PRICE_AS_TEXT = """
    _predict_number = predict_prices

    def predict_prices(design, regressor, price_bands):
        return _predict_number(design, regressor, price_bands).astype({"price": str})
"""


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root``, with its size and modification time."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
        if path.is_file()
    }


def _json(project: Project, *args: str) -> tuple[RunResult, dict[str, Any]]:
    """``kedro dryrun --json`` in this process, its stdout parsed alone (what a process's
    stdout holds is :func:`test_json_stdout_is_the_report_alone_after_kedros_import_line`'s)."""
    result = project.kedro_here("dryrun", "--json", *args)
    return result, json.loads(result.stdout)


def _client(project: Project) -> MlflowClient:
    mlflow.set_tracking_uri(project.tracking_uri)
    return MlflowClient(project.tracking_uri)


def _runs(project: Project) -> list[Any]:
    """The project's MLflow runs, oldest first."""
    client = _client(project)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, order_by=["attributes.start_time ASC"])


@pytest.fixture(scope="module")
def _registered_without_dryrun(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The example, its model registered as 'house_prices', trained with the dry run off."""
    project = example_copy(tmp_path_factory.mktemp("without_dryrun") / "project")
    project.set_log_model_kwargs(REGISTERED)
    # In a subprocess: the tests take copies, and a run in this process would leave
    # conf/local/mlflow.yml naming this store by its absolute path (support.in_project).
    result = project.kedro("run", "--pipeline=training", "--no-output-schema")
    assert result.returncode == 0, result.output
    return project


@pytest.fixture
def trained_without_dryrun(_registered_without_dryrun: Project, tmp_path: Path) -> Project:
    """A copy of it (its model, its store and the store's artifacts), for a test to change."""
    return relocated_copy(_registered_without_dryrun, tmp_path / "project")


def _train(project: Project) -> None:
    result = project.kedro_here("run", "--pipeline=training")
    assert result.returncode == 0, result.output


def test_dryrun_is_listed_by_kedro_and_has_its_own_help(project):
    listed = project.kedro_here("--help")
    helped = project.kedro_here("dryrun", "--help")

    assert listed.returncode == 0 and "dryrun" in listed.output
    assert helped.returncode == 0, helped.output
    for option in ("--pipeline", "--env", "--params", "--model-uri", "--set-signature"):
        assert option in helped.output
    for option in ("--input", "--fresh", "--json"):
        assert option in helped.output
    misused = project.kedro_here("dryrun", "--set-signature")
    assert misused.returncode == 2
    assert "--set-signature, --input and --fresh need --model-uri." in misused.output


@pytest.mark.lowest
def test_preflight_in_a_trained_project_passes_and_writes_nothing(trained_project):
    project = trained_project
    track_in_project(project)
    before = _snapshot(project.path)

    result = project.kedro_here("dryrun")

    assert result.returncode == 0, result.output
    assert (
        "Dry run passed: 100 rows of 'houses' (partial read of the catalog entry) -> "
        "'predictions' (DataFrame), output schema (price: double, band: string)"
    ) in result.output
    assert "Signature a training run would log:" in result.output
    assert "outputs: ['price': double (required), 'band': string (required)]" in result.output
    assert _snapshot(project.path) == before, "the pre-flight must write nothing"
    assert len(_runs(project)) == 1, "the pre-flight must start no MLflow run"


def test_preflight_needs_no_tracking_store(trained_project):
    project = trained_project
    (project.path / "mlflow.db").unlink()
    track_in_project(project)
    before = _snapshot(project.path)

    result = project.kedro_here("dryrun", "--params=price_bands.low=1")

    assert result.returncode == 0, result.output
    assert _snapshot(project.path) == before
    assert not (project.path / "mlflow.db").exists()


def test_preflight_names_a_decimal_and_exits_1(trained_project):
    project = trained_project
    project.override_node(DECIMAL_PRICES)

    result = project.kedro("dryrun")

    assert result.returncode == 1, result.output
    assert (
        "Error: Output 'predictions' of node 'predict_prices' cannot be served: MLflow's "
        "scoring server cannot turn it into JSON"
    ) in result.output
    assert "column 'price', row 0 holds a Decimal" in result.output
    assert "Fix: convert Decimal to float." in result.output
    assert "The model was logged anyway" not in result.output
    assert "Traceback" not in result.output


def test_preflight_before_any_training_says_what_is_missing(project):
    (project.path / "mlflow.db").unlink()

    result = project.kedro_here("dryrun")

    assert result.returncode == 1, result.output
    assert "Error: The inference pipeline needs 'regressor'" in result.output
    assert not (project.path / "mlflow.db").exists()


def _report_after_kedros_line(result: RunResult) -> dict[str, Any]:
    """The report on stdout, after the one line Kedro logs while its CLI module is imported
    (before any ``kedro.init`` entry point runs): nothing else comes before or after it."""
    start = result.stdout.find("{\n")
    before = result.stdout[:start]
    assert start >= 0 and before.count("Using") <= 1 and "Dry run" not in before, result.stdout
    return json.loads(result.stdout[start:])


def test_json_stdout_is_the_report_alone_after_kedros_import_line(trained_project):
    """Whatever the logging (Kedro's default; a project's own logging.yml whose StreamHandler
    holds sys.stdout; a logging configuration on stderr), stdout holds the report for a
    failure (1), an error (2) and a pass (0), and Kedro's and the plugin's later lines go to
    stderr; with the logging on stderr, stdout parses whole."""
    project = trained_project
    regressor = project.path / "data/06_models/regressor.pkl"
    kept = regressor.rename(project.path / "regressor.pkl")
    failure = project.kedro("dryrun", "--json")  # as before any training: no regressor
    kept.rename(regressor)
    error = project.kedro(
        "dryrun",
        "--json",
        "--model-uri",
        "models:/no_such_model/1",
        env=stderr_logging(project.path.parent),
    )
    error_report = json.loads(error.stdout)
    passed = project.kedro("dryrun", "--json")
    project.write("conf/logging.yml", PROJECT_LOGGING)
    own_passed = project.kedro("dryrun", "--json")

    expected = [(failure, 1, "failed"), (passed, 0, "passed"), (own_passed, 0, "passed")]
    for result, code, status in expected:
        assert result.returncode == code, result.output
        assert _report_after_kedros_line(result)["status"] == status
    assert (
        "The inference pipeline needs 'regressor'" in _report_after_kedros_line(failure)["reason"]
    )
    assert error.returncode == 2 and error_report["status"] == "error"
    assert "No logged model" in error_report["message"]
    for result in (passed, own_passed):
        assert "Dry run passed" in result.stderr
    # the project's own format, on stderr
    assert re.search(r"^kedro_mlflow_dryrun[\w.]* - Dry run passed", own_passed.stderr, re.M)


@pytest.mark.lowest
def test_backfill_sets_the_output_schema_of_a_model_logged_without_it(trained_without_dryrun):
    project = trained_without_dryrun
    (model,) = logged_models(_client(project), _runs(project)[0])
    uri = f"models:/{model.model_id}"
    before = mlflow.models.get_model_info(uri).signature
    assert before.outputs is None

    result = project.kedro_here("dryrun", "--model-uri", uri, "--set-signature")

    assert result.returncode == 0, result.output
    after = mlflow.models.get_model_info(uri).signature
    assert [(c.name, repr(c.type)) for c in after.outputs.inputs] == [
        ("price", "double"),
        ("band", "string"),
    ]
    assert after.inputs == before.inputs and after.params == before.params
    assert f"Signature of {uri} (house_prices version 1):\n  inputs:" in result.output
    assert "  outputs: None\n" in result.output
    assert "Signature written:\n" in result.output
    assert len(_runs(project)) == 1, "a backfill starts no MLflow run"


def test_every_model_uri_form_reaches_the_logged_model(trained_without_dryrun):
    project = trained_without_dryrun
    client = _client(project)
    run_id = _runs(project)[0].info.run_id
    model_id = mlflow.models.get_model_info("models:/house_prices/1").model_id
    client.set_registered_model_alias("house_prices", "champion", "1")
    requests = project.path / "requests.json"
    pd.read_csv(project.path / "data/01_raw/houses.csv").head(7).to_json(requests, orient="records")

    by_version, written = _json(project, "--model-uri", "models:/house_prices/1", "--set-signature")
    by_alias, aliased = _json(project, "--model-uri", "models:/house_prices@champion")
    fresh = project.kedro_here("dryrun", "--model-uri", "models:/house_prices@champion", "--fresh")
    by_run = project.kedro_here(
        "dryrun", "--model-uri", f"runs:/{run_id}/house_prices", "--input", str(requests)
    )

    for result in (by_version, by_alias, by_run):
        assert result.returncode == 0, result.output
    assert written["model_uri"] == aliased["model_uri"] == f"models:/{model_id}"
    assert written["status"] == aliased["status"] == "passed"
    # Logged without the plugin, the model does not ship the project's package:
    # --fresh runs the after-logging stages, which say it cannot serve elsewhere.
    assert fresh.returncode == 1, fresh.output
    assert "'house_prices'" in fresh.output and "code_paths" in fresh.output
    assert mlflow.models.get_model_info(f"models:/{model_id}").signature.outputs is not None
    assert f"Signature of models:/{model_id} (house_prices version 1):" in by_run.output
    assert "7 rows of 'requests.json' (read from requests.json)" in by_run.output


def test_an_unknown_model_uri_could_not_be_checked_exit_2(project):
    result = project.kedro("dryrun", "--model-uri", "models:/no_such_model/1")
    as_json, report = _json(project, "--model-uri", "models:/no_such_model/1")
    misused, usage = _json(project, "--set-signature")

    assert result.returncode == 2, result.output
    assert "Error: No logged model at models:/no_such_model/1" in result.output
    assert "Traceback" not in result.output
    assert as_json.returncode == 2, as_json.output
    assert report["status"] == "error"
    assert report["reason"].startswith("No logged model at models:/no_such_model/1")
    assert "Error: No logged model" in as_json.stderr
    assert misused.returncode == 2, misused.output
    assert usage["status"] == "error"
    needs = "--set-signature, --input and --fresh need --model-uri."
    assert usage["reason"] == usage["message"] == needs


def test_an_unexpected_exception_is_an_error_report_exit_2(monkeypatch):
    """In-process: the plugin's own bug, before any stage, still prints a report."""
    from click.testing import CliRunner

    from kedro_mlflow_dryrun.framework import cli, project

    def broken(*args: object) -> None:
        raise RuntimeError("a bug of the plugin's")

    monkeypatch.setattr(project, "project_context", broken)

    result = CliRunner().invoke(cli.commands, ["dryrun", "--json"], obj=None)

    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "error" and report["message"] == report["reason"]
    assert report["reason"].startswith(
        "The dry run could not check the model: kedro dryrun raised RuntimeError: "
        "a bug of the plugin's"
    )
    assert "kedro-mlflow-dryrun 0." in report["reason"]
    assert "logged all the same" not in report["reason"]
    assert "Error: The dry run could not check the model" in result.stderr


def test_dropping_an_output_column_is_breaking_drift_which_warns_or_fails(project):
    project.set_log_model_kwargs(REGISTERED)
    _train(project)
    project.override_node(NO_BAND)

    warned = project.kedro_here("run", "--pipeline=training")

    assert warned.returncode == 0, warned.output
    assert (
        "Output schema drift (breaking) against 'house_prices' version 1: removed 'band'"
    ) in warned.output
    first, second = _runs(project)
    assert first.data.tags["dryrun.drift"] == "none"
    assert second.data.tags["dryrun.drift"] == "breaking"
    assert second.data.tags["dryrun.status"] == "passed"

    checked, report = _json(project, "--model-uri", "models:/house_prices/2")

    assert checked.returncode == 0, checked.output
    drift = report["drift"]
    assert drift["verdict"] == "breaking"
    assert drift["compared_with"] == {"name": "house_prices", "version": 1}
    assert drift["removed"] == ["band"]

    project.set_dryrun(drop_columns=["price"], on_drift="fail")
    project.override_node(PRICE_AS_TEXT)
    failed = project.kedro_here("run", "--pipeline=training")

    assert failed.returncode == 1, failed.output
    assert (
        "Error: Output schema drift (breaking) against 'house_prices' version 2: 'price' "
        "changed from double to string."
    ) in failed.output
    assert "The model was logged anyway" in failed.output
    third = _runs(project)[2]
    assert third.info.status == "FINISHED"
    assert third.data.tags["dryrun.drift"] == "breaking"
    assert _client(project).get_model_version("house_prices", "3").status == "READY"
