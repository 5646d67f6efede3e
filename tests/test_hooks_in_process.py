"""The hooks in a ``KedroSession`` run in this process, with a real sqlite store."""

from __future__ import annotations

import pytest
from kedro_datasets.pandas import CSVDataset

from kedro_mlflow_dryrun import ConfigError, DryRunFailed

EXPLICIT_SIGNATURE = """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    _register = register_pipelines

    def register_pipelines():
        pipelines = _register()
        pipelines["training"].log_model_kwargs["signature"] = ModelSignature(
            inputs=Schema(
                [ColSpec("double", "area"), ColSpec("long", "rooms"), ColSpec("long", "age"),
                 ColSpec("string", "city")]
            ),
            outputs=Schema([ColSpec("double", "{column}"), ColSpec("string", "band")]),
        )
        return pipelines
"""


@pytest.fixture
def houses_loads(monkeypatch):
    """Counts the reads of the training input's CSV file (the real reads still happen)."""
    loads: list[str] = []
    real_load = CSVDataset.load

    def counting_load(self):
        if str(self._filepath).endswith("houses.csv"):
            loads.append(str(self._filepath))
        return real_load(self)

    monkeypatch.setattr(CSVDataset, "load", counting_load)
    return loads


def test_the_training_input_is_read_once(project, in_process, houses_loads):
    in_process(pipeline_names=["training"])

    assert len(houses_loads) == 1
    assert project.mlflow_view().signature.outputs is not None


def test_without_the_dry_run_kedro_mlflow_reads_it_twice(project, in_process, houses_loads):
    project.set_dryrun(enabled=False)

    in_process(pipeline_names=["training"])

    assert len(houses_loads) == 2


def test_runtime_params_are_the_ones_the_dry_run_uses(project, in_process):
    in_process(runtime_params={"price_bands": {"low": 1, "high": 2}}, pipeline_names=["training"])

    params = {p.name: p.default for p in project.mlflow_view().signature.params.params}
    assert params["price_bands"] == {"low": 1, "high": 2}
    assert project.mlflow_view().report["status"] == "passed"


def test_an_explicit_signature_is_kept(project, in_process):
    project.append(
        "src/house_prices/pipeline_registry.py", EXPLICIT_SIGNATURE.format(column="price")
    )

    in_process(pipeline_names=["training"])

    view = project.mlflow_view()
    assert view.signature.outputs.input_names() == ["price", "band"]
    assert view.signature.params is None, "the plugin's own signature would carry params"
    assert view.tags["dryrun.status"] == "passed"
    assert view.report["serve"]["status"] == 200


def test_an_explicit_signature_that_does_not_fit_fails_after_logging(project, in_process):
    project.append(
        "src/house_prices/pipeline_registry.py", EXPLICIT_SIGNATURE.format(column="cost")
    )

    with pytest.raises(DryRunFailed, match="Output 'predictions' does not match"):
        in_process(pipeline_names=["training"])

    view = project.mlflow_view()
    assert len(view.models) == 1
    assert view.run.info.status == "FINISHED"
    assert view.signature.outputs.input_names() == ["cost", "band"]
    assert view.tags["dryrun.status"] == "failed"


def test_a_bad_dryrun_yml_stops_before_training(project, in_process):
    project.set_dryrun(sample_size="all")

    with pytest.raises(ConfigError, match="'sample_size' must be a int"):
        in_process(pipeline_names=["training"])

    assert not (project.path / "data/06_models/regressor.pkl").exists()


@pytest.mark.parametrize("on_error", ["warn", "fail"])
def test_the_plugins_own_failure_is_an_error_that_loses_nothing(
    project, in_process, monkeypatch, on_error
):
    from kedro_mlflow_dryrun.stages import infer

    def broken(context):
        raise AttributeError("module 'mlflow.models.utils' has no attribute '_enforce_schema'")

    monkeypatch.setattr(infer, "outputs", broken)
    project.set_dryrun(on_error=on_error)

    if on_error == "fail":
        with pytest.raises(DryRunFailed, match="To only warn, set 'on_error: warn'"):
            in_process(pipeline_names=["training"])
    else:
        in_process(pipeline_names=["training"])

    view = project.mlflow_view()
    assert view.run.info.status == "FINISHED"
    assert view.tags["dryrun.status"] == "error"
    assert len(view.models) == 1 and view.signature.outputs is None, "kedro-mlflow's own model"
    assert (project.path / "data/06_models/regressor.pkl").exists()
    reason = view.report["reason"]
    assert "stage 'test_hooks_in_process' raised AttributeError" in reason
    assert "The model is logged all the same" in reason and "kedro-mlflow-dryrun 0." in reason


def test_a_model_kedro_mlflow_fails_to_log_is_an_error_never_passed(
    project, in_process, plugin_lines
):
    import mlflow
    from mlflow import MlflowClient

    # MLflow refuses both at once: kedro-mlflow's log_model raises after the dry run.
    project.set_log_model_kwargs(
        '{"name": "house_prices", "conda_env": {"dependencies": ["pip"]}, '
        '"pip_requirements": ["pandas"]}'
    )

    with pytest.raises(Exception, match="Only one of `conda_env`, `pip_requirements`") as raised:
        in_process(pipeline_names=["training"])

    client = MlflowClient(tracking_uri=project.tracking_uri)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.data.tags["dryrun.status"] == "error"
    models = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], output_format="list"
    )
    assert [str(model.status) for model in models] == ["FAILED"]
    report = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/dryrun/report.json")
    assert report["stage"] == "log_model"
    assert report["reason"].startswith(
        f"kedro-mlflow could not log the model: {type(raised.value).__name__}: Only one of"
    )
    assert plugin_lines[-1].startswith(
        "Dry run verdict: error (dry run passed, kedro-mlflow's log_model error): "
        "kedro-mlflow could not log the model"
    )
