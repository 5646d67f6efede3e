"""The search: hypothesis generates requests, the checks examine each, hypothesis shrinks.

A failing check raises an exception of a class of its own finding (its kind, and for
``unanswered`` its error and node). Hypothesis stops generating at the first one and
shrinks it until its request is small enough to read (one row, a short body), for at
most :data:`SHRINK_REQUESTS` requests: a shorter replay is nicer, not truer, and each
shrinking request costs what a generated one does. The search then runs again with
that finding known (a request showing it passes), so each distinct finding is found
and shrunk on its own, and the last pass makes its requests in full. Each finding is
reported with the smallest request that showed it (fewest rows, then shortest body).
A request generated twice (each pass begins as the last did) is sent once.

Deterministic and quiet: ``derandomize`` (seeded from the test function), no example
database, only the generate and shrink phases, no deadline, ``Verbosity.quiet``. The
search is bounded by requests (``explore``); ``explore_seconds`` is a safety cap that
cuts it, and a cut search says so (``incomplete``). What hypothesis stores (its
Unicode tables) goes to the plugin's cache, never the project's directory, and the
constants it would draw from the local modules imported so far are left out.
"""

from __future__ import annotations

import gc
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kedro_mlflow_dryrun import compat
from kedro_mlflow_dryrun.errors import DryRunInternalError
from kedro_mlflow_dryrun.stages.explore.checks import (
    CHECKS,
    CONCURRENT_REQUESTS,
    Case,
    Refused,
    concurrent,
)
from kedro_mlflow_dryrun.stages.explore.findings import KINDS, Finding, rows
from kedro_mlflow_dryrun.stages.explore.sender import OutOfTime, Sender

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy
    from mlflow.pyfunc import PyFuncModel
    from mlflow.types import Schema

    from kedro_mlflow_dryrun.stages.explore.body import Request
    from kedro_mlflow_dryrun.stages.explore.plan import Plan


class Found(Exception):
    """A property broken; one subclass per finding, so that hypothesis shrinks each apart."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


_FOUND: dict[str, type[Found]] = {}
#: Searches at most: the first, and one more for each that found something new.
PASSES = 3
#: Requests a pass makes after its first finding (hypothesis's last generated ones and
#: its shrinking), at most.
SHRINK_REQUESTS = 10
#: Characters of a one-row body short enough to paste: its pass shrinks it no further.
SMALL_BODY = 200


class Shrunk(BaseException):
    """A pass's findings small enough, or its :data:`SHRINK_REQUESTS` made: a
    BaseException, which hypothesis lets through, ending the pass with the smallest
    request of each finding seen so far."""


def _found(key: str) -> type[Found]:
    if key not in _FOUND:
        _FOUND[key] = type(f"Found_{len(_FOUND)}", (Found,), {"__doc__": key})
    return _FOUND[key]


@dataclass
class Search:
    """The served model, how its answers are compared, and what one search made of it."""

    sender: Sender
    outputs: Schema | None
    tolerances: dict[str | None, float]
    row_aligned: bool
    companion: dict[str, Any] | list[Any] | None
    #: Requests sent (each distinct body once), their rows, and the examples generated.
    requests: int = 0
    rows: int = 0
    generated: int = 0
    #: Generated requests the input schema refused: a fault of the generator, not the model.
    refused: dict[str, Any] | None = None
    smallest: dict[str, Finding] = field(default_factory=dict)
    #: Findings of earlier passes: a request showing one again passes, so that the search
    #: goes on to other errors rather than shrinking the same one.
    known: set[str] = field(default_factory=set)
    #: Distinct requests answered alike in two batches, and that answer: for ``concurrent``.
    stable: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    #: The examples generated at this pass's first finding.
    first_found: int | None = None
    #: Each body examined (its JSON), and what it showed.
    examined: dict[str, Finding | Refused | None] = field(default_factory=dict)

    def examine(self, request: Request) -> None:
        """One example: raises the first property the request breaks. A body examined
        before is not sent again (hypothesis generates many twice, each pass anew and
        while shrinking): what it showed then stands."""
        from hypothesis import reject

        from kedro_mlflow_dryrun.stages.explore.strategies import request_body

        if self.first_found is not None and self._shrunk_enough():
            raise Shrunk
        self.generated += 1
        body = request_body(request)
        text = json.dumps(body)
        if text not in self.examined:
            self.examined[text] = self._checked(body)
        showed = self.examined[text]
        if isinstance(showed, Refused):
            reject()
        elif showed is not None:
            self._show(showed)

    def _checked(self, body: dict[str, Any]) -> Finding | Refused | None:
        """The request sent and checked: its first finding, none, or the schema's refusal."""
        first = self.sender.send(body)
        self.requests += 1
        self.rows += rows(body)
        case = Case(
            body,
            first,
            self.sender,
            self.outputs,
            self.tolerances,
            self.row_aligned,
            self.companion,
        )
        try:
            finding = next((f for check in CHECKS if (f := check(case)) is not None), None)
        except Refused as refused:
            self._refused(body, str(refused))
            return refused.with_traceback(None)  # its frames hold the model
        if finding is None:
            self._keep_if_stable(case)
        return finding

    def _show(self, finding: Finding) -> None:
        kept = self.smallest.get(finding.key)
        if kept is None or finding.size < kept.size:
            self.smallest[finding.key] = finding
        if finding.key not in self.known:
            if self.first_found is None:
                self.first_found = self.generated
            if self._shrunk_enough():  # small already: hypothesis's shrinking is skipped
                raise Shrunk
            raise _found(finding.key)(finding)

    def _shrunk_enough(self) -> bool:
        """This pass's findings are small enough to read (a row, a short body), or
        :data:`SHRINK_REQUESTS` were made since the first."""
        assert self.first_found is not None
        new = [f for key, f in self.smallest.items() if key not in self.known]
        small = all(f.size[0] <= 1 and f.size[1] <= SMALL_BODY for f in new)
        return small or self.generated - self.first_found >= SHRINK_REQUESTS

    def findings(self) -> list[Finding]:
        """Each finding with its smallest request, in the order of the kinds."""
        found = self.smallest.values()
        return sorted(found, key=lambda finding: (KINDS.index(finding.kind), finding.key))

    def _refused(self, body: dict[str, Any], answer: str) -> None:
        refused = self.refused or {"count": 0, "first": {"request": body, "answer": answer}}
        refused["count"] += 1
        self.refused = refused

    def _keep_if_stable(self, case: Case) -> None:
        if len(self.stable) >= CONCURRENT_REQUESTS or not case.stable:
            return
        if all(body != case.body for body, _ in self.stable):
            self.stable.append((case.body, case.predictions))


@dataclass
class Searched:
    """What one search of a model found and cost, before its findings are replayed as
    served; it holds no reference to the model, which may then be let go."""

    found: list[Finding]
    requests: int
    rows: int
    sent: int
    #: Generated requests the input schema refused (the generator's fault), if any.
    refused: dict[str, Any] | None
    #: ``explore_seconds`` cut it.
    stopped: bool
    #: The model answered a request otherwise when it was sent again: no ``concurrent``.
    nondeterministic: bool
    seconds: float
    #: This process's CPU meanwhile (with the model's logging, for a search beside it).
    cpu_seconds: float


def search_model(
    model: PyFuncModel, plan: Plan, called_off: threading.Event | None = None
) -> Searched:
    """The passes, then ``concurrent`` on the requests answered stably, kedro-mlflow's
    artifacts and hook manager shared across requests; ``called_off`` ends it early, as
    the cap does."""
    from kedro_mlflow_dryrun.adapters.models import quiet_runner

    start, cpu = time.perf_counter(), time.process_time()
    called_off = called_off or threading.Event()
    sender = Sender(model, deadline=start + plan.seconds, called_off=called_off)
    search = Search(
        sender,
        outputs=plan.outputs,
        tolerances=plan.tolerances,
        row_aligned=plan.not_aligned is None,
        companion=plan.companion,
    )
    with (
        quiet_runner(),
        compat.artifacts_shared(model),
        compat.hook_manager_reused(),
        _collections_frozen(),
    ):
        stopped = explore(search, plan.strategy, plan.requests)
        found = search.findings()
        nondeterministic = any(f.kind == "nondeterministic" for f in found)
        if not stopped and not nondeterministic:
            try:
                at_once = concurrent(sender, search.stable, plan.tolerances)
            except OutOfTime:
                stopped, at_once = True, None
            found += [at_once] if at_once is not None else []
    return Searched(
        found,
        search.requests,
        search.rows,
        sender.sent,
        search.refused,
        stopped,
        nondeterministic,
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - cpu,
    )


@contextmanager
def _collections_frozen() -> Iterator[None]:
    """hypothesis runs a full garbage collection the first time a thread generates (to
    see that the PRNG it registers is referred to), a fifth of a second over MLflow's,
    Kedro's and pandas' objects: the objects older than the search are left out of it,
    and out of the search's own collections (``gc.freeze``), until the search ends."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def explore(search: Search, strategy: SearchStrategy[Request], examples: int) -> bool:
    """Runs the search, again while a pass finds something new (a pass stops at its first
    finding), at most :data:`PASSES` times; returns whether ``explore_seconds`` cut it."""
    for _ in range(PASSES):
        search.known, search.first_found = set(search.smallest), None
        if _explored_once(search, strategy, examples):
            return True
        if set(search.smallest) == search.known:
            return False
    return False


def _explored_once(search: Search, strategy: SearchStrategy[Request], examples: int) -> bool:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis.errors import Unsatisfiable

    from kedro_mlflow_dryrun.adapters.environments import plugin_cache

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.generate, Phase.shrink),
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(strategy)
    def generated(request: Request) -> None:
        search.examine(request)

    try:
        with compat.hypothesis_isolated(plugin_cache("hypothesis")):
            generated()
    except OutOfTime:
        return True
    except Shrunk:
        return False
    except Unsatisfiable as error:
        raise DryRunInternalError(
            "Explore: every request generated from the input schema was refused by MLflow's "
            f"schema enforcement ({search.refused}); this is the plugin's fault, not the "
            "model's.\nFix: set 'explore: 0' in conf/<env>/dryrun.yml and report it."
        ) from error
    except Exception as error:  # the finding, as it is or flaky; else re-raised
        if not search.smallest or not _finding_only(error):
            raise
    return False


def _finding_only(error: BaseException) -> bool:
    """Whether hypothesis raised the finding and nothing else: the finding, or, when the
    shrunk request did not show it again (a nondeterministic model), hypothesis's flaky
    failure (a group holding it in newer versions, an exception of its own in older)."""
    if isinstance(error, Found):
        return True
    inner = getattr(error, "exceptions", None)
    if inner is not None:
        return all(_finding_only(exception) for exception in inner)
    return type(error).__name__ == "Flaky"
