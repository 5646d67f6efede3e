"""Answers compared by their column's type: the one comparison of serve, explore and Spark."""

from __future__ import annotations

import json
import shlex
import subprocess
from typing import Any

from mlflow.types import ColSpec, DataType, Schema

from kedro_mlflow_dryrun.answers import column_tolerances, differing_columns, same_answer
from kedro_mlflow_dryrun.stages.explore.findings import replay_concurrently

#: A float32 model's row alone and inside a batch (measured): one float32 step apart.
ALONE, IN_BATCH = 149681.484375, 149681.46875


def _tolerances(price_type: DataType) -> dict[str | None, float]:
    return column_tolerances(Schema([ColSpec(price_type, "price"), ColSpec("string", "band")]))


def test_a_float32_column_is_compared_at_float32_resolution_a_double_at_1e_9():
    alone, in_batch = [{"price": ALONE, "band": "high"}], [{"price": IN_BATCH, "band": "high"}]

    assert same_answer(alone, in_batch, _tolerances(DataType.float))
    assert not same_answer(alone, in_batch, _tolerances(DataType.double))
    assert differing_columns(alone[0], in_batch[0], _tolerances(DataType.double)) == ["price"]
    assert not same_answer(
        [{"price": ALONE, "band": "high"}], [{"price": ALONE, "band": "low"}], {}
    )


def test_one_unnamed_column_takes_its_type_and_nan_equals_nan():
    tolerances = column_tolerances(Schema([ColSpec(DataType.float)]))

    assert same_answer([ALONE, float("nan")], [IN_BATCH, float("nan")], tolerances)
    assert not same_answer([ALONE], [IN_BATCH], {})
    assert not same_answer([1], [True], tolerances)


def test_the_concurrent_replay_sends_each_body_whole_whatever_its_quotes():
    bodies: list[dict[str, Any]] = [
        {"dataframe_split": {"data": [['it\'s "quoted"']]}},
        {"dataframe_split": {}},
    ]
    command = replay_concurrently(bodies)
    echoed = command.replace("curl -s http://127.0.0.1:5000/invocations", "printf '%s\\n'")
    echoed = echoed.replace("-H 'Content-Type: application/json' -w '\\n' -d", "")

    shown = subprocess.run(["bash", "-c", echoed], capture_output=True, text=True, check=True)

    assert sorted(shown.stdout.split("\n")[:-1]) == sorted(json.dumps(b) for b in bodies)
    assert shlex.split(command)[0] == "printf"
