"""Check: does the output survive MLflow's scoring server?

The verdict comes from the scoring server's own ``predictions_to_json``, so it
cannot disagree with ``mlflow models serve``. Only when it fails, or when it
writes ``NaN``/``Infinity``, does :func:`check_json` walk the output to say where.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from kedro_mlflow_dryrun import compat
from kedro_mlflow_dryrun.errors import SerializationError

if TYPE_CHECKING:
    from kedro_mlflow_dryrun.context import DryRunContext

_FIXES = {
    "Decimal": "convert Decimal to float",
    "set": "convert the set to a sorted list",
    "frozenset": "convert the frozenset to a sorted list",
    "timedelta": "convert timedelta to seconds, e.g. with .dt.total_seconds()",
    "Timedelta": "convert Timedelta to seconds, e.g. with .dt.total_seconds()",
    "complex": "split complex numbers into two float columns (real, imag)",
    "NAType": "fill the missing values, or cast the column to float or object",
    "NaTType": "fill the missing timestamps, or format them as strings",
    "float": "replace NaN and Infinity with None or a finite number",
}
_CYCLE_FIX = "break the reference cycle: the value contains itself"


@dataclass(frozen=True)
class Offender:
    """The first value in the output that strict or scoring-server JSON rejects."""

    path: str
    type_name: str
    value: str
    fix: str

    def describe(self) -> str:
        return f"{self.path} holds a {self.type_name} ({self.value})"


@dataclass(frozen=True)
class JsonVerdict:
    """What the scoring server makes of the output."""

    serializable: bool
    offender: Offender | None = None
    non_finite: Offender | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_json(output: Any) -> JsonVerdict:
    """Serializes ``output`` exactly as ``mlflow models serve`` answers a request."""
    body = io.StringIO()
    try:
        compat.predictions_to_json(output, body)
    except compat.IncompatibleVersionError:
        raise
    except Exception:  # noqa: BLE001 - any error here is an HTTP 500 when served
        return JsonVerdict(serializable=False, offender=_first_offender(output, strict=False))
    if is_strict(body.getvalue()):
        return JsonVerdict(serializable=True)
    return JsonVerdict(serializable=True, non_finite=_first_offender(output, strict=True))


def run(context: DryRunContext) -> None:
    """Fails when the output cannot be served; NaN or Infinity is a finding."""
    from kedro_mlflow_dryrun.reporting.preview import preview

    verdict = check_json(context.output)
    context.report.json = verdict.to_dict()
    if context.served_input is not None:
        context.report.preview = preview(context.served_input, context.output)
    model = context.model
    subject = f"Output '{model.output_name}'" + (
        f" of node '{model.producer}'" if model.producer else ""
    )
    if not verdict.serializable:
        assert verdict.offender is not None
        raise SerializationError(
            f"{subject} cannot be served: MLflow's scoring server cannot turn it into "
            "JSON, so every request would fail with HTTP 500.\n"
            f"  {verdict.offender.describe()}\n  Fix: {verdict.offender.fix}."
        )
    if verdict.non_finite is not None:
        context.found(
            "non_finite",
            f"{subject} holds NaN or Infinity, which strict JSON rejects: "
            f"{verdict.non_finite.describe()}. The scoring server writes it as a bare NaN "
            "or Infinity, which browsers, Go and Java reject.\n"
            f"  Fix: {verdict.non_finite.fix}.",
        )


def _dumps(value: Any, strict: bool) -> bool:
    """True if the scoring server's encoder takes ``value`` (and, if strict, writes strict JSON).

    Strictness is judged on the text the server writes, not with ``allow_nan=False``:
    that flag also rejects a NaN dict key, which the server writes as the string "NaN".
    """
    from mlflow.utils.proto_json_utils import NumpyEncoder

    try:
        text = json.dumps(value, cls=NumpyEncoder)
    except Exception:  # noqa: BLE001 - the encoder raises TypeError, ValueError, ...
        return False
    return not strict or is_strict(text)


def _reject_constant(constant: str) -> None:
    raise ValueError(f"bare {constant}")


def is_strict(text: str) -> bool:
    """True if ``text`` (the scoring server's JSON) holds no bare NaN, Infinity or -Infinity."""
    try:
        json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return False
    return True


def _first_offender(output: Any, strict: bool) -> Offender:
    is_table = hasattr(output, "to_dict") and hasattr(output, "iloc")
    steps: list[Any] = []
    value = compat.jsonable(output)
    ancestors = [value]  # strong references, so that ``is`` finds a reference cycle
    cycle = False
    while True:
        bad_child = next(
            ((step, child) for step, child in _children(value) if not _dumps(child, strict)),
            None,
        )
        if bad_child is None:
            break
        step, value = bad_child
        steps.append(step)
        if any(value is ancestor for ancestor in ancestors):
            cycle = True
            break
        ancestors.append(value)
    bad_key = (
        None
        if cycle
        else next((key for key in _keys(value) if not _dumps({key: None}, strict)), None)
    )
    if bad_key is not None:
        steps.append(bad_key)
        value = bad_key
    type_name = type(value).__name__
    if bad_key is not None:
        fix = "use str keys, e.g. join the levels of tuple column names"
    elif cycle:
        fix = _CYCLE_FIX
    elif strict:  # only NaN or Infinity, of any float type, makes strict JSON fail
        fix = _FIXES["float"]
    else:
        fix = _FIXES.get(type_name, f"convert {type_name} to str, int, float, bool, list or dict")
    return Offender(
        path=_format_path(steps, is_table),
        type_name=f"{type_name} key" if bad_key is not None else type_name,
        value=_short_repr(value),
        fix=fix,
    )


def _short_repr(value: Any) -> str:
    try:
        return repr(value)[:80]
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the verdict
        return f"<{type(value).__name__}>"


def _children(value: Any) -> Iterator[tuple[Any, Any]]:
    from mlflow.utils.proto_json_utils import NumpyEncoder

    if isinstance(value, dict):
        yield from value.items()
    elif isinstance(value, list | tuple):
        yield from enumerate(value)
    else:
        converted, was_converted = NumpyEncoder().try_convert(value)
        if was_converted and converted is not value and isinstance(converted, list | dict):
            yield from _children(converted)


def _keys(value: Any) -> list[Any]:
    return list(value) if isinstance(value, dict) else []


def _format_path(steps: list[Any], is_table: bool) -> str:
    if is_table and len(steps) >= 2:
        row, column, *rest = steps
        return f"column {column!r}, row {row}" + "".join(f"[{step!r}]" for step in rest)
    if not steps:
        return "the output itself"
    return "output" + "".join(f"[{step!r}]" for step in steps)
