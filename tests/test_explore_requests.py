"""Explore sends what MLflow admits: nulls in required columns, params, empty requests.

Each project is the example with one change, trained once per module in this process
(``KedroSession``, explore on). Each finding is held against a real ``mlflow models
serve`` of the logged model (one server per model): the same body gets the same
status and answer there, and explore reports exactly what that server shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from explore_projects import Trained, train
from servers import ServedModel, models_serve
from support import Project, example_copy

NULL_IN_REQUIRED = """
    _designed = design_matrix

    def design_matrix(houses, regressor):
        design = _designed(houses, regressor)
        if np.isnan(design).any():  # as scikit-learn's check_array does
            raise ValueError("Input contains NaN.")
        return design
"""
EMPTY_REQUEST = """
    _designed = design_matrix

    def design_matrix(houses, regressor):
        max(houses["age"])  # the oldest house of the request: an empty one has none
        return _designed(houses, regressor)
"""
#: A param the served model takes: prices in the currency a request asks for.
CURRENCY_NODE = """
    RATES = {"EUR": 1.0, "GBP": 0.85}

    def price_in(prices, currency):
        return prices.assign(price=prices["price"] * RATES[currency])
"""
CURRENCY_PIPELINE = """
    from house_prices.pipelines.nodes import price_in

    _inference = inference_pipeline

    def inference_pipeline():
        prices = Pipeline(_inference(), outputs={"predictions": "prices"})
        return prices + Pipeline(
            [node(price_in, ["prices", "params:currency"], "predictions", name="price_in")]
        )
"""


def _with_currency(project: Project) -> None:
    project.append("src/house_prices/pipelines/__init__.py", CURRENCY_PIPELINE)
    project.append("conf/base/parameters.yml", "currency: EUR\n")


#: kind -> the nodes changed, and what else the project changes.
MODELS: dict[str, tuple[str, Callable[[Project], None] | None]] = {
    "sound": ("", None),
    "null_in_required": (NULL_IN_REQUIRED, None),
    "params": (CURRENCY_NODE, _with_currency),
    "empty_request": (EMPTY_REQUEST, None),
}
#: The scoring server's answer when the model raised: the client is told it is its fault.
MODEL_RAISED = "Encountered an unexpected error while evaluating the model"


def _model_uri(model: Trained) -> str:
    return f"models:/{model.view.models[0].model_id}"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Trained]:
    """Each project of ``MODELS``, trained once for the module when a test asks for it."""
    done: dict[str, Trained] = {}

    def get(kind: str) -> Trained:
        if kind not in done:
            node, change = MODELS[kind]
            project = example_copy(tmp_path_factory.mktemp(kind) / "project")
            if change is not None:
                change(project)
            train(project, node)
            done[kind] = Trained(project, project.mlflow_view())
        return done[kind]

    return get


@pytest.fixture(scope="module")
def serve(
    trained: Callable[[str], Trained], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], ServedModel]]:
    """A real ``mlflow models serve`` of each model a test asks for, one per model."""
    servers: dict[str, ServedModel] = {}
    with ExitStack() as stack:

        def get(kind: str) -> ServedModel:
            if kind not in servers:
                model = trained(kind)
                root: Path = tmp_path_factory.mktemp(f"serve-{kind}")
                servers[kind] = stack.enter_context(
                    models_serve(_model_uri(model), model.project.tracking_uri, root)
                )
            return servers[kind]

        yield get


def _rows(body: dict[str, Any]) -> list[list[Any]]:
    return body["dataframe_split"]["data"]


def _column(body: dict[str, Any], name: str) -> list[Any]:
    position = body["dataframe_split"]["columns"].index(name)
    return [row[position] for row in _rows(body)]


def _answer(status: int, text: str) -> Any:
    """What a client reads in an answer: the predictions, or the error's code and message
    (its stack trace names the files of the process that answered)."""
    answer = json.loads(text)
    if status == 200:
        return answer
    return {key: answer[key] for key in ("error_code", "message")}


def test_a_null_in_a_required_double_column_is_sent_and_found(trained, serve):
    """MLflow admits a null in a required double column; the model gets NaN and raises."""
    model = trained("null_in_required")

    finding = model.finding("unanswered")
    assert "node 'design_matrix' raised ValueError: Input contains NaN" in finding["message"]
    assert None in _column(finding["request"], "area"), finding["request"]
    assert finding["status"] == 400 and MODEL_RAISED in finding["answer"]
    status, text = serve("null_in_required").post(finding["request"])
    assert status == 400 and MODEL_RAISED in text


def test_a_params_value_the_pipeline_cannot_use_is_sent_and_found(trained, serve):
    """The ParamSchema admits any string for 'currency'; the rate table knows two."""
    model = trained("params")
    params = model.view.model_info.signature.params
    assert {param.name: param.default for param in params.params}["currency"] == "EUR"

    finding = model.finding("unanswered")
    assert "node 'price_in' raised KeyError" in finding["message"], finding
    assert finding["request"]["params"]["currency"] not in ("EUR", "GBP"), finding["request"]
    assert finding["status"] == 400
    server = serve("params")
    assert server.post(finding["request"])[0] == 400
    one_house = {"dataframe_split": finding["request"]["dataframe_split"]}
    assert server.post({**one_house, "params": {"currency": "USD"}})[0] == 400
    assert server.post({**one_house, "params": {"currency": "GBP"}})[0] == 200


def test_an_empty_request_is_sent_found_where_it_fails_and_answered_where_sound(trained, serve):
    """The server accepts a request of no rows: a node taking max() of its values raises,
    a sound model answers an empty list and has no finding."""
    failing, sound = trained("empty_request"), trained("sound")

    finding = failing.finding("unanswered")
    assert _rows(finding["request"]) == [], finding
    assert "node 'design_matrix' raised ValueError: max()" in finding["message"], finding
    assert serve("empty_request").post(finding["request"])[0] == 400

    assert sound.explore["findings"] == [], sound.explore
    assert sound.view.tags["dryrun.explore"] == "passed"
    assert serve("sound").post(finding["request"]) == (200, '{"predictions": []}')


def test_the_example_has_no_column_the_server_changes_silently(trained):
    """Its columns are double, long and string: no schema warning."""
    assert trained("sound").explore["schema_warnings"] == []


@pytest.mark.parametrize("kind", ["null_in_required", "params", "empty_request"])
def test_every_finding_is_what_the_real_server_answers(trained, serve, kind):
    """Differential: each finding's body through ``mlflow models serve`` gets the status
    and the answer explore reports (and its single-row request, if any, too)."""
    model, server = trained(kind), serve(kind)

    assert model.explore["findings"], model.explore
    for finding in model.explore["findings"]:
        replays = [(finding["request"], finding["status"], finding["answer"])]
        if "alone" in finding:
            alone = finding["alone"]
            replays.append((alone["request"], alone["status"], alone["answer"]))
        for body, status, answer in replays:
            served_status, served_text = server.post(body)
            assert served_status == status, (finding, served_text)
            assert _answer(served_status, served_text) == _answer(status, answer), finding
