"""Findings: one property a served model breaks, with the requests that show it, ready to paste.

Each finding carries the JSON bodies that show it and the shell command that sends
them to ``mlflow models serve`` (its default address): ``curl`` for one request, and
for ``concurrent`` the requests sent at once with ``xargs -P``.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

Kind = Literal[
    "unanswered",
    "schema_mismatch",
    "row_count",
    "nondeterministic",
    "batch_dependent",
    "concurrent",
    "non_finite",
]
KINDS: tuple[Kind, ...] = get_args(Kind)
#: The kinds a search with shared artifacts may show where the served model, copying
#: them for every request, would not: replayed against the served model before reported.
REPLAYED: frozenset[Kind] = frozenset(
    {"unanswered", "nondeterministic", "batch_dependent", "concurrent"}
)
INVOCATIONS = "http://127.0.0.1:5000/invocations"
_CURL = f"curl -s {INVOCATIONS} -H 'Content-Type: application/json'"


@dataclass
class Finding:
    """One property broken, with the smallest request that shows it, ready to send."""

    kind: Kind
    #: The output columns it concerns; empty when it concerns no column in particular.
    columns: list[str]
    message: str
    #: The ``{"dataframe_split": ...}`` body that shows it.
    request: dict[str, Any]
    #: The HTTP status and body the scoring server answered.
    status: int
    answer: str
    #: ``batch_dependent``: another request holding the same row, and what it answered.
    other: dict[str, Any] | None = None
    #: ``nondeterministic``: the same request's second answer.
    again: str | None = None
    #: ``unanswered``: the exception and the node that raised it; one finding for each.
    error: str | None = None
    #: ``concurrent``: the requests sent at once, and how many of their answers differed
    #: from the same request answered alone.
    together: list[dict[str, Any]] | None = None
    differed: int | None = None

    @property
    def key(self) -> str:
        """What tells two findings apart: the kind, and for ``unanswered`` the error."""
        return f"{self.kind}: {self.error}" if self.error else self.kind

    @property
    def size(self) -> tuple[int, int]:
        """Smaller requests first: rows, then length."""
        return rows(self.request), len(json.dumps(self.request))

    def block(self) -> str:
        """The lines a user reads, with the command that replays it."""
        columns = ", ".join(map(repr, self.columns))
        lines = [f"- {self.kind}" + (f" ({columns})" if columns else "") + f": {self.message}"]
        if self.together is not None:
            lines.append(f"  Replay (at once): {replay_concurrently(self.together)}")
        else:
            lines.append(f"  Replay: {replay(self.request)}")
        if self.other is not None:
            lines.append(f"  and: {replay(self.other['request'])}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        found = {key: value for key, value in asdict(self).items() if value is not None}
        if self.together is not None:
            found["replay"] = replay_concurrently(self.together)
        return found


def rows(body: dict[str, Any]) -> int:
    """The rows of a ``dataframe_split`` body."""
    return len(body["dataframe_split"]["data"])


def replay(body: dict[str, Any]) -> str:
    """The request as a ``curl`` against ``mlflow models serve`` (its default port)."""
    return f"{_CURL} -d {_quoted(body)}"


def replay_concurrently(bodies: list[dict[str, Any]]) -> str:
    """The requests sent at once, one ``curl`` each, as the server's threads answer them."""
    quoted = " ".join(_quoted(body) for body in bodies)
    return f"printf '%s\\0' {quoted} | xargs -0 -P {len(bodies)} -I{{}} {_CURL} -w '\\n' -d {{}}"


def show(answer: Any, columns: list[str], row: int = 0) -> str:
    """The part of an answer that differs: its columns in ``row``, else all of it."""
    record = answer[row] if isinstance(answer, list) and len(answer) > row else answer
    if isinstance(record, dict) and columns:
        return ", ".join(f"{column}={record.get(column)!r}" for column in columns)
    text = json.dumps(record) if not isinstance(record, str) else record
    return text if len(text) <= 120 else text[:117] + "..."


def _quoted(body: dict[str, Any]) -> str:
    return shlex.quote(json.dumps(body, allow_nan=False))
