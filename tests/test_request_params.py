"""Request params: each param of the ParamSchema sent around and away from its default,
as a top-level ``"params"`` beside ``dataframe_split``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import find, given, settings
from mlflow.types import DataType, ParamSchema, ParamSpec, Schema

from kedro_mlflow_dryrun.stages.explore.strategies import Request, request_body, requests

from served_path import QUICK, REACHES, SAMPLE, SCHEMA

pytestmark = pytest.mark.lowest

PARAMS = ParamSchema(
    [
        ParamSpec("currency", DataType.string, "EUR"),
        ParamSpec("horizon", DataType.long, 12),
        ParamSpec("runner", DataType.string, "SequentialRunner"),
    ]
)


def test_params_are_sent_around_and_away_from_their_defaults() -> None:
    strategy = requests(Schema(SCHEMA.inputs[:3]), SAMPLE[["rooms", "surface", "city"]], PARAMS)

    def found(condition: Any) -> dict[str, object]:
        request = find(strategy, lambda r: condition(r.params), settings=REACHES)
        body = request_body(request)
        assert body["params"] == request.params  # top-level, beside dataframe_split
        return dict(request.params)

    found(lambda p: p.get("currency") not in (None, "EUR"))
    for horizon in (11, 13, 0):
        found(lambda p, horizon=horizon: p.get("horizon") == horizon)
    found(lambda p: p.get("horizon", 12) > 13)
    assert found(lambda p: "runner" in p)["runner"] in ("SequentialRunner", "ThreadRunner")
    found(lambda p: p.get("runner") == "ThreadRunner")
    shrunk = find(strategy, lambda r: len(r.params) > 0, settings=QUICK)
    assert len(shrunk.params) == 1, shrunk.params  # one param at a time


@settings(QUICK, max_examples=100)
@given(requests(SCHEMA, SAMPLE, PARAMS))
def test_the_runner_param_names_only_kedro_in_process_runners(request: Request) -> None:
    assert request.params.get("runner", "SequentialRunner") in ("SequentialRunner", "ThreadRunner")
    assert ("params" in request_body(request)) == bool(request.params)
