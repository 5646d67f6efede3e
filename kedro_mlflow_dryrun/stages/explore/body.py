"""Request bodies: a generated request as the JSON a client posts to ``mlflow models serve``.

A :class:`Request` is rows and params; :func:`request_body` writes it exactly as
``curl -d @body.json`` would send it, in the one form the scoring server reads back
without changing a value.
"""

from __future__ import annotations

import base64
import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: The one form every datetime of a request takes: the server parses a column with
#: the format of its first value, and refuses a column that mixes forms.
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


@dataclass(frozen=True, eq=False)
class Request:
    """One request a served model may get: its rows as the plain Python values JSON
    carries, by column (``columns`` ``None``: unnamed, as a tensor schema's), and the
    params it sends (none: the model's defaults, which the server fills in).

    Rows rather than a table: a search makes many requests, and a ``DataFrame`` built
    for each, then read back to write its body, cost more than drawing its values.
    """

    columns: list[str] | None
    data: list[list[object]]
    params: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def of(cls, frame: pd.DataFrame, params: Mapping[str, object] | None = None) -> Request:
        """A table's rows, each cell as a plain value (nulls as ``None``)."""
        named = not frame.columns.equals(pd.RangeIndex(len(frame.columns)))
        data = [[plain(v) for v in row] for row in frame.itertuples(index=False, name=None)]
        return cls([str(c) for c in frame.columns] if named else None, data, params or {})

    def __len__(self) -> int:
        return len(self.data)


def request_body(request: Request) -> dict[str, object]:
    """The ready-to-send ``{"dataframe_split": {...}, "params": {...}}`` body of a request
    (``params`` only when it sends some): json.dumps-able, strict JSON (no NaN: nulls
    as null).

    Binary values are base64, as the server decodes them; datetimes all take one
    form (:data:`DATETIME_FORMAT` and nanoseconds), timezone-naive in UTC.

    Raises:
        ValueError: a value strict JSON cannot carry (Infinity), or of a type JSON
            has no form for.
    """
    data = [[json_value(value) for value in row] for row in request.data]
    split: dict[str, object] = {"data": data}
    if request.columns is not None:
        split = {"columns": request.columns, "data": data}
    body: dict[str, object] = {"dataframe_split": split}
    if request.params:
        body["params"] = {name: json_value(value) for name, value in request.params.items()}
    return body


def json_value(value: object) -> object:
    """One value of a request as JSON carries it, the way the scoring server reads it back."""
    value = plain(value)
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
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    raise ValueError(f"A request cannot carry a {type(value).__name__} value: {value!r}.")


def plain(value: object) -> object:
    """A sample's cell as a plain Python value; ``None`` for every kind of missing."""
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
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
