"""Drift: the output schema against the latest earlier version of the registered model."""

from __future__ import annotations

import socket

import pandas as pd
import pytest
from mlflow.types import ColSpec, Schema

from kedro_mlflow_dryrun.stages.drift import describe, schema_drift

from engine_contexts import dry_run, output_context

PREVIOUS = Schema([ColSpec("double", "price"), ColSpec("string", "band", required=False)])


def _drift(*columns: ColSpec) -> dict:
    return schema_drift(PREVIOUS, Schema(list(columns)))


def test_the_same_columns_are_no_drift():
    drift = _drift(ColSpec("double", "price"), ColSpec("string", "band", required=False))

    assert drift == {
        "verdict": "none",
        "removed": [],
        "added": [],
        "changed": [],
        "now_required": [],
    }


def test_an_added_column_is_compatible():
    drift = _drift(
        ColSpec("double", "price"),
        ColSpec("string", "band", required=False),
        ColSpec("string", "c"),
    )

    assert drift["verdict"] == "compatible"
    assert drift["added"] == ["c"]


def test_a_removed_column_is_breaking():
    drift = _drift(ColSpec("double", "price"))

    assert drift["verdict"] == "breaking"
    assert drift["removed"] == ["band"]


def test_a_changed_type_is_breaking():
    drift = _drift(ColSpec("string", "price"), ColSpec("string", "band", required=False))

    assert drift["verdict"] == "breaking"
    assert drift["changed"] == [{"column": "price", "was": "double", "now": "string"}]


def test_an_optional_column_becoming_required_is_breaking():
    drift = _drift(ColSpec("double", "price"), ColSpec("string", "band"))

    assert drift["verdict"] == "breaking"
    assert drift["now_required"] == ["band"]


def test_the_log_line_names_the_columns_and_the_version():
    drift = _drift(ColSpec("long", "price"), ColSpec("string", "currency"))
    drift["compared_with"] = {"name": "house_prices", "version": 3}

    message = describe(drift)

    assert message.startswith(
        "Output schema drift (breaking) against 'house_prices' version 3: removed 'band'; "
        "'price' changed from double to long; added 'currency'."
    )
    assert "Fix: " in message


@pytest.fixture
def unreachable_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tracking server that refuses connections, without MLflow's retries.

    Set through the environment, and undone: ``mlflow.set_registry_uri`` would leave
    ``MLFLOW_REGISTRY_URI`` set for every later ``kedro`` subprocess.
    """
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for variable, value in {
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_REGISTRY_URI": url,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "2",
    }.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    monkeypatch.setattr(registry_utils, "_registry_uri", None)


def test_an_unreachable_registry_warns_and_never_fails_the_dry_run(unreachable_registry):
    context = output_context(pd.DataFrame({"price": [1.0]}))
    context.log_model_kwargs["registered_model_name"] = "house_prices"
    context.run_id = "a-training-run"

    report = dry_run(context)

    assert report.status == "passed", report.reason
    assert report.drift is None
    assert report.warnings[0].startswith(
        "Drift not checked: the model registry did not answer for 'house_prices'"
    )


def test_a_model_that_is_not_registered_has_no_drift():
    report = dry_run(output_context(pd.DataFrame({"price": [1.0]})))

    assert report.status == "passed"
    assert report.drift is None
