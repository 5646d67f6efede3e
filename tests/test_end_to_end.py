"""``kedro run`` in a subprocess on a real project, read back as a user would."""

from __future__ import annotations

import re
import shutil

import pytest

from support import EXAMPLE, INFERRED

DECIMAL_PRICES = """
    def predict_prices(design, regressor, price_bands):
        from decimal import Decimal

        import pandas as pd

        prices = design @ regressor["coefficients"]
        return pd.DataFrame({"price": [Decimal(str(round(p, 2))) for p in prices]})
"""

RAISING_PRICES = """
    def predict_prices(design, regressor, price_bands):
        raise KeyError("price_bands has no 'medium'")
"""

MARKED_DESIGN = """
    _design_matrix = design_matrix

    def design_matrix(houses, regressor):
        from pathlib import Path

        Path("inference_ran.marker").touch()
        return _design_matrix(houses, regressor)
"""


def _assert_model_logged_and_run_closed(view) -> None:
    assert len(view.models) == 1, "kedro-mlflow must log exactly one model"
    assert view.run.info.status == "FINISHED"


@pytest.mark.lowest
def test_training_run_records_the_output_schema_on_the_logged_model(project):
    # The example as it is: its own dryrun.yml (explore at its default, the README's
    # numbers), MLflow inferring its requirements.
    shutil.copy(EXAMPLE / "conf/base/dryrun.yml", project.path / "conf/base/dryrun.yml")
    project.set_log_model_kwargs(INFERRED)

    result = project.kedro("run", "--pipeline=training")

    assert result.returncode == 0, result.output
    assert "Dry run passed: 100 rows of 'houses' -> 'predictions' (DataFrame)" in result.output
    assert "(price: double, band: string)" in result.output
    view = project.mlflow_view()
    _assert_model_logged_and_run_closed(view)
    outputs = view.signature.outputs.to_dict()
    assert [(c["name"], c["type"]) for c in outputs] == [("price", "double"), ("band", "string")]
    assert view.signature.inputs.input_names() == ["area", "rooms", "age", "city"]
    assert {p.name for p in view.signature.params.params} == {"price_bands", "runner"}
    assert view.tags["dryrun.status"] == "passed"
    assert view.tags["dryrun.output"] == "predictions"
    report = view.report
    assert report["status"] == "passed"
    assert report["sample_rows"] == 100
    assert report["sample_source"] == "captured from training"
    assert report["output_name"] == "predictions"
    assert report["output_type"] == "DataFrame"
    assert report["json"]["serializable"] is True
    assert report["signature"]["outputs"] == outputs
    assert set(report["seconds"]) == {
        *("environment", "capture", "sample", "infer", "request", "execute", "check"),
        *("contract", "drift", "total", "serve", "explore", "spark"),
    }
    assert view.tags["dryrun.environment"] == report["environment"]["status"] == "passed"
    assert report["serve"]["status"] == 200 and report["serve"]["rows"] == 100
    assert "Serve check passed" in result.output
    assert view.tags["dryrun.explore"] == report["explore"]["status"] == "passed"
    # 50 requests: explore_seconds is a safety cap (a cut search is "incomplete").
    assert re.search(r"Explore: \d+ requests the signature admits, 0 findings", result.output)
    verdict = "dry run passed, serve check passed, environment passed, explore passed"
    assert f"Dry run verdict: passed ({verdict})" in result.output
    assert report["input_type"] == "pandas.DataFrame"
    unset = sorted(key for key, value in report.items() if value is None)
    assert unset == ["drift", "reason", "stage"], "passed, with no registered model to compare"
    assert view.model_info.saved_input_example_info["type"] == "dataframe"
    assert report["versions"]["mlflow"] and report["versions"]["kedro"]
    written = sorted(p.name for p in (project.path / "data/07_model_output").iterdir())
    assert written == [".gitkeep"], "the dry run must not write the inference output"


def test_no_output_schema_skips_the_dry_run_and_leaves_kedro_mlflow_alone(project):
    project.override_node(MARKED_DESIGN)

    result = project.kedro_here("run", "--pipeline=training", "--no-output-schema")

    assert result.returncode == 0, result.output
    assert not (project.path / "inference_ran.marker").exists()
    assert "Dry run skipped: kedro run --no-output-schema" in result.output
    view = project.mlflow_view()
    _assert_model_logged_and_run_closed(view)
    assert view.signature.outputs is None
    # kedro-mlflow's own signature: the whole input, target included, reloaded.
    assert view.signature.inputs.input_names() == ["area", "rooms", "age", "city", "price"]
    assert view.tags["dryrun.status"] == "skipped"
    assert view.report is None


def test_enabled_false_in_dryrun_yml_skips_like_the_flag(project):
    project.override_node(MARKED_DESIGN)
    project.set_dryrun(enabled=False)

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 0, result.output
    assert not (project.path / "inference_ran.marker").exists()
    view = project.mlflow_view()
    assert view.signature.outputs is None
    assert view.tags["dryrun.status"] == "skipped"


def test_the_marker_shows_when_the_dry_run_does_run(project):
    """Guards the two tests above: the marker node does write when it runs."""
    project.override_node(MARKED_DESIGN)

    assert project.kedro_here("run", "--pipeline=training").returncode == 0
    assert (project.path / "inference_ran.marker").exists()


def test_run_help_shows_the_flag_and_keeps_kedro_options(project):
    result = project.kedro_here("run", "--help")

    assert result.returncode == 0, result.output
    for option in ("--no-output-schema", "--pipelines", "--runner", "--params", "--env", "--nodes"):
        assert option in result.output


def test_kedro_options_still_work_with_the_flag(project):
    result = project.kedro_here(
        "run",
        "--pipelines=training",
        "--runner=ThreadRunner",
        "--params=price_bands.low=1",
        "--no-output-schema",
    )

    assert result.returncode == 0, result.output
    assert project.mlflow_view().tags["dryrun.status"] == "skipped"


@pytest.mark.lowest
def test_decimal_output_fails_the_run_after_the_model_is_logged(project):
    project.override_node(DECIMAL_PRICES)

    result = project.kedro("run", "--pipeline=training")

    assert result.returncode == 1, result.output
    message = result.output[result.output.index("Error: ") :]
    assert "Output 'predictions' of node 'predict_prices' cannot be served" in message
    assert "column 'price', row 0 holds a Decimal" in message
    assert "Fix: convert Decimal to float" in message
    assert "on_failure: warn" in message
    assert "Traceback" not in result.output
    view = project.mlflow_view()
    _assert_model_logged_and_run_closed(view)
    assert view.tags["dryrun.status"] == "failed"
    assert "cannot be served" in view.report["reason"]
    assert view.report["json"]["offender"]["type_name"] == "Decimal"


def test_on_failure_warn_logs_the_failure_and_exits_zero(project):
    project.override_node(DECIMAL_PRICES)
    project.set_dryrun(on_failure="warn")

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 0, result.output
    assert "Dry run failed" in result.output
    assert "Output 'predictions' of node 'predict_prices' cannot be served" in result.output
    # No error follows a warning: the log line itself says where and how to fix it.
    assert "column 'price', row 0 holds a Decimal" in result.output
    assert "Fix: convert Decimal to float." in result.output
    view = project.mlflow_view()
    _assert_model_logged_and_run_closed(view)
    assert view.tags["dryrun.status"] == "failed"


def test_inference_node_that_raises_names_the_node_and_keeps_the_model(project):
    project.override_node(RAISING_PRICES)

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 1, result.output
    assert "node 'predict_prices'" in result.output
    assert "KeyError" in result.output and "price_bands has no 'medium'" in result.output
    view = project.mlflow_view()
    _assert_model_logged_and_run_closed(view)
    assert view.tags["dryrun.status"] == "failed"
    # kedro-mlflow still gets an input signature, taken from the sample.
    assert view.signature.inputs.input_names() == ["area", "rooms", "age", "city"]
    assert view.signature.outputs is None


@pytest.mark.parametrize("setting", ["None"])
def test_signature_none_logs_no_signature_but_still_checks_json(project, setting):
    project.override_node(DECIMAL_PRICES)
    project.set_log_model_kwargs(f'{{"name": "house_prices", "signature": {setting}}}')

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 1, result.output
    view = project.mlflow_view()
    _assert_model_logged_and_run_closed(view)
    assert view.signature is None
    assert view.report["json"]["serializable"] is False


def test_a_pipeline_that_is_not_pipeline_ml_is_left_alone(project):
    project.append(
        "src/house_prices/pipeline_registry.py",
        """
        _register_ml = register_pipelines

        def register_pipelines():
            from house_prices.pipelines import training_pipeline

            return {**_register_ml(), "plain": training_pipeline()}
        """,
    )

    result = project.kedro_here("run", "--pipeline=plain")

    assert result.returncode == 0, result.output
    assert "Dry run" not in result.output
    view = project.mlflow_view()
    assert view.models == []
    assert not any(tag.startswith("dryrun.") for tag in view.tags)
