"""Input engines, with real pandas, numpy, Polars, Arrow and local Spark: rows as served."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from mlflow.models import infer_signature

from kedro_mlflow_dryrun import SampleError
from kedro_mlflow_dryrun.adapters.inputs import positions, take
from kedro_mlflow_dryrun.samples import SampleCapture

from engine_contexts import as_frame


def houses(rows: int = 1_000) -> pd.DataFrame:
    """Sorted by city, as files often are: the first rows are all one city."""
    index = np.arange(rows)
    return pd.DataFrame(
        {
            "area": index * 0.5,
            "rooms": index % 7,
            "city": np.repeat(["Lyon", "Nantes", "Paris", "Rome"], rows // 4),
            # missing only far beyond any sample of the first rows
            "garden": np.where(index == rows - 3, np.nan, 1.0),
        }
    )


def required(schema) -> dict[str, tuple[str, bool]]:
    return {spec.name: (repr(spec.type), spec.required) for spec in schema.inputs}


def test_the_random_sample_spreads_over_the_input_and_is_the_same_every_run():
    frame = houses()

    first, second = take(frame, 40, "random"), take(frame, 40, "random")
    first_rows = as_frame(first.data)

    pd.testing.assert_frame_equal(first_rows, second.data)
    assert first_rows.index.is_monotonic_increasing, "rows keep the input's order"
    assert set(first_rows["city"]) == {"Lyon", "Nantes", "Paris", "Rome"}
    assert set(as_frame(take(frame, 40, "head").data)["city"]) == {"Lyon"}


def test_random_positions_cost_nothing_in_the_input_size():
    # A full permutation of 10^12 positions would need 8 TB: only O(size) work can answer.
    chosen = positions(10**12, 100, "random")

    assert len(chosen) == 100 and len(set(chosen)) == 100
    assert (np.diff(chosen) > 0).all() and chosen.max() < 10**12


def test_a_pandas_schema_is_the_one_kedro_mlflow_infers_from_the_whole_input():
    frame = houses().assign(
        built=pd.to_datetime("2020-01-01") + pd.to_timedelta(np.arange(1_000), unit="D"),
        kind=pd.Categorical(np.repeat(["flat", "house"], 500)),
        owners=pd.array([1] * 999 + [None], dtype="Int64"),
        note=["ok"] * 998 + [None, "ok"],
        listed=np.arange(1_000) % 2 == 0,
    )

    rows = take(frame, 100, "head")

    assert rows.schema == infer_signature(model_input=frame).inputs
    assert required(rows.schema)["garden"] == ("double", False)
    assert not as_frame(rows.data)["garden"].isna().any(), "the sample alone would call it required"


def test_a_series_is_served_as_a_one_column_table():
    series = houses()["garden"]

    rows = take(series, 10, "random")

    served = as_frame(rows.data)
    assert list(served.columns) == ["garden"] and len(served) == 10
    assert rows.schema == infer_signature(model_input=series).inputs


def test_polars_rows_are_a_pandas_frame_with_the_whole_input_dtypes():
    frame = pl.from_pandas(houses()).with_columns(
        pl.when(pl.int_range(pl.len()) == 900).then(None).otherwise(pl.col("rooms")).alias("rooms")
    )

    rows = take(frame, 50, "head")

    assert isinstance(rows.data, pd.DataFrame) and len(rows.data) == 50
    # Polars' integers with a null anywhere become floats once in pandas: so does the sample.
    assert rows.data["rooms"].dtype == np.float64
    assert required(rows.schema) == {
        "area": ("double", True),
        "rooms": ("double", False),
        "city": ("string", True),
        "garden": ("double", False),
    }


def test_a_lazy_polars_frame_gives_its_first_rows():
    rows = take(pl.from_pandas(houses()).lazy(), 10, "random")

    assert rows.strategy == "head"
    assert as_frame(rows.data)["area"].tolist() == [i * 0.5 for i in range(10)]
    assert required(rows.schema)["garden"] == ("double", False)


def test_an_arrow_table_is_sampled_like_a_frame():
    table = pa.Table.from_pandas(houses(), preserve_index=False)

    rows = take(table, 20, "random")

    served = as_frame(rows.data)
    assert len(served) == 20 and list(served.columns) == ["area", "rooms", "city", "garden"]
    assert required(rows.schema)["garden"] == ("double", False)
    batch = table.to_batches()[0]
    assert take(batch, 20, "random").schema == rows.schema


def test_a_dict_of_columns_and_a_list_of_records_become_tables():
    columns = houses(8).to_dict("list")
    records = [{"area": 1.0, "city": "Lyon"}, {"area": 2.0, "city": None}]

    from_columns, from_records = take(columns, 4, "head"), take(records, 4, "head")

    pd.testing.assert_frame_equal(from_columns.data, houses(8).head(4))
    assert required(from_columns.schema)["garden"] == ("double", False)
    assert as_frame(from_records.data)["area"].tolist() == [1.0, 2.0]
    assert from_records.schema == infer_signature(model_input=records).inputs


class Basket:
    """A class no engine knows."""

    def __len__(self) -> int:
        raise RuntimeError("a basket cannot count")


def test_an_unknown_type_is_named_with_the_way_out():
    with pytest.raises(SampleError, match=r"is a test_inputs\.Basket, which the dry run cannot"):
        take(Basket(), 10, "random")


def test_the_capture_never_raises_into_the_training_node():
    capture = SampleCapture("houses", 10)

    capture.offer("houses", Basket())
    capture.offer("houses", {"a": [1, 2], "b": [1]})  # ignored: the first load counts

    assert capture.sample is None
    assert "test_inputs.Basket" in str(capture.error)


def test_spark_rows_are_the_first_rows_and_its_schema_mlflows(spark):
    frame = spark.createDataFrame(houses())

    rows = take(frame, 25, "random")

    assert rows.strategy == "head"
    pd.testing.assert_frame_equal(rows.data, houses().head(25), check_dtype=False)
    assert rows.schema == infer_signature(model_input=frame).inputs


def test_a_spark_dataset_is_read_in_part_through_the_catalog(spark, tmp_path):
    from kedro.io import DataCatalog
    from kedro_datasets.spark import SparkDataset

    from kedro_mlflow_dryrun.stages.sample import PARTIAL_READ, read_partial

    path = str(tmp_path / "houses.parquet")
    spark.createDataFrame(houses()).coalesce(1).write.parquet(path)
    catalog = DataCatalog({"houses": SparkDataset(filepath=path, file_format="parquet")})

    sample = read_partial(catalog, "houses", 10)

    assert sample.source == PARTIAL_READ and sample.rows == 10
    assert sample.schema == infer_signature(model_input=spark.read.parquet(path)).inputs


def test_a_polars_dataset_is_read_in_part_through_the_catalog(tmp_path):
    from kedro.io import DataCatalog
    from kedro_datasets.polars import EagerPolarsDataset

    from kedro_mlflow_dryrun.stages.sample import read_partial

    path = tmp_path / "houses.csv"
    houses().to_csv(path, index=False)
    with path.open("a") as file:  # a broken line proves that the reader stopped before it
        file.write('1,2,"unterminated\n')
    dataset = EagerPolarsDataset(filepath=str(path), file_format="csv")

    sample = read_partial(DataCatalog({"houses": dataset}), "houses", 10)

    pd.testing.assert_frame_equal(sample.data, houses().head(10), check_dtype=False)
    assert sample.schema is None, "a CSV file records nothing: the schema needs a full read"
