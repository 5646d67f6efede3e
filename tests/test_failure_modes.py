"""Every failure mode: what the user sees, and that nothing is lost."""

from __future__ import annotations

import pandas as pd
import pytest

REQUESTS_INPUT = """
    from kedro.pipeline import pipeline as _rename

    _register_requests = register_pipelines

    def register_pipelines():
        from house_prices.pipelines import inference_pipeline, training_pipeline

        training = pipeline_ml_factory(
            training=training_pipeline(),
            inference=_rename(inference_pipeline(), inputs={"houses": "requests"}),
            input_name="requests",
            log_model_kwargs={"name": "house_prices"},
        )
        return {"training": training, "__default__": training}
"""

PLAIN_PIPELINE = """
    _register_plain = register_pipelines

    def register_pipelines():
        from house_prices.pipelines import training_pipeline

        return {**_register_plain(), "plain": training_pipeline()}
"""


def _requests_project(project, requests_entry: str) -> None:
    project.append("src/house_prices/pipeline_registry.py", REQUESTS_INPUT)
    project.append("conf/base/catalog.yml", requests_entry)


def test_an_input_training_did_not_load_and_not_readable_in_part_is_loaded_whole(project):
    _requests_project(
        project, "requests:\n  type: pickle.PickleDataset\n  filepath: data/requests.pkl\n"
    )
    # Readable whole (as kedro-mlflow's own signature needs), but not in part.
    pd.read_csv(project.path / "data/01_raw/houses.csv").to_pickle(
        project.path / "data/requests.pkl"
    )
    project.set_dryrun(drop_columns=["price"])

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 0, result.output
    loaded = "the catalog entry, loaded whole: a PickleDataset cannot be read in part"
    assert f"Dry run passed: 100 rows of 'requests' ({loaded})" in result.output
    view = project.mlflow_view()
    assert len(view.models) == 1 and view.run.info.status == "FINISHED"
    assert view.tags["dryrun.status"] == "passed"


def test_sample_dataset_names_another_dataset_to_sample(project):
    _requests_project(
        project, "requests:\n  type: pickle.PickleDataset\n  filepath: data/requests.pkl\n"
    )
    project.set_dryrun(drop_columns=["price"], sample_dataset="houses")

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 0, result.output
    view = project.mlflow_view()
    assert view.tags["dryrun.status"] == "passed"
    assert view.report["sample_source"] == "captured from training"
    assert view.signature.outputs.input_names() == ["price", "band"]


def test_an_empty_sample_fails_and_says_so(project):
    (project.path / "data/01_raw/empty.csv").write_text("area,rooms,age,city,price\n")
    _requests_project(
        project, "requests:\n  type: pandas.CSVDataset\n  filepath: data/01_raw/empty.csv\n"
    )
    project.set_dryrun(drop_columns=["price"])

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 1, result.output
    assert "'requests' has no rows, so the inference pipeline cannot be tried" in result.output
    assert project.mlflow_view().tags["dryrun.status"] == "failed"


def test_fewer_rows_than_sample_size_uses_them_all(project):
    houses = (project.path / "data/01_raw/houses.csv").read_text().splitlines()
    (project.path / "data/01_raw/houses.csv").write_text("\n".join(houses[:31]) + "\n")

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 0, result.output
    assert project.mlflow_view().report["sample_rows"] == 30


def test_an_output_of_none_names_the_node(project):
    project.override_node(
        """
        def predict_prices(design, regressor, price_bands):
            return None
        """
    )

    result = project.kedro_here("run", "--pipeline=training")

    assert result.returncode == 1, result.output
    assert "node 'predict_prices'" in result.output
    # Kedro refuses to keep None as a dataset: the node is named with that cause.
    assert "Saving 'None' to a 'Dataset' is not allowed" in result.output
    assert len(project.mlflow_view().models) == 1


@pytest.mark.parametrize(
    "option", ["--nodes=fit_regressor", "--from-nodes=fit_regressor", "--to-nodes=fit_regressor"]
)
def test_a_partial_training_run_is_skipped_with_the_reason(project, option):
    result = project.kedro_here("run", "--pipeline=training", option)

    assert result.returncode == 0, result.output
    assert "Dry run skipped: a partial training run" in result.output
    assert project.mlflow_view().tags["dryrun.status"] == "skipped"


def test_several_pipelines_at_once_are_skipped_with_the_reason(project):
    project.append("src/house_prices/pipeline_registry.py", PLAIN_PIPELINE)
    project.append(
        "src/house_prices/pipeline_registry.py",
        """
        _register_more = register_pipelines

        def register_pipelines():
            from kedro.pipeline import Pipeline, node

            def echo(features):
                return features

            extra = Pipeline([node(echo, "params:features", "echoed", name="echo")])
            return {**_register_more(), "other": extra}
        """,
    )

    result = project.kedro_here("run", "--pipelines=training,other")

    assert result.returncode == 0, result.output
    assert "Dry run skipped: 'training' ran together with other pipelines" in result.output
    view = project.mlflow_view()
    assert view.models == []
    assert view.tags["dryrun.status"] == "skipped"


def test_a_bad_dryrun_yml_fails_before_training_in_one_line(project):
    project.set_dryrun(on_failure="ignore")

    result = project.kedro("run", "--pipeline=training")

    assert result.returncode == 1, result.output
    assert "Error: dryrun.yml: 'on_failure' must be 'fail' or 'warn', got 'ignore'" in result.output
    assert "Traceback" not in result.output
    assert not (project.path / "data/06_models/regressor.pkl").exists()


def test_an_unreachable_tracking_server_fails_before_training(project):
    project.write(
        "conf/local/mlflow.yml",
        "server:\n  mlflow_tracking_uri: http://127.0.0.1:9\n",
    )

    result = project.kedro(
        "run",
        "--pipeline=training",
        env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"},
    )

    assert result.returncode != 0
    assert "127.0.0.1:9" in result.output
    assert not (project.path / "data/06_models/regressor.pkl").exists()


def test_an_interrupt_during_the_dry_run_keeps_the_model_and_closes_the_run(project, in_process):
    project.override_node(
        """
        def predict_prices(design, regressor, price_bands):
            raise KeyboardInterrupt
        """
    )

    with pytest.raises(KeyboardInterrupt):
        in_process(pipeline_names=["training"])

    view = project.mlflow_view()
    assert len(view.models) == 1
    assert view.run.info.status == "FINISHED"
    assert view.tags["dryrun.status"] == "error"
    assert view.report["reason"] == "Interrupted during the dry run."
