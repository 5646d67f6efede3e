"""Input engines: the first rows of whatever ``input_name`` loads as.

Every engine ends in the same place, a small pandas DataFrame or array, the form
a serving request arrives in; the stages never see the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kedro_mlflow_dryrun.errors import SampleError

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

_FILE_SUFFIXES = (".csv", ".parquet", ".json", ".jsonl")


def head(data: object, size: int) -> object:
    """Copies the first ``size`` rows, so the full input can be freed after training."""
    if hasattr(data, "iloc"):
        return data.iloc[:size].copy()
    if hasattr(data, "shape") and hasattr(data, "copy"):
        return data[:size].copy()  # type: ignore[index]
    if isinstance(data, list | tuple):
        return data[:size]
    raise SampleError(
        f"The training input is a {type(data).__name__}, which has no rows to "
        "sample. The dry run needs a pandas DataFrame or Series, a numpy array "
        "or a list as 'input_name'."
    )


def read_file(path: Path, size: int) -> pd.DataFrame:
    """The first ``size`` rows of a CSV, Parquet or JSON-records file (``--input FILE``)."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, nrows=size)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        first = next(pq.ParquetFile(path).iter_batches(batch_size=size), None)
        return first.to_pandas() if first is not None else pd.read_parquet(path)
    if suffix in (".json", ".jsonl"):
        return pd.read_json(path, orient="records", lines=suffix == ".jsonl").head(size)
    raise SampleError(
        f"{path} is neither CSV, Parquet nor JSON records.\n"
        f"Fix: pass a file ending in {', '.join(_FILE_SUFFIXES)}."
    )
