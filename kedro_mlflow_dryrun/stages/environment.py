"""Environment: what loading and running the logged model imports, its own environment holds.

Serving builds a new environment from the model's ``requirements.txt``, outside the
project. Before logging, :func:`prepare` ships the project's package with the
model (``code_paths``) and :func:`while_logging` keeps distributions installed from
this machine out of MLflow's inferred requirements. After logging, :func:`audit`
checks every module the model needs against its requirements and its code, and
:func:`fresh` (opt-in) loads the model in such an environment and asks it the sample.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from kedro_mlflow_dryrun.adapters import distributions, environments, model_files, requirements
from kedro_mlflow_dryrun.compat import log_model
from kedro_mlflow_dryrun.errors import ModelEnvironmentError
from kedro_mlflow_dryrun.report import FAILED, PASSED, SKIPPED

if TYPE_CHECKING:
    from kedro_mlflow_dryrun.context import DryRunContext

logger = logging.getLogger(__name__)

#: What ``log_model`` takes the requirements from when the user writes them.
HAND_WRITTEN = ("pip_requirements", "conda_env")

#: What each ``mlflow models serve --env-manager`` builds the model's environment from.
BUILDS_FROM = {
    "virtualenv": "requirements.txt (python_env.yaml)",
    "uv": "requirements.txt (python_env.yaml)",
    "conda": "conda.yaml",
    "local": "the training environment",
}
EVERY_MANAGER = frozenset(BUILDS_FROM)
#: conda installs conda.yaml's pip section, which holds the requirements too.
FROM_REQUIREMENTS = frozenset({"virtualenv", "uv", "conda"})
CONDA_ONLY = frozenset({"conda"})


@dataclass(frozen=True)
class Finding:
    """A module or an entry the served environment lacks or cannot install."""

    text: str
    #: The env managers whose environment it breaks.
    breaks: frozenset[str]
    #: Pins the requirements need, and names to take out of them.
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


_NO_INDEX = (
    "an index would give another project of that name, or none. Fix: take it out of the "
    "requirements and ship its code (ship_project_code: true, or log_model_kwargs['code_paths'])."
)


def prepare(context: DryRunContext) -> None:
    """Ships the project's package with the model, beside any ``code_paths`` already set."""
    if context.config.environment == "off":
        context.report.environment = {"status": SKIPPED}
    package = project_package(context.project_path)
    if not context.config.ship_project_code or package is None:
        return
    already = cast("list[str]", context.log_model_kwargs.get("code_paths") or [])
    code_paths = [str(path) for path in already]
    if not any(Path(path).resolve() == package.resolve() for path in code_paths):
        code_paths.append(str(package))
    context.log_model_kwargs["code_paths"] = code_paths


@contextmanager
def while_logging(context: DryRunContext) -> Iterator[None]:
    """While kedro-mlflow logs the model: MLflow infers its requirements without local pins,
    and the code it ships is source only (no bytecode, caches or editor files).

    Requirements the user wrote are left as written: the audit reports what they lack.
    """
    kwargs = context.log_model_kwargs
    code_paths = cast("list[str] | None", kwargs.get("code_paths"))
    package = project_package(context.project_path)
    with ExitStack() as stack:
        if code_paths:
            kwargs["code_paths"] = stack.enter_context(environments.source_only(code_paths))
            stack.callback(kwargs.__setitem__, "code_paths", code_paths)
        if not any(kwargs.get(key) for key in HAND_WRITTEN):
            # Shipped as code, or no index has it: MLflow must not pin it.
            stack.enter_context(
                log_model.requirement_inference_without(
                    lambda name: no_index_has(name, package) is not None
                )
            )
        yield


def audit(context: DryRunContext) -> None:
    """Every module the logged model imports comes with it: requirements, code or stdlib.

    Judged for the env managers the model is served with (``env_manager``); a defect
    that breaks only another manager is a warning, with that manager's fix.
    """
    start, model_uri = time.perf_counter(), context.logged_model_uri()
    files = model_files.logged_model_files(model_uri)
    needed = _needed_modules(context, files)
    closure = distributions.requirement_closure(files.requirements)
    modules = {top: _provided_by(top, files.code, closure) for top in sorted(needed)}
    package = project_package(context.project_path)
    missing = {top: needed[top] for top, got in modules.items() if got is None}
    findings = _missing(missing, package) + _unindexed_entries(files, package)
    served_with = context.config.env_manager
    failing = [finding for finding in findings if finding.breaks & set(served_with)]
    fix = _fix(context, failing)
    others = _other_managers(context, findings, served_with)
    context.report.environment = {
        "status": FAILED if failing else PASSED,
        "mode": "audit",
        "env_manager": list(served_with),
        "requirements": files.requirements,
        "modules": {top: source or "missing" for top, source in modules.items()},
        "code": files.code,
        "not_scanned": files.not_scanned,
        "findings": [finding.text for finding in failing],
        "fix": fix.to_dict() if fix else None,
        "other_managers": others,
        "seconds": {"audit": round(time.perf_counter() - start, 4)},
    }
    if failing:
        names = ", ".join(f"'{t}'" for t in missing if any(f"'{t}'" in f.text for f in failing))
        raise ModelEnvironmentError(
            f"The logged model {model_uri} cannot load in an environment built "
            f"{_served_with(served_with)}{': it imports ' + names if names else ''}.\n"
            + "\n".join(f"- {finding.text}" for finding in failing)
            + (f"\n{fix.describe()}" if fix else "")
        )


def _served_with(managers: Iterable[str]) -> str:
    """``by --env-manager conda from its conda.yaml``, for each manager."""
    return " or ".join(f"by --env-manager {m} from {BUILDS_FROM[m]}" for m in managers)


def _fix(context: DryRunContext, findings: list[Finding]) -> requirements.RequirementsFix | None:
    """The requirements, as the user writes them, with what ``findings`` add and remove."""
    add = list(dict.fromkeys(pin for finding in findings for pin in finding.add))
    remove = {name for finding in findings for name in finding.remove}
    base = context.project_path or Path.cwd()
    return requirements.fix(context.log_model_kwargs, base, add, remove)


def _other_managers(
    context: DryRunContext, findings: list[Finding], served_with: tuple[str, ...]
) -> dict[str, dict[str, object]]:
    """Per env manager the model is not served with: what would break it, as warnings."""
    others: dict[str, dict[str, object]] = {}
    for manager in BUILDS_FROM:
        breaking = [f for f in findings if manager in f.breaks and not f.breaks & set(served_with)]
        if manager in served_with or not breaking:
            continue
        fix = _fix(context, breaking)
        others[manager] = {
            "builds_from": BUILDS_FROM[manager],
            "findings": [finding.text for finding in breaking],
            "fix": fix.to_dict() if fix else None,
        }
        warning = (
            f"Served with --env-manager {manager} (from {BUILDS_FROM[manager]}), the model "
            f"would not load; it is served with {', '.join(served_with)} (env_manager), so "
            "this only warns.\n"
            + "\n".join(f"- {finding.text}" for finding in breaking)
            + (f"\n{fix.describe()}" if fix else "")
        )
        context.report.warnings.append(warning)
        logger.warning(warning)
    return others


def project_package(project_path: Path | None) -> Path | None:
    """``<source_dir>/<package_name>`` from the project's ``pyproject.toml`` ``[tool.kedro]``."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib

    pyproject = project_path / "pyproject.toml" if project_path else None
    if pyproject is None or not pyproject.exists():
        return None
    kedro = tomllib.loads(pyproject.read_text()).get("tool", {}).get("kedro", {})
    if "package_name" not in kedro:
        return None
    package = pyproject.parent / kedro.get("source_dir", "src") / kedro["package_name"]
    return package if package.is_dir() else None


def _needed_modules(context: DryRunContext, files: model_files.ModelFiles) -> dict[str, set[str]]:
    """Top-level module -> what needs it: the model's pickles, the nodes' functions."""
    from kedro_mlflow_dryrun.adapters.model_sources import PipelineModel

    needed: dict[str, set[str]] = {}
    for pickle_name, modules in files.pickled_modules.items():
        for module in modules:
            needed.setdefault(module.split(".")[0], set()).add(pickle_name)
    if isinstance(context.model, PipelineModel):
        for node in context.model.inference.nodes:
            for module in model_files.function_modules(node.func):
                needed.setdefault(module.split(".")[0], set()).add(f"node '{node.name}'")
    return needed


def _provided_by(top: str, code: list[str], closure: set[str]) -> str | None:
    """How an environment built from the requirements gets ``top``; ``None``: it does not."""
    if top in sys.stdlib_module_names or top == "builtins":
        return "stdlib"
    if top == "mlflow":
        return "mlflow"
    if top in code:
        return "code"
    if distributions.normalized(top) in closure:
        return f"requirements ({distributions.normalized(top)})"
    provider = next((d for d in sorted(closure) if top in distributions.provided_modules(d)), None)
    return f"requirements ({provider})" if provider else None


def _missing(missing: dict[str, set[str]], package: Path | None) -> list[Finding]:
    """The modules the environment lacks, where each comes from here, and the pin to add.

    A distribution that another missing one requires comes with it: the pin names
    the one to add. What no distribution installs here breaks ``local`` serving too.
    """
    providers = {top: distributions.distribution_of(top) for top in missing}
    installable = {d for d in providers.values() if d and no_index_has(d, package) is None}
    requires = {d: distributions.requirement_closure([d]) - {d} for d in installable}
    roots = sorted(d for d in installable if not any(d in requires[o] for o in installable))
    findings = []
    for top, needed_by in missing.items():
        where, distribution = ", ".join(sorted(needed_by)), providers[top]
        breaks = FROM_REQUIREMENTS if distribution else EVERY_MANAGER
        if package is not None and top == package.name:
            findings.append(
                Finding(
                    f"'{top}' is the project's package (needed by {where}), and it is not "
                    "shipped with the model. Fix: set 'ship_project_code: true' in "
                    f"conf/<env>/dryrun.yml (or add '{package}' to "
                    "log_model_kwargs['code_paths']).",
                    breaks,
                )
            )
        elif distribution is None or distribution not in installable:
            origin = (no_index_has(distribution, package) if distribution else None) or (
                "on sys.path only"
            )
            findings.append(
                Finding(
                    f"'{top}' (needed by {where}) is {origin}, so no index has it. "
                    "Fix: add its directory to log_model_kwargs['code_paths'].",
                    breaks,
                )
            )
        else:
            requirer = next((root for root in roots if distribution in requires[root]), None)
            pin = _pinned(requirer or distribution)
            findings.append(
                Finding(
                    f"'{top}' (needed by {where}) comes from the distribution "
                    f"'{distribution}', which the model's requirements do not install: it "
                    f"needs '{pin}'"
                    + (f" (which requires '{distribution}')" if requirer else "")
                    + ".",
                    breaks,
                    add=(pin,),
                )
            )
    return findings


def _unindexed_entries(files: model_files.ModelFiles, package: Path | None) -> list[Finding]:
    """The entries of requirements.txt or conda.yaml naming what no index has.

    A conda dependency counts as a pip one does (no channel has the project's package,
    or a stranger's may), for conda alone: only conda reads conda.yaml's conda part.
    """
    entries = [("requirements.txt pins", line, FROM_REQUIREMENTS) for line in files.requirements]
    entries += [("conda.yaml lists", entry, CONDA_ONLY) for entry in files.conda_dependencies]
    found = []
    for where, entry, breaks in entries:
        name = distributions.requirement_name(entry)
        origin = no_index_has(name, package) if name else None
        if name and origin:
            found.append(
                Finding(f"{where} '{entry}', {origin}: {_NO_INDEX}", breaks, remove=(name,))
            )
    return found


def no_index_has(name: str, package: Path | None) -> str | None:
    """Where a distribution that no index has comes from, or ``None``: an index has it.

    A directory here (editable or not), or the project's own package (by name, or
    built from its source folder into a wheel or sdist): shipped as code, never
    pinned. Any other wheel or sdist file is a release an index has: pinned.
    """
    source = distributions.local_source(name)
    if package is not None and (
        distributions.normalized(name) == distributions.normalized(package.name)
        or package.name in distributions.provided_modules(name)
    ):
        source = source or distributions.archive_source(name)
        return "the project's own package" + (f", installed here from {source}" if source else "")
    return f"installed here from {source}" if source else None


def _pinned(distribution: str) -> str:
    return f"{distribution}=={distributions.installed_version(distribution)}"
