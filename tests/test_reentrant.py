"""Two dry runs in threads leave MLflow, the environment and the loggers as they found them."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import mlflow
import mlflow.models.utils
import pandas as pd
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline, node
from kedro_mlflow.mlflow import kedro_pipeline_model
from mlflow.pyfunc import PythonModel
from mlflow.utils import requirements_utils

from kedro_mlflow_dryrun import engine
from kedro_mlflow_dryrun.config import DryRunConfig

from engine_contexts import dry_run, engine_context

LOGGERS = ("kedro.runner", "kedro.io", "kedro.pipeline", "kedro_mlflow_dryrun")


class Overlap:
    """Two threads inside a change at once, the first one then out first: the order in which
    a save-and-restore patch would put back the value the other thread set."""

    def __init__(self) -> None:
        self.inside = threading.Barrier(2, timeout=120)
        self.first_out = threading.Event()

    def meet(self, first: bool) -> None:
        """Both threads are inside; the second stays there until the first is out."""
        self.inside.wait()
        if not first:
            assert self.first_out.wait(timeout=120)

    @contextmanager
    def leaving(self, first: bool) -> Iterator[None]:
        """The first thread says it is out once the block (and the change) has ended."""
        try:
            yield
        finally:
            if first:
                self.first_out.set()


class Doubled(PythonModel):
    def predict(self, context, model_input, params=None):
        return pd.DataFrame({"p": model_input["x"] * 2.0})


def _process_wide() -> dict[str, object]:
    """Everything the dry run changes for a while, as the process has it now."""
    return {
        "_validate_serving_input": mlflow.models.utils._validate_serving_input,
        "_MODULES_TO_PACKAGES": requirements_utils._MODULES_TO_PACKAGES,
        "_init_modules_to_packages_map": requirements_utils._init_modules_to_packages_map,
        "infer_pip_requirements": mlflow.models.infer_pip_requirements,
        "_create_hook_manager": kedro_pipeline_model._create_hook_manager,
        "os._Environ.__getitem__": os._Environ.__getitem__,
        "MLFLOW_RECORD_ENV_VARS_IN_MODEL_LOGGING": os.environ.get(
            "MLFLOW_RECORD_ENV_VARS_IN_MODEL_LOGGING"
        ),
        "sys.stdout": sys.stdout,
        **{name: logging.getLogger(name).level for name in LOGGERS},
    }


def _dry_run_and_log(first: bool, executing: Overlap, logging_: Overlap) -> str:
    """A training run's dry run: the stages, kedro-mlflow's log_model, the serve check."""

    def produce(rows: pd.DataFrame) -> pd.DataFrame:
        executing.meet(first)  # inside the runner, its loggers lowered
        return pd.DataFrame({"p": rows["x"] * 2.0})

    inference = Pipeline([node(produce, "rows", "predictions", name="produce")])
    config = DryRunConfig(environment="off")
    context = engine_context(inference, DataCatalog(), "rows", pd.DataFrame({"x": [1.0, 2.0]}))
    context.config = config
    with mlflow.start_run() as run:
        context.run_id = run.info.run_id
        with executing.leaving(first):
            report = dry_run(context)
        assert report.status == "passed", report.reason
        with logging_.leaving(first), engine.while_logging(context):
            logging_.meet(first)
            mlflow.pyfunc.log_model(
                name="model",
                python_model=Doubled(),
                signature=context.signature,
                input_example=context.sample.data,
            )
    engine.run_stages(context, engine.after_logging(config))
    assert report.status == "passed", report.reason
    return report.serve_summary()


def test_two_dry_runs_in_threads_leave_every_change_undone(tmp_path, monkeypatch):
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment(
        experiment_id=mlflow.create_experiment("threads", artifact_location=tmp_path.as_uri())
    )
    requirements_utils._init_modules_to_packages_map()
    before = _process_wide()

    executing, logging_ = Overlap(), Overlap()
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [
            pool.submit(_dry_run_and_log, first, executing, logging_) for first in (True, False)
        ]
        summaries = [run.result(timeout=300) for run in runs]

    assert all(summary.startswith("Serve check passed") for summary in summaries)
    after = _process_wide()
    changed = {name: (before[name], now) for name, now in after.items() if now is not before[name]}
    assert changed == {}
