"""Explore: requests the signature admits, answered as served, checked for properties.

The serve check sends training's rows once, as one batch. A served model answers any
request its input schema admits: one row, a few, values the sample never held. This
stage generates such requests (:func:`kedro_mlflow_dryrun.stages.explore.strategies.requests`, from
the input schema and the sample), sends each to the served model through the scoring
server's ``invocations`` (parsing, schema enforcement, ``predict``, the JSON writer),
and checks what comes back:

- ``unanswered``: the model raised (HTTP 400), or the answer cannot be written (500);
- ``schema_mismatch``: a column missing, of another type, or null where required;
- ``row_count``: another number of rows than the request has;
- ``nondeterministic``: the same request, sent twice, answered otherwise;
- ``batch_dependent``: the first row, sent alone, answered otherwise than in the batch;
- ``non_finite``: NaN or Infinity in the answer (a finding under ``strict_json``,
  else a warning, as for the sample).

``row_count`` and ``batch_dependent`` need an output with one row per request row;
for any other output the report says they were not checked, and why.

The served model is the one the serve check loaded (loaded once, for both); with no
logged model (``kedro dryrun``), it is the inference pipeline in MLflow's pyfunc model,
which enforces the input schema of the signature a training run would log.

One hypothesis search finds every kind. Each example is one generated request, sent,
then sent again as its first row alone (a one-row request: as is), so two requests per
example; a difference is sent once more, to tell ``nondeterministic`` from
``batch_dependent``. A failing property raises an exception of a class of its own
kind, which hypothesis tells apart from the others (``report_multiple_bugs``): it goes
on generating after the first finding and shrinks each kind on its own. Each kind is
reported with the smallest request that showed it (fewest rows, then shortest body):
the minimal example hypothesis shrank it to, and replayed last.

Deterministic and quiet: ``derandomize`` (seeded from the test function), no example
database, only the generate and shrink phases, no deadline, ``Verbosity.quiet``. What
hypothesis stores (its Unicode tables) goes to the plugin's cache, never the project's
directory, and the constants it would draw from the local modules imported so far
(which differ from one command to another) are left out. ``explore_seconds`` bounds
the stage: past it the search stops, and each kind found so far is reported with the
smallest request seen.
"""

from __future__ import annotations

import json
import logging
import math
import shlex
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from kedro.io import MemoryDataset

from kedro_mlflow_dryrun import compat
from kedro_mlflow_dryrun.errors import DryRunInternalError
from kedro_mlflow_dryrun.report import FAILED, PASSED, SKIPPED

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy
    from mlflow.pyfunc import PyFuncModel
    from mlflow.types import Schema

    from kedro_mlflow_dryrun.adapters.models import Reply
    from kedro_mlflow_dryrun.context import DryRunContext
    from kedro_mlflow_dryrun.stages.explore.body import Request

logger = logging.getLogger("kedro_mlflow_dryrun")

Kind = Literal[
    "unanswered",
    "schema_mismatch",
    "row_count",
    "nondeterministic",
    "batch_dependent",
    "non_finite",
]
KINDS: tuple[Kind, ...] = get_args(Kind)
#: Floats in two answers are the same within this (a batch may sum in another order).
_REL_TOL, _ABS_TOL = 1e-9, 1e-12
WARNED = "warned"


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
    #: ``batch_dependent``: the first row sent alone, and its answer;
    #: ``nondeterministic``: the same request's second answer.
    alone: dict[str, Any] | None = None
    again: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        """Smaller requests first: rows, then length."""
        rows = len(self.request["dataframe_split"]["data"])
        return rows, len(json.dumps(self.request))

    def block(self) -> str:
        """The lines a user reads, with the command that replays it."""
        columns = ", ".join(map(repr, self.columns))
        lines = [f"- {self.kind}" + (f" ({columns})" if columns else "") + f": {self.message}"]
        lines.append(f"  Replay: {replay(self.request)}")
        if self.alone is not None:
            lines.append(f"  and alone: {replay(self.alone['request'])}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


def replay(body: dict[str, Any]) -> str:
    """The request as a ``curl`` against ``mlflow models serve`` (its default port)."""
    return (
        "curl -s http://127.0.0.1:5000/invocations -H 'Content-Type: application/json' "
        f"-d {shlex.quote(json.dumps(body, allow_nan=False))}"
    )


def run(context: DryRunContext) -> None:
    """Sends the requests, records the section ``explore``, and warns or fails on findings."""
    from kedro_mlflow_dryrun.stages.explore.strategies import (
        UnsupportedSchemaError,
        requests,
        silent_changes,
    )

    config, report = context.config, context.report
    reason = _why_not(context)
    if reason is None:
        assert context.signature is not None and context.served_input is not None
        try:
            strategy = requests(
                context.signature.inputs, context.served_input, context.signature.params
            )
        except UnsupportedSchemaError as error:
            reason = str(error)
    if reason is not None:
        report.explore = {"status": SKIPPED, "reason": reason}
        logger.info("Explore skipped: %s", reason)
        return
    assert context.signature is not None and context.served_input is not None
    start, cpu = time.perf_counter(), time.process_time()
    model = context.served_model()
    served = report.model_uri or _PREFLIGHT
    not_aligned = _not_row_aligned(context.output, len(context.served_input))
    search = _Search(
        model,
        outputs=context.signature.outputs,
        row_aligned=not_aligned is None,
        deadline=start + config.explore_seconds,
    )
    found, stopped = _explore(search, strategy, config.explore)
    seconds = round(time.perf_counter() - start, 4)
    cpu_seconds = round(time.process_time() - cpu, 4)
    strict = config.strict_json
    findings = [f for f in found if f.kind != "non_finite" or strict]
    warnings = [f for f in found if f.kind == "non_finite" and not strict]
    section: dict[str, Any] = {
        "status": PASSED,
        "served": served,
        "requests": search.requests,
        "rows": search.rows,
        "sent": search.sent,
        "seconds": seconds,
        # What it cost this process, whatever else the machine runs meanwhile.
        "cpu_seconds": cpu_seconds,
        "budget": {"requests": config.explore, "seconds": config.explore_seconds},
        "stopped": f"explore_seconds ({config.explore_seconds} s) reached" if stopped else None,
        "not_checked": (
            {"row_count": not_aligned, "batch_dependent": not_aligned} if not_aligned else {}
        ),
        "findings": [finding.to_dict() for finding in findings],
        "warnings": [finding.to_dict() for finding in warnings],
    }
    if search.refused is not None:
        section["refused"] = search.refused
    section["schema_warnings"] = silent_changes(context.signature.inputs)
    for warning in section["schema_warnings"]:
        report.warnings.append(f"Explore: {warning}")
        logger.warning("Explore: %s", warning)
    report.explore = section
    head = _headline(search, len(findings), seconds, stopped)
    for warning in warnings:
        context.found("non_finite", f"Explore: {warning.block()[2:]}")
    if not findings:
        logger.info(head)
        return
    section["status"] = FAILED if config.on_explore == "fail" else WARNED
    fix = (
        "'on_explore: warn' in dryrun.yml only warns."
        if config.on_explore == "fail"
        else "'on_explore: fail' in dryrun.yml makes them fail the run."
    )
    context.found(
        "explore",
        f"{head}; each request below is admitted by the model's input schema:\n"
        + "\n".join(finding.block() for finding in findings)
        + "\n  Fix: make the inference pipeline answer such requests as it answers the "
        f"sample, or narrow the input schema; {fix}",
    )


_PREFLIGHT = (
    "no logged model: the inference pipeline in MLflow's pyfunc model, which enforces "
    "the input schema of the signature a training run would log"
)


def _why_not(context: DryRunContext) -> str | None:
    """Why the stage does not run, if it does not."""
    import pandas as pd

    if context.config.explore == 0:
        return "explore: 0 in dryrun.yml"
    signature = context.signature
    if signature is None or signature.inputs is None:
        return "the model has no input schema, so nothing says which requests it admits"
    if not isinstance(context.served_input, pd.DataFrame):
        return "the sample is not a table, so there is nothing to generate requests from"
    return None


def _headline(search: _Search, findings: int, seconds: float, stopped: bool) -> str:
    line = (
        f"Explore: {search.requests} requests the signature admits, {findings} "
        f"finding{'s' if findings != 1 else ''}, {seconds:.1f} s"
    )
    if stopped:
        line += " (stopped at explore_seconds)"
    if search.refused is not None:
        line += f"; {search.refused['count']} generated requests refused by the input schema"
    return line


def _not_row_aligned(output: object, rows: int) -> str | None:
    """Why ``row_count`` and ``batch_dependent`` do not apply to this output, if they do not."""
    import numpy as np
    import pandas as pd

    if not isinstance(output, pd.DataFrame | pd.Series | np.ndarray | list):
        return (
            f"the output is a {type(output).__name__}, not one entry per request row "
            "(DataFrame, Series, array or list)"
        )
    if isinstance(output, np.ndarray) and output.ndim == 0:
        return "the output is a single value, not one entry per request row"
    if len(output) != rows:
        return f"the output had {len(output)} entries for the sample's {rows} rows"
    return None


class _Found(Exception):
    """A property broken; one subclass per kind, so that hypothesis shrinks each apart."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


_FOUND: dict[Kind, type[_Found]] = {kind: type(f"Found_{kind}", (_Found,), {}) for kind in KINDS}


class _OutOfTime(BaseException):
    """``explore_seconds`` reached: a BaseException, which hypothesis does not take for a
    failing example but lets through, ending the search."""


@dataclass
class _Search:
    """The served model and what one search made of it."""

    model: PyFuncModel
    outputs: Schema | None
    row_aligned: bool
    deadline: float
    requests: int = 0
    rows: int = 0
    sent: int = 0
    #: Generated requests the input schema refused: a fault of the generator, not the model.
    refused: dict[str, Any] | None = None
    smallest: dict[Kind, Finding] = field(default_factory=dict)

    def examine(self, request: Request) -> None:
        """One example: raises the first property the request breaks."""
        from kedro_mlflow_dryrun.stages.explore.strategies import request_body

        body = request_body(request)
        first = self._send(body)
        self.requests += 1
        self.rows += len(request)
        finding = self._check(request, body, first)
        if finding is None:
            return
        kept = self.smallest.get(finding.kind)
        if kept is None or finding.size < kept.size:
            self.smallest[finding.kind] = finding
        raise _FOUND[finding.kind](finding)

    def _send(self, body: dict[str, Any]) -> Reply:
        from kedro_mlflow_dryrun.adapters.models import reply

        if time.perf_counter() > self.deadline:
            raise _OutOfTime
        self.sent += 1
        return reply(self.model, json.dumps(body, allow_nan=False))

    def _check(self, request: Request, body: dict[str, Any], first: Reply) -> Finding | None:
        from kedro_mlflow_dryrun.stages.explore.strategies import request_body
        from kedro_mlflow_dryrun.stages.serve import output_mismatch

        if first.status != 200:
            return self._unanswered(body, first)
        predictions = json.loads(first.text)["predictions"]
        rows = len(request)
        if isinstance(predictions, list):
            mismatch = output_mismatch(predictions, self.outputs)
            if mismatch is not None:
                return Finding(
                    "schema_mismatch",
                    list(mismatch.columns),
                    f"The model {mismatch.text}.",
                    body,
                    first.status,
                    first.text,
                )
        if self.row_aligned and (not isinstance(predictions, list) or len(predictions) != rows):
            count = len(predictions) if isinstance(predictions, list) else 1
            return Finding(
                "row_count",
                self._output_columns(),
                f"The model answered {count} rows to a request of {rows}: a client matches "
                "answers to rows by position.",
                body,
                first.status,
                first.text,
            )
        if rows <= 1 or not self.row_aligned:
            return self._twice(body, first, self._send(body)) or self._non_finite(body, first)
        alone_body = request_body(request.rows([0]))
        alone = self._send(alone_body)
        if alone.status != 200:
            return self._unanswered(alone_body, alone)
        in_batch, by_itself = predictions[0], json.loads(alone.text)["predictions"][0]
        columns = _differences(in_batch, by_itself)
        if columns is not None:
            again = self._send(alone_body)
            return self._twice(alone_body, alone, again) or Finding(
                "batch_dependent",
                columns,
                f"Row 0 answered alone ({_show(by_itself, columns)}) differs from the same "
                f"row inside a request of {rows} rows ({_show(in_batch, columns)}).",
                body,
                first.status,
                first.text,
                alone={"request": alone_body, "status": alone.status, "answer": alone.text},
            )
        return self._non_finite(body, first)

    def _twice(self, body: dict[str, Any], first: Reply, second: Reply) -> Finding | None:
        """``nondeterministic`` when the same request (answered: ``first``) got two answers."""
        if second.status == 200 and _differences(_decoded(first), _decoded(second)) is None:
            return None
        columns = _differences(_decoded(first), _decoded(second)) or []
        return Finding(
            "nondeterministic",
            columns,
            f"The same request, sent twice, was answered {_show(_decoded(first), columns)} "
            f"then {_show(_decoded(second), columns)}.",
            body,
            first.status,
            first.text,
            again=second.text,
        )

    def _non_finite(self, body: dict[str, Any], first: Reply) -> Finding | None:
        from kedro_mlflow_dryrun.stages.check import is_strict

        if is_strict(first.text):
            return None
        columns = _non_finite_columns(json.loads(first.text)["predictions"])
        return Finding(
            "non_finite",
            columns,
            "The answer holds NaN or Infinity, which the scoring server writes as a bare "
            "NaN or Infinity, and which browsers, Go and Java reject as JSON.",
            body,
            first.status,
            first.text,
        )

    def _unanswered(self, body: dict[str, Any], answered: Reply) -> Finding | None:
        from hypothesis import reject

        from kedro_mlflow_dryrun.adapters.models import served_cause
        from kedro_mlflow_dryrun.stages.check import check_json

        assert answered.error is not None
        if answered.model_raised:
            return Finding(
                "unanswered",
                [],
                f"The model raised: {served_cause(answered.error)}. The scoring server "
                'answers HTTP 400 "Encountered an unexpected error while evaluating the '
                'model. Verify that the serialized input Dataframe is compatible ...": it '
                "tells the client the fault is its request's.",
                body,
                answered.status,
                answered.text,
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
            )
        refused = self.refused or {"count": 0, "first": {"request": body, "answer": answered.text}}
        refused["count"] += 1
        self.refused = refused
        reject()  # the generator's fault: not a request the signature admits
        return None

    def _output_columns(self) -> list[str]:
        outputs = self.outputs
        if outputs is None or not outputs.has_input_names():
            return []
        return [str(name) for name in outputs.input_names()]


def _explore(
    search: _Search, strategy: SearchStrategy[Request], examples: int
) -> tuple[list[Finding], bool]:
    """Runs the search; returns each kind found with its smallest request, and whether
    ``explore_seconds`` stopped it."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis.errors import Unsatisfiable

    from kedro_mlflow_dryrun.adapters.environments import plugin_cache
    from kedro_mlflow_dryrun.adapters.models import quiet_runner

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.generate, Phase.shrink),
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=True,
    )
    @given(strategy)
    def explore(request: Request) -> None:
        search.examine(request)

    stopped = False
    try:
        with (
            compat.hypothesis_isolated(plugin_cache("hypothesis")),
            quiet_runner(),
            _artifacts_shared(search.model),
        ):
            explore()
    except _OutOfTime:
        stopped = True
    except Unsatisfiable as error:
        raise DryRunInternalError(
            "Explore: every request generated from the input schema was refused by MLflow's "
            f"schema enforcement ({search.refused}); this is the plugin's fault, not the "
            "model's.\nFix: set 'explore: 0' in conf/<env>/dryrun.yml and report it."
        ) from error
    except Exception as error:  # the findings, one or a group of them; else re-raised
        if not search.smallest or not _findings_only(error):
            raise
    found = search.smallest
    return [found[kind] for kind in KINDS if kind in found], stopped


def _findings_only(error: BaseException) -> bool:
    """Whether hypothesis raised the findings and nothing else: one, an exception group
    (of groups) of them, or, before hypothesis had groups, its ``MultipleFailures``,
    which printed them (quietly: not at all) rather than carried them."""
    if isinstance(error, _Found):
        return True
    inner = getattr(error, "exceptions", None)
    if inner is not None:
        return all(_findings_only(exception) for exception in inner)
    return type(error).__name__ == "MultipleFailures"


@contextmanager
def _artifacts_shared(model: PyFuncModel) -> Iterator[None]:
    """kedro-mlflow's served model deep-copies its catalog, artifacts included, for every
    request (a quarter of a second for a model of 800 MiB): explore's requests share
    the artifacts instead, so that its cost does not grow with the model. A node that
    changed an artifact in place would then make the answers drift from request to
    request (``nondeterministic``), where a served model, copying, would not.
    """
    python_model = compat.python_model(model)
    catalog = getattr(python_model, "loaded_catalog", None)
    pipeline = getattr(python_model, "pipeline", None)
    input_name = getattr(python_model, "input_name", None)
    if catalog is None or pipeline is None:  # not kedro-mlflow's model: nothing is copied
        yield
        return
    names = pipeline.inputs() - {input_name}
    artifacts = [catalog[name] for name in sorted(names) if not name.startswith("params:")]
    shared = [dataset for dataset in artifacts if type(dataset) is MemoryDataset]
    for dataset in shared:
        dataset.__class__ = _SharedMemoryDataset
    try:
        yield
    finally:
        for dataset in shared:
            dataset.__class__ = MemoryDataset


class _SharedMemoryDataset(MemoryDataset):
    """A ``MemoryDataset`` that a deep copy of its catalog shares rather than copies."""

    def __deepcopy__(self, memo: dict[int, object]) -> _SharedMemoryDataset:
        return self


def _decoded(answered: Reply) -> Any:
    return json.loads(answered.text)["predictions"] if answered.status == 200 else answered.text


def _same(a: Any, b: Any) -> bool:
    """Equal as answers: floats within a tolerance, NaN equal to NaN."""
    numbers = (int, float)
    if (
        isinstance(a, numbers)
        and isinstance(b, numbers)
        and not isinstance(a, bool)
        and (isinstance(a, float) or isinstance(b, float))
    ):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=_ABS_TOL)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


def _differences(a: Any, b: Any) -> list[str] | None:
    """None when the answers are the same; else the columns that differ ([] for none named)."""
    if _same(a, b):
        return None
    rows_a, rows_b = (a, b) if isinstance(a, list) and isinstance(b, list) else ([a], [b])
    columns: list[str] = []
    for row_a, row_b in zip(rows_a, rows_b, strict=False):
        if isinstance(row_a, dict) and isinstance(row_b, dict):
            for key in [*row_a, *(k for k in row_b if k not in row_a)]:
                if not _same(row_a.get(key), row_b.get(key)) and key not in columns:
                    columns.append(key)
    return columns


def _show(answer: Any, columns: list[str]) -> str:
    """The part of an answer that differs: its columns in the (first) row, else all of it."""
    row = answer[0] if isinstance(answer, list) and answer else answer
    if isinstance(row, dict) and columns:
        return ", ".join(f"{column}={row.get(column)!r}" for column in columns)
    return _short(answer)


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 120 else text[:117] + "..."


def _non_finite_columns(predictions: Any) -> list[str]:
    rows = predictions if isinstance(predictions, list) else [predictions]
    columns: list[str] = []
    for row in rows:
        if isinstance(row, dict):
            for key, value in row.items():
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
