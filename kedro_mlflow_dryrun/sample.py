"""Capture and sample: the first rows of the training input, without a second read.

Training loads ``input_name`` anyway; :class:`SampleCapture` keeps the first rows
of what it loaded. Only where training never loaded it (a partial run, or a
runner whose dataset hooks stay in worker processes) does :func:`read_partial`
read the first rows of the catalog entry, and never the whole dataset.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from kedro.io import CatalogProtocol

from kedro_mlflow_dryrun.errors import SampleError

CAPTURED = "captured from training"
PARTIAL_READ = "partial read of the catalog entry"
_NROWS_DATASETS = {"CSVDataset", "ExcelDataset"}


@dataclass(frozen=True)
class Sample:
    """The rows the dry run feeds to the inference pipeline, and where they came from."""

    data: Any
    source: str

    @property
    def rows(self) -> int:
        return len(self.data)


def head(data: Any, size: int) -> Any:
    """Copies the first ``size`` rows, so the full input can be freed after training."""
    if hasattr(data, "iloc"):
        return data.iloc[:size].copy()
    if hasattr(data, "shape") and hasattr(data, "copy"):
        return data[:size].copy()
    if isinstance(data, list | tuple):
        return data[:size]
    raise SampleError(
        f"The training input is a {type(data).__name__}, which has no rows to "
        "sample. The dry run needs a pandas DataFrame or Series, a numpy array "
        "or a list as 'input_name'."
    )


class SampleCapture:
    """Keeps the first rows of one dataset the first time a node loads it."""

    def __init__(self, dataset_name: str, size: int) -> None:
        self.dataset_name = dataset_name
        self.size = size
        self.sample: Sample | None = None

    def offer(self, dataset_name: str, data: Any) -> None:
        if dataset_name == self.dataset_name and self.sample is None:
            self.sample = Sample(head(data, self.size), CAPTURED)


def read_partial(catalog: CatalogProtocol, dataset_name: str, size: int) -> Sample:
    """Reads only the first rows of a catalog entry, or says why it cannot."""
    dataset = catalog.get(dataset_name)
    if dataset is None:
        raise SampleError(_unreadable(dataset_name, "it is not in the catalog"))

    for reader in (_read_parquet_head, _read_with_nrows, _read_preview):
        data = reader(dataset, size)
        if data is not None:
            return Sample(head(data, size), PARTIAL_READ)
    raise SampleError(
        _unreadable(dataset_name, f"a {type(dataset).__name__} cannot be read partially")
    )


def _unreadable(dataset_name: str, reason: str) -> str:
    return (
        f"The dry run needs a sample of '{dataset_name}', but training did not "
        f"load it and {reason}.\n"
        f"Fix: run the whole training pipeline, or declare '{dataset_name}' as a "
        "CSV or Parquet dataset so its first rows can be read."
    )


def _read_with_nrows(dataset: Any, size: int) -> Any:
    """pandas readers that take ``nrows`` (CSV, Excel) stop after the first rows."""
    if type(dataset).__name__ not in _NROWS_DATASETS:
        return None
    partial = dataset._copy()
    partial._load_args = {**dataset._load_args, "nrows": size}
    return partial.load()


def _read_parquet_head(dataset: Any, size: int) -> Any:
    """Reads the leading row groups only; ``pandas.read_parquet`` would read them all."""
    if type(dataset).__name__ != "ParquetDataset" or not hasattr(dataset, "_fs"):
        return None
    import pyarrow.parquet as pq

    load_path = str(dataset._get_load_path())
    columns = dataset._load_args.get("columns")
    with dataset._fs.open(load_path, mode="rb") as file:
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


def _read_preview(dataset: Any, size: int) -> Any:
    """Other kedro-datasets tables offer ``preview(nrows)`` for Kedro-Viz."""
    preview = getattr(dataset, "preview", None)
    if preview is None or "nrows" not in inspect.signature(preview).parameters:
        return None
    import pandas as pd

    split = preview(nrows=size)
    return pd.DataFrame(split["data"], columns=split["columns"], index=split["index"])


def with_rows(sample: Sample, dataset_name: str) -> Sample:
    """An empty sample would let an inference pipeline pass that fails on any real row."""
    if not sample.rows:
        raise SampleError(
            f"'{dataset_name}' has no rows, so the inference pipeline cannot be tried.\n"
            "Fix: check the training input, or set sample_dataset in dryrun.yml to a "
            "dataset with rows."
        )
    return sample


def without_columns(sample: Sample, columns: tuple[str, ...]) -> Sample:
    """Takes out columns, such as the target, that serving requests will not carry."""
    if not columns:
        return sample
    present = [str(name) for name in getattr(sample.data, "columns", [])]
    missing = [name for name in columns if name not in present]
    if missing:
        raise SampleError(
            f"dryrun.yml: drop_columns names {missing}, which the sample does not have; "
            f"its columns are {present}."
        )
    return Sample(sample.data.drop(columns=list(columns)), sample.source)
