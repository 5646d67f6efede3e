"""What a user sees when an output cannot be served, or is served as non-strict JSON."""

from __future__ import annotations

import threading
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kedro_mlflow_dryrun import SerializationError
from kedro_mlflow_dryrun.config import DryRunConfig
from kedro_mlflow_dryrun.stages.check import JsonVerdict, check_json

from engine_contexts import dry_run, output_context


def _checked(output, output_name: str, strict: bool) -> list[str]:
    """Runs the check stage on ``output``; returns its warnings, or raises its error."""
    context = output_context(output, output_name, DryRunConfig(strict_json=strict))
    report = dry_run(context)
    if report.failed:
        raise SerializationError(report.reason)
    return report.warnings


def _prices(n_rows: int, bad_row: int) -> pd.DataFrame:
    prices = pd.Series(np.linspace(1.0, 2.0, n_rows), dtype=object)
    prices[bad_row] = Decimal("3.50")
    return pd.DataFrame({"id": np.arange(n_rows), "price": prices})


def test_servable_output_has_no_offender() -> None:
    verdict = check_json(pd.DataFrame({"id": [1, 2], "price": [1.5, 2.5], "name": ["a", "b"]}))

    assert verdict == JsonVerdict(serializable=True, offender=None, non_finite=None)
    output = pd.DataFrame({"id": [1, 2], "price": [1.5, 2.5], "name": ["a", "b"]})
    assert _checked(output, "predictions", strict=True) == []
    assert _checked(output, "predictions", strict=False) == []


def test_decimal_column_is_located_by_column_and_row() -> None:
    verdict = check_json(_prices(5, bad_row=2))

    assert not verdict.serializable
    assert verdict.non_finite is None
    offender = verdict.offender
    assert offender is not None
    assert offender.path == "column 'price', row 2"
    assert offender.type_name == "Decimal"
    assert offender.value == "Decimal('3.50')"
    assert "float" in offender.fix
    assert offender.describe() == "column 'price', row 2 holds a Decimal (Decimal('3.50'))"


def test_set_nested_in_dict_is_located_by_keys() -> None:
    verdict = check_json({"score": [0.1, 0.2], "meta": {"model": "v1", "tags": {"b", "a"}}})

    assert not verdict.serializable
    assert verdict.offender is not None
    assert verdict.offender.path == "output['meta']['tags']"
    assert verdict.offender.type_name == "set"
    assert "list" in verdict.offender.fix


def test_set_inside_an_object_array_is_located_by_index() -> None:
    verdict = check_json({"rows": np.array([[1, "a"], [2, {3}]], dtype=object)})

    assert verdict.offender is not None
    assert verdict.offender.path == "output['rows'][1][1]"
    assert verdict.offender.type_name == "set"


def test_multiindex_columns_report_the_tuple_key() -> None:
    frame = pd.DataFrame(
        [[1.0, 2.0]], columns=pd.MultiIndex.from_tuples([("price", "low"), ("price", "high")])
    )

    verdict = check_json(frame)

    assert not verdict.serializable
    assert verdict.offender is not None
    assert verdict.offender.path == "column ('price', 'low'), row 0"
    assert verdict.offender.type_name == "tuple key"
    assert "str keys" in verdict.offender.fix


def test_series_offender_names_the_series_as_a_column() -> None:
    named = check_json(pd.Series([1.0, Decimal("2")], name="prediction"))
    unnamed = check_json(pd.Series([1.0, 2.0, Decimal("2")]))

    assert named.offender is not None
    assert named.offender.path == "column 'prediction', row 1"
    assert unnamed.offender is not None
    assert unnamed.offender.path == "column 0, row 2"


def test_timedelta_column_fix_says_how_to_convert() -> None:
    verdict = check_json(pd.DataFrame({"took": pd.to_timedelta([1, 2], unit="s")}))

    assert verdict.offender is not None
    assert verdict.offender.path == "column 'took', row 0"
    assert verdict.offender.type_name == "Timedelta"
    assert "total_seconds" in verdict.offender.fix


def test_unknown_type_fix_names_the_type() -> None:
    class Prediction:
        pass

    verdict = check_json({"best": Prediction()})

    assert verdict.offender is not None
    assert verdict.offender.path == "output['best']"
    assert verdict.offender.type_name == "Prediction"
    assert "convert Prediction to" in verdict.offender.fix


def test_self_referencing_output_is_reported_not_walked_forever() -> None:
    cycle: list = [1]
    cycle.append(cycle)

    result: list[JsonVerdict] = []
    worker = threading.Thread(
        target=lambda: result.append(check_json({"values": cycle})), daemon=True
    )
    worker.start()
    worker.join(30)
    assert result, "check_json kept walking the cycle"
    verdict = result[0]

    assert not verdict.serializable
    assert verdict.offender is not None
    assert verdict.offender.path == "output['values'][1]"
    assert verdict.offender.type_name == "list"
    assert "cycle" in verdict.offender.fix


@pytest.mark.parametrize(
    ("value", "shown"),
    [(float("nan"), "nan"), (float("inf"), "inf"), (float("-inf"), "-inf")],
    ids=["nan", "inf", "-inf"],
)
def test_non_finite_is_located_by_column_and_row(value: float, shown: str) -> None:
    frame = pd.DataFrame({"id": [1, 2, 3], "score": [0.5, 0.25, 0.75]})
    frame.loc[1, "score"] = value

    verdict = check_json(frame)

    assert verdict.serializable
    assert verdict.offender is None
    assert verdict.non_finite is not None
    assert verdict.non_finite.path == "column 'score', row 1"
    assert verdict.non_finite.type_name == "float"
    assert verdict.non_finite.value == shown
    assert "NaN" in verdict.non_finite.fix


def test_non_finite_numpy_scalar_gets_the_nan_fix() -> None:
    verdict = check_json({"scores": [np.float32(0.5), np.float32("nan")]})

    assert verdict.serializable
    assert verdict.non_finite is not None
    assert verdict.non_finite.path == "output['scores'][1]"
    assert verdict.non_finite.type_name == "float32"
    assert verdict.non_finite.fix == "replace NaN and Infinity with None or a finite number"


def test_nan_column_name_is_written_as_a_string_so_is_strict_json() -> None:
    """The scoring server writes a NaN key as "NaN", a string: nothing to warn about."""
    verdict = check_json(pd.DataFrame({float("nan"): [1.0, 2.0]}))

    assert verdict == JsonVerdict(serializable=True)


def test_unservable_output_raises_a_short_message_naming_everything() -> None:
    n_rows = 100_000
    with pytest.raises(SerializationError) as raised:
        _checked(_prices(n_rows, bad_row=n_rows - 1), "price_predictions", strict=False)

    message = str(raised.value)
    assert "price_predictions" in message
    assert f"column 'price', row {n_rows - 1}" in message
    assert "Decimal" in message
    assert "Fix: convert Decimal to float" in message
    assert len(message.splitlines()) <= 5
    assert len(message) < 500


def test_strict_mode_raises_on_nan() -> None:
    frame = pd.DataFrame({"score": [0.5, float("nan")]})

    with pytest.raises(SerializationError) as raised:
        _checked(frame, "scores", strict=True)

    message = str(raised.value)
    assert "scores" in message
    assert "column 'score', row 1" in message
    assert "Fix:" in message
    assert len(message.splitlines()) <= 5


def test_non_strict_mode_returns_a_warning_naming_the_path() -> None:
    frame = pd.DataFrame({"score": [0.5, 1.5, float("inf")]})

    (warning,) = _checked(frame, "scores", strict=False)

    assert "scores" in warning
    assert "column 'score', row 2" in warning
    assert "NaN or Infinity" in warning


def test_unservable_output_fails_even_when_not_strict() -> None:
    with pytest.raises(SerializationError, match=r"output\['x'\] holds a set"):
        _checked({"x": {1}}, "out", strict=False)


def test_verdict_serializes_to_a_plain_dict() -> None:
    report = check_json({"tags": {1}}).to_dict()

    assert report["serializable"] is False
    assert report["offender"] == {
        "path": "output['tags']",
        "type_name": "set",
        "value": "{1}",
        "fix": "convert the set to a sorted list",
    }
    assert report["non_finite"] is None


@st.composite
def _frame_with_planted_decimal(draw):
    names = draw(st.lists(st.text(max_size=6), min_size=1, max_size=5, unique=True))
    n_rows = draw(st.integers(min_value=1, max_value=30))
    cells = st.floats(allow_nan=True, allow_infinity=True)
    frame = pd.DataFrame(
        {name: draw(st.lists(cells, min_size=n_rows, max_size=n_rows)) for name in names}
    ).astype(object)
    row = draw(st.integers(min_value=0, max_value=n_rows - 1))
    column = draw(st.sampled_from(names))
    frame.iloc[row, names.index(column)] = Decimal(draw(st.integers()))
    return frame, row, column


@settings(max_examples=100, deadline=None)
@given(_frame_with_planted_decimal())
def test_planted_decimal_is_reported_at_its_row_and_column(planted) -> None:
    frame, row, column = planted

    verdict = check_json(frame)

    assert not verdict.serializable
    assert verdict.offender is not None
    assert verdict.offender.path == f"column {column!r}, row {row}"
    assert verdict.offender.type_name == "Decimal"
