"""Strategies: the serving requests an MLflow signature admits, for hypothesis to explore.

The serve check sends training's sample once, as one batch. A served model answers
any request its signature admits: no row, one row, a batch of three, a value training
never had, a null in a column whose type carries one, an optional column left out,
params other than the defaults. :func:`requests` generates those requests from the
input schema, the params schema and what the sample shows of each column;
:func:`~kedro_mlflow_dryrun.stages.explore.body.request_body` turns one into the JSON
body a client posts to ``mlflow models serve``.

Every request is one the scoring server accepts: its parsing (``_parse_json_data``)
and schema enforcement (``_enforce_schema``, ``_enforce_params_schema``) pass, so
whatever the model then does with it is the model's answer, not a rejected request
(checked on MLflow 3.17). "Required" means the column is present, not that its values
are non-null: a null in a ``double``, ``float``, ``string`` or ``datetime`` column,
required or not, reaches the model as NaN, None or NaT, and is sent. A null in an
``integer``, ``long`` or ``binary`` column is refused (an optional one is left out
instead). What the server would change silently before the model sees it (a null in
a ``boolean`` column, a number beyond 32 bits) is never sent:
:func:`~kedro_mlflow_dryrun.stages.explore.silent.silent_changes` warns of it instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
from hypothesis import strategies as st
from mlflow.types import ColSpec, DataType, ParamSchema, Schema

from kedro_mlflow_dryrun.stages.explore.body import Request, plain, request_body
from kedro_mlflow_dryrun.stages.explore.params import params
from kedro_mlflow_dryrun.stages.explore.silent import silent_changes
from kedro_mlflow_dryrun.stages.explore.values import (
    NULLABLE,
    REFUSED,
    UnsupportedSchemaError,
    admitted,
    values,
)

__all__ = ["Request", "UnsupportedSchemaError", "request_body", "requests", "silent_changes"]

#: Rows in a request: none, one, or a small batch.
MAX_ROWS = 10
#: One request in this many may hold nulls, so that a model which cannot take them
#: still shows its other findings on the rest.
_NULLS_ONE_IN = 4


def requests(
    schema: Schema, sample: pd.DataFrame, params_schema: ParamSchema | None = None
) -> st.SearchStrategy[Request]:
    """Requests the signature admits: no row, one row, small batches (2..10 rows), sample
    rows mixed with generated rows, and params left to their defaults or not.

    A named column schema gets generated values for every column, from what the
    sample shows of it (numbers around the observed range and one step outside the
    observed whole numbers, unseen strings, datetimes before and after the observed
    span, ...: see :func:`~kedro_mlflow_dryrun.stages.explore.values.values`); each
    optional column is left out of some requests; in some requests, a column whose
    null reaches the model is null in some rows. Hypothesis shrinks a request toward
    one row, sample rows and sample values, every column present, no null and no
    params.

    A tensor schema, or a column schema without names, gets the sample's own rows in
    new shapes: one row, or a batch of 2..10 rows taken from it.

    Drawing from these strategies writes hypothesis' caches (Unicode tables, the
    constants of local modules) under its storage directory, ``.hypothesis/`` in the
    working directory, whatever ``settings(database=None)`` says: a caller that must
    leave a project untouched points it elsewhere first, with
    ``hypothesis.configuration.set_hypothesis_home_dir``.

    Raises:
        UnsupportedSchemaError: the schema admits no request that can be generated.
    """
    sent_params = params(params_schema)
    if schema.is_tensor_spec() or not schema.has_input_names():
        return _sample_rows_reshaped(sample, sent_params)
    columns = [column for column in schema.inputs if isinstance(column, ColSpec)]
    cells: dict[str, st.SearchStrategy[Any]] = {}
    for column in columns:
        name = str(column.name)
        cell = values(column.type, _observed(sample, name), nested=False)
        if cell is None and column.required:
            raise UnsupportedSchemaError(
                f"No JSON request can carry a value of the required column '{name}' "
                f"({column.type}): MLflow's scoring server refuses integer, float and "
                "datetime values inside arrays, objects and maps."
            )
        cells[name] = st.none() if cell is None else cell
    sample_rows = _usable_sample_rows(sample, columns)
    rows = {nulls: _rows(cells, columns, sample_rows, nulls=nulls) for nulls in (False, True)}

    @st.composite
    def request(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Request:
        # A drawn False keeps the column, and every row has every column: a request
        # shrinks toward all columns present rather than toward fewer draws.
        present = [c for c in columns if c.required or not draw(st.booleans())]
        present = present or columns[:1]  # a request of no column has no rows either
        nulls = draw(st.integers(0, _NULLS_ONE_IN - 1)) == _NULLS_ONE_IN - 1
        drawn = draw(st.lists(rows[nulls], min_size=0, max_size=MAX_ROWS))
        names = [str(c.name) for c in present]
        return Request(names, [[row[name] for name in names] for row in drawn], draw(sent_params))

    return request()


def _rows(
    cells: Mapping[str, st.SearchStrategy[Any]],
    columns: list[ColSpec],
    sample_rows: list[dict[str, object]],
    nulls: bool,
) -> st.SearchStrategy[dict[str, object]]:
    """Rows of generated cells, null where ``nulls`` and the column carries one, or of
    the sample."""
    generated = st.fixed_dictionaries(
        {
            name: _maybe_null(cell) if nulls and _carries_null(column) else cell
            for (name, cell), column in zip(cells.items(), columns, strict=True)
        }
    )
    return st.one_of(st.sampled_from(sample_rows), generated) if sample_rows else generated


def _maybe_null(cell: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # A value is drawn even for a null: a null costs no fewer draws than a value, so
    # hypothesis shrinks toward the value, not toward the null.
    return st.tuples(cell, st.booleans()).map(lambda drawn: None if drawn[1] else drawn[0])


def _carries_null(column: ColSpec) -> bool:
    """Whether a null in that column reaches the model as a null: required or not for
    the types whose null the server admits, and an optional column of another kind."""
    if isinstance(column.type, DataType):
        return column.type in NULLABLE
    return not column.required


def _observed(sample: pd.DataFrame, name: str) -> list[object]:
    """The sample's non-null values of a column, as plain Python values."""
    if name not in sample.columns:
        return []
    cells = [plain(v) for v in sample[name].tolist()]
    return [v for v in cells if v is not None]


def _usable_sample_rows(sample: pd.DataFrame, columns: list[ColSpec]) -> list[dict[str, object]]:
    """The sample's rows whose every cell a request carries as it is.

    A row with a value the server would refuse in a column of that type (a null in
    a ``long`` column, an integer in a ``double`` array, ...) is left out.
    """
    if not all(column.name in sample.columns for column in columns):
        return []
    rows = []
    for record in sample[[c.name for c in columns]].to_dict(orient="records"):
        row = {name: plain(value) for name, value in record.items()}
        if all(_carries(column, row[column.name]) for column in columns):
            rows.append(row)
    return rows


def _carries(column: ColSpec, value: object) -> bool:
    """Whether the scoring server accepts ``value`` in that column of a JSON request."""
    if value is None:
        return _carries_null(column)
    return admitted(column.type, value, nested=False) is not REFUSED


def _sample_rows_reshaped(
    sample: pd.DataFrame, sent_params: st.SearchStrategy[Mapping[str, object]]
) -> st.SearchStrategy[Request]:
    if sample.empty:
        raise UnsupportedSchemaError(
            "A tensor or unnamed input schema gets requests made of the sample's rows, "
            "and the sample has none."
        )
    whole = Request.of(sample)
    positions = st.lists(st.integers(0, len(whole) - 1), min_size=1, max_size=MAX_ROWS)
    return st.builds(
        lambda rows, sent: Request(whole.columns, [whole.data[row] for row in rows], sent),
        positions,
        sent_params,
    )
