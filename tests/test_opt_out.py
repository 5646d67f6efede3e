"""The opt-out works without the CLI: under ``KedroSession.run`` and under a project's own ``run``.

Airflow, Databricks jobs and notebooks run Kedro with ``KedroSession.run``, where no
``--no-output-schema`` flag exists; a project's own ``cli.py`` replaces the plugin's
``run``. ``KEDRO_MLFLOW_DRYRUN_ENABLED=false`` skips the dry run in every case.
"""

from __future__ import annotations

MARKED_DESIGN = """
    _design_matrix = design_matrix

    def design_matrix(houses, regressor):
        from pathlib import Path

        Path("inference_ran.marker").touch()
        return _design_matrix(houses, regressor)
"""

# A project's own ``kedro run``, as ``kedro new`` writes it: it wins over the plugin's.
PROJECT_CLI = """
    import click
    from kedro.framework.cli.project import run as kedro_run


    @click.group(name="house-prices")
    def cli():
        pass


    @cli.command(name="run", params=kedro_run.params)
    def run(**options):
        return kedro_run.callback(**options)
"""


def _assert_skipped_like_without_the_plugin(project, reason: str, output: str = "") -> None:
    assert not (project.path / "inference_ran.marker").exists(), "the inference pipeline ran"
    view = project.mlflow_view()
    assert len(view.models) == 1 and view.run.info.status == "FINISHED"
    assert view.tags["dryrun.status"] == "skipped"
    assert view.signature.outputs is None
    # kedro-mlflow's own signature: the whole input, target included, reloaded.
    assert view.signature.inputs.input_names() == ["area", "rooms", "age", "city", "price"]
    if output:
        assert f"Dry run skipped: {reason}" in output


def test_the_variable_skips_the_dry_run_under_kedro_run(project):
    project.override_node(MARKED_DESIGN)

    # Read at each run (config.resolve), not at import: this process's CLI sees it too.
    result = project.kedro_here(
        "run", "--pipeline=training", env={"KEDRO_MLFLOW_DRYRUN_ENABLED": "false"}
    )

    assert result.returncode == 0, result.output
    _assert_skipped_like_without_the_plugin(
        project, "KEDRO_MLFLOW_DRYRUN_ENABLED=false", result.output
    )


def test_the_variable_skips_the_dry_run_under_a_kedro_session(project, in_process, monkeypatch):
    project.override_node(MARKED_DESIGN)
    monkeypatch.setenv("KEDRO_MLFLOW_DRYRUN_ENABLED", "0")

    in_process(pipeline_names=["training"])

    _assert_skipped_like_without_the_plugin(project, "KEDRO_MLFLOW_DRYRUN_ENABLED=0")


def test_a_kedro_session_runs_the_dry_run_by_default(project, in_process):
    """Guards the test above: the same session, without the variable, does dry-run."""
    project.override_node(MARKED_DESIGN)

    in_process(pipeline_names=["training"])

    assert (project.path / "inference_ran.marker").exists()
    assert project.mlflow_view().tags["dryrun.status"] == "passed"


def test_the_variable_works_when_the_project_overrides_run(project):
    project.override_node(MARKED_DESIGN)
    project.write("src/house_prices/cli.py", PROJECT_CLI)

    # Kedro's CLI imports the project's cli.py afresh each time (the project is forgotten).
    helped = project.kedro_here("run", "--help")
    result = project.kedro_here(
        "run", "--pipeline=training", env={"KEDRO_MLFLOW_DRYRUN_ENABLED": "no"}
    )

    assert helped.returncode == 0 and "--pipeline" in helped.output, helped.output
    assert "--no-output-schema" not in helped.output, "the project's own run must be used"
    assert result.returncode == 0, result.output
    _assert_skipped_like_without_the_plugin(project, "KEDRO_MLFLOW_DRYRUN_ENABLED=no")


def test_only_missing_outputs_is_a_partial_run(project):
    result = project.kedro_here("run", "--pipeline=training", "--only-missing-outputs")

    assert result.returncode == 0, result.output
    assert "Dry run skipped: a partial training run (--only-missing-outputs)" in result.output
    view = project.mlflow_view()
    assert len(view.models) == 1 and view.tags["dryrun.status"] == "skipped"


def test_a_variable_that_is_neither_true_nor_false_stops_before_training(project):
    result = project.kedro(
        "run", "--pipeline=training", env={"KEDRO_MLFLOW_DRYRUN_ENABLED": "maybe"}
    )

    assert result.returncode == 1, result.output
    assert "Error: KEDRO_MLFLOW_DRYRUN_ENABLED='maybe' is neither true nor false" in result.output
    assert "Traceback" not in result.output
    assert not (project.path / "data/06_models/regressor.pkl").exists()
