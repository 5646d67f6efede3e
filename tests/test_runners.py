"""The dry run gives the same signature whichever runner trains the model."""

from __future__ import annotations

import pytest

CAPTURED = "captured from training"
PARTIAL_READ = "partial read of the catalog entry"


@pytest.mark.parametrize(
    ("runner", "sample_source"),
    [
        ("SequentialRunner", CAPTURED),
        ("ThreadRunner", CAPTURED),
        # Its dataset hooks run in the worker processes: the main process never sees
        # the training input loaded, so the dry run reads its first rows itself.
        ("ParallelRunner", PARTIAL_READ),
    ],
)
def test_every_runner_records_the_same_signature(project, runner, sample_source):
    result = project.kedro("run", "--pipeline=training", f"--runner={runner}")

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
