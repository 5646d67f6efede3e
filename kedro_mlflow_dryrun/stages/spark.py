"""Spark: the logged model as ``mlflow.pyfunc.spark_udf`` answers as the scoring server does.

Batch scoring on Spark takes the UDF's return type from the output schema (no
``result_type``): one column gives its type, several a struct. The sample, in serving
form, is spread over at least two partitions, since Spark hands the model one batch
per partition; the answers are collected and compared with the scoring server's,
row by row. A difference is explained by asking the server the questions Spark
asked: one partition's rows alone (a model whose answer depends on the batch, or
that does not answer one row per row), or by the output schema (an optional column).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import math
import re
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kedro_mlflow_dryrun.answers import column_tolerances
from kedro_mlflow_dryrun.errors import DryRunInternalError, SparkCheckError
from kedro_mlflow_dryrun.report import ERROR, FAILED, PASSED, SKIPPED

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.pyfunc import PyFuncModel
    from mlflow.types import Schema
    from pyspark.sql import SparkSession

    from kedro_mlflow_dryrun.adapters.spark import Scored
    from kedro_mlflow_dryrun.config import DryRunConfig
    from kedro_mlflow_dryrun.context import DryRunContext

logger = logging.getLogger("kedro_mlflow_dryrun")

PARTITIONS = 2
NO_SESSION = (
    "no SparkSession is active in this process, and 'spark_udf: auto' starts none. "
    "'spark_udf: always' in conf/<env>/dryrun.yml (or kedro dryrun --spark) starts a local one"
)


def wanted(config: DryRunConfig) -> bool:
    """Whether the check would run: ``always``, or ``auto`` with a session active."""
    from kedro_mlflow_dryrun.adapters.spark import active_session

    return config.spark_udf == "always" or (
        config.spark_udf == "auto" and active_session() is not None
    )


def run(context: DryRunContext) -> None:
    """Scores the sample with ``spark_udf`` and compares it with the scoring server's answers."""
    from kedro_mlflow_dryrun.adapters import spark

    mode = context.config.spark_udf
    if mode == "never":
        return _skip(context, "spark_udf: never in conf/<env>/dryrun.yml")
    active = spark.active_session()
    if active is None and mode == "auto":
        return _skip(context, NO_SESSION)
    origin = "the active SparkSession" if active else f"a local SparkSession ({spark.LOCAL_MASTER})"
    try:
        with nullcontext(active) if active else _started_session() as session:
            _check(context, session, origin)
    except (SparkCheckError, DryRunInternalError) as error:
        status = ERROR if isinstance(error, DryRunInternalError) else FAILED
        context.report.spark = {"status": status, "session": origin, "reason": str(error)}
        raise


def _check(context: DryRunContext, session: SparkSession, origin: str) -> None:
    import mlflow

    from kedro_mlflow_dryrun.adapters import spark

    rows = context.served_input
    if rows is None or len(rows) < PARTITIONS:
        return _skip(context, "the sample has fewer rows than the two partitions it needs")
    model_uri = context.logged_model_uri()
    name = model_uri if ":/" in model_uri else "(the inference pipeline, saved as logged)"
    model = mlflow.pyfunc.load_model(model_uri)
    schema = model.metadata.get_output_schema()
    served = _served(model, rows)
    if schema is None:
        _no_output_schema(name, served)
    scored = spark.score(session, model_uri, rows, PARTITIONS)
    where = _Where(context, name, model, rows, scored)
    if scored.predictions is None:
        raise where.spark_failed(schema, served)
    expected_type = _spark_type(schema)
    if expected_type not in (None, scored.return_type):
        raise SparkCheckError(
            f"spark_udf returns {scored.return_type} for the model {name}, but its output "
            f"schema {schema} says {expected_type}.\nFix: log the model with "
            "the output schema the dry run infers (take 'signature' out of log_model_kwargs)."
        )
    answers = _as_udf_returns(served, schema)
    tolerances = column_tolerances(schema)
    for row, (expected, got) in enumerate(zip(answers, scored.predictions, strict=True)):
        column = _difference(expected, got, tolerances)
        if column is not None:
            raise where.answered_differently(row, column, expected, got, schema)
    context.report.spark = {
        "status": PASSED,
        "model_uri": model_uri if name == model_uri else None,
        "session": origin,
        "return_type": scored.return_type,
        "rows": len(rows),
        "partitions": len(set(scored.partitions)),
    }
    logger.info(
        "Spark batch check passed: spark_udf(%s) returns %s: the scoring server's answers "
        "for the %d sample rows, over %d partitions of %s",
        name,
        scored.return_type,
        len(rows),
        len(set(scored.partitions)),
        origin,
    )


def _started_session() -> AbstractContextManager[SparkSession]:
    from kedro_mlflow_dryrun.adapters.spark import local_session

    if importlib.util.find_spec("pyspark") is None:
        raise DryRunInternalError(
            "spark_udf: always needs pyspark, which is not installed.\n"
            "Fix: pip install pyspark (and Java 17), or set 'spark_udf: auto' in dryrun.yml."
        )
    return local_session()


def _skip(context: DryRunContext, reason: str) -> None:
    context.report.spark = {"status": SKIPPED, "reason": reason}
    logger.debug("Spark batch check skipped: %s", reason)


def _served(model: PyFuncModel, rows: pd.DataFrame) -> list[Any]:
    """The scoring server's predictions for ``rows``, parsed as a client reads them."""
    from kedro_mlflow_dryrun.adapters.models import answer

    reply = answer(model, rows.reset_index(drop=True))
    if reply.status != 200:
        raise SparkCheckError(f"The scoring server answered HTTP {reply.status}: {reply.text}")
    predictions = json.loads(reply.text)["predictions"]
    return predictions if isinstance(predictions, list) else [predictions]


def _no_output_schema(model_uri: str, served: list[Any]) -> None:
    """Without an output schema ``spark_udf`` returns one double: a table loses columns."""
    first = served[0] if served else None
    if not isinstance(first, dict) or len(first) < 2:
        return
    kept, *lost = list(first)
    raise SparkCheckError(
        f"The model {model_uri} has no output schema, so spark_udf falls back to one "
        f"double column: a Spark batch job gets {kept!r} alone and loses "
        f"{', '.join(map(repr, lost))}.\n"
        "Fix: let kedro-mlflow-dryrun record the signature (take 'signature' out of "
        "log_model_kwargs), or write it into this model: kedro dryrun --model-uri "
        f"{model_uri} --set-signature."
    )


def _spark_type(schema: Schema | None) -> str | None:
    """The type the output schema's columns make in Spark (``None``: not only columns)."""
    from mlflow.types.schema import ColSpec, DataType

    specs = schema.inputs if schema is not None else []
    if not specs or not all(isinstance(s, ColSpec) and isinstance(s.type, DataType) for s in specs):
        return None
    types = [(spec.name, spec.type.to_spark().simpleString()) for spec in specs]  # type: ignore[union-attr]
    if len(types) == 1:
        return types[0][1]
    return "struct<" + ",".join(f"{name}:{kind}" for name, kind in types) + ">"


def _as_udf_returns(served: list[Any], schema: Schema | None) -> list[Any]:
    """The server's answers in the UDF's shape: one column is returned as its value."""
    if schema is None or len(schema.inputs) != 1:
        return served
    name = schema.inputs[0].name
    return [
        answer[name] if isinstance(answer, dict) and name in answer else answer for answer in served
    ]


def _difference(expected: Any, got: Any, tolerances: dict[str | None, float]) -> str | None:
    """The first output column (``""`` for a single value) where the answers differ; floats
    as precise as their column's type (:mod:`kedro_mlflow_dryrun.answers`)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        for name, value in expected.items():
            if name not in got or not _same(value, got[name], tolerances.get(str(name))):
                return str(name)
        return None
    # One column is returned as its value: its tolerance is the only one.
    only = next(iter(tolerances.values())) if len(tolerances) == 1 else None
    return None if _same(expected, got, only) else ""


def _same(expected: Any, got: Any, relative: float | None = None) -> bool:
    """JSON's value and Spark's, equal as a client of each reads them."""
    from kedro_mlflow_dryrun.answers import DOUBLE_RELATIVE, same_number

    if _missing(expected) or _missing(got):
        return _missing(expected) and _missing(got)
    if isinstance(expected, float | int) and isinstance(got, float | int):
        if isinstance(expected, bool) or isinstance(got, bool):
            return expected is got
        return same_number(float(expected), float(got), relative or DOUBLE_RELATIVE)
    if isinstance(got, datetime) and isinstance(expected, str):
        import pandas as pd

        return bool(pd.Timestamp(expected) == pd.Timestamp(got))
    if isinstance(got, bytes) and isinstance(expected, str):
        return base64.b64encode(got).decode() == expected
    if isinstance(expected, list) and isinstance(got, list):
        return len(expected) == len(got) and all(
            _same(e, g, relative) for e, g in zip(expected, got, strict=True)
        )
    if isinstance(expected, dict) and isinstance(got, dict):
        return expected.keys() == got.keys() and all(
            _same(v, got[k], relative) for k, v in expected.items()
        )
    return bool(expected == got)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class _Where:
    """Explains a difference in the user's terms: which column, which rows, which fix."""

    def __init__(
        self,
        context: DryRunContext,
        name: str,
        model: PyFuncModel,
        rows: pd.DataFrame,
        scored: Scored,
    ) -> None:
        self.name, self.model, self.rows, self.scored = name, model, rows, scored
        producer = context.model.producer
        self.node = f"node '{producer}'" if producer else "the inference pipeline"

    def partition(self, number: int) -> list[int]:
        return [row for row, part in enumerate(self.scored.partitions) if part == number]

    def spark_failed(self, schema: Schema | None, served: list[Any]) -> Exception:
        """Spark's job failed: the partition the server does not answer row for row, an
        optional column holding no value, or a type spark_udf cannot return."""
        cause = self.scored.error or ""
        for number in sorted(set(self.scored.partitions)):
            rows = self.partition(number)
            answered = len(_served(self.model, self.rows.iloc[rows]))
            if answered != len(rows):
                return self._not_row_aligned(number, rows, answered, cause)
        for spec in schema.inputs if schema is not None else []:
            empty = _first_missing(served, spec.name)
            if not spec.required and empty is not None:
                return self._optional(spec, empty, f"fails on it: {cause}")
        unsupported = re.search(r"Unsupported field type (\w+)", cause)
        if unsupported and schema is not None:
            return self._unsupported_type(schema, unsupported.group(1), cause)
        if not self.scored.in_worker or "No module named" in cause:
            return DryRunInternalError(
                f"The Spark batch check could not score the model {self.name}: "
                f"{cause}\nFix: make the session's Python workers run an interpreter with the "
                "model's packages (PYSPARK_PYTHON), or set 'spark_udf: never' in dryrun.yml."
            )
        return SparkCheckError(
            f"spark_udf fails on the model {self.name}, which the scoring server "
            f"answers: {cause}\nFix: make {self.node} return columns of the types its output "
            "schema lists (numbers, strings, booleans), one row per input row."
        )

    def answered_differently(
        self, row: int, column: str, expected: Any, got: Any, schema: Schema | None
    ) -> Exception:
        number = self.scored.partitions[row]
        rows = self.partition(number)
        alone = _as_udf_returns(_served(self.model, self.rows.iloc[rows]), schema)
        if _difference(alone[rows.index(row)], got, column_tolerances(schema)) is None:
            return self._batch_dependent(row, number, len(rows), expected, got)
        spec = next((s for s in schema.inputs if s.name == column), None) if schema else None
        if spec is not None and not spec.required and _missing(_value(expected, column)):
            shown = _value(got, column)
            return self._optional(spec, row, f"returns {shown!r} where the server answers null")
        where = f"output column {column!r}" if column else "the output"
        return SparkCheckError(
            f"spark_udf returns {_value(got, column)!r} for {where}, row {row} of the sample, "
            f"where the scoring server answers {_value(expected, column)!r} "
            f"(spark_udf's type: {self.scored.return_type}).\n"
            f"Fix: make {self.node} return {where} in the type its output schema lists."
        )

    def _not_row_aligned(
        self, number: int, rows: list[int], answered: int, cause: str
    ) -> Exception:
        return SparkCheckError(
            f"spark_udf cannot score the model {self.name}: its output is not one "
            f"row per input row. Spark hands the model one partition at a time; for the "
            f"{len(rows)} rows of partition {number} (rows {rows[0]} to {rows[-1]} of the "
            f"sample) the scoring server answers {answered} rows, and Spark fails: {cause}\n"
            f"Fix: make {self.node} return exactly one row per input row, in their order "
            "(no fixed length or index, no filtering, no aggregation)."
        )

    def _optional(self, spec: Any, row: int, what: str) -> Exception:
        return SparkCheckError(
            f"spark_udf cannot type output column {spec.name!r} of the model "
            f"{self.name}: its output schema marks it optional (row {row} of the sample "
            f"holds no value), but spark_udf converts every value of the column to "
            f"{spec.type!r} ({self.scored.return_type}), and {what}.\n"
            f"Fix: fill the missing values of {spec.name!r} in {self.node} (fillna), so that "
            "it is required; a double column may instead hold NaN, which Spark keeps."
        )

    def _unsupported_type(self, schema: Schema, spark_name: str, cause: str) -> Exception:
        from mlflow.types.schema import DataType

        columns = [
            f"{spec.name!r} ({spec.type!r})"
            for spec in schema.inputs
            if isinstance(spec.type, DataType) and spec.type.to_spark().simpleString() == spark_name
        ]
        return SparkCheckError(
            f"spark_udf cannot return output column {', '.join(columns)} of the model "
            f"{self.name} inside the struct of its {len(schema.inputs)} columns: {cause}\n"
            f"Fix: make {self.node} return it as a string (ISO text for a datetime, base64 for "
            "bytes) or a number (epoch seconds)."
        )

    def _batch_dependent(
        self, row: int, number: int, size: int, expected: Any, got: Any
    ) -> Exception:
        request = self.rows.iloc[row].to_dict()
        return SparkCheckError(
            f"The model {self.name} answers rows differently on Spark, which hands "
            f"it one partition at a time: its answer for a row depends on the other rows of "
            f"the request. Row {row} of the sample {request}:\n"
            f"  the scoring server, all {len(self.rows)} rows at once: {expected!r}\n"
            f"  spark_udf, in partition {number} ({size} rows): {got!r}\n"
            f"Fix: make {self.node} answer each row from that row and the training artifacts "
            "alone; a statistic of the request (a mean, a rank, a scaler fitted on it) belongs "
            "in an artifact computed at training time."
        )


def _value(answer: Any, column: str) -> Any:
    return answer.get(column) if column and isinstance(answer, dict) else answer


def _first_missing(served: list[Any], column: str | None) -> int | None:
    for row, answer in enumerate(served):
        if isinstance(answer, dict) and _missing(answer.get(column)):
            return row
    return None
