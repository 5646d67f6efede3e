"""Capture and sample: the first rows, from training's load or a partial read."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes
from kedro.io import DataCatalog, MemoryDataset
from kedro_datasets.pandas import CSVDataset, ParquetDataset
from kedro_datasets.pickle import PickleDataset
from mlflow.models import infer_signature

from kedro_mlflow_dryrun import DryRunSkipped, SampleError
from kedro_mlflow_dryrun.adapters.inputs import take
from kedro_mlflow_dryrun.report import CAPTURED
from kedro_mlflow_dryrun.samples import SampleCapture
from kedro_mlflow_dryrun.stages.sample import LOADED_WHOLE, PARTIAL_READ, read_partial

from engine_contexts import as_frame

frames = data_frames(
    [column("a", dtype=int), column("b", dtype=float), column("c", elements=st.text(max_size=3))],
    index=range_indexes(max_size=30),
)


@given(frame=frames, size=st.integers(min_value=1, max_value=40))
def test_head_is_the_first_rows_and_a_copy(frame, size):
    sample = as_frame(take(frame, size, "head").data)

    pd.testing.assert_frame_equal(sample, frame.iloc[:size])
    if len(sample):
        original = frame.iloc[0, 0]
        sample.iloc[0, 0] = original + 1
        assert frame.iloc[0, 0] == original


@given(values=st.lists(st.integers(), max_size=30), size=st.integers(min_value=1, max_value=40))
def test_head_of_arrays_and_lists(values, size):
    assert take(values, size, "head").data == values[:size]
    array = np.array(values)
    np.testing.assert_array_equal(take(array, size, "head").data, array[:size])


def test_capture_keeps_the_first_load_of_the_input_only():
    capture = SampleCapture("houses", size=2, strategy="head")
    capture.offer("regressor", pd.DataFrame({"x": [9, 9, 9]}))
    capture.offer("houses", pd.DataFrame({"x": [1, 2, 3]}))
    capture.offer("houses", pd.DataFrame({"x": [7, 8, 9]}))

    assert capture.sample is not None
    assert capture.sample.source == CAPTURED
    assert as_frame(capture.sample.data)["x"].tolist() == [1, 2]


@pytest.fixture
def big_frame():
    return pd.DataFrame({"a": np.arange(5_000), "b": np.arange(5_000) * 0.5})


def test_partial_read_of_a_csv_reads_only_the_first_rows(tmp_path, big_frame):
    path = tmp_path / "houses.csv"
    big_frame.to_csv(path, index=False)
    # A broken line after the first rows proves that the reader stopped before it.
    with path.open("a") as file:
        file.write('1,2,3,4\n"unterminated\n')
    catalog = DataCatalog({"houses": CSVDataset(filepath=str(path))})

    sample = read_partial(catalog, "houses", 10)

    assert sample.source == PARTIAL_READ
    assert sample.schema is None, "a CSV file records no types: a full read infers them"
    pd.testing.assert_frame_equal(sample.data, big_frame.head(10))


def test_partial_read_of_parquet_reads_the_first_batch(tmp_path, big_frame):
    path = tmp_path / "houses.parquet"
    big_frame.to_parquet(path, row_group_size=1_000)
    catalog = DataCatalog({"houses": ParquetDataset(filepath=str(path))})

    sample = read_partial(catalog, "houses", 10)

    pd.testing.assert_frame_equal(sample.data, big_frame.head(10))


@pytest.mark.parametrize("kind", ["PickleDataset", "DeltaTableDataset"])
def test_a_dataset_that_cannot_be_read_partially_is_loaded_whole(tmp_path, big_frame, kind):
    from kedro_datasets.pandas import DeltaTableDataset

    kinds = {"PickleDataset": PickleDataset, "DeltaTableDataset": DeltaTableDataset}
    dataset = kinds[kind](filepath=str(tmp_path / "houses"))
    dataset.save(big_frame)

    sample = read_partial(DataCatalog({"houses": dataset}), "houses", 10, "head")

    assert sample.source == f"{LOADED_WHOLE}: a {kind} cannot be read in part"
    pd.testing.assert_frame_equal(sample.data, big_frame.head(10))
    assert sample.schema == infer_signature(model_input=big_frame).inputs


def test_a_dataset_readable_neither_in_part_nor_whole_is_skipped_with_both_reasons(tmp_path):
    catalog = DataCatalog({"houses": PickleDataset(filepath=str(tmp_path / "h.pkl"))})

    with pytest.raises(DryRunSkipped) as error:
        read_partial(catalog, "houses", 10)

    message = str(error.value)
    assert "needs a sample of 'houses', but training did not load it" in message
    assert "a PickleDataset cannot be read in part" in message
    assert "and loading it whole raised DatasetError" in message
    assert "Fix:" in message


def test_a_dataset_missing_from_the_catalog_says_so():
    with pytest.raises(SampleError, match="it is not in the catalog"):
        read_partial(DataCatalog({"other": MemoryDataset(1)}), "houses", 10)


def test_a_change_in_kedro_datasets_internals_falls_back_with_the_reason(tmp_path, caplog):
    path = tmp_path / "houses.csv"
    pd.DataFrame({"a": [1, 2]}).to_csv(path, index=False)
    dataset = CSVDataset(filepath=str(path))
    del dataset._load_args  # as if a kedro-datasets release renamed it
    dataset.load = lambda: pd.DataFrame({"a": [1, 2]})  # what it loads whole all the same

    sample = read_partial(DataCatalog({"houses": dataset}), "houses", 10)

    assert sample.source.startswith(f"{LOADED_WHOLE}: reading its first rows raised ")
    assert as_frame(sample.data)["a"].tolist() == [1, 2]
    assert (
        "The dry run loads 'houses' whole: reading its first rows raised "
        "IncompatibleVersionError: kedro-datasets "
    ) in caplog.text
    assert "has no kedro_datasets.pandas.csv_dataset.CSVDataset._load_args" in caplog.text


@pytest.fixture
def houses_directories(tmp_path):
    """The example's input as pandas writes it partitioned, and as Spark writes it."""
    from support import EXAMPLE

    houses = pd.read_csv(EXAMPLE / "data/01_raw/houses.csv")
    houses.loc[3, "area"] = None  # a missing value in the second file only, for Spark
    houses.iloc[::-1].to_parquet(tmp_path / "partitioned", partition_cols=["city"])
    spark = tmp_path / "spark"
    spark.mkdir()
    houses.iloc[:2].to_parquet(spark / "part-00000-c000.snappy.parquet", index=False)
    houses.iloc[2:].to_parquet(spark / "part-00001-c000.snappy.parquet", index=False)
    (spark / "_SUCCESS").touch()
    (spark / ".part-00000-c000.snappy.parquet.crc").write_bytes(b"crc")
    return {"partitioned": tmp_path / "partitioned", "spark": spark}


@pytest.mark.parametrize("layout", ["partitioned", "spark"])
def test_a_parquet_directory_is_read_in_part_as_pandas_reads_it_whole(houses_directories, layout):
    path = houses_directories[layout]
    catalog = DataCatalog({"houses": ParquetDataset(filepath=str(path))})

    sample = read_partial(catalog, "houses", 10)

    whole = pd.read_parquet(path)
    assert sample.source == PARTIAL_READ
    # The same rows, in order, with the same dtypes; a request carries no index.
    first = whole.head(10).reset_index(drop=True)
    pd.testing.assert_frame_equal(as_frame(sample.data).reset_index(drop=True), first)
    assert sample.schema == infer_signature(model_input=whole).inputs
