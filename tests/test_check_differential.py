"""Differential test: the plugin's verdict is what MLflow's real scoring server answers.

One pyfunc model is saved and loaded once per module. Its ``predict`` returns the
object registered under the key sent in the request, so every kind of output goes
through the scoring server's own request path (``init`` -> ``transformation`` ->
``invocations`` -> ``predictions_to_json``) over HTTP, in process.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
from collections.abc import Iterator
from decimal import Decimal
from itertools import count
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import pandas as hpd
from mlflow.pyfunc import PythonModel

from kedro_mlflow_dryrun.stages.check import JsonVerdict, check_json

# The object each request's prediction returns, keyed by the request's ``key`` value.
# ``ServeRegistered`` is pickled by reference (this module is importable), so the
# loaded model reads this live dict rather than a copy frozen at save time.
_SERVED: dict[str, Any] = {}
_KEYS = count()


class ServeRegistered(PythonModel):
    def predict(self, context, model_input, params=None):
        return _SERVED[model_input["key"].iloc[0]]


class _Opaque:
    """A user-defined class the JSON encoder knows nothing about."""


class _Point(pydantic.BaseModel):
    x: float
    label: str


def _self_referencing_list() -> list[Any]:
    cycle: list[Any] = [1]
    cycle.append(cycle)
    return cycle


def _generator() -> Iterator[int]:
    yield 1


NAN = float("nan")
INF = float("inf")

KINDS: dict[str, Any] = {
    # DataFrames, by column dtype
    "df_int": pd.DataFrame({"a": [1, 2, 3]}),
    "df_float": pd.DataFrame({"a": [0.5, -1.25]}),
    "df_nan": pd.DataFrame({"a": [1.0, NAN]}),
    "df_inf": pd.DataFrame({"a": [INF, -INF]}),
    "df_str": pd.DataFrame({"a": ["x", "y"]}),
    "df_str_dtype_missing": pd.DataFrame({"a": pd.array(["x", None], dtype="str")}),
    "df_string_pd_na_missing": pd.DataFrame({"a": pd.array(["x", None], dtype="string")}),
    "df_nullable_int64_na": pd.DataFrame({"a": pd.array([1, None], dtype="Int64")}),
    "df_nullable_float64_na": pd.DataFrame({"a": pd.array([1.5, None], dtype="Float64")}),
    "df_nullable_boolean_na": pd.DataFrame({"a": pd.array([True, None], dtype="boolean")}),
    "df_bool": pd.DataFrame({"a": [True, False]}),
    "df_datetime_tz": pd.DataFrame(
        {"a": pd.date_range("2024-01-01", periods=2, freq="h", tz="Europe/Paris")}
    ),
    "df_datetime_nat": pd.DataFrame({"a": [pd.Timestamp("2024-01-01"), pd.NaT]}),
    "df_timedelta": pd.DataFrame({"a": pd.to_timedelta([1, 2], unit="s")}),
    "df_period": pd.DataFrame({"a": pd.period_range("2024-01", periods=2, freq="M")}),
    "df_decimal": pd.DataFrame({"price": [Decimal("1.10"), Decimal("2.20")]}),
    "df_bytes": pd.DataFrame({"a": [b"\x00\xff", b"abc"]}),
    "df_categorical": pd.DataFrame({"a": pd.Categorical(["lo", "hi", "lo"])}),
    "df_mixed_objects": pd.DataFrame({"a": pd.Series([1, "two", 3.5, None], dtype=object)}),
    "df_list_cells": pd.DataFrame({"a": [[1, 2], [3]]}),
    "df_dict_cells": pd.DataFrame({"a": [{"k": 1}, {"k": [2, 3]}]}),
    "df_set_cells": pd.DataFrame({"a": [{1, 2}, {3}]}),
    "df_complex": pd.DataFrame({"a": [1 + 2j, 3 - 1j]}),
    "df_multiindex_columns": pd.DataFrame(
        [[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")])
    ),
    "df_int_column_names": pd.DataFrame([[1.0, 2.0]], columns=[0, 1]),
    "df_nan_column_name": pd.DataFrame({NAN: [1.0, 2.0]}),
    "df_empty": pd.DataFrame(),
    "df_empty_with_columns": pd.DataFrame({"a": pd.Series([], dtype=float)}),
    # Series
    "series_named": pd.Series([1.5, 2.5], name="prediction"),
    "series_unnamed": pd.Series([1, 2]),
    "series_decimal": pd.Series([Decimal("1")], name="price"),
    "series_nat": pd.Series([pd.Timestamp("2024-01-01"), pd.NaT]),
    # numpy arrays
    "ndarray_int": np.arange(6).reshape(2, 3),
    "ndarray_float_nan": np.array([1.0, np.nan]),
    "ndarray_float32_inf": np.array([np.inf], dtype=np.float32),
    "ndarray_object": np.array(["a", 1, None], dtype=object),
    "ndarray_object_decimal": np.array([Decimal("1")], dtype=object),
    "ndarray_datetime64_ns": np.array(["2024-01-01T00:00:00"], dtype="datetime64[ns]"),
    "ndarray_datetime64_s": np.array(["2024-01-01T00:00:00"], dtype="datetime64[s]"),
    "ndarray_complex": np.array([1 + 1j]),
    "ndarray_bytes": np.array([b"ab", b"cd"]),
    # nested Python containers
    "dict_of_arrays": {"a": np.array([1, 2]), "b": np.array([0.5])},
    "dict_of_datetime64_array": {"t": np.array(["2024-01-01"], dtype="datetime64[D]")},
    "dict_of_object_array_with_set": {"a": np.array([{1}], dtype=object)},
    "list_of_dicts": [{"a": 1, "b": "x"}, {"a": 2, "b": None}],
    "dict_holding_set": {"meta": {"tags": {"x", "y"}}},
    "dict_tuple_keys": {("a", "b"): 1},
    "dict_int_keys": {1: "a", 2: "b"},
    "dict_nan_key": {NAN: 1},
    "dict_numpy_int_key": {np.int64(1): "a"},
    "dict_holding_dataframe": {"frame": pd.DataFrame({"a": [1]})},
    "nested_numpy_scalars": {"a": np.int64(1), "b": [np.float32(0.5), np.bool_(True)]},
    "nested_numpy_nan": {"a": [np.float64("nan")]},
    "nested_datetime": {"when": datetime.datetime(2024, 1, 1, 12, 0)},
    "nested_timedelta": {"took": datetime.timedelta(seconds=3)},
    "tuple_top_level": (1, "a", None),
    "self_referencing_list": _self_referencing_list(),
    # scalars
    "py_int": 3,
    "py_float": 2.5,
    "py_float_nan": NAN,
    "py_str": "hello",
    "py_bool": True,
    "none": None,
    "np_float32_nan": np.float32("nan"),
    "np_float64_inf": np.float64("inf"),
    "np_int64": np.int64(7),
    "decimal_top_level": Decimal("1.5"),
    "complex_top_level": 1 + 2j,
    "bytes_top_level": b"abc",
    "set_top_level": {1, 2},
    "frozenset_top_level": frozenset({1}),
    "pd_nat": pd.NaT,
    "pd_na": pd.NA,
    "pd_timestamp": pd.Timestamp("2024-01-01", tz="UTC"),
    "custom_object": _Opaque(),
    "pydantic_model": _Point(x=1.0, label="a"),
    "generator": _generator(),
}


@pytest.fixture(scope="module")
def scoring_server(tmp_path_factory: pytest.TempPathFactory):
    """The real scoring server app around a model that returns ``_SERVED[key]``."""
    from fastapi.testclient import TestClient
    from mlflow.environment_variables import _MLFLOW_IS_IN_SERVING_ENVIRONMENT
    from mlflow.pyfunc import scoring_server

    path = tmp_path_factory.mktemp("served") / "model"
    mlflow.pyfunc.save_model(
        str(path), python_model=ServeRegistered(), pip_requirements=["mlflow", "pandas"]
    )
    model = mlflow.pyfunc.load_model(str(path))
    assert type(model.unwrap_python_model()) is ServeRegistered, "model was pickled by value"

    previous = os.environ.get(_MLFLOW_IS_IN_SERVING_ENVIRONMENT.name)
    app = scoring_server.init(model)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    if previous is None:
        os.environ.pop(_MLFLOW_IS_IN_SERVING_ENVIRONMENT.name, None)
    else:
        os.environ[_MLFLOW_IS_IN_SERVING_ENVIRONMENT.name] = previous


def _serve(client, output: Any) -> tuple[int, str]:
    """POSTs a request whose prediction is ``output``; returns status and body."""
    key = f"k{next(_KEYS)}"
    _SERVED[key] = output
    try:
        response = client.post(
            "/invocations",
            content=json.dumps({"dataframe_records": [{"key": key}]}),
            headers={"Content-Type": "application/json"},
        )
    finally:
        del _SERVED[key]
    return response.status_code, response.text


def _check_with_deadline(output: Any, seconds: float = 30) -> JsonVerdict:
    """``check_json``, failing the test instead of hanging if it never returns."""
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(check_json(output)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert result, f"check_json did not return within {seconds} s"
    return result[0]


def _reject_constant(constant: str) -> None:
    raise ValueError(f"bare {constant}")


def _is_strict_json(text: str) -> bool:
    try:
        json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return False
    return True


def _assert_agrees(client, output: Any) -> None:
    verdict = _check_with_deadline(output)
    status, body = _serve(client, output)
    if status == 200:
        assert verdict.serializable, f"server answered 200 but the plugin says unservable: {body}"
        assert "predictions" in json.loads(body)
        assert verdict.offender is None
        body_is_strict = _is_strict_json(body)
        assert (verdict.non_finite is None) == body_is_strict, (
            f"server body strict JSON: {body_is_strict}, plugin non_finite: "
            f"{verdict.non_finite}; body: {body[:200]}"
        )
    else:
        # Any other status would mean the request never reached predictions_to_json.
        assert status == 500, f"unexpected status {status}: {body[:300]}"
        assert not verdict.serializable, "server answered 500 but the plugin says servable"
        assert verdict.offender is not None
        assert verdict.non_finite is None


@pytest.mark.parametrize("output", list(KINDS.values()), ids=list(KINDS))
def test_verdict_matches_scoring_server(scoring_server, output: Any) -> None:
    _assert_agrees(scoring_server, output)


def test_kinds_cover_both_verdicts_and_nan(scoring_server) -> None:
    """The kinds above exercise 200, 500 and bare NaN answers, not just one of them."""
    names = ["df_int", "df_decimal", "df_nan", "df_nan_column_name", "self_referencing_list"]
    statuses = {name: _serve(scoring_server, KINDS[name]) for name in names}
    assert len(KINDS) >= 30
    assert statuses["df_int"][0] == 200 and _is_strict_json(statuses["df_int"][1])
    assert statuses["df_decimal"][0] == 500
    assert statuses["df_nan"][0] == 200 and not _is_strict_json(statuses["df_nan"][1])
    assert statuses["df_nan_column_name"][0] == 200
    assert _is_strict_json(statuses["df_nan_column_name"][1])
    assert statuses["self_referencing_list"][0] == 500


# Plain st.floats() rarely draws NaN or Infinity inside a frame, so ask for them.
_FLOATS = st.one_of(st.sampled_from([NAN, INF, -INF]), st.floats(allow_nan=True))
_OBJECT_CELLS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    _FLOATS,
    st.text(max_size=5),
    st.none(),
    st.booleans(),
    st.decimals(places=2, allow_nan=False, allow_infinity=False),
    st.sets(st.integers(0, 3), max_size=2),
    st.lists(st.integers(0, 3), max_size=2),
)

_ALL_COLUMNS = hpd.data_frames(
    columns=[
        hpd.column("ints", dtype=np.int64),
        hpd.column("floats", elements=_FLOATS, dtype=float),
        hpd.column("flags", dtype=bool),
        hpd.column("text", elements=st.text(max_size=5), dtype=object),
        hpd.column("when", dtype="datetime64[ns]"),
        hpd.column("mixed", elements=_OBJECT_CELLS, dtype=object),
    ],
    index=hpd.range_indexes(min_size=0, max_size=6),
)
# A random subset of the columns, so that frames without an object column occur too.
_FRAMES = st.builds(
    lambda frame, keep: frame.iloc[:, sorted(keep)],
    _ALL_COLUMNS,
    st.sets(st.integers(0, 5), min_size=1),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=_FRAMES)
def test_generated_frames_agree_with_scoring_server(scoring_server, frame) -> None:
    """For generated DataFrames the plugin's verdict and the server's answer agree."""
    _assert_agrees(scoring_server, frame)


def test_generated_frames_reach_both_verdicts(scoring_server) -> None:
    """The strategy above draws servable, unservable and NaN-holding frames alike."""
    seen: set[tuple[bool, bool]] = set()

    @settings(max_examples=60, deadline=None, database=None, derandomize=True)
    @given(frame=_FRAMES)
    def collect(frame) -> None:
        verdict = check_json(frame)
        seen.add((verdict.serializable, verdict.non_finite is not None))

    collect()
    assert {(True, False), (False, False), (True, True)} <= seen, seen
