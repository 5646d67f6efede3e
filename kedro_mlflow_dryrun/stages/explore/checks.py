"""Checks: one small function per finding kind, each asking one question of one request's answers.

A :class:`Case` is one generated request and the server's answer to it. The checks
run in the order of :data:`CHECKS`; the first that returns a finding decides. Sends
are the cost (each is the model's own ``predict``), so a case sends what a check
needs once and keeps it:

- the request (always);
- the same rows in another batch: reversed, after a row of the sample, so that every
  row has other neighbours and the batch another size and content; compared row by
  row, it shows batch dependence on any row, a one-row request included;
- the request again, only when the two batches differ: the same answer twice makes
  it ``batch_dependent``, another one ``nondeterministic``.

Two sends per request, three per difference. ``concurrent`` runs once, after the
search: distinct requests whose answers were stable, sent at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from kedro_mlflow_dryrun.answers import differing_columns, same_answer, same_row
from kedro_mlflow_dryrun.stages.explore.findings import Finding, rows, show
from kedro_mlflow_dryrun.stages.explore.sender import Sender, decoded

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlflow.types import Schema

    from kedro_mlflow_dryrun.adapters.models import Reply

#: Requests sent at once by the ``concurrent`` check, and how many times.
CONCURRENT_REQUESTS, CONCURRENT_ROUNDS = 8, 2
_SERVER_400 = (
    'The scoring server answers HTTP 400 "Encountered an unexpected error while evaluating '
    'the model. Verify that the serialized input Dataframe is compatible ...": it tells the '
    "client the fault is its request's."
)


class Refused(Exception):
    """The input schema refused a generated request: the generator's fault, not the model's."""


@dataclass
class Case:
    """One request, its answer, and what the checks sent about it, sent once each."""

    body: dict[str, Any]
    first: Reply
    sender: Sender
    outputs: Schema | None
    tolerances: dict[str | None, float]
    row_aligned: bool
    #: A row of the sample by column name (or, unnamed, as a list), to mix into a batch.
    companion: dict[str, Any] | list[Any] | None

    @cached_property
    def predictions(self) -> Any:
        return decoded(self.first)

    @property
    def rows(self) -> int:
        return rows(self.body)

    @property
    def compared_in_batch(self) -> bool:
        """Whether its rows are compared inside another batch (else: the request again)."""
        return self.row_aligned and self.rows > 0

    @cached_property
    def again(self) -> Reply:
        return self.sender.send(self.body)

    @cached_property
    def other_body(self) -> dict[str, Any]:
        """The same rows reversed, after a row of the sample when it has the same columns."""
        split = self.body["dataframe_split"]
        data = list(reversed(split["data"]))
        extra = _companion_row(self.companion, split.get("columns"))
        return {**self.body, "dataframe_split": {**split, "data": [*extra, *data]}}

    @cached_property
    def other(self) -> Reply:
        return self.sender.send(self.other_body)

    def positions(self) -> list[tuple[int, int]]:
        """Each row of the request and its position in the other batch."""
        shift = rows(self.other_body) - self.rows
        return [(row, shift + self.rows - 1 - row) for row in range(self.rows)]

    @cached_property
    def batch_differences(self) -> list[tuple[int, int, list[str]]]:
        """The rows answered otherwise in the other batch: (row, its position there, columns)."""
        other = self.other
        if other.status != 200:
            return []
        theirs, ours = decoded(other), self.predictions
        if not isinstance(theirs, list) or len(theirs) != rows(self.other_body):
            return []
        return [
            (row, position, differing_columns(ours[row], theirs[position], self.tolerances))
            for row, position in self.positions()
            if not same_row(ours[row], theirs[position], self.tolerances)
        ]

    @property
    def stable(self) -> bool:
        """Answered alike in both batches: a request the ``concurrent`` check may send."""
        sent = "other" in self.__dict__  # cached_property keeps it there once sent
        return sent and self.other.status == 200 and not self.batch_differences


def unanswered(case: Case) -> Finding | None:
    """The model raised (HTTP 400), or its answer cannot be written as JSON (500)."""
    return None if case.first.status == 200 else unanswered_finding(case.body, case.first)


def schema_mismatch(case: Case) -> Finding | None:
    """A column missing, of another type, or null where the output schema requires it."""
    from kedro_mlflow_dryrun.stages.serve import output_mismatch

    predictions = case.predictions
    mismatch = output_mismatch(predictions, case.outputs) if isinstance(predictions, list) else None
    if mismatch is None:
        return None
    return _finding(case, "schema_mismatch", list(mismatch.columns), f"The model {mismatch.text}.")


def row_count(case: Case) -> Finding | None:
    """Another number of rows than the request has: a client matches answers by position."""
    predictions = case.predictions
    if not case.row_aligned or (isinstance(predictions, list) and len(predictions) == case.rows):
        return None
    count = len(predictions) if isinstance(predictions, list) else 1
    return _finding(
        case,
        "row_count",
        _output_columns(case.outputs),
        f"The model answered {count} rows to a request of {case.rows}: a client matches "
        "answers to rows by position.",
    )


def nondeterministic(case: Case) -> Finding | None:
    """The same request, sent twice, answered otherwise (asked only when batches differ)."""
    if case.compared_in_batch and not case.batch_differences:
        return None
    again = case.again
    if again.status == case.first.status and same_answer(
        case.predictions, decoded(again), case.tolerances
    ):
        return None
    first, second = case.predictions, decoded(again)
    columns = _columns_differing(first, second, case.tolerances)
    finding = _finding(
        case,
        "nondeterministic",
        columns,
        f"The same request, sent twice, was answered {show(first, columns)} "
        f"then {show(second, columns)}.",
    )
    finding.again = again.text
    return finding


def batch_dependent(case: Case) -> Finding | None:
    """A row answered otherwise inside another batch, the request answering alike twice."""
    if not case.compared_in_batch:
        return None
    other = case.other
    if other.status != 200 and (other.model_raised or other.status == 500):
        return unanswered_finding(case.other_body, other)
    differences = case.batch_differences
    if not differences:
        return None
    row, position, columns = differences[0]
    theirs = decoded(other)
    finding = _finding(
        case,
        "batch_dependent",
        sorted({column for *_, named in differences for column in named}),
        f"Row {row} of this request of {case.rows} rows was answered "
        f"{show(case.predictions, columns, row)}; the same row inside another request of "
        f"{rows(case.other_body)} rows (row {position}: the rows in reverse order, after "
        f"another) was answered {show(theirs, columns, position)}; "
        f"{len(differences)} of {case.rows} rows differ.",
    )
    finding.other = {
        "request": case.other_body,
        "status": other.status,
        "answer": other.text,
        "rows": [[row, position] for row, position, _ in differences],
    }
    return finding


def non_finite(case: Case) -> Finding | None:
    """NaN or Infinity in the answer, which strict JSON parsers reject."""
    from kedro_mlflow_dryrun.stages.check import is_strict

    if is_strict(case.first.text):
        return None
    return _finding(
        case,
        "non_finite",
        _non_finite_columns(case.predictions),
        "The answer holds NaN or Infinity, which the scoring server writes as a bare "
        "NaN or Infinity, and which browsers, Go and Java reject as JSON.",
    )


CHECKS: tuple[Callable[[Case], Finding | None], ...] = (
    unanswered,
    schema_mismatch,
    row_count,
    nondeterministic,
    batch_dependent,
    non_finite,
)


def concurrent(
    sender: Sender, stable: list[tuple[dict[str, Any], Any]], tolerances: dict[str | None, float]
) -> Finding | None:
    """Distinct requests, each answered alike alone, sent at once from as many threads:
    an answer that changes is another request's, or mixed with it."""
    if len(stable) < 2:
        return None
    bodies = [body for body, _ in stable]
    for _ in range(CONCURRENT_ROUNDS):
        replies = sender.send_concurrently(bodies)
        differed = [
            index
            for index, (answered, (_, alone)) in enumerate(zip(replies, stable, strict=True))
            if answered.status != 200 or not same_answer(decoded(answered), alone, tolerances)
        ]
        if differed:
            index = differed[0]
            got, alone = decoded(replies[index]), stable[index][1]
            columns = _columns_differing(alone, got, tolerances)
            return Finding(
                "concurrent",
                columns,
                f"{len(differed)} of {len(bodies)} answers differed when the {len(bodies)} "
                "requests below were sent at once, as the scoring server answers them (each "
                f"in a thread of its own); request {index} alone was answered "
                f"{show(alone, columns)}, and among the others {show(got, columns)}. A node "
                "that keeps data in module-level state mixes requests.",
                bodies[index],
                replies[index].status,
                replies[index].text,
                together=bodies,
                differed=len(differed),
            )
    return None


def unanswered_finding(body: dict[str, Any], answered: Reply) -> Finding:
    """The model raised, or its answer cannot be written: one finding per error and node.

    Raises:
        Refused: schema enforcement refused the request: not the model's fault.
    """
    from kedro_mlflow_dryrun.adapters.models import failing_node, served_cause
    from kedro_mlflow_dryrun.stages.check import check_json

    error = answered.error
    assert error is not None
    if answered.model_raised:
        # The model's own MlflowException is passed on as it is; any other is wrapped.
        inner = error.__cause__ or error.__context__
        original = error if answered.raised_in_model or inner is None else inner
        node = failing_node(original)
        cause = served_cause(error) if original is not error else _own_cause(error, node)
        where = f" in node '{node}'" if node else ""
        return Finding(
            "unanswered",
            [],
            f"The model raised: {cause}. {_SERVER_400 if answered.status == 400 else ''}".strip(),
            body,
            answered.status,
            answered.text,
            error=f"{type(original).__name__}{where}",
        )
    if answered.status == 500:
        verdict = check_json(answered.output)
        where = f": {verdict.offender.describe()}" if verdict.offender else ""
        fix = f" Fix: {verdict.offender.fix}." if verdict.offender else ""
        return Finding(
            "unanswered",
            _unwritable_columns(answered.output),
            f"The answer cannot be written as JSON{where}: the scoring server answers "
            f"HTTP 500.{fix}",
            body,
            answered.status,
            answered.text,
            error=f"{type(error).__name__} writing the answer",
        )
    raise Refused(answered.text)


def _own_cause(error: Exception, node: str | None) -> str:
    """An ``MlflowException`` of the model's own code, as the server passes it on."""
    message = str(getattr(error, "message", error)).rpartition("Error: ")[2]
    where = f"node '{node}' raised " if node else ""
    return f"{where}{type(error).__name__}: {message}"


def _finding(case: Case, kind: Any, columns: list[str], message: str) -> Finding:
    return Finding(kind, columns, message, case.body, case.first.status, case.first.text)


def _companion_row(
    companion: dict[str, Any] | list[Any] | None, columns: list[str] | None
) -> list[list[Any]]:
    """The sample's row in the request's columns; none when it lacks one of them."""
    if isinstance(companion, list):
        return [companion] if columns is None else []
    if companion is None or columns is None or not set(columns) <= set(companion):
        return []
    return [[companion[column] for column in columns]]


def _columns_differing(a: Any, b: Any, tolerances: dict[str | None, float]) -> list[str]:
    """The columns that differ in some row of two answers (records); [] otherwise."""
    if not (isinstance(a, list) and isinstance(b, list)):
        return []
    pairs = zip(a, b, strict=False)
    named = [column for x, y in pairs for column in differing_columns(x, y, tolerances)]
    return list(dict.fromkeys(named))


def _output_columns(outputs: Schema | None) -> list[str]:
    if outputs is None or not outputs.has_input_names():
        return []
    return [str(name) for name in outputs.input_names()]


def _non_finite_columns(predictions: Any) -> list[str]:
    records = predictions if isinstance(predictions, list) else [predictions]
    columns: list[str] = []
    for record in records:
        if isinstance(record, dict):
            for key, value in record.items():
                if isinstance(value, float) and not math.isfinite(value) and key not in columns:
                    columns.append(key)
    return columns


def _unwritable_columns(output: object) -> list[str]:
    """The columns of a table the scoring server cannot write."""
    from kedro_mlflow_dryrun.stages.check import check_json

    columns = getattr(output, "columns", None)
    if columns is None:
        return []
    return [
        str(column)
        for column in columns
        if not check_json(output[[column]]).serializable  # type: ignore[index]
    ]


def companion(sample_body: dict[str, Any]) -> dict[str, Any] | list[Any] | None:
    """The first row of the sample's body, by column name where it names columns."""
    split = sample_body["dataframe_split"]
    if not split["data"]:
        return None
    row = split["data"][0]
    columns = split.get("columns")
    return row if columns is None else dict(zip(columns, row, strict=True))
