"""Failures a user fixes from the message alone, each after the model is logged."""

from __future__ import annotations

import pytest

SET_IN_NESTED_DICT = """
    def predict_prices(design, regressor, price_bands):
        prices = design @ regressor["coefficients"]
        return {"prices": prices.tolist(), "meta": {"bands": {"low", "high"}}}
"""

NAN_PRICES = """
    def predict_prices(design, regressor, price_bands):
        import numpy as np
        import pandas as pd

        prices = design @ regressor["coefficients"]
        prices[3] = np.nan
        return pd.DataFrame({"price": prices})
"""

NEEDS_TARGET = """
    _design_matrix = design_matrix

    def design_matrix(houses, regressor):
        houses["price"]  # the target, which serving requests do not carry
        return _design_matrix(houses, regressor)
"""


def _assert_logged(project) -> None:
    view = project.mlflow_view()
    assert len(view.models) == 1 and view.run.info.status == "FINISHED"
    assert view.tags["dryrun.status"] == "failed"


def _error(result) -> str:
    return result.output[result.output.index("Error: ") :]


def test_a_set_in_a_nested_dict_is_located(project):
    project.override_node(SET_IN_NESTED_DICT)

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 1, result.output
    message = _error(result)
    assert "Output 'predictions' of node 'predict_prices' cannot be served" in message
    assert "output['meta']['bands'] holds a set" in message
    assert "Fix: convert the set to a sorted list" in message
    _assert_logged(project)


@pytest.mark.parametrize("on_failure", ["fail", "warn"])
def test_nan_fails_under_strict_json(project, on_failure):
    project.override_node(NAN_PRICES)
    project.set_dryrun(strict_json=True, drop_columns=["price"], on_failure=on_failure)

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == (1 if on_failure == "fail" else 0), result.output
    assert (
        "Output 'predictions' of node 'predict_prices' holds NaN or Infinity, which strict "
        "JSON rejects: column 'price', row 3 holds a float"
    ) in result.output
    _assert_logged(project)


def test_nan_only_warns_by_default(project):
    project.override_node(NAN_PRICES)
    project.set_dryrun(drop_columns=["price"])

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 0, result.output
    assert "holds NaN or Infinity, which strict JSON rejects: column 'price', row 3" in (
        result.output
    )
    view = project.mlflow_view()
    assert view.tags["dryrun.status"] == "passed"
    assert view.report["warnings"]


def test_a_dropped_column_the_pipeline_needs_is_named(project):
    project.override_node(NEEDS_TARGET)

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 1, result.output
    message = _error(result)
    assert "node 'design_matrix'" in message and "KeyError" in message
    assert "It runs when drop_columns ['price'] are kept" in message
    _assert_logged(project)


def test_input_example_rows_zero_logs_no_example(project):
    project.set_dryrun(drop_columns=["price"], input_example_rows=0, serve_check=False)

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 0, result.output
    view = project.mlflow_view()
    assert view.model_info.saved_input_example_info is None
    assert view.report["serve"] is None
    assert view.signature.outputs is not None


def test_a_signature_that_omits_inputs_fails_the_dry_run_with_the_columns(project):
    """An explicit signature that omits inputs makes the served model drop them.

    The dry run gives the pipeline the sample as served, so it fails before the serve check.
    """
    project.append(
        "src/house_prices/pipeline_registry.py",
        """
        from mlflow.models import ModelSignature
        from mlflow.types import ColSpec, Schema

        _register = register_pipelines

        def register_pipelines():
            pipelines = _register()
            pipelines["training"].log_model_kwargs["signature"] = ModelSignature(
                inputs=Schema([ColSpec("double", "area")])
            )
            return pipelines
        """,
    )

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 1, result.output
    assert "The inference pipeline raised in node 'design_matrix'" in result.output
    assert "KeyError" in result.output
    assert "the input schema leaves out 'rooms', 'age', 'city', so a served model" in (
        result.output
    )
    _assert_logged(project)
    assert project.mlflow_view().report["serve"] is None
