"""Isolation proven: the dry run leaves no trace but its report.

The project's inference pipeline here persists everything it can: an intermediate
and the output as CSV files, a versioned dataset, an MLflow metric and an MLflow
artifact. It reads parameters, one of its nodes changes its inputs in place, and a
project hook writes down every node and dataset event it is called for. After
``kedro run --pipeline=training`` none of that may show: on disk, in MLflow, in the
project's hooks or in the catalog that training left behind.
"""

from __future__ import annotations

import hashlib
import pickle
import shutil
import sys
from pathlib import Path

import pandas as pd

from kedro_mlflow_dryrun.adapters.inputs import positions

from support import INFERRED, logged_models

NODES = """
    def design_matrix(houses, regressor):
        houses["area"] *= 2  # changes the caller's DataFrame, in place
        regressor["coefficients"] *= 2  # and the caller's model
        return pd.DataFrame(_design(houses, regressor["features"], regressor["cities"]))


    def score(design, regressor):
        price = design.to_numpy(dtype=float) @ regressor["coefficients"]
        return pd.Series(price, name="price"), float(price.mean())


    def band_prices(raw_prices, price_bands):
        price = raw_prices.to_numpy()
        band = np.where(
            price < price_bands["low"], "low", np.where(price < price_bands["high"], "mid", "high")
        )
        return pd.DataFrame({"price": price, "band": band})


    def finish(banded, mean_price):
        return banded.assign(above_mean=banded["price"] > mean_price)
"""

PIPELINES = """
    from house_prices.pipelines.nodes import band_prices, finish, score


    def inference_pipeline() -> Pipeline:
        return Pipeline(
            [
                node(design_matrix, ["houses", "regressor"], "design", name="design_matrix"),
                node(score, ["design", "regressor"], ["raw_prices", "mean_price"], name="score"),
                node(band_prices, ["raw_prices", "params:price_bands"], "banded", name="band"),
                node(finish, ["banded", "mean_price"], "predictions", name="finish"),
            ]
        )
"""

REGISTRY = """
    _register_ml = register_pipelines


    def register_pipelines():
        return {**_register_ml(), "inference": inference_pipeline()}
"""

CATALOG = """
    houses:
      type: pandas.CSVDataset
      filepath: data/01_raw/houses.csv

    regressor:
      type: {regressor_type}
      filepath: data/06_models/regressor.pkl

    design:
      type: pandas.CSVDataset
      filepath: data/05_model_input/design.csv

    raw_prices:
      type: pickle.PickleDataset
      filepath: data/07_model_output/raw_prices.pkl
      versioned: true

    mean_price:
      type: kedro_mlflow.io.metrics.MlflowMetricDataset

    banded:
      type: kedro_mlflow.io.artifacts.MlflowArtifactDataset
      dataset:
        type: pandas.CSVDataset
        filepath: data/08_reporting/banded.csv

    predictions:
      type: pandas.CSVDataset
      filepath: data/07_model_output/predictions.csv
"""

RECORDING_HOOKS = """
    from kedro.framework.hooks import hook_impl

    CALLS = {log!r}
    CATALOGS = []


    def _write(event, node=None, dataset_name=""):
        with open(CALLS, "a") as file:
            file.write(f"{{event}} {{node.name if node else '-'}} {{dataset_name}}\\n")


    class RecordingHooks:
        @hook_impl
        def after_catalog_created(self, catalog):
            CATALOGS.append(catalog)

        @hook_impl
        def before_node_run(self, node):
            _write("before_node_run", node)

        @hook_impl
        def after_node_run(self, node):
            _write("after_node_run", node)

        @hook_impl
        def on_node_error(self, node):
            _write("on_node_error", node)

        @hook_impl
        def before_dataset_loaded(self, dataset_name, node):
            _write("before_dataset_loaded", node, dataset_name)

        @hook_impl
        def after_dataset_loaded(self, dataset_name, node):
            _write("after_dataset_loaded", node, dataset_name)

        @hook_impl
        def before_dataset_saved(self, dataset_name, node):
            _write("before_dataset_saved", node, dataset_name)

        @hook_impl
        def after_dataset_saved(self, dataset_name, node):
            _write("after_dataset_saved", node, dataset_name)
"""

SETTINGS = """
    from house_prices.recording_hooks import RecordingHooks

    HOOKS = (RecordingHooks(),)
"""

# Hands out the very object it saved, as a cache does: a node that changes its
# input in place would change what the catalog holds, unless the dry run copies it.
KEPT_PICKLE = """
    from kedro_datasets.pickle import PickleDataset


    class KeptPickleDataset(PickleDataset):
        def load(self):
            if not hasattr(self, "_kept"):
                self._kept = super().load()
            return self._kept

        def save(self, data):
            super().save(data)
            self._kept = data
"""

TRAINING_OUTPUT = "data/06_models/regressor.pkl"
STORE = ("mlflow.db", "mlruns", "mlartifacts")
INFERENCE_NODES = {"design_matrix", "score", "band", "finish"}


def _isolation_project(project, calls: Path, regressor_type: str = "pickle.PickleDataset"):
    """The example project with an inference pipeline that persists all it can."""
    project.override_node(NODES)
    project.append("src/house_prices/pipelines/__init__.py", PIPELINES)
    project.append("src/house_prices/pipeline_registry.py", REGISTRY)
    project.write("conf/base/catalog.yml", CATALOG.format(regressor_type=regressor_type))
    project.write("src/house_prices/recording_hooks.py", RECORDING_HOOKS.format(log=str(calls)))
    project.write("src/house_prices/kept.py", KEPT_PICKLE)
    project.append("src/house_prices/settings.py", SETTINGS)
    for stale in ("mlruns", "mlartifacts"):  # left by runs of the example itself
        shutil.rmtree(project.path / stale, ignore_errors=True)
    return project


def _snapshot(root: Path) -> dict[str, str]:
    """Every file and folder of the project, files by content; bytecode caches aside."""
    entries = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if "__pycache__" in relative.parts:
            continue
        digest = "folder" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        entries[relative.as_posix()] = digest
    return entries


def _in_store(relative: str) -> bool:
    return relative.split("/")[0] in STORE


def _calls(calls: Path) -> list[tuple[str, str, str]]:
    if not calls.exists():
        return []
    lines = [line.split(" ", 2) for line in calls.read_text().splitlines()]
    return [(kind, name, rest) for kind, name, rest in lines]


def _artifact_files(client, run_id: str, path: str | None = None) -> list[str]:
    files = []
    for artifact in client.list_artifacts(run_id, path):
        if artifact.is_dir:
            files.extend(_artifact_files(client, run_id, artifact.path))
        else:
            files.append(artifact.path)
    return sorted(files)


def _runs(tracking_uri: str) -> list:
    """The store's runs, oldest first."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return sorted(client.search_runs(experiments), key=lambda run: run.info.start_time)


def test_a_training_run_leaves_only_its_own_traces(project, tmp_path):
    from mlflow import MlflowClient

    calls = tmp_path / "hook_calls.log"
    _isolation_project(project, calls)
    project.set_log_model_kwargs(INFERRED)  # MLflow's inference subprocess, which a user's run has
    before = _snapshot(project.path)

    result = project.kedro("run", "--pipeline=training")

    assert result.returncode == 0, result.output
    assert "Dry run passed: 100 rows of 'houses' -> 'predictions'" in result.output
    assert "(price: double, band: string, above_mean: boolean)" in result.output
    after = _snapshot(project.path)
    changed = {name for name in before.keys() & after.keys() if before[name] != after[name]}
    appeared, removed = after.keys() - before.keys(), before.keys() - after.keys()
    assert not removed
    assert {name for name in changed | appeared if not _in_store(name)} == {TRAINING_OUTPUT}
    assert "mlflow.db" in changed and any(name.startswith("mlruns/") for name in appeared)
    # The project's own hook saw training, and nothing of the dry run.
    seen = _calls(calls)
    assert {node for _, node, _ in seen} == {"fit_regressor"}
    assert {name for event, _, name in seen if event == "after_dataset_loaded"} == {
        "houses",
        "params:features",
    }
    assert {name for event, _, name in seen if event == "after_dataset_saved"} == {"regressor"}

    calls.unlink()
    baseline = project.kedro("run", "--pipeline=training", "--no-output-schema")

    assert baseline.returncode == 0, baseline.output
    assert {node for _, node, _ in _calls(calls)} == {"fit_regressor"}
    dry_run, skipped = _runs(project.tracking_uri)
    assert dry_run.data.tags["dryrun.status"] == "passed"
    assert skipped.data.tags["dryrun.status"] == "skipped"
    # Only the training node's parameters, as kedro-mlflow logs them without a dry run.
    assert dry_run.data.metrics == skipped.data.metrics == {}
    assert dry_run.data.params == skipped.data.params
    assert set(dry_run.data.params) == {"features"}
    client = MlflowClient(tracking_uri=project.tracking_uri)
    assert _artifact_files(client, dry_run.info.run_id) == [
        "dryrun/report.html",
        "dryrun/report.json",
    ]
    assert _artifact_files(client, skipped.info.run_id) == []
    for run in (dry_run, skipped):
        assert [model.name for model in logged_models(client, run)] == ["house_prices"]
    # A single MLflow run each: the dry run opened none of its own.
    assert len(_runs(project.tracking_uri)) == 2


def test_what_training_left_in_the_catalog_is_unchanged_by_the_dry_run(
    project, in_process, tmp_path
):
    import mlflow

    calls = tmp_path / "hook_calls.log"
    _isolation_project(project, calls, regressor_type="house_prices.kept.KeptPickleDataset")

    in_process(pipeline_names=["training"])

    hooks = sys.modules["house_prices.recording_hooks"]
    (catalog,) = hooks.CATALOGS
    on_disk = pickle.loads((project.path / TRAINING_OUTPUT).read_bytes())
    held = catalog.load("regressor")
    assert held is catalog.load("regressor"), "the dataset hands out the object it saved"
    assert (held["coefficients"] == on_disk["coefficients"]).all()
    view = project.mlflow_view()
    assert view.report["status"] == "passed"
    assert view.report["serve"]["rows"] == 100
    # The rows the dry run ran on were not doubled either: the input example is
    # taken from them after the dry run, and matches the file training read.
    mlflow.set_tracking_uri(project.tracking_uri)
    example = mlflow.pyfunc.load_model(f"models:/{view.models[0].model_id}").input_example
    houses = pd.read_csv(project.path / "data/01_raw/houses.csv")
    sampled = houses["area"].iloc[positions(len(houses), 100, "random")[:5]]
    pd.testing.assert_series_equal(
        example["area"], sampled.reset_index(drop=True), check_dtype=False
    )
    assert {node for _, node, _ in _calls(calls)} == {"fit_regressor"}


def test_the_traces_the_dry_run_avoids_are_real(project, in_process, tmp_path):
    """Guards the tests above: run for real, the inference pipeline leaves every trace."""
    import mlflow
    from mlflow import MlflowClient

    calls = tmp_path / "hook_calls.log"
    _isolation_project(project, calls, regressor_type="house_prices.kept.KeptPickleDataset")
    in_process(pipeline_names=["training"])
    calls.unlink()
    # kedro-mlflow leaves its run active in the process (with or without the dry run).
    while mlflow.active_run():
        mlflow.end_run()

    in_process(pipeline_names=["inference"])

    data = project.path / "data"
    assert (data / "05_model_input/design.csv").exists()
    assert (data / "08_reporting/banded.csv").exists()
    assert (data / "07_model_output/predictions.csv").exists()
    assert list((data / "07_model_output/raw_prices.pkl").glob("*/raw_prices.pkl"))
    inference = _runs(project.tracking_uri)[-1]
    assert set(inference.data.metrics) == {"mean_price"}
    assert set(inference.data.params) == {"price_bands"}
    client = MlflowClient(tracking_uri=project.tracking_uri)
    assert _artifact_files(client, inference.info.run_id) == ["banded.csv"]
    assert {node for _, node, _ in _calls(calls)} == INFERENCE_NODES
    hooks = sys.modules["house_prices.recording_hooks"]
    regressor = hooks.CATALOGS[-1].load("regressor")
    on_disk = pickle.loads((project.path / TRAINING_OUTPUT).read_bytes())
    assert (regressor["coefficients"] == 2 * on_disk["coefficients"]).all()
