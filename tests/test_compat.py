"""A private name of MLflow renamed away: status ``error`` with the name, never a crash."""

from __future__ import annotations

import textwrap

import mlflow
import mlflow.pyfunc.scoring_server  # imports _enforce_schema: before it is removed
import pandas as pd
import pytest

from kedro_mlflow_dryrun import compat

from engine_contexts import dry_run, output_context

#: MLflow's own modules keep the name they imported; only a later lookup misses it.
RENAME_AWAY = """
    import mlflow.pyfunc
    import mlflow.models.utils

    mlflow.models.utils._enforce_schema_renamed = mlflow.models.utils._enforce_schema
    del mlflow.models.utils._enforce_schema
"""


@pytest.fixture
def fresh_lookups():
    """Names are looked up once per process: a test that removes one looks again."""
    compat.private.cache_clear()
    yield
    compat.private.cache_clear()


def test_a_private_renamed_away_is_an_error_naming_it_and_the_versions(monkeypatch, fresh_lookups):
    monkeypatch.delattr(mlflow.models.utils, "_enforce_schema")

    report = dry_run(output_context(pd.DataFrame({"p": [1.0]})))

    assert report.status == "error" and not report.failed
    first, *rest = report.reason.splitlines()
    assert first == (
        f"The dry run could not check the model: mlflow {mlflow.__version__} has no "
        "mlflow.models.utils._enforce_schema, which kedro-mlflow-dryrun "
        f"{report.versions['kedro-mlflow-dryrun']} uses (AttributeError: module "
        "'mlflow.models.utils' has no attribute '_enforce_schema')."
    )
    assert f"kedro {report.versions['kedro']}" in rest[0]
    assert "The model is logged as kedro-mlflow alone logs it" in rest[0]
    assert rest[-1].startswith("Fix: install a version of mlflow that kedro-mlflow-dryrun")


def test_kedro_run_with_a_private_renamed_away_logs_the_model_and_exits_0(project, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(RENAME_AWAY))

    result = project.kedro("run", "--pipeline=training", env={"PYTHONPATH": str(site)})

    assert result.returncode == 0, result.output
    view = project.mlflow_view()
    assert view.tags["dryrun.status"] == "error"
    assert len(view.models) == 1 and view.run.info.status == "FINISHED"
    # Logged as kedro-mlflow alone logs it: every input column, no output schema.
    assert view.signature.inputs.input_names() == ["area", "rooms", "age", "city", "price"]
    assert view.signature.outputs is None
    warnings = [line for line in result.output.splitlines() if "Dry run error" in line]
    assert len(warnings) == 1, result.output
    assert "WARNING" in warnings[0]
    broke = f"mlflow {mlflow.__version__} has no mlflow.models.utils._enforce_schema"
    assert broke in warnings[0] and "kedro-mlflow-dryrun" in warnings[0]
    assert "Traceback" not in result.output
