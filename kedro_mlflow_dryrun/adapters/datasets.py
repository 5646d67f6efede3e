"""Partial reads of kedro-datasets entries: the first rows, never the whole file.

This is the one module that touches kedro-datasets' private attributes
(``_load_args``, ``_copy``, ``_fs``, ``_get_load_path``). Readers are chosen by
``isinstance`` on the dataset class; a reader that meets attributes it does not
expect gives up with the reason, and the caller falls back, never crashes.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from kedro.io import AbstractDataset

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

Reader = Callable[[AbstractDataset, int], object]


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


def read_head(dataset: AbstractDataset, size: int) -> object | None:
    """The first ``size`` rows (or a lazy frame to take them from); ``None``: no partial read."""
    for dataset_type, reader in _readers():
        if isinstance(dataset, dataset_type):
            try:
                return reader(dataset, size)
            except (AttributeError, KeyError, TypeError) as error:
                logger.warning(
                    "Cannot read the first rows of a %s (kedro-datasets changed its "
                    "internals?): %s: %s. Falling back.",
                    type(dataset).__name__,
                    type(error).__name__,
                    error,
                )
                return None
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

    def read(dataset: AbstractDataset, size: int) -> object:
        partial = dataset._copy()
        partial._load_args = {**dataset._load_args, argument: size}  # type: ignore[attr-defined]
        return partial.load()

    return read


def _load_lazy(dataset: AbstractDataset, size: int) -> object:
    """Spark and lazy Polars frames read nothing until rows are asked for."""
    return dataset.load()


def _read_parquet_head(dataset: AbstractDataset, size: int) -> pd.DataFrame:
    """Reads the first batch of the leading row groups; ``pandas.read_parquet`` reads all."""
    import pyarrow.parquet as pq

    load_path = str(dataset._get_load_path())  # type: ignore[attr-defined]
    columns = dataset._load_args.get("columns")  # type: ignore[attr-defined]
    with dataset._fs.open(load_path, mode="rb") as file:  # type: ignore[attr-defined]
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
        if first is None:
            return parquet_file.schema_arrow.empty_table().to_pandas()
        return first.to_pandas()


def _read_preview(dataset: AbstractDataset, size: int) -> pd.DataFrame | None:
    """Other kedro-datasets tables offer ``preview(nrows)`` for Kedro-Viz."""
    preview = getattr(dataset, "preview", None)
    if preview is None or "nrows" not in inspect.signature(preview).parameters:
        return None
    import pandas as pd

    split = preview(nrows=size)
    return pd.DataFrame(split["data"], columns=split["columns"], index=split["index"])
