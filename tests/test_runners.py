"""The dry run gives the same signature whichever runner trains the model."""

from __future__ import annotations

import pytest

CAPTURED = "captured from training"
PARTIAL_READ = "partial read of the catalog entry"


def _houses_as_a_spark_output_directory(project) -> None:
    """``houses`` as Spark writes Parquet: part files, ``_SUCCESS`` and ``.crc`` files."""
    import pandas as pd

    houses = pd.read_csv(project.path / "data/01_raw/houses.csv")
    directory = project.path / "data/01_raw/houses.parquet"
    directory.mkdir()
    houses.iloc[:500].to_parquet(directory / "part-00000-c000.snappy.parquet", index=False)
    houses.iloc[500:].to_parquet(directory / "part-00001-c000.snappy.parquet", index=False)
    (directory / "_SUCCESS").touch()
    (directory / ".part-00000-c000.snappy.parquet.crc").write_bytes(b"crc")
    project.set_catalog_entry(
        "houses", "type: pandas.ParquetDataset\nfilepath: data/01_raw/houses.parquet"
    )


@pytest.mark.parametrize(
    ("runner", "sample_source"),
    [
        ("SequentialRunner", CAPTURED),
        ("ThreadRunner", CAPTURED),
        # Its dataset hooks run in the worker processes: the main process never sees
        # the training input loaded, so the dry run reads its first rows itself, here
        # from a directory of Parquet files.
        ("ParallelRunner", PARTIAL_READ),
    ],
)
def test_every_runner_records_the_same_signature(project, runner, sample_source):
    if runner == "ParallelRunner":
        _houses_as_a_spark_output_directory(project)

    result = project.kedro_for(runner)("run", "--pipeline=training", f"--runner={runner}")

    assert result.returncode == 0, result.output
    sampled = "'houses'" if sample_source == CAPTURED else f"'houses' ({sample_source})"
    assert f"Dry run passed: 100 rows of {sampled} -> 'predictions'" in result.output
    view = project.mlflow_view()
    assert len(view.models) == 1
    assert view.run.info.status == "FINISHED"
    outputs = [(c["name"], c["type"]) for c in view.signature.outputs.to_dict()]
    assert outputs == [("price", "double"), ("band", "string")]
    assert view.signature.inputs.input_names() == ["area", "rooms", "age", "city"]
    assert {p.name for p in view.signature.params.params} == {"price_bands", "runner"}
    assert view.tags["dryrun.status"] == "passed"
    assert view.report["sample_source"] == sample_source
    assert view.report["sample_rows"] == 100
    assert view.report["serve"]["status"] == 200
    if runner == "ParallelRunner":  # and the same directory before training: pre-flight
        preflight = project.kedro_here("dryrun")
        assert preflight.returncode == 0, preflight.output
        assert f"Dry run passed: 100 rows of 'houses' ({PARTIAL_READ})" in preflight.output
