"""The serve check's requests go through the app ``mlflow models serve`` builds.

``scoring_server.init(model)`` is the FastAPI app uvicorn runs; the dry run drives
it in-process. An app that cannot be built is a scoring server that cannot start:
the serve check fails and says which versions and what to pin.
"""

from __future__ import annotations

import inspect
import json
import threading
from importlib.metadata import version

import pandas as pd
import pytest


def _registering_method() -> str:
    """The FastAPI method MLflow's scoring app registers ``/invocations`` with: MLflow 3.0.0
    uses ``app.route``, which Starlette 1.0 dropped (FastAPI 0.164 and later require it)."""
    from mlflow.pyfunc import scoring_server

    return "route" if "app.route(" in inspect.getsource(scoring_server.init) else "post"


@pytest.mark.lowest
def test_an_app_mlflow_models_serve_cannot_build_fails_the_serve_check(
    project, in_process, monkeypatch
):
    """As with MLflow 3.0.0 beside Starlette 1.0: the method is gone. .ci/lowest.txt pins the
    FastAPI and Starlette of MLflow 3.0.0's release, so there too the test takes it away."""
    from fastapi import FastAPI

    method = _registering_method()
    if hasattr(FastAPI, method):
        owner = next(cls for cls in FastAPI.__mro__ if method in vars(cls))
        monkeypatch.delattr(owner, method)
    expected = f"'FastAPI' object has no attribute '{method}'"
    project.set_dryrun(drop_columns=["price"], environment="off", explore=0, on_failure="warn")

    in_process(pipeline_name="training")  # Kedro 1.0 (the lowest) has no pipeline_names

    view = project.mlflow_view()
    assert len(view.models) == 1
    assert view.tags["dryrun.status"] == "failed"
    reason = view.report["reason"]
    assert "mlflow models serve cannot build its app for this model: AttributeError" in reason
    assert expected in reason
    installed = ", ".join(f"{name} {version(name)}" for name in ("mlflow", "fastapi", "starlette"))
    assert f"({installed})" in reason
    assert "Fix: pin in the model's requirements" in reason
    assert f"the FastAPI and Starlette mlflow {version('mlflow')} was released with" in reason
    assert "or upgrade MLflow" in reason


class _Together:
    """Answers only once ``parties`` requests are inside ``predict`` at the same time."""

    def __init__(self, parties: int, timeout: float = 60) -> None:
        self.barrier = threading.Barrier(parties, timeout=timeout)

    def predict(self, data: pd.DataFrame, params: dict[str, object] | None = None) -> list[int]:
        self.barrier.wait()
        return [threading.get_ident()] * len(data)


def _model(implementation: object):
    from mlflow.models import Model, ModelSignature
    from mlflow.pyfunc import PyFuncModel
    from mlflow.types import ColSpec, Schema

    signature = ModelSignature(inputs=Schema([ColSpec("double", "x")]))
    return PyFuncModel(model_meta=Model(signature=signature), model_impl=implementation)


def _body(x: float) -> str:
    return json.dumps({"dataframe_split": {"columns": ["x"], "data": [[x]]}})


def test_requests_sent_at_once_are_answered_at_once_by_the_servers_thread_pool():
    from kedro_mlflow_dryrun.adapters.models import reply, send_concurrently

    model = _model(_Together(parties=3))

    replies = send_concurrently(model, [_body(1.0), _body(2.0), _body(3.0)])

    assert [answered.status for answered in replies] == [200, 200, 200]
    threads = {json.loads(answered.text)["predictions"][0] for answered in replies}
    assert len(threads) == 3
    alone = reply(_model(_Together(parties=2, timeout=0.5)), _body(1.0))  # nobody joins it
    assert alone.status == 400 and alone.model_raised
    assert isinstance(alone.error, threading.BrokenBarrierError)


def test_the_app_is_built_once_per_loaded_model(monkeypatch):
    from kedro_mlflow_dryrun import compat
    from kedro_mlflow_dryrun.adapters.models import reply

    built: list[object] = []
    build = compat.scoring_app

    def counted(model: object) -> object:
        built.append(model)
        return build(model)

    monkeypatch.setattr(compat, "scoring_app", counted)
    first, second = _model(_Together(parties=1)), _model(_Together(parties=1))

    answers = [reply(first, _body(float(x))).status for x in range(5)]
    answers.append(reply(second, _body(1.0)).status)

    assert answers == [200] * 6
    assert len(built) == 2
