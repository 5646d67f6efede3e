"""The explore tests' projects: the example with one node changed so that its model
answers some admitted requests wrongly, one per finding kind, and their training run in
this process (``KedroSession``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from support import MlflowView, Project, in_project, session_run

#: Requirements written by hand: MLflow's inference (a subprocess) is not what is tested.
LOG_MODEL_KWARGS = '{"name": "house_prices", "pip_requirements": ["kedro-mlflow", "pandas"]}'
SETTINGS = {"drop_columns": ["price"], "environment": "off", "explore": 50, "explore_seconds": 120}

BATCH_DEPENDENT = """
    _priced = predict_prices

    def predict_prices(design, regressor, price_bands):
        prices = _priced(design, regressor, price_bands)
        prices["band"] = np.where(prices["price"] > prices["price"].median(), "high", "low")
        return prices
"""
NONDETERMINISTIC = """
    _priced = predict_prices

    def predict_prices(design, regressor, price_bands):
        prices = _priced(design, regressor, price_bands)
        prices["price"] += np.random.default_rng().normal(0, 1000, len(prices))
        return prices
"""
UNANSWERED = """
    _designed = design_matrix

    def design_matrix(houses, regressor):
        position = {city: i for i, city in enumerate(regressor["cities"])}
        [position[city] for city in houses["city"]]
        return _designed(houses, regressor)
"""
ROW_COUNT = """
    _priced = predict_prices

    def predict_prices(design, regressor, price_bands):
        prices = _priced(design, regressor, price_bands)
        return prices[design[:, 1] > 0].reset_index(drop=True)
"""
SCHEMA_MISMATCH = """
    _priced = predict_prices

    def predict_prices(design, regressor, price_bands):
        prices = _priced(design, regressor, price_bands)
        prices["band"] = prices["band"].astype(object).where(design[:, 1] > 0, None)
        return prices
"""
NON_FINITE = """
    _priced = predict_prices

    def predict_prices(design, regressor, price_bands):
        prices = _priced(design, regressor, price_bands)
        with np.errstate(divide="ignore", invalid="ignore"):
            prices["per_m2"] = prices["price"] / np.maximum(design[:, 1], 0)
        return prices
"""
#: kind -> the node changed, the settings added, the output column the finding names.
MODELS: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "passes": ("", {}, None),
    "batch_dependent": (BATCH_DEPENDENT, {}, "band"),
    "nondeterministic": (NONDETERMINISTIC, {}, "price"),
    "unanswered": (UNANSWERED, {}, None),
    "row_count": (ROW_COUNT, {}, "price"),
    "schema_mismatch": (SCHEMA_MISMATCH, {}, "band"),
    "non_finite": (NON_FINITE, {"strict_json": True}, "per_m2"),
}


@dataclass
class Trained:
    project: Project
    view: MlflowView

    @property
    def explore(self) -> dict[str, Any]:
        assert self.view.report is not None
        return self.view.report["explore"]

    def finding(self, kind: str) -> dict[str, Any]:
        found = {finding["kind"]: finding for finding in self.explore["findings"]}
        assert kind in found, self.explore
        return found[kind]


def train(
    project: Project, node: str, log_model_kwargs: str = LOG_MODEL_KWARGS, **settings: Any
) -> None:
    """A training run of ``project`` with ``node`` changed, in this process."""
    project.override_node(node)
    project.set_log_model_kwargs(log_model_kwargs)
    project.set_dryrun(**{**SETTINGS, **settings})
    with in_project(project):
        session_run(project, pipeline_name="training")
