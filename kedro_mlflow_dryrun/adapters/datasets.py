"""Partial reads of kedro-datasets entries: the first rows, never the whole file.

Only the first rows: a row further in cannot be reached without reading all the
rows before it (CSV), or the pages that hold it (Parquet). With the rows comes
what the format records of the whole input: a Parquet file's schema and null
counts, a Spark frame's schema. A CSV file records nothing, so its schema is left
to a full read, and only when a signature is inferred.

The private attributes of kedro-datasets' file datasets (``_load_args``, ``_copy``,
``_fs``, ``_get_load_path``) are read through :mod:`kedro_mlflow_dryrun.compat`.
Readers are chosen by ``isinstance`` on the dataset class; a reader that meets
attributes it does not expect raises, and the caller falls back, never crashes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kedro.io import AbstractDataset

from kedro_mlflow_dryrun import compat
from kedro_mlflow_dryrun.adapters.inputs import Rows, arrow_to_pandas, frame_schema, take

if TYPE_CHECKING:
    import pyarrow as pa
    from pyarrow.parquet import FileMetaData

Reader = Callable[[AbstractDataset, int], Rows]


def loads_anew(dataset: AbstractDataset | None) -> bool:
    """Does every ``load()`` read storage again, so that nobody else holds what it returns?

    True of the datasets kedro-datasets ships (files, tables, models). Not of a
    ``MemoryDataset``, nor of a subclass a project wrote, which may cache.
    """
    return dataset is not None and type(dataset).__module__.split(".")[0] == "kedro_datasets"


def round_trips_exactly(dataset: AbstractDataset | None) -> bool:
    """Is what ``load()`` returns what ``save()`` was given, so that either may stand in?"""
    try:
        from kedro_datasets.pickle import PickleDataset
    except ImportError:
        return False
    return type(dataset) is PickleDataset


def read_head(dataset: AbstractDataset, size: int) -> Rows | None:
    """The first ``size`` rows; ``None``: the dataset cannot be read partially.

    Whatever a reader raises (a path that is not there, attributes kedro-datasets
    renamed: :class:`~kedro_mlflow_dryrun.errors.IncompatibleVersionError`) is the
    caller's to fall back from.
    """
    for dataset_type, reader in _readers():
        if isinstance(dataset, dataset_type):
            return reader(dataset, size)
    return _read_preview(dataset, size)


def _readers() -> list[tuple[type, Reader]]:
    """The datasets this module knows, for the kedro-datasets extras that are installed."""
    readers: list[tuple[type, Reader]] = []
    try:
        from kedro_datasets.pandas import CSVDataset, ExcelDataset, ParquetDataset

        readers += [
            (ParquetDataset, _read_parquet_head),
            (CSVDataset, _read_with_load_arg("nrows")),
            (ExcelDataset, _read_with_load_arg("nrows")),
        ]
    except ImportError:
        pass
    try:
        from kedro_datasets.polars import CSVDataset as PolarsCSVDataset

        readers.append((PolarsCSVDataset, _read_with_load_arg("n_rows")))
    except ImportError:
        pass
    try:
        from kedro_datasets.polars import EagerPolarsDataset

        readers.append((EagerPolarsDataset, _read_with_load_arg("n_rows")))
    except ImportError:
        pass
    try:
        from kedro_datasets.polars import LazyPolarsDataset

        readers.append((LazyPolarsDataset, _load_lazy))
    except ImportError:
        pass
    try:
        from kedro_datasets.spark import SparkDataset

        readers.append((SparkDataset, _load_lazy))
    except ImportError:
        pass
    return readers


def _read_with_load_arg(argument: str) -> Reader:
    """Readers that take a row limit (pandas ``nrows``, Polars ``n_rows``) stop early."""

    def read(dataset: AbstractDataset, size: int) -> Rows:
        partial = compat.with_load_args(dataset, **{argument: size})
        return Rows(take(partial.load(), size, "head").data, None, "head")

    return read


def _load_lazy(dataset: AbstractDataset, size: int) -> Rows:
    """Spark and lazy Polars frames read nothing until rows are asked for."""
    return take(dataset.load(), size, "head")


def _read_parquet_head(dataset: AbstractDataset, size: int) -> Rows:
    """Reads the first batch of the leading row groups; ``pandas.read_parquet`` reads all.

    The footer gives the rest: the column types and, per row group, the null counts.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    load_path, load_args = compat.load_path(dataset), compat.load_args(dataset)
    columns = load_args.get("columns")
    filesystem = compat.filesystem(dataset)
    if filesystem.isdir(load_path):
        table, with_missing = _parquet_directory_head(filesystem, load_path, columns, size)
        return _parquet_rows(table, with_missing, load_args)
    with filesystem.open(load_path, mode="rb") as file:
        # No pre-buffering: it would read whole column chunks ahead of the first rows.
        parquet_file = pq.ParquetFile(file, pre_buffer=False, buffer_size=1 << 16)
        groups, rows = [], 0
        for group in range(parquet_file.metadata.num_row_groups):
            if rows >= size:
                break
            groups.append(group)
            rows += parquet_file.metadata.row_group(group).num_rows
        batches = parquet_file.iter_batches(
            batch_size=size, row_groups=groups, columns=columns, use_threads=False
        )
        first = next(batches, None)
        table = (
            pa.Table.from_batches([first])
            if first is not None
            else parquet_file.schema_arrow.empty_table()
        )
        with_missing = _columns_with_nulls(parquet_file.metadata)
    return _parquet_rows(table, with_missing, load_args)


def _parquet_directory_head(
    filesystem: Any, path: str, columns: list[str] | None, size: int
) -> tuple[pa.Table, set[str] | None]:
    """The first rows of a directory of Parquet files (pandas' partitioned output, Spark's),
    read as ``pandas.read_parquet`` reads it whole: hive partitions, ``_SUCCESS`` and
    ``.crc`` files left out; and the columns any file's footer counts a null in."""
    import pyarrow.dataset as ds

    partitioning = ds.HivePartitioning.discover(infer_dictionary=True)
    dataset = ds.dataset(path, filesystem=filesystem, format="parquet", partitioning=partitioning)
    with_missing: set[str] | None = set()
    for fragment in dataset.get_fragments():
        in_file = _columns_with_nulls(fragment.metadata)
        with_missing = None if in_file is None or with_missing is None else with_missing | in_file
    return dataset.head(size, columns=columns), with_missing


def _parquet_rows(
    table: pa.Table, with_missing: set[str] | None, load_args: dict[str, Any]
) -> Rows:
    """The rows, and the whole input's schema where the footers and load arguments tell it."""
    frame = arrow_to_pandas(table, with_missing or ())
    # Other load arguments (``dtype_backend``, say) change the dtypes of a full read.
    if with_missing is None or not set(load_args) <= {"columns"}:
        return Rows(frame, None, "head")
    return Rows(frame, frame_schema(frame, with_missing), "head")


def _columns_with_nulls(metadata: FileMetaData) -> set[str] | None:
    """The columns a null count in the footer says hold a missing value; ``None``: unknown."""
    names = set()
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            statistics = chunk.statistics
            if statistics is None or not statistics.has_null_count:
                return None
            if statistics.null_count:
                names.add(chunk.path_in_schema)
    return names


def _read_preview(dataset: AbstractDataset, size: int) -> Rows | None:
    """Other kedro-datasets tables offer ``preview(nrows)`` for Kedro-Viz."""
    preview = getattr(dataset, "preview", None)
    if preview is None or "nrows" not in inspect.signature(preview).parameters:
        return None
    import pandas as pd

    split = preview(nrows=size)
    frame = pd.DataFrame(split["data"], columns=split["columns"], index=split["index"])
    return Rows(frame, None, "head")
