"""Schema warnings: one per input column whose values MLflow's scoring server changes
before the model sees them, each matching what the server really does."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mlflow.models import Model, ModelSignature
from mlflow.pyfunc import PyFuncModel
from mlflow.pyfunc.scoring_server import CONTENT_TYPE_JSON, invocations
from mlflow.types import ColSpec, Schema, TensorSpec

from kedro_mlflow_dryrun.stages.explore.strategies import silent_changes

from served_path import SCHEMA, Keeper

pytestmark = pytest.mark.lowest

#: Per column type the warning is about: a value, and what the model receives for it.
SILENTLY_CHANGED = {
    "integer": (2**31, -(2**31)),
    "float": (1e39, float("inf")),
    "boolean": (None, False),
}


@pytest.mark.parametrize("column_type", list(SILENTLY_CHANGED))
def test_a_value_the_server_changes_silently_is_a_schema_warning(column_type: str) -> None:
    """The warning says what a client would see: HTTP 200, and the model got another value."""
    schema = Schema([ColSpec("double", "price"), ColSpec(column_type, "x")])
    sent, received_value = SILENTLY_CHANGED[column_type]

    (warning,) = silent_changes(schema)
    assert warning.startswith(f"Input column 'x' ({column_type}): ")
    assert "\nFix: log the column as " in warning
    body = {"dataframe_split": {"columns": ["price", "x"], "data": [[1.0, sent]]}}
    keeper = Keeper()
    model = PyFuncModel(Model(signature=ModelSignature(inputs=schema)), keeper)
    reply = invocations(json.dumps(body), CONTENT_TYPE_JSON, model, schema)
    assert reply.status == 200
    assert keeper.received["x"].tolist() == [received_value]


def test_columns_the_server_hands_over_as_sent_get_no_warning() -> None:
    assert silent_changes(Schema(SCHEMA.inputs[:3])) == []  # long, double, string
    assert silent_changes(Schema([TensorSpec(np.dtype("float32"), (-1, 2))])) == []
