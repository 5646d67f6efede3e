"""Input engines: a few rows of whatever ``input_name`` loads as, and the whole input's schema.

Every engine ends in the same place: the rows as a small pandas DataFrame (a numpy
array or a list stays one), the form a serving request arrives in, and the input
schema as kedro-mlflow's ``signature: "auto"`` would infer it from the whole input.
The stages never see the engine.

The schema costs far less than kedro-mlflow's second full read: the column types
come from the dtypes, and whether a column holds a missing value anywhere from one
vectorised pass over it (pandas) or from the null counts the engine keeps (Polars,
Arrow); a Spark schema is read as MLflow reads it. No column is marked required on
the evidence of the sampled rows alone.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

from kedro_mlflow_dryrun.config import SampleStrategy
from kedro_mlflow_dryrun.errors import SampleError

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    from mlflow.types import DataType, Schema
    from mlflow.types.schema import AnyType, Array, Map, Object
    from pyspark.sql import DataFrame as SparkDataFrame

    ColumnType = DataType | Array | Object | Map | AnyType

_FILE_SUFFIXES = (".csv", ".parquet", ".json", ".jsonl")

#: The random sample is the same from one run to the next.
SEED = 0


class Rows(NamedTuple):
    """A sample of an input, and what the whole input says about its columns."""

    data: object
    #: The whole input's schema, as kedro-mlflow records it; ``None``: nothing records it.
    schema: Schema | None
    #: How the rows were chosen: ``head`` where only the first rows are cheap to reach.
    strategy: SampleStrategy


Engine = Callable[[object, int, SampleStrategy], Rows]


def take(data: object, size: int, strategy: SampleStrategy) -> Rows:
    """At most ``size`` rows of ``data``, copied, so the full input can be freed."""
    engine = _engine_of(data)
    if engine is None:
        kind = type(data)
        raise SampleError(
            f"The training input is a {kind.__module__}.{kind.__qualname__}, which the dry "
            "run cannot sample: it takes pandas, Polars, Spark and Arrow tables, numpy "
            "arrays, dicts of columns and lists of records."
        )
    return engine(data, size, strategy)


def positions(total: int, size: int, strategy: SampleStrategy) -> np.ndarray:
    """Sorted row positions; the cost grows with ``size``, never with ``total``.

    ``Generator.choice`` without replacement uses Floyd's algorithm (a hash set of
    ``size`` entries) while ``size`` is at most 1/20 of ``total``; above that it
    tail-shuffles an index of ``total`` entries, which is then no larger than
    ``20 * size``.
    """
    import numpy as np

    if size >= total or strategy == "head":
        return np.arange(min(size, total))
    chosen = np.random.default_rng(SEED).choice(total, size=size, replace=False, shuffle=False)
    return np.sort(chosen)


def frame_schema(frame: pd.DataFrame, with_missing: Collection[str]) -> Schema:
    """MLflow's schema of ``frame``; a column is optional when ``with_missing`` names it."""
    from mlflow.types import ColSpec, Schema

    return Schema(
        [
            ColSpec(column_type(frame[name]), name=name, required=name not in with_missing)
            for name in frame.columns
        ]
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


def mlflow_schema(data: object) -> Schema | None:
    """Exactly what kedro-mlflow's ``signature: "auto"`` records, where that costs little."""
    from mlflow.models import infer_signature

    return infer_signature(model_input=data).inputs


def column_type(column: pd.Series) -> ColumnType:
    """The column's MLflow type, as ``infer_signature`` finds it, from the dtype where it can.

    Only a column of Python objects (not strings) needs its values looked at.
    """
    import pandas as pd
    from mlflow.types import DataType

    from kedro_mlflow_dryrun import compat

    if isinstance(column.dtype, pd.StringDtype):
        return DataType.string
    return compat.infer_pandas_column(column)


def arrow_to_pandas(table: pa.Table, with_missing: Collection[str]) -> pd.DataFrame:
    """The rows as pandas, with the dtypes of the whole input's conversion.

    Arrow turns an integer column holding a null into floats: a column with a missing
    value anywhere is converted with one, so the sample's dtype is the whole input's.
    """
    import pyarrow as pa

    if not table.num_rows or not set(with_missing) & set(table.column_names):
        return table.to_pandas()
    padding = pa.table(
        {
            name: pa.nulls(1, column.type) if name in with_missing else column.slice(0, 1)
            for name, column in zip(table.column_names, table.columns, strict=True)
        },
        schema=table.schema,
    )
    return pa.concat_tables([table, padding]).to_pandas().iloc[:-1]


def _engine_of(data: object) -> Engine | None:
    import numpy as np
    import pandas as pd

    engines: list[tuple[bool, Engine]] = [
        (isinstance(data, pd.DataFrame | pd.Series), _pandas_rows),
        (isinstance(data, np.ndarray), _numpy_rows),
        (_instance_of(data, "polars", "DataFrame"), _polars_rows),
        (_instance_of(data, "polars", "LazyFrame"), _lazy_polars_rows),
        (_instance_of(data, "pyspark.sql", "DataFrame"), _spark_rows),
        (_instance_of(data, "pyarrow", "Table", "RecordBatch"), _arrow_rows),
        (isinstance(data, Mapping), _columns_rows),
        (isinstance(data, list | tuple), _list_rows),
    ]
    return next((engine for accepted, engine in engines if accepted), None)


def _instance_of(data: object, module: str, *names: str) -> bool:
    """Checked without importing ``module``: data of its classes means it is loaded."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(data, tuple(getattr(loaded, n) for n in names))


def _pandas_rows(data: object, size: int, strategy: SampleStrategy) -> Rows:
    import pandas as pd
    from mlflow.exceptions import MlflowException

    assert isinstance(data, pd.DataFrame | pd.Series)
    schema: Schema | None
    try:
        if isinstance(data, pd.Series):
            schema = _series_schema(data)
        else:
            with_missing = [name for name in data.columns if data[name].isna().any()]
            schema = frame_schema(data, with_missing)
    except MlflowException:  # a column of objects MLflow cannot type: it records ``any``
        schema = mlflow_schema(data)
    rows = data.iloc[positions(len(data), size, strategy)]
    # A request carries a table: a served Series arrives as a one-column frame.
    return Rows(rows.to_frame() if isinstance(rows, pd.Series) else rows, schema, strategy)


def _series_schema(series: pd.Series) -> Schema:
    from mlflow.types import ColSpec, Schema

    required = not series.isna().any()
    return Schema([ColSpec(column_type(series), name=series.name, required=required)])


def _numpy_rows(data: object, size: int, strategy: SampleStrategy) -> Rows:
    array: np.ndarray = data  # type: ignore[assignment]
    return Rows(array[positions(len(array), size, strategy)], mlflow_schema(array), strategy)


def _polars_rows(data: object, size: int, strategy: SampleStrategy) -> Rows:
    frame: pl.DataFrame = data  # type: ignore[assignment]
    rows = frame[positions(frame.height, size, strategy)]
    counts = frame.null_count().row(0, named=True)  # kept by Polars: no pass over the data
    return _arrow_table_rows(rows.to_arrow(), [n for n, c in counts.items() if c], strategy)


def _lazy_polars_rows(data: object, size: int, strategy: SampleStrategy) -> Rows:
    """Only the first rows are fetched; the null counts cost one streaming pass."""
    lazy: pl.LazyFrame = data  # type: ignore[assignment]
    rows = lazy.head(size).collect()
    counts = lazy.null_count().collect().row(0, named=True)
    return _arrow_table_rows(rows.to_arrow(), [n for n, c in counts.items() if c], "head")


def _arrow_rows(data: object, size: int, strategy: SampleStrategy) -> Rows:
    import pyarrow as pa

    table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    rows = table.take(positions(table.num_rows, size, strategy))
    with_missing = [
        n for n, c in zip(table.column_names, table.columns, strict=True) if c.null_count
    ]
    return _arrow_table_rows(rows, with_missing, strategy)


def _arrow_table_rows(rows: pa.Table, with_missing: list[str], strategy: SampleStrategy) -> Rows:
    """MLflow cannot type a Polars or Arrow table (it records ``any``): type the served one."""
    frame = arrow_to_pandas(rows, with_missing)
    return Rows(frame, frame_schema(frame, with_missing), strategy)


def _spark_rows(data: object, size: int, strategy: SampleStrategy) -> Rows:
    """The first rows, never more: a random sample of a Spark frame scans all of it."""
    frame: SparkDataFrame = data  # type: ignore[assignment]
    return Rows(frame.limit(size).toPandas(), mlflow_schema(frame), "head")


def _columns_rows(data: object, size: int, strategy: SampleStrategy) -> Rows:
    """A dict of columns is the table a request carries (MLflow alone reads one record)."""
    import pandas as pd

    columns: Mapping[str, Sequence[object]] = data  # type: ignore[assignment]
    try:
        frame = pd.DataFrame(dict(columns))
    except ValueError as error:
        raise SampleError(
            f"The training input is a dict that is not a table of columns: {error}"
        ) from error
    return _pandas_rows(frame, size, strategy)


def _list_rows(data: object, size: int, strategy: SampleStrategy) -> Rows:
    """Records become a table; the schema is MLflow's own (records carry their nulls)."""
    import pandas as pd

    items = list(data)  # type: ignore[call-overload]
    picked = [items[position] for position in positions(len(items), size, strategy)]
    if items and all(isinstance(item, Mapping) for item in items):
        return Rows(pd.DataFrame(picked), mlflow_schema(items), strategy)
    return Rows(picked, mlflow_schema(items), strategy)
