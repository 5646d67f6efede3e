"""Explore's findings are the served model's: each held against a real ``mlflow models serve``.

Each project is the example with one node changed, trained in this process; what
explore reports (or does not) is checked against what ``mlflow models serve
--env-manager local`` answers for the same bodies over HTTP.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from explore_projects import Trained, train
from servers import ServedModel, models_serve
from support import example_copy

IN_PLACE = """
    _priced = predict_prices

    def predict_prices(design, regressor, price_bands):
        prices = _priced(design, regressor, price_bands)
        regressor["coefficients"][0] += 1000.0  # in place: the served model copies it
        return prices
"""
FLOAT32 = """
    def predict_prices(design, regressor, price_bands):
        weights = regressor["coefficients"].astype(np.float32)
        price = design.astype(np.float32) @ weights
        band = np.where(price < price_bands["low"], "low", "high")
        return pd.DataFrame({"price": price, "band": band})
"""
LAG = """
    _priced = predict_prices

    def predict_prices(design, regressor, price_bands):
        prices = _priced(design, regressor, price_bands)
        prices["previous"] = prices["price"].shift(1).fillna(0.0)
        return prices
"""
MODULE_STATE = """
    import time

    _designed = design_matrix
    _priced = predict_prices
    _last = {}

    def design_matrix(houses, regressor):
        _last["cities"] = houses["city"].fillna("unknown").to_numpy()
        time.sleep(0.02)  # a lookup elsewhere: another request runs meanwhile
        return _designed(houses, regressor)

    def predict_prices(design, regressor, price_bands):
        prices = _priced(design, regressor, price_bands)
        prices["city"] = _last["cities"]
        return prices
"""
TWO_ERRORS = """
    from mlflow.exceptions import MlflowException

    _designed = design_matrix

    def design_matrix(houses, regressor):
        if (houses["rooms"] == 0).any():
            raise MlflowException("a nested model refuses a house of no rooms")
        position = {city: i for i, city in enumerate(regressor["cities"])}
        [position[city] for city in houses["city"]]
        return _designed(houses, regressor)
"""


def trained(tmp_path: Path, node: str, **settings: Any) -> Trained:
    project = example_copy(tmp_path / "project")
    train(project, node, **settings)
    return Trained(project, project.mlflow_view())


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """``mlflow models serve`` of what a training run logged, started on demand."""
    from contextlib import ExitStack

    with ExitStack() as stack:

        def start(result: Trained) -> ServedModel:
            uri = f"models:/{result.view.models[0].model_id}"
            server = models_serve(uri, result.project.tracking_uri, tmp_path / "serve")
            return stack.enter_context(server)

        yield start


def _predictions(answer: tuple[int, str]) -> list[Any]:
    status, text = answer
    assert status == 200, text
    return json.loads(text)["predictions"]


def test_an_artifact_changed_in_place_is_no_finding_as_served(tmp_path, serve):
    """The search shares the artifacts, so it sees answers drift; the served model copies
    them for every request: the finding does not replay, and is only counted."""
    result = trained(tmp_path, IN_PLACE)

    explore = result.explore
    assert result.view.tags["dryrun.explore"] == "passed", explore
    assert explore["findings"] == [] and explore["unconfirmed"] >= 1, explore
    server = serve(result)
    rows = [[120.0, 3, 10, "Paris"], [60.0, 2, 40, "Lyon"]]
    body = {"dataframe_split": {"columns": ["area", "rooms", "age", "city"], "data": rows}}
    answers = [_predictions(server.post(body)) for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]


def test_a_float32_model_is_not_batch_dependent(tmp_path, serve):
    result = trained(tmp_path, FLOAT32)

    explore = result.explore
    assert result.view.tags["dryrun.explore"] == "passed", explore
    assert explore["findings"] == [] and explore["unconfirmed"] == 0, explore
    signature = result.view.signature
    assert {spec.name: repr(spec.type) for spec in signature.outputs.inputs}["price"] == "float"
    server = serve(result)
    rows = [[120.0, 3, 10, "Paris"], [60.0, 2, 40, "Lyon"], [90.5, 4, 2, "Paris"]]
    columns = ["area", "rooms", "age", "city"]
    batch = _predictions(server.post({"dataframe_split": {"columns": columns, "data": rows}}))
    for row, values in enumerate(rows):
        alone = _predictions(
            server.post({"dataframe_split": {"columns": columns, "data": [values]}})
        )
        assert alone[0]["price"] == pytest.approx(batch[row]["price"], rel=1e-6)


def test_a_lag_feature_is_batch_dependent_and_replays_as_served(tmp_path, serve):
    result = trained(tmp_path, LAG)

    finding = result.finding("batch_dependent")
    assert finding["columns"] == ["previous"], finding
    other = finding["other"]
    server = serve(result)
    ours, theirs = (
        _predictions(server.post(finding["request"])),
        _predictions(server.post(other["request"])),
    )
    assert json.loads(finding["answer"])["predictions"] == ours
    assert json.loads(other["answer"])["predictions"] == theirs
    for row, position in other["rows"]:
        # A shrunk request may keep a null area: its price is NaN in both batches.
        assert ours[row]["price"] == theirs[position]["price"] or (
            math.isnan(ours[row]["price"]) and math.isnan(theirs[position]["price"])
        )
        assert ours[row]["previous"] != theirs[position]["previous"]


def test_module_state_shared_between_requests_is_concurrent_and_replays(tmp_path, serve):
    result = trained(tmp_path, MODULE_STATE)

    explore = result.explore
    assert [finding["kind"] for finding in explore["findings"]] == ["concurrent"], explore
    finding = explore["findings"][0]
    together = finding["together"]
    assert len(together) >= 2 and 1 <= finding["differed"] <= len(together)
    assert f"{finding['differed']} of {len(together)} answers differed" in finding["message"]
    assert finding["replay"].startswith("printf '%s\\0' ")
    assert f"xargs -0 -P {len(together)}" in finding["replay"]
    server = serve(result)
    alone = [server.post(body) for body in together]
    assert all(status == 200 for status, _ in alone)
    differed = 0
    for _ in range(5):
        at_once = server.post_concurrently(together)
        differed = sum(answer != first for answer, first in zip(at_once, alone, strict=True))
        if differed:
            break
    assert differed >= 1, "the served model answered requests sent at once as each alone"


def test_explore_seconds_cuts_the_search_into_incomplete(tmp_path):
    result = trained(tmp_path, "", explore=10**6, explore_seconds=0.1)

    explore = result.explore
    assert result.view.tags["dryrun.explore"] == "incomplete", explore
    assert result.view.tags["dryrun.status"] == "passed"
    assert explore["status"] == "incomplete" and explore["findings"] == []
    requests = explore["requests"]
    assert explore["stopped"] == (
        f"explore_seconds (0.1 s) reached after {requests} of {10**6} requests"
    )
    assert explore["hypothesis"]


def test_each_distinct_error_is_one_finding_the_models_own_mlflow_exception_included(
    tmp_path, serve
):
    result = trained(tmp_path, TWO_ERRORS)

    explore = result.explore
    found = {f["error"]: f for f in explore["findings"] if f["kind"] == "unanswered"}
    assert set(found) == {
        "KeyError in node 'design_matrix'",
        "MlflowException in node 'design_matrix'",
    }, explore
    assert "refused" not in explore, explore
    own = found["MlflowException in node 'design_matrix'"]
    assert "a nested model refuses a house of no rooms" in own["message"]
    server = serve(result)
    status, text = server.post(found["KeyError in node 'design_matrix'"]["request"])
    assert status == 400 and "Encountered an unexpected error" in text
    status, text = server.post(own["request"])
    assert status == own["status"] and "a nested model refuses a house of no rooms" in text
