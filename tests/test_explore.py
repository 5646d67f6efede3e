"""Explore: real projects whose models answer some admitted requests wrongly, in-process.

Each project is the example with one node changed (``explore_projects``); it is trained
once per module (``KedroSession`` in this process), and each finding's request is sent
again to the logged model, loaded back with ``mlflow.pyfunc.load_model`` behind the
scoring server's own app, to show it reproduces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient

from explore_projects import BATCH_DEPENDENT, MODELS, Trained, train
from support import INFERRED, example_copy, forget


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Trained]]:
    """Each project of ``MODELS``, trained once for the module when a test asks for it."""
    done: dict[str, Trained] = {}

    def get(kind: str) -> Trained:
        if kind not in done:
            node, settings, _ = MODELS[kind]
            project = example_copy(tmp_path_factory.mktemp(kind) / "project")
            train(project, node, **settings)
            done[kind] = Trained(project, project.mlflow_view())
        return done[kind]

    yield get


class Served:
    """The logged model loaded back as ``mlflow models serve`` loads it, behind its app."""

    def __init__(self, trained: Trained) -> None:
        from fastapi.testclient import TestClient
        from mlflow.pyfunc import scoring_server

        forget(trained.project)  # the model's own code/ holds the project's package
        mlflow.set_tracking_uri(trained.project.tracking_uri)
        model = mlflow.pyfunc.load_model(f"models:/{trained.view.models[0].model_id}")
        self.client = TestClient(scoring_server.init(model), raise_server_exceptions=False)
        self.project = trained.project

    def post(self, body: dict[str, Any]) -> tuple[int, str]:
        response = self.client.post(
            "/invocations", content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        return response.status_code, response.text

    def close(self) -> None:
        forget(self.project)


@pytest.fixture
def served(trained: Callable[[str], Trained]) -> Iterator[Callable[[str], Served]]:
    opened: list[Served] = []

    def open_(kind: str) -> Served:
        opened.append(Served(trained(kind)))
        return opened[-1]

    yield open_
    for server in opened:
        server.close()


def _rows(body: dict[str, Any]) -> int:
    return len(body["dataframe_split"]["data"])


def test_a_batch_invariant_deterministic_model_has_no_findings(trained):
    result = trained("passes")

    assert result.view.tags["dryrun.status"] == "passed"
    assert result.view.tags["dryrun.explore"] == "passed"
    explore = result.explore
    assert explore["status"] == "passed" and explore["findings"] == [], explore
    assert explore["requests"] >= 50 and explore["rows"] > explore["requests"]
    assert explore["served"] == f"models:/{result.view.models[0].model_id}"
    assert explore["not_checked"] == {} and explore.get("stopped") is None
    assert explore["unconfirmed"] == 0 and 2 <= explore["sends_per_request"] < 3, explore
    assert result.view.report["seconds"]["explore"] > 0
    assert not list(result.project.path.rglob(".hypothesis")), "hypothesis wrote in the project"


@pytest.mark.parametrize("kind", [kind for kind in MODELS if kind != "passes"])
def test_each_finding_names_its_column_and_its_request_reproduces_it(trained, served, kind):
    result = trained(kind)
    column = MODELS[kind][2]

    assert result.view.tags["dryrun.status"] == "passed"  # on_explore: warn
    assert result.view.tags["dryrun.explore"] == "warned"
    finding = result.finding(kind)
    if column is not None:
        assert column in finding["columns"], finding
    assert finding["request"]["dataframe_split"]["columns"] == ["area", "rooms", "age", "city"]
    assert any(finding["message"] in warning for warning in result.view.report["warnings"])
    server = served(kind)
    status, text = server.post(finding["request"])
    if kind == "unanswered":
        assert "node 'design_matrix' raised KeyError" in finding["message"], finding
        assert status == 400 and "Encountered an unexpected error" in text
        return
    assert status == 200, text
    predictions = json.loads(text)["predictions"]
    if kind == "batch_dependent":
        other = finding["other"]
        assert _rows(other["request"]) == _rows(finding["request"]) + 1
        _, other_text = server.post(other["request"])
        in_other = json.loads(other_text)["predictions"]
        for row, position in other["rows"]:
            assert in_other[position]["band"] != predictions[row]["band"]
    elif kind == "nondeterministic":
        assert json.loads(server.post(finding["request"])[1]) != json.loads(text)
    elif kind == "row_count":
        assert len(predictions) != _rows(finding["request"])
    elif kind == "schema_mismatch":
        assert any(row["band"] is None for row in predictions)
    elif kind == "non_finite":
        assert "Infinity" in text or "NaN" in text


def test_findings_are_shrunk_to_small_requests(trained):
    """hypothesis shrinks each request: one row where one shows it, two at most for a batch
    dependence (a row is also compared inside another batch)."""
    assert _rows(trained("batch_dependent").finding("batch_dependent")["request"]) <= 2
    for kind in ("unanswered", "nondeterministic", "row_count", "schema_mismatch"):
        assert _rows(trained(kind).finding(kind)["request"]) == 1, kind


def test_two_runs_on_a_logged_model_give_the_same_findings(trained):
    """``kedro dryrun --model-uri`` twice on the model training logged: the same requests,
    the same findings (its sample, the first rows of the input, is not training's)."""
    from kedro.framework.startup import bootstrap_project

    from kedro_mlflow_dryrun.framework.project import project_context
    from kedro_mlflow_dryrun.framework.standalone import check_logged_model

    result = trained("batch_dependent")
    uri = f"models:/{result.view.models[0].model_id}"
    sections = []
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(result.project.path)
        try:
            context = project_context(bootstrap_project(result.project.path), None, None)
            for _ in range(2):
                check = check_logged_model(context, uri, None, None, False, False)
                sections.append(check.context.report.explore)
        finally:
            forget(result.project)

    first, second = sections
    assert first is not None and second is not None and first["served"] == uri
    assert [finding["kind"] for finding in first["findings"]] == ["batch_dependent"]
    assert first["findings"] == second["findings"]
    assert first["requests"] == second["requests"]


def test_a_request_generated_again_is_not_sent_again(trained, monkeypatch):
    """Each pass of the search begins as the one before did, and shrinking meets many a
    request twice: a body is sent at most twice (once, and again where its answers are
    compared with themselves), whatever hypothesis generates."""
    from collections import Counter

    from kedro.framework.startup import bootstrap_project

    from kedro_mlflow_dryrun.framework.project import project_context
    from kedro_mlflow_dryrun.framework.standalone import check_logged_model
    from kedro_mlflow_dryrun.stages.explore.sender import Sender

    sent: Counter[str] = Counter()
    send = Sender.send

    def counted(sender: Sender, body: dict[str, Any]) -> Any:
        sent[json.dumps(body)] += 1
        return send(sender, body)

    result = trained("unanswered")  # two passes: the second begins as the first did
    monkeypatch.setattr(Sender, "send", counted)
    monkeypatch.chdir(result.project.path)
    try:
        context = project_context(bootstrap_project(result.project.path), None, None)
        uri = f"models:/{result.view.models[0].model_id}"
        explore = check_logged_model(context, uri, None, None, False, False).context.report.explore
    finally:
        forget(result.project)

    assert explore is not None and [f["kind"] for f in explore["findings"]] == ["unanswered"]
    assert max(sent.values()) <= 2, sent.most_common(3)
    assert explore["requests"] <= len(sent)


def test_on_explore_fail_fails_the_run_after_the_model_is_logged(tmp_path):
    from kedro_mlflow_dryrun.errors import DryRunFailed

    project = example_copy(tmp_path / "project")
    with pytest.raises(DryRunFailed, match="batch_dependent") as failed:
        train(project, BATCH_DEPENDENT, on_explore="fail", explore=10)

    assert "'on_explore: warn' in dryrun.yml only warns" in str(failed.value)
    view = project.mlflow_view()
    assert len(view.models) == 1 and view.run.info.status == "FINISHED"
    assert view.tags["dryrun.status"] == "failed"
    assert view.tags["dryrun.explore"] == "failed"


def test_explore_zero_and_no_output_schema_skip_it(trained):
    from kedro_mlflow_dryrun.config import cli_overrides

    project = trained("passes").project
    train(project, "", explore=0)
    with cli_overrides(enabled=False):  # what `kedro run --no-output-schema` sets
        train(project, "")

    client = MlflowClient(project.tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, order_by=["attributes.start_time ASC"])
    assert [run.data.tags.get("dryrun.explore") for run in runs] == ["passed", "skipped", None]
    assert runs[-1].data.tags["dryrun.status"] == "skipped"


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
        if path.is_file()
    }


def test_preflight_explores_the_pipeline_with_json_and_writes_nothing(trained):
    """``kedro dryrun --explore N --json``: no model logged, the same properties."""
    from click.testing import CliRunner
    from kedro.framework.startup import bootstrap_project

    from kedro_mlflow_dryrun.framework.cli import dryrun

    project = trained("batch_dependent").project
    before = _snapshot(project.path)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project.path)
        try:
            metadata = bootstrap_project(project.path)
            result = CliRunner().invoke(dryrun, ["--explore", "20", "--json"], obj=metadata)
        finally:
            forget(project)

    assert result.exit_code == 0, result.output
    start = re.search("^{", result.stdout, re.MULTILINE)
    assert start is not None, result.output
    report, _ = json.JSONDecoder().raw_decode(result.stdout[start.start() :])
    explore = report["explore"]
    assert explore["served"].startswith("no logged model: the inference pipeline")
    assert explore["budget"]["requests"] == 20
    assert [finding["kind"] for finding in explore["findings"]] == ["batch_dependent"]
    assert _snapshot(project.path) == before, "the pre-flight must write nothing"


def test_explore_seconds_stops_the_search_and_counts_the_requests(trained):
    from kedro.framework.startup import bootstrap_project

    from kedro_mlflow_dryrun.config import cli_overrides
    from kedro_mlflow_dryrun.framework.project import project_context
    from kedro_mlflow_dryrun.framework.standalone import preflight

    project = trained("passes").project
    with pytest.MonkeyPatch.context() as patch, cli_overrides(explore=10**6, explore_seconds=1.0):
        patch.chdir(project.path)
        try:
            context = project_context(bootstrap_project(project.path), None, None)
            report = preflight(context, None).report
        finally:
            forget(project)

    explore = report.explore
    assert explore is not None and explore["status"] == "incomplete"
    requests = explore["requests"]
    assert (
        explore["stopped"]
        == f"explore_seconds (1.0 s) reached after {requests} of 1000000 requests"
    )
    assert explore["requests"] < 10**6 and explore["sent"] >= explore["requests"]
    assert explore["seconds"] < 10  # one request at most is sent past the budget


def _explore_threads() -> list[str]:
    import threading

    return [thread.name for thread in threading.enumerate() if "explore" in thread.name]


def test_training_searches_while_mlflow_infers_requirements_and_finds_the_same(trained, tmp_path):
    """With requirements to infer, the search runs on the model MLflow saved while MLflow
    waits for its requirements subprocess; written by hand, after logging. The same
    requests, the same findings, replayed against the same logged model as served."""
    after = trained("batch_dependent").explore
    project = example_copy(tmp_path / "project")
    train(project, BATCH_DEPENDENT, INFERRED)

    beside = project.mlflow_view().report
    assert beside is not None
    assert (beside["explore"]["beside_logging"], after["beside_logging"]) == (True, False)
    assert beside["explore"]["findings"] == after["findings"]
    assert beside["explore"]["requests"] == after["requests"]
    assert beside["seconds"]["explore"] < beside["explore"]["seconds"]
    assert _explore_threads() == []


def test_the_searchs_copy_of_the_model_is_let_go_when_the_search_ends(tmp_path, monkeypatch):
    """Loaded beside MLflow's logging, the search's copy of the model (at 800 MiB, 800 MiB
    more) is gone once the search ends, before MLflow's subprocess loads its own: not at
    a garbage collection that comes when it comes (here none comes by itself)."""
    import gc
    import threading
    import weakref

    from kedro_mlflow_dryrun.stages.explore import beside_logging

    loaded: list[weakref.ref[Any]] = []
    alive_when_ended: list[int] = []
    load, ended = mlflow.pyfunc.load_model, beside_logging._Search.ended

    def recorded_load(*args: Any, **kwargs: Any) -> Any:
        model = load(*args, **kwargs)
        if "explore" in threading.current_thread().name:
            loaded.append(weakref.ref(model))
        return model

    def checked_end(search: Any) -> Any:
        result = ended(search)
        alive_when_ended.append(sum(ref() is not None for ref in loaded))
        return result

    monkeypatch.setattr(mlflow.pyfunc, "load_model", recorded_load)
    monkeypatch.setattr(beside_logging._Search, "ended", checked_end)
    project = example_copy(tmp_path / "project")
    gc.disable()
    try:
        train(project, "", INFERRED, explore=10)
    finally:
        gc.enable()

    report = project.mlflow_view().report
    assert report is not None and report["explore"]["beside_logging"] is True
    assert len(loaded) == 1
    assert alive_when_ended and set(alive_when_ended) == {0}


def test_a_logging_that_fails_calls_the_search_off(tmp_path):
    """kedro-mlflow's logging fails once MLflow has inferred the requirements (a ``-r``
    line naming no file): no stage runs after it, and the search started beside the
    logging (here one of a minute at least) stops with the dry run."""
    project = example_copy(tmp_path / "project")
    failing = '{"name": "house_prices", "extra_pip_requirements": ["-r no_such_file.txt"]}'
    with pytest.raises(FileNotFoundError, match="no_such_file"):
        train(project, "", failing, explore=10**6, explore_seconds=60)

    client = MlflowClient(project.tracking_uri)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.data.tags["dryrun.status"] == "error"
    assert "dryrun.explore" not in run.data.tags
    assert _explore_threads() == []
