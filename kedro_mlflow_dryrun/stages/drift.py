"""Drift: does the new output schema break the clients of the previous registered version?

Only a model that is (or will be) a registered version has one to compare with: a
training run with ``registered_model_name`` in ``log_model_kwargs``, or
``kedro dryrun --model-uri`` on a registered version. A removed column, a changed
type or an optional column turned required breaks a client reading the old output;
an added column does not. The registry is asked, never trusted to answer: its
errors only warn, so they can never fail training.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from kedro_mlflow_dryrun.adapters.tracking import redact

if TYPE_CHECKING:
    from mlflow.types import Schema
    from mlflow.types.schema import ColSpec, TensorSpec

    from kedro_mlflow_dryrun.context import DryRunContext

logger = logging.getLogger("kedro_mlflow_dryrun")

Verdict = Literal["none", "compatible", "breaking"]


def compare(context: DryRunContext) -> None:
    """Compares the output schema with the latest earlier version of the registered model."""
    name = context.log_model_kwargs.get("registered_model_name")
    signature = context.signature
    if not name or signature is None or signature.outputs is None:
        return
    if context.run_id is None and context.report.model_uri is None:
        logger.info(
            "Drift not checked: the pre-flight does not contact the tracking server; "
            "the training run will compare the output schema with the latest version of '%s'.",
            name,
        )
        return
    try:
        previous = previous_version(str(name), below=context.model_version)
    except Exception as error:  # noqa: BLE001 - the registry must never fail training
        context.found(
            "registry_unreachable",
            f"Drift not checked: the model registry did not answer for '{name}': "
            f"{type(error).__name__}: {redact(str(error))}",
        )
        return
    if previous is None:
        context.report.drift = {"verdict": "none", "reason": f"'{name}' has no earlier version"}
        logger.info("No output schema drift: '%s' has no earlier version to compare with.", name)
        return
    version, outputs = previous
    compared_with = {"name": name, "version": version}
    if outputs is None:
        reason = f"'{name}' version {version} has no output schema"
        context.report.drift = {"verdict": "none", "compared_with": compared_with, "reason": reason}
        logger.info("Drift not checked: %s.", reason)
        return
    drift = schema_drift(outputs, signature.outputs)
    context.report.drift = {
        "verdict": drift.pop("verdict"),
        "compared_with": compared_with,
        **drift,
    }
    message = describe(context.report.drift)
    if context.report.drift["verdict"] != "breaking":
        logger.info(message)
        return
    policy = (
        "'on_drift: warn' in dryrun.yml only warns"
        if context.config.on_drift == "fail"
        else "'on_drift: fail' in dryrun.yml makes it fail the run"
    )
    context.found("drift", f"{message}; {policy}.")


def schema_drift(previous: Schema, current: Schema) -> dict[str, Any]:
    """What changed from ``previous`` to ``current``, column by column, and the verdict."""
    before, after = _columns(previous), _columns(current)
    removed = [name for name in before if name not in after]
    added = [name for name in after if name not in before]
    kept = [name for name in before if name in after]
    changed = [
        {"column": name, "was": _type(before[name]), "now": _type(after[name])}
        for name in kept
        if _type(before[name]) != _type(after[name])
    ]
    now_required = [name for name in kept if _optional(before[name]) and not _optional(after[name])]
    verdict: Verdict = (
        "breaking" if removed or changed or now_required else "compatible" if added else "none"
    )
    return {
        "verdict": verdict,
        "removed": removed,
        "added": added,
        "changed": changed,
        "now_required": now_required,
    }


def describe(drift: dict[str, Any]) -> str:
    """The log line: the verdict, the version compared with, and each column that changed."""
    version = f"'{drift['compared_with']['name']}' version {drift['compared_with']['version']}"
    if drift["verdict"] == "none":
        return f"No output schema drift against {version}."
    changes = [f"removed {_listed(drift['removed'])}"] if drift["removed"] else []
    changes += [f"{c['column']!r} changed from {c['was']} to {c['now']}" for c in drift["changed"]]
    if drift["now_required"]:
        changes.append(f"{_listed(drift['now_required'])} now required")
    if drift["added"]:
        changes.append(f"added {_listed(drift['added'])}")
    line = f"Output schema drift ({drift['verdict']}) against {version}: {'; '.join(changes)}."
    if drift["verdict"] != "breaking":
        return line
    return (
        f"{line} Clients of version {drift['compared_with']['version']} that read them "
        "will break.\n  Fix: keep the columns and types that version returns, or register "
        "the model under a new name"
    )


def previous_version(name: str, below: int | None) -> tuple[int, Schema | None] | None:
    """The latest version of ``name`` (before ``below``) and its output schema, if any."""
    import mlflow
    from mlflow import MlflowClient

    versions = [int(v.version) for v in MlflowClient().search_model_versions(f"name = '{name}'")]
    earlier = [version for version in versions if below is None or version < below]
    if not earlier:
        return None
    version = max(earlier)
    signature = mlflow.models.get_model_info(f"models:/{name}/{version}").signature
    return version, signature.outputs if signature is not None else None


def _columns(schema: Schema) -> dict[str, ColSpec | TensorSpec]:
    """Columns by name; unnamed ones (a single series, a tensor) by position."""
    return {
        spec.name if spec.name is not None else f"#{position}": spec
        for position, spec in enumerate(schema.inputs)
    }


def _type(spec: ColSpec | TensorSpec) -> str:
    shape = getattr(spec, "shape", None)  # tensors: the shape is part of the type
    return repr(spec.type) + (str(shape) if shape is not None else "")


def _optional(spec: ColSpec | TensorSpec) -> bool:
    return getattr(spec, "required", True) is False  # tensors are always required


def _listed(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)
