"""Silent changes: values MLflow's scoring server changes before the model sees them.

Schema enforcement admits some values only to change them without a word (checked on
MLflow 3.17): the model then answers another request than the client sent, HTTP 200.
Explore never sends those values (a finding would blame the model for the server's
change); the stage records one warning per column of the input schema instead.
"""

from __future__ import annotations

from mlflow.types import ColSpec, DataType, Schema

#: What the server does to a column of that type, and the fix, per type.
_CHANGES: dict[DataType, tuple[str, str]] = {
    DataType.integer: (
        "a value beyond 32 bits wraps around (2147483648 reaches the model as -2147483648)",
        "log the column as long (int64 in the training data)",
    ),
    DataType.float: (
        "a value beyond float32's range (about 3.4e38) reaches the model as inf",
        "log the column as double (float64 in the training data)",
    ),
    DataType.boolean: (
        'a null reaches the model as False, and any other JSON value as its truth ("false" '
        "as True)",
        "log the column as double (1.0 and 0.0, a null as NaN) or string, so that a null "
        "or a mistyped value reaches the model as it was sent",
    ),
}


def silent_changes(schema: Schema | None) -> list[str]:
    """One warning per input column whose values the scoring server may change silently,
    with the fix; none for a schema without such columns (or without names)."""
    if schema is None or not schema.has_input_names():
        return []
    warnings = []
    for column in schema.inputs:
        if isinstance(column, ColSpec) and isinstance(column.type, DataType):
            change = _CHANGES.get(column.type)
            if change is not None:
                what, fix = change
                warnings.append(
                    f"Input column '{column.name}' ({column.type.name}): MLflow's scoring "
                    f"server answers HTTP 200 although {what}.\nFix: {fix}."
                )
    return warnings
