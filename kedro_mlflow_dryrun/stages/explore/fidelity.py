"""Fidelity: a finding is reported only if it replays against the model as it is served.

The search shares kedro-mlflow's artifacts across requests (its cost stays flat in the
model's size), where the served model deep-copies them for every request. A node that
changes an artifact in place then answers the search otherwise than it answers a
client. Each ``unanswered``, ``nondeterministic``, ``batch_dependent`` and
``concurrent`` finding is sent again to the unmodified model, its per-request copy
included; what does not reproduce is counted (``unconfirmed``), not reported.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from kedro_mlflow_dryrun.answers import same_answer, same_row
from kedro_mlflow_dryrun.stages.explore.checks import CONCURRENT_ROUNDS
from kedro_mlflow_dryrun.stages.explore.findings import REPLAYED, Finding
from kedro_mlflow_dryrun.stages.explore.sender import Sender, decoded

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mlflow.pyfunc import PyFuncModel

#: Sends of a request to tell whether its answers change.
_AGAIN = 3


def confirmed(
    findings: list[Finding], model: PyFuncModel, tolerances: dict[str | None, float]
) -> tuple[list[Finding], list[Finding], int]:
    """The findings that replay, those that do not, and the requests the replays sent."""
    replayer = Sender(model, deadline=math.inf)
    kept: list[Finding] = []
    unconfirmed: list[Finding] = []
    for finding in findings:
        replays = finding.kind not in REPLAYED or _reproduces(finding, replayer, tolerances)
        (kept if replays else unconfirmed).append(finding)
    return kept, unconfirmed, replayer.sent


def _reproduces(finding: Finding, sender: Sender, tolerances: dict[str | None, float]) -> bool:
    if finding.kind == "unanswered":
        return sender.send(finding.request).status == finding.status
    if finding.kind == "nondeterministic":
        answers = [decoded(sender.send(finding.request)) for _ in range(_AGAIN)]
        return any(not same_answer(answers[0], other, tolerances) for other in answers[1:])
    if finding.kind == "batch_dependent":
        assert finding.other is not None
        ours, theirs = sender.send(finding.request), sender.send(finding.other["request"])
        if ours.status != 200 or theirs.status != 200:
            return False
        mine, other = decoded(ours), decoded(theirs)
        pairs = [(row, position) for row, position in finding.other["rows"]]
        if not _holds(mine, (row for row, _ in pairs)) or not _holds(other, (p for _, p in pairs)):
            return True  # answered with other rows altogether: not what the search saw either
        return any(not same_row(mine[row], other[position], tolerances) for row, position in pairs)
    assert finding.together is not None  # concurrent
    alone = [decoded(sender.send(body)) for body in finding.together]
    for _ in range(CONCURRENT_ROUNDS):
        replies = sender.send_concurrently(finding.together)
        if any(
            reply.status != 200 or not same_answer(decoded(reply), answer, tolerances)
            for reply, answer in zip(replies, alone, strict=True)
        ):
            return True
    return False


def _holds(answer: object, positions: Iterable[int]) -> bool:
    return isinstance(answer, list) and all(position < len(answer) for position in positions)
