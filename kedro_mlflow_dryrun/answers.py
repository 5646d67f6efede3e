"""Two answers to the same rows, compared as a client reads them: floats by their column's type.

The serve check (the served model against the dry run's own output), explore (a row
alone against the same row in a batch, a request against itself) and the Spark check
(``spark_udf`` against the scoring server) all ask whether two answers are the same.
A float is only as precise as its type: a model computing in float32 answers a row
alone and inside a batch a last float32 digit apart (149681.484375 and 149681.46875),
which is the same answer; a double column is held to 1e-9, relatively.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.types import Schema

#: A few float32 steps (its epsilon is 2**-23): a sum in another order moves the last digits.
FLOAT32_RELATIVE = 8 * 2.0**-23
#: Doubles: a sum in another order moves the last digits, nothing a client sees.
DOUBLE_RELATIVE = 1e-9
ABSOLUTE = 1e-12


def relative_tolerance(column_type: object) -> float:
    """The tolerance of a column of MLflow type ``column_type`` (``None``: unknown, a double)."""
    from mlflow.types import DataType

    return FLOAT32_RELATIVE if column_type == DataType.float else DOUBLE_RELATIVE


def column_tolerances(schema: Schema | None) -> dict[str | None, float]:
    """Each output column's tolerance by name; ``None`` names one unnamed column."""
    if schema is None:
        return {}
    return {
        (str(spec.name) if spec.name is not None else None): relative_tolerance(spec.type)
        for spec in schema.inputs
    }


def same_number(a: float, b: float, relative: float = DOUBLE_RELATIVE) -> bool:
    """Equal within ``relative`` (NaN equals NaN, infinities equal themselves)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=relative, abs_tol=ABSOLUTE)


def same(a: Any, b: Any, relative: float = DOUBLE_RELATIVE) -> bool:
    """Two decoded JSON values equal as answers: numbers within ``relative`` when either is
    a float, booleans and everything else exactly, lists and objects item by item."""
    if _is_number(a) and _is_number(b) and (isinstance(a, float) or isinstance(b, float)):
        return same_number(float(a), float(b), relative)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[key], b[key], relative) for key in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y, relative) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


def same_row(a: Any, b: Any, tolerances: dict[str | None, float]) -> bool:
    """One row's answers: a record column by column at each column's tolerance, or one value."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and not differing_columns(a, b, tolerances)
    return same(a, b, tolerances.get(None, DOUBLE_RELATIVE))


def differing_columns(a: Any, b: Any, tolerances: dict[str | None, float]) -> list[str]:
    """The columns of two records (one row's answers) that differ; [] when none, or when
    the answers are not records (compare them with :func:`same`)."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return []
    names = [*a, *(name for name in b if name not in a)]
    return [
        str(name)
        for name in names
        if name not in a
        or name not in b
        or not same(a[name], b[name], _tolerance(tolerances, str(name)))
    ]


def _tolerance(tolerances: dict[str | None, float], name: str) -> float:
    """A named column's; a Series' one key (``"0"``) takes the unnamed column's."""
    return tolerances.get(name, tolerances.get(None, DOUBLE_RELATIVE))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def same_answer(a: Any, b: Any, tolerances: dict[str | None, float]) -> bool:
    """Two whole answers: a list row by row (:func:`same_row`), anything else as a value."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(
            same_row(x, y, tolerances) for x, y in zip(a, b, strict=True)
        )
    return same(a, b, tolerances.get(None, DOUBLE_RELATIVE))
