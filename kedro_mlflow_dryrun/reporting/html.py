"""``dryrun/report.html``: the report a reviewer reads in the MLflow UI's artifact view.

One self-contained page: inline CSS, no script, no font or image fetched, so that it
reads the same inside the UI's frame, offline, and attached to a ticket. The template
is ``templates/report.html.j2``; what it shows is computed here, not in the template.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from kedro_mlflow_dryrun.report import signature_to_dict
from kedro_mlflow_dryrun.reporting.checks import checks, findings

if TYPE_CHECKING:
    import jinja2

    from kedro_mlflow_dryrun.report import DryRunReport

_TEMPLATE = "report.html.j2"


def render(report: DryRunReport) -> str:
    """The page, every value escaped by Jinja2's autoescape."""
    return _template().render(
        report=report,
        verdict=report.verdict(full_reason=True),
        checks=checks(report),
        findings=findings(report),
        outputs=_columns(report, "outputs"),
        inputs=_columns(report, "inputs"),
        preview=report.preview,
        environment=_environment_rows(report.environment),
        warnings=report.warnings,
    )


@cache
def _template() -> jinja2.Template:
    """Compiled once per process: a training run renders the page each time it records."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("kedro_mlflow_dryrun.reporting", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    # As the server writes an answer: its keys in their order (``tojson`` sorts them).
    environment.filters["as_json"] = json.dumps
    return environment.get_template(_TEMPLATE)


def _columns(report: DryRunReport, part: str) -> list[dict[str, str]]:
    """A schema part as rows of name, type and whether it is required."""
    signature = signature_to_dict(report.signature) or {}
    return [
        {
            "name": str(spec.get("name", "(unnamed)")),
            "type": str(spec.get("type", "")) + _tensor_shape(spec),
            "required": "yes" if spec.get("required", True) else "no",
        }
        for spec in signature.get(part) or []
    ]


def _tensor_shape(spec: dict[str, Any]) -> str:
    info = spec.get("tensor-spec")
    return f" {info.get('dtype')} {tuple(info.get('shape', ()))}" if info else ""


def _environment_rows(section: dict[str, Any] | None) -> list[dict[str, str]]:
    """The environment audit as module -> distribution -> requirement (the line of the
    logged ``requirements.txt`` that installs it)."""
    if not section:
        return []
    requirements: list[str] = section.get("requirements") or []
    rows = []
    for module, source in (section.get("modules") or {}).items():
        distribution, requirement = _provider(str(source), requirements)
        rows.append({"module": module, "distribution": distribution, "requirement": requirement})
    return rows


def _provider(source: str, requirements: list[str]) -> tuple[str, str]:
    """What the audit's ``requirements (dist)``, ``code``, ``stdlib``, ``mlflow`` or
    ``missing`` means in a table a reader scans."""
    if source.startswith("requirements (") and source.endswith(")"):
        distribution = source[len("requirements (") : -1]
        line = next((r for r in requirements if _normalized(r) == distribution), None)
        return distribution, line or f"{distribution} (required by another requirement)"
    return {
        "code": ("the project's code", "shipped in the model's code/"),
        "stdlib": ("Python's standard library", "none needed"),
        "mlflow": ("mlflow", "installed by every MLflow environment"),
    }.get(source, ("none found", "MISSING: the model cannot load without it"))


def _normalized(requirement: str) -> str | None:
    """The distribution a ``requirements.txt`` line names, as the audit normalizes it."""
    from packaging.requirements import InvalidRequirement, Requirement

    from kedro_mlflow_dryrun.adapters.distributions import normalized

    try:
        return normalized(Requirement(requirement).name)
    except InvalidRequirement:  # a URL, an option line (-e, --index-url): no name to match
        return None
