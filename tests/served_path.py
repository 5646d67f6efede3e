"""The served path for the generator's tests: a request sent as its JSON body through the
scoring server's ``invocations`` to a real ``PyFuncModel`` whose model keeps what it was
handed; and the house-prices schema and sample they generate from."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, Phase, settings
from mlflow.models import Model, ModelSignature
from mlflow.pyfunc import PyFuncModel
from mlflow.pyfunc.scoring_server import CONTENT_TYPE_JSON, invocations
from mlflow.types import ColSpec, ParamSchema, Schema

from kedro_mlflow_dryrun.stages.explore.strategies import Request, request_body

#: No example database: nothing of these tests is replayed, nothing is written.
QUICK = settings(
    database=None,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: Whether generation reaches a kind of request at all: the first one found will do.
REACHES = settings(QUICK, phases=[Phase.generate], max_examples=300)

# A house-prices sample: what training showed of each column.
SCHEMA = Schema(
    [
        ColSpec("long", "rooms"),
        ColSpec("double", "surface"),
        ColSpec("string", "city"),
        ColSpec("boolean", "garden"),
        ColSpec("datetime", "listed"),
        ColSpec("long", "floor", required=False),
        ColSpec("double", "rating", required=False),
    ]
)
SAMPLE = pd.DataFrame(
    {
        "rooms": [1, 3, 5],
        "surface": [20.5, 80.0, 120.0],
        "city": ["Paris", "Lyon", "Nice"],
        "garden": [True, False, True],
        "listed": pd.to_datetime(["2020-01-01", "2021-06-15", "2022-12-31"]),
        "floor": [0, 2, 4],
        "rating": [4.5, np.nan, 3.0],
    }
)


class Keeper:
    """A model that keeps what the scoring server handed it, and answers one row per row."""

    received: pd.DataFrame
    params: dict[str, Any] | None

    def predict(self, data: pd.DataFrame, params: dict[str, Any] | None = None) -> list[int]:
        self.received, self.params = data, params
        return [0] * len(data)


def served_with_params(
    schema: Schema, request: Request, params: ParamSchema | None = None
) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """What a model served with that signature receives for ``request``, sent as its JSON
    body: the rows, and the params with the defaults filled in."""
    keeper = Keeper()
    signature = (
        ModelSignature(inputs=schema) if params is None else ModelSignature(schema, None, params)
    )
    model = PyFuncModel(Model(signature=signature), keeper)
    text = json.dumps(request_body(request), allow_nan=False)
    reply = invocations(text, CONTENT_TYPE_JSON, model, schema)
    assert reply.status == 200, reply.response
    assert json.loads(reply.response) == {"predictions": [0] * len(request)}
    return keeper.received, keeper.params


def served(schema: Schema, request: Request) -> pd.DataFrame:
    return served_with_params(schema, request)[0]


def table(request: Request) -> pd.DataFrame:
    """A request's rows as a table: a column of numbers or datetimes of one type typed as
    pandas infers it, any other of objects (a whole double sent as an int stays an int, a
    null string None)."""
    width = len(request.columns) if request.columns is not None else len(request.data[0])
    names = request.columns if request.columns is not None else list(range(width))
    by_name = {name: _typed([row[i] for row in request.data]) for i, name in enumerate(names)}
    return pd.DataFrame(by_name, columns=names)


def _typed(values: list[object]) -> pd.Series:
    column = pd.Series(values, dtype=object)
    types = {type(v) for v in values if v is not None}
    return (
        column.infer_objects()
        if len(types) == 1 and types <= {int, float, pd.Timestamp}
        else column
    )


def cells(column: pd.Series) -> list[object]:
    return [None if missing(v) else v for v in column.tolist()]


def numbers(column: pd.Series) -> pd.Series:
    """A column of numbers sent as floats, ints or nulls, as floats (nulls as NaN)."""
    return pd.to_numeric(column).astype(float)


def missing(value: object) -> bool:
    return value is None or (np.isscalar(value) and bool(pd.isna(value)))
