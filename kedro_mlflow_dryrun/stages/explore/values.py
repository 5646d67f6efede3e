"""Cell values: what one cell of a column of some MLflow type may hold in a request.

Each strategy starts from what the sample shows of the column (observed values
first, so that hypothesis shrinks toward them), then reaches past it: numbers one
step outside the observed whole numbers and beyond the observed range, strings
training never had, datetimes before and after the training span. Every value is
one the scoring server hands to the model as it was sent (checked on MLflow 3.17):
no ``integer`` or ``float`` beyond its 32 bits (the server wraps or overflows them),
no NaN or Infinity (not JSON), and no ``integer``, ``float`` or ``datetime`` values
nested in an array, object or map (the server refuses them there).

Some values are sent as another JSON type that schema enforcement converts, as
clients do: a whole ``double`` or ``float`` written ``3`` rather than ``3.0``. Not a
number or a boolean in a ``string`` column: enforcement does not convert it, it hands
it to the model as sent (an object column), which no client of a string schema means.
Not a whole ``long`` written ``3.0``: the server then parses the whole column as
float64, and rounds its other values beyond 2^53.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st
from mlflow.types import DataType
from mlflow.types.schema import AnyType, Array, Map, Object

from kedro_mlflow_dryrun.compat import enforce_type
from kedro_mlflow_dryrun.errors import IncompatibleVersionError
from kedro_mlflow_dryrun.stages.explore.body import json_value

#: Strings a lookup built from training's categories is unlikely to know: empty,
#: non-ASCII, long.
UNSEEN_STRINGS = ("", "Zürich, 東京 ✓ 🙂", "x" * 1000)
#: Datetimes when the sample shows none: the span pandas' nanoseconds can hold, roughly.
DEFAULT_SPAN = (datetime.datetime(1900, 1, 1), datetime.datetime(2200, 1, 1))
#: How far before and after the training span datetimes go when it is a single instant.
_MIN_SPAN = datetime.timedelta(days=1)

INT_BOUNDS = {
    DataType.integer: (-(2**31), 2**31 - 1),
    DataType.long: (-(2**63), 2**63 - 1),
}
FLOAT_MAX = {
    DataType.float: float(np.finfo(np.float32).max),
    DataType.double: float(np.finfo(np.float64).max),
}
#: The whole numbers a column of floats holds exactly, which a client may send as JSON integers.
_EXACT_WHOLE = {DataType.float: 2**24, DataType.double: 2**53}
#: Types whose null a JSON request carries to the model, required or not: the server
#: refuses a null in ``integer``, ``long`` and ``binary`` columns, and reads it as
#: False in ``boolean`` ones.
NULLABLE = frozenset({DataType.float, DataType.double, DataType.string, DataType.datetime})
#: Types the server accepts inside an array, object or map when sent as JSON.
_NESTABLE = frozenset(
    {DataType.long, DataType.double, DataType.boolean, DataType.string, DataType.binary}
)

ColumnType = DataType | Array | Object | Map | AnyType
#: What :func:`admitted` returns for a value the server would refuse.
REFUSED = object()


class UnsupportedSchemaError(Exception):
    """No request the schema admits can be generated: the explore stage reports why and skips.

    Raised for a required column whose type no JSON request can carry (an array,
    object or map that needs an ``integer``, ``float`` or ``datetime`` inside), and
    for a tensor or unnamed schema with an empty sample (those requests are made of
    sample rows only).
    """


def values(
    column_type: ColumnType, observed: Sequence[object], nested: bool
) -> st.SearchStrategy[Any] | None:
    """Values of one cell of that type, never null; ``None`` when the server refuses
    every one.

    Observed values first. Numbers: then 0, the observed bounds and the whole numbers
    one step outside the observed ones, then any within the observed range widened
    by its width. Strings: then unseen ones (empty, non-ASCII, long, any). Booleans,
    bytes, datetimes from before to after the observed span, arrays, objects and
    maps of those; for ``any``, JSON scalars.
    """
    seen = distinct([admitted(column_type, v, nested) for v in observed])
    seen = [v for v in seen if v is not REFUSED]
    if isinstance(column_type, DataType):
        if nested and column_type not in _NESTABLE:
            return None
        typed = scalar_values(column_type, seen)
        return typed if nested else _with_other_json_types(typed, column_type)
    if isinstance(column_type, AnyType):
        new = st.one_of(
            st.none(), st.booleans(), st.integers(-(2**31), 2**31 - 1), text(), floats(-1e6, 1e6)
        )
    else:
        nested_values = _nested(column_type, seen)
        if nested_values is None:
            return None
        new = nested_values
    return st.one_of(st.sampled_from(seen), new) if seen else new


def scalar_values(data_type: DataType, seen: list[Any]) -> st.SearchStrategy[Any]:
    """Values of that type, as Python holds them: ``seen`` first, then around and beyond them."""
    new = _scalars(data_type, seen)
    return st.one_of(st.sampled_from(seen), new) if seen else new


def _with_other_json_types(
    typed: st.SearchStrategy[Any], data_type: DataType
) -> st.SearchStrategy[Any]:
    """Also the values of another JSON type that schema enforcement converts, last, so
    that hypothesis shrinks toward the column's own type."""
    if data_type in _EXACT_WHOLE:
        exact = _EXACT_WHOLE[data_type]
        return st.one_of(
            typed, typed.map(lambda v: int(v) if v.is_integer() and abs(v) <= exact else v)
        )
    return typed


def _nested(column_type: Array | Object | Map, seen: list[object]) -> st.SearchStrategy[Any] | None:
    if isinstance(column_type, Array):
        items = values(column_type.dtype, _flatten(seen), nested=True)
        return st.just([]) if items is None else st.lists(items, max_size=5)
    if isinstance(column_type, Map):
        items = values(column_type.value_type, _flatten(seen, of_maps=True), nested=True)
        keys = distinct([k for m in seen if isinstance(m, dict) for k in m]) or [""]
        return (
            st.just({})
            if items is None
            else st.dictionaries(st.one_of(st.sampled_from(keys), text()), items, max_size=3)
        )
    required, optional = {}, {}
    for prop in column_type.properties:
        observed = [o[prop.name] for o in seen if isinstance(o, dict) and prop.name in o]
        prop_values = values(prop.dtype, observed, nested=True)
        if prop.required:
            if prop_values is None:
                return None
            required[prop.name] = prop_values
        else:
            optional[prop.name] = (
                st.none() if prop_values is None else st.one_of(prop_values, st.none())
            )
    return st.fixed_dictionaries(required, optional=optional)


def _scalars(data_type: DataType, seen: list[Any]) -> st.SearchStrategy[Any]:
    if data_type in INT_BOUNDS:
        low, high = INT_BOUNDS[data_type]
        if not seen:
            return st.integers(low, high)
        lo, hi, width = min(seen), max(seen), max(seen) - min(seen) or max(abs(min(seen)), 1)
        specials = [v for v in (0, lo, hi, *steps_outside(seen)) if low <= v <= high]
        return st.one_of(
            st.sampled_from(distinct(specials)),
            st.integers(max(low, lo - width), min(high, hi + width)),
        )
    if data_type in FLOAT_MAX:
        limit = FLOAT_MAX[data_type]
        if not seen:
            return floats(-limit, limit, data_type)
        lo, hi = min(seen), max(seen)
        width = hi - lo or max(abs(lo), 1.0)
        steps = steps_outside(seen) if all(float(v).is_integer() for v in seen) else []
        specials = [as_float(v, data_type) for v in (0.0, lo, hi, *steps)]
        return st.one_of(
            st.sampled_from(distinct([v for v in specials if abs(v) <= limit])),
            floats(max(-limit, lo - width), min(limit, hi + width), data_type),
        )
    if data_type == DataType.string:
        return st.one_of(st.sampled_from([s for s in UNSEEN_STRINGS if s not in seen]), text())
    if data_type == DataType.boolean:
        return st.booleans()
    if data_type == DataType.binary:
        return st.binary(max_size=64)
    if data_type == DataType.datetime:
        return _datetimes(seen)
    raise UnsupportedSchemaError(f"No requests are generated for columns of type {data_type}.")


def _datetimes(seen: list[Any]) -> st.SearchStrategy[pd.Timestamp]:
    """The observed bounds, then the span widened by its width on both sides: before
    training, and after it, where a model in production gets its requests. Computed with
    Python's datetimes: a span of centuries overflows pandas' nanoseconds."""
    if not seen:
        return st.datetimes(*DEFAULT_SPAN).map(pd.Timestamp)
    first = pd.Timestamp(min(seen)).floor("us").to_pydatetime()
    last = pd.Timestamp(max(seen)).floor("us").to_pydatetime()
    width = max(last - first, _MIN_SPAN)
    earliest = min(max(first - width, DEFAULT_SPAN[0]), first)
    latest = max(min(last + width, DEFAULT_SPAN[1]), last)
    around = [pd.Timestamp(t) for t in (first, last, earliest, latest)]
    span = st.datetimes(earliest, latest).map(pd.Timestamp)
    return st.one_of(st.sampled_from(distinct(around)), span)


def floats(lo: float, hi: float, data_type: DataType = DataType.double) -> st.SearchStrategy[float]:
    """Finite floats in [lo, hi], of 32 bits for ``float`` columns."""
    if data_type == DataType.float:
        lo, hi = float(np.float32(lo)), float(np.float32(hi))
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=32)
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def text() -> st.SearchStrategy[str]:
    """Short strings of any character below the surrogates, which UTF-8 cannot encode."""
    return st.text(st.characters(max_codepoint=0xD7FF), max_size=20)


def steps_outside(seen: Sequence[Any]) -> list[Any]:
    """The whole numbers one step from an observed one that the sample does not show."""
    present = set(seen)
    return [step for v in seen for step in (v - 1, v + 1) if step not in present]


def as_float(value: float, data_type: DataType) -> float:
    return float(np.float32(value)) if data_type == DataType.float else float(value)


def admitted(column_type: ColumnType, value: object, nested: bool) -> object:
    """A sample's value as a request carries it to a column of that type, or
    :data:`REFUSED` when the server would refuse it there."""
    if value is None:
        return REFUSED
    if isinstance(column_type, DataType):
        return _scalar_admitted(column_type, value, nested)
    try:
        parsed = json.loads(json.dumps(json_value(value), allow_nan=False))
        if not isinstance(column_type, AnyType):  # the server enforces it twice: parsing, predict
            enforce_type(enforce_type(parsed, column_type), column_type)
    except IncompatibleVersionError:  # a renamed MLflow name is an error, not a refusal
        raise
    except Exception:  # noqa: BLE001 - MLflow raises several types for a refused value
        return REFUSED
    return value


def _scalar_admitted(data_type: DataType, value: object, nested: bool) -> object:
    if nested and data_type not in _NESTABLE:
        return REFUSED
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if data_type in INT_BOUNDS:
        low, high = INT_BOUNDS[data_type]
        if isinstance(value, float) and value.is_integer():  # a nullable column read as floats
            value = int(value)
        return value if isinstance(value, int) and number and low <= value <= high else REFUSED
    if data_type in FLOAT_MAX:
        # A double nested in an array or object must be sent as a float: 2.0, not 2.
        if not number or not math.isfinite(value) or abs(value) > FLOAT_MAX[data_type]:  # type: ignore[arg-type]
            return REFUSED
        return as_float(value, data_type)  # type: ignore[arg-type]
    expected = {
        DataType.string: str,
        DataType.boolean: bool,
        DataType.binary: bytes,
        DataType.datetime: pd.Timestamp,
    }[data_type]
    return value if isinstance(value, expected) else REFUSED


def distinct(items: Sequence[Any]) -> list[Any]:
    """``items`` without repeats, in order; unhashable ones compared by their JSON."""
    seen: set[Hashable] = set()
    kept = []
    for item in items:
        key = item if isinstance(item, Hashable) else json.dumps(json_value(item))
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def _flatten(seen: list[object], of_maps: bool = False) -> list[object]:
    """The items of observed arrays, or the values of observed maps."""
    if of_maps:
        return [v for m in seen if isinstance(m, dict) for v in m.values()]
    return [v for a in seen if isinstance(a, list) for v in a]
