"""Strategies: the serving requests an MLflow input schema admits, for hypothesis to explore.

The serve check sends training's sample once, as one batch. A served model answers
any request its signature admits: one row, a batch of three, a value training never
had, an optional column left out. :func:`requests` generates those requests from
the input schema and what the sample shows of each column; :func:`request_body`
turns one into the JSON body a client posts to ``mlflow models serve``.

Every request is one the scoring server accepts: its parsing
(``_parse_json_data``) and schema enforcement (``_enforce_schema``) pass, so
whatever the model then does with it is the model's answer, not a rejected
request. That rules out values JSON cannot carry to a column of that type (checked
on MLflow 3.17): a null in an ``integer``, ``long`` or ``binary`` column (an
optional one is left out instead; a null in a ``boolean`` one would reach the model
as False, so it is left out too), an ``integer`` or ``float`` beyond its 32 bits
(the server wraps or overflows them silently), NaN or Infinity (not JSON),
datetimes in more than one form, and ``integer``, ``float`` or ``datetime`` values
nested in an array, object or map (the server refuses them there; such arrays and
maps stay empty).
"""

from __future__ import annotations

import base64
import datetime
import json
import math
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st
from mlflow.types import ColSpec, DataType, Schema
from mlflow.types.schema import AnyType, Array, Map, Object

from kedro_mlflow_dryrun.compat import enforce_type
from kedro_mlflow_dryrun.errors import IncompatibleVersionError

#: Rows in a request: one row, or a small batch.
MAX_ROWS = 10
#: Strings a lookup built from training's categories is unlikely to know: empty,
#: non-ASCII, long.
UNSEEN_STRINGS = ("", "Zürich, 東京 ✓ 🙂", "x" * 1000)
#: Datetimes when the sample shows none: the span pandas' nanoseconds can hold, roughly.
DEFAULT_SPAN = (datetime.datetime(1900, 1, 1), datetime.datetime(2200, 1, 1))
#: The one form every datetime of a request takes: the server parses a column with
#: the format of its first value, and refuses a column that mixes forms.
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"

_INT_BOUNDS = {
    DataType.integer: (-(2**31), 2**31 - 1),
    DataType.long: (-(2**63), 2**63 - 1),
}
_FLOAT_MAX = {
    DataType.float: float(np.finfo(np.float32).max),
    DataType.double: float(np.finfo(np.float64).max),
}
#: Types whose null a JSON request carries to the model: the server refuses a null
#: in ``integer``, ``long`` and ``binary`` columns, and reads it as False in ``boolean`` ones.
_NULLABLE = frozenset({DataType.float, DataType.double, DataType.string, DataType.datetime})
#: Types the server accepts inside an array, object or map when sent as JSON.
_NESTABLE = frozenset(
    {DataType.long, DataType.double, DataType.boolean, DataType.string, DataType.binary}
)
_PANDAS_DTYPES = {
    DataType.integer: "int32",
    DataType.long: "int64",
    DataType.float: "float32",
    DataType.double: "float64",
    DataType.datetime: "datetime64[ns]",
}

ColumnType = DataType | Array | Object | Map | AnyType
#: What :func:`_admitted` returns for a value the server would refuse.
_REFUSED = object()


class UnsupportedSchemaError(Exception):
    """No request the schema admits can be generated: the explore stage reports why and skips.

    Raised for a required column whose type no JSON request can carry (an array,
    object or map that needs an ``integer``, ``float`` or ``datetime`` inside), and
    for a tensor or unnamed schema with an empty sample (those requests are made of
    sample rows only).
    """


def requests(schema: Schema, sample: pd.DataFrame) -> st.SearchStrategy[pd.DataFrame]:
    """Requests the schema admits: one row, small batches (2..10 rows), sample rows
    mixed with generated rows.

    A named column schema gets generated values for every column, from what the
    sample shows of it (numbers around the observed range and one step outside the
    observed whole numbers, unseen strings, ...: see :func:`_values`); each optional
    column is left out of some requests, and is null in some rows when its type
    carries a null. Hypothesis shrinks a request toward one row, sample rows and
    sample values, with every column present.

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
    if schema.is_tensor_spec() or not schema.has_input_names():
        return _sample_rows_reshaped(sample)
    columns = [column for column in schema.inputs if isinstance(column, ColSpec)]
    cells: dict[str, st.SearchStrategy[Any]] = {}
    for column in columns:
        name = str(column.name)
        values = _cell_values(column, _observed(sample, name))
        if values is None:
            raise UnsupportedSchemaError(
                f"No JSON request can carry a value of the required column '{name}' "
                f"({column.type}): MLflow's scoring server refuses integer, float and "
                "datetime values inside arrays, objects and maps."
            )
        cells[name] = values
    sample_rows = _usable_sample_rows(sample, columns)

    generated = st.fixed_dictionaries(cells)
    row = st.one_of(st.sampled_from(sample_rows), generated) if sample_rows else generated

    @st.composite
    def request(draw: Callable[[st.SearchStrategy[Any]], Any]) -> pd.DataFrame:
        # A drawn False keeps the column, and every row has every column: a request
        # shrinks toward all columns present rather than toward fewer draws.
        present = [c for c in columns if c.required or not draw(st.booleans())]
        present = present or columns[:1]  # a request of no column has no rows either
        rows = draw(st.lists(row, min_size=1, max_size=MAX_ROWS))
        return pd.DataFrame(
            {c.name: _series([r[c.name] for r in rows], c.type) for c in present},
            columns=[c.name for c in present],
        )

    return request()


def request_body(request: pd.DataFrame) -> dict[str, object]:
    """The ready-to-send ``{"dataframe_split": {...}}`` body of a request, exactly what
    ``curl -d @body.json`` against ``mlflow models serve`` posts (json.dumps-able,
    strict JSON: no NaN — nulls as null).

    Binary values are base64, as the server decodes them; datetimes all take one
    form (:data:`DATETIME_FORMAT` and nanoseconds), timezone-naive in UTC.

    Raises:
        ValueError: a value strict JSON cannot carry (Infinity), or of a type JSON
            has no form for.
    """
    data = [
        [_json_value(value) for value in row] for row in request.itertuples(index=False, name=None)
    ]
    split: dict[str, object] = {"data": data}
    if not request.columns.equals(pd.RangeIndex(len(request.columns))):
        split = {"columns": [str(name) for name in request.columns], "data": data}
    return {"dataframe_split": split}


def _cell_values(column: ColSpec, observed: list[object]) -> st.SearchStrategy[Any] | None:
    """A cell's values: the column's values, and null where the column is optional and
    a null reaches the model; ``None`` when the column can only be left out or
    nothing can be generated."""
    values = _values(column.type, observed, nested=False)
    if values is None:
        return None if column.required else st.none()
    if not _cell_is_nullable(column):
        return values
    # A value is drawn even for a null: a null costs no fewer draws than a value, so
    # hypothesis shrinks toward the value, not toward the null.
    return st.tuples(values, st.booleans()).map(lambda drawn: None if drawn[1] else drawn[0])


def _cell_is_nullable(column: ColSpec) -> bool:
    """Whether a null in that column reaches the model: only in an optional one, and
    not for the types whose null the server refuses."""
    return not column.required and (
        not isinstance(column.type, DataType) or column.type in _NULLABLE
    )


def _values(
    column_type: ColumnType, observed: Sequence[object], nested: bool
) -> st.SearchStrategy[Any] | None:
    """Values of one cell of that type, never null; ``None`` when the server refuses
    every one.

    Observed values first, so that hypothesis shrinks toward them. Numbers: then 0,
    the observed bounds and the whole numbers one step outside the observed ones,
    then any within the observed range widened by its width. Strings: then unseen
    ones (empty, non-ASCII, long, any). Booleans, bytes, datetimes within the
    observed span, arrays, objects and maps of those; for ``any``, JSON scalars.
    """
    seen = _distinct([_admitted(column_type, v, nested) for v in observed])
    seen = [v for v in seen if v is not _REFUSED]
    if isinstance(column_type, DataType):
        if nested and column_type not in _NESTABLE:
            return None
        new = _scalars(column_type, seen)
    elif isinstance(column_type, AnyType):
        new = st.one_of(
            st.none(), st.booleans(), st.integers(-(2**31), 2**31 - 1), _text(), _floats(-1e6, 1e6)
        )
    else:
        nested_values = _nested(column_type, seen)
        if nested_values is None:
            return None
        new = nested_values
    return st.one_of(st.sampled_from(seen), new) if seen else new


def _nested(column_type: Array | Object | Map, seen: list[object]) -> st.SearchStrategy[Any] | None:
    if isinstance(column_type, Array):
        items = _values(column_type.dtype, _flatten(seen), nested=True)
        return st.just([]) if items is None else st.lists(items, max_size=5)
    if isinstance(column_type, Map):
        items = _values(column_type.value_type, _flatten(seen, values=True), nested=True)
        keys = _distinct([k for m in seen if isinstance(m, dict) for k in m]) or [""]
        return (
            st.just({})
            if items is None
            else st.dictionaries(st.one_of(st.sampled_from(keys), _text()), items, max_size=3)
        )
    required, optional = {}, {}
    for prop in column_type.properties:
        observed = [o[prop.name] for o in seen if isinstance(o, dict) and prop.name in o]
        values = _values(prop.dtype, observed, nested=True)
        if prop.required:
            if values is None:
                return None
            required[prop.name] = values
        else:
            optional[prop.name] = st.none() if values is None else st.one_of(values, st.none())
    return st.fixed_dictionaries(required, optional=optional)


def _scalars(data_type: DataType, seen: list[Any]) -> st.SearchStrategy[Any]:
    if data_type in _INT_BOUNDS:
        low, high = _INT_BOUNDS[data_type]
        if not seen:
            return st.integers(low, high)
        lo, hi, width = min(seen), max(seen), max(seen) - min(seen) or max(abs(min(seen)), 1)
        specials = [v for v in (0, lo, hi, *_steps_outside(seen)) if low <= v <= high]
        return st.one_of(
            st.sampled_from(_distinct(specials)),
            st.integers(max(low, lo - width), min(high, hi + width)),
        )
    if data_type in _FLOAT_MAX:
        limit = _FLOAT_MAX[data_type]
        if not seen:
            return _floats(-limit, limit, data_type)
        lo, hi = min(seen), max(seen)
        width = hi - lo or max(abs(lo), 1.0)
        steps = _steps_outside(seen) if all(float(v).is_integer() for v in seen) else []
        specials = [_as_float(v, data_type) for v in (0.0, lo, hi, *steps)]
        return st.one_of(
            st.sampled_from(_distinct([v for v in specials if abs(v) <= limit])),
            _floats(max(-limit, lo - width), min(limit, hi + width), data_type),
        )
    if data_type == DataType.string:
        unseen = [s for s in UNSEEN_STRINGS if s not in seen]
        return st.one_of(st.sampled_from(unseen), _text())
    if data_type == DataType.boolean:
        return st.booleans()
    if data_type == DataType.binary:
        return st.binary(max_size=64)
    if data_type == DataType.datetime:
        first, last = (min(seen), max(seen)) if seen else DEFAULT_SPAN
        first, last = pd.Timestamp(first), pd.Timestamp(last)
        span = st.datetimes(first.floor("us").to_pydatetime(), last.floor("us").to_pydatetime())
        return st.one_of(st.sampled_from(_distinct([first, last])), span.map(pd.Timestamp))
    raise UnsupportedSchemaError(f"No requests are generated for columns of type {data_type}.")


def _floats(
    lo: float, hi: float, data_type: DataType = DataType.double
) -> st.SearchStrategy[float]:
    """Finite floats in [lo, hi], of 32 bits for ``float`` columns."""
    if data_type == DataType.float:
        lo, hi = float(np.float32(lo)), float(np.float32(hi))
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=32)
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def _text() -> st.SearchStrategy[str]:
    """Short strings of any character below the surrogates, which UTF-8 cannot encode."""
    return st.text(st.characters(max_codepoint=0xD7FF), max_size=20)


def _steps_outside(seen: list[Any]) -> list[Any]:
    """The whole numbers one step from an observed one that the sample does not show."""
    present = set(seen)
    return [step for v in seen for step in (v - 1, v + 1) if step not in present]


def _as_float(value: float, data_type: DataType) -> float:
    return float(np.float32(value)) if data_type == DataType.float else float(value)


def _observed(sample: pd.DataFrame, name: str) -> list[object]:
    """The sample's non-null values of a column, as plain Python values."""
    if name not in sample.columns:
        return []
    values = [_plain(v) for v in sample[name].tolist()]
    return [v for v in values if v is not None]


def _usable_sample_rows(sample: pd.DataFrame, columns: list[ColSpec]) -> list[dict[str, object]]:
    """The sample's rows whose every cell a request carries as it is.

    A row with a value the server would refuse in a column of that type (a null in
    a ``long`` column, an integer in a ``double`` array, ...) is left out.
    """
    if not all(column.name in sample.columns for column in columns):
        return []
    rows = []
    for record in sample[[c.name for c in columns]].to_dict(orient="records"):
        row = {name: _plain(value) for name, value in record.items()}
        if all(_carries(column, row[column.name]) for column in columns):
            rows.append(row)
    return rows


def _carries(column: ColSpec, value: object) -> bool:
    """Whether the scoring server accepts ``value`` in that column of a JSON request."""
    if value is None:
        return _cell_is_nullable(column)
    return _admitted(column.type, value, nested=False) is not _REFUSED


def _admitted(column_type: ColumnType, value: object, nested: bool) -> object:
    """A sample's value as a request carries it to a column of that type, or
    :data:`_REFUSED` when the server would refuse it there."""
    if value is None:
        return _REFUSED
    if isinstance(column_type, DataType):
        return _scalar_admitted(column_type, value, nested)
    try:
        parsed = json.loads(json.dumps(_json_value(value), allow_nan=False))
        if not isinstance(column_type, AnyType):  # the server enforces it twice: parsing, predict
            enforce_type(enforce_type(parsed, column_type), column_type)
    except IncompatibleVersionError:  # a renamed MLflow name is an error, not a refusal
        raise
    except Exception:  # noqa: BLE001 - MLflow raises several types for a refused value
        return _REFUSED
    return value


def _scalar_admitted(data_type: DataType, value: object, nested: bool) -> object:
    if nested and data_type not in _NESTABLE:
        return _REFUSED
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if data_type in _INT_BOUNDS:
        low, high = _INT_BOUNDS[data_type]
        if isinstance(value, float) and value.is_integer():  # a nullable column read as floats
            value = int(value)
        return value if isinstance(value, int) and number and low <= value <= high else _REFUSED
    if data_type in _FLOAT_MAX:
        # A double nested in an array or object must be sent as a float: 2.0, not 2.
        if not number or not math.isfinite(value) or abs(value) > _FLOAT_MAX[data_type]:  # type: ignore[arg-type]
            return _REFUSED
        return _as_float(value, data_type)  # type: ignore[arg-type]
    expected = {
        DataType.string: str,
        DataType.boolean: bool,
        DataType.binary: bytes,
        DataType.datetime: pd.Timestamp,
    }[data_type]
    return value if isinstance(value, expected) else _REFUSED


def _plain(value: object) -> object:
    """A sample's cell as a plain Python value; ``None`` for every kind of missing."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.datetime64 | datetime.datetime | datetime.date):
        stamp = pd.Timestamp(value)
        if stamp is pd.NaT:
            return None
        return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _json_value(value: object) -> object:
    """One cell of a request as JSON carries it, the way the scoring server reads it back."""
    value = _plain(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} cannot be sent: strict JSON has no Infinity.")
        return value
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, pd.Timestamp):
        return value.strftime(DATETIME_FORMAT) + f"{value.nanosecond:03d}"
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    raise ValueError(f"A request cannot carry a {type(value).__name__} value: {value!r}.")


def _series(values: list[object], column_type: ColumnType) -> pd.Series:
    """A column of a request, typed as the scoring server will hand it to the model."""
    dtype = _PANDAS_DTYPES.get(column_type) if isinstance(column_type, DataType) else None
    return pd.Series(values, dtype=dtype or object)


def _sample_rows_reshaped(sample: pd.DataFrame) -> st.SearchStrategy[pd.DataFrame]:
    if sample.empty:
        raise UnsupportedSchemaError(
            "A tensor or unnamed input schema gets requests made of the sample's rows, "
            "and the sample has none."
        )
    positions = st.lists(st.integers(0, len(sample) - 1), min_size=1, max_size=MAX_ROWS)
    return positions.map(lambda rows: sample.iloc[rows].reset_index(drop=True))


def _distinct(values: Sequence[Any]) -> list[Any]:
    """``values`` without repeats, in order; unhashable ones compared by their JSON."""
    seen: set[Hashable] = set()
    kept = []
    for value in values:
        key = value if isinstance(value, Hashable) else json.dumps(_json_value(value))
        if key not in seen:
            seen.add(key)
            kept.append(value)
    return kept


def _flatten(seen: list[object], values: bool = False) -> list[object]:
    """The items of observed arrays, or the values of observed maps."""
    if values:
        return [v for m in seen if isinstance(m, dict) for v in m.values()]
    return [v for a in seen if isinstance(a, list) for v in a]
