"""Environment: what loading and running the logged model imports, its own environment holds.

Serving builds a new environment from the model's ``requirements.txt``, outside the
project. Before logging, :func:`prepare` ships the project's package with the
model (``code_paths``) and :func:`while_logging` keeps distributions installed from
this machine out of MLflow's inferred requirements. After logging, :func:`audit`
checks every module the model needs against its requirements and its code, and
:func:`fresh` (opt-in) loads the model in such an environment and asks it the sample.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, cast

from kedro_mlflow_dryrun import compat
from kedro_mlflow_dryrun.adapters import environments, requirements
from kedro_mlflow_dryrun.errors import IncompatibleVersionError, ModelEnvironmentError
from kedro_mlflow_dryrun.report import FAILED, PASSED, SKIPPED

if TYPE_CHECKING:
    from kedro_mlflow_dryrun.context import DryRunContext

#: What ``log_model`` takes the requirements from when the user writes them.
HAND_WRITTEN = ("pip_requirements", "conda_env")

_NO_INDEX = (
    "an index would give another project of that name, or none. Fix: take it out of the "
    "requirements and ship its code (ship_project_code: true, or log_model_kwargs['code_paths'])."
)
_FRESH_FIX = (
    "Fix: add what it lacks to log_model_kwargs['pip_requirements'] (or "
    "'extra_pip_requirements'), or its directory to log_model_kwargs['code_paths']."
)

#: Run by the fresh environment's Python: load the model, answer the request as served.
#: Its MLflow is the one the model's requirements name: it may lack the server's names.
_ANSWER = """
import json, sys
import mlflow.pyfunc
try:
    from mlflow.pyfunc.scoring_server import CONTENT_TYPE_JSON, invocations
except ImportError as error:
    print("\\n" + json.dumps({"missing": str(error), "mlflow": mlflow.__version__}))
    sys.exit()
model = mlflow.pyfunc.load_model(sys.argv[1])
with open(sys.argv[2]) as request:
    reply = invocations(request.read(), CONTENT_TYPE_JSON, model, model.metadata.get_input_schema())
print("\\n" + json.dumps({"status": reply.status, "response": reply.response}))
"""


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
                compat.requirement_inference_without(
                    lambda name: no_index_has(name, package) is not None
                )
            )
        yield


def audit(context: DryRunContext) -> None:
    """Every module the logged model imports comes with it: requirements, code or stdlib."""
    start, model_uri = time.perf_counter(), context.logged_model_uri()
    files = environments.logged_model_files(model_uri)
    needed = _needed_modules(context, files)
    closure = environments.requirement_closure(files.requirements)
    modules = {top: _provided_by(top, files.code, closure) for top in sorted(needed)}
    package = project_package(context.project_path)
    missing = {top: needed[top] for top, got in modules.items() if got is None}
    findings, add = _missing(missing, package)
    remove = _unindexed_entries(files, package)
    findings += [f"{found}: {_NO_INDEX}" for found in remove.values()]
    base = context.project_path or Path.cwd()
    fix = requirements.fix(context.log_model_kwargs, base, add, remove)
    context.report.environment = {
        "status": FAILED if findings else PASSED,
        "mode": "audit",
        "requirements": files.requirements,
        "modules": {top: source or "missing" for top, source in modules.items()},
        "code": files.code,
        "not_scanned": files.not_scanned,
        "findings": findings,
        "fix": fix.to_dict() if fix else None,
        "seconds": {"audit": round(time.perf_counter() - start, 4)},
    }
    if findings:
        names = ", ".join(f"'{top}'" for top in missing)
        raise ModelEnvironmentError(
            f"The logged model {model_uri} cannot load in an environment built from its "
            f"requirements.txt{': it imports ' + names if names else ''}.\n"
            + "\n".join(f"- {finding}" for finding in findings)
            + (f"\n{fix.describe()}" if fix else "")
        )


def fresh(context: DryRunContext) -> None:
    """The logged model, in an environment built from its requirements only, answers the sample.

    As ``mlflow models serve --env-manager uv`` would run it: outside the project,
    without ``PYTHONPATH``, in Python's isolated mode. The environment is cached.
    """
    import mlflow
    from mlflow.models import convert_input_example_to_serving_input

    assert context.sample is not None
    model_uri = context.logged_model_uri()
    environment = context.report.environment = context.report.environment or {"status": PASSED}
    environment["mode"] = "fresh"
    with tempfile.TemporaryDirectory(prefix="dryrun-fresh-") as temporary:
        model = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=temporary))
        requirements = model / "requirements.txt"
        directory = environments.environment_directory(requirements.read_text())
        cached, start = directory.exists(), time.perf_counter()
        environment["fresh"] = {"environment": str(directory), "cached": cached}
        try:
            python = environments.build_environment(requirements, directory)
            built = time.perf_counter()
            request = Path(temporary, "request.json")
            request.write_text(convert_input_example_to_serving_input(context.sample.data) or "")
            output = environments.run_isolated(
                python, _ANSWER, str(model), str(request), cwd=Path(temporary)
            )
        except environments.EnvironmentBuildError as error:
            environment["status"] = FAILED
            raise ModelEnvironmentError(
                f"The logged model {model_uri} failed in a fresh environment built from its "
                f"requirements.txt: {_last_line(str(error))}\n{error}\n{_FRESH_FIX}"
            ) from error
        reply = json.loads(output.strip().splitlines()[-1])
    if "missing" in reply:
        what = (
            f"in the model's fresh environment, the scoring server of mlflow {reply['mlflow']} "
            f"lacks what kedro-mlflow-dryrun asks it for: {reply['missing']}"
        )
        raise IncompatibleVersionError(
            f"The dry run could not check the model: {what}.\n"
            "Fix: pin a version of mlflow that kedro-mlflow-dryrun supports in "
            "log_model_kwargs['pip_requirements'], or set 'environment: audit'.",
            missing="mlflow.pyfunc.scoring_server.invocations",
            what=what,
        )
    environment["seconds"] = environment.get("seconds", {}) | {
        "fresh_reuse" if cached else "fresh_build": round(built - start, 2),
        "fresh_answer": round(time.perf_counter() - built, 2),
    }
    if reply["status"] != 200:
        environment["status"] = FAILED
        raise ModelEnvironmentError(
            f"The logged model {model_uri}, in a fresh environment built from its "
            f"requirements.txt, answered HTTP {reply['status']}: {reply['response'][:500]}\n"
            f"{_FRESH_FIX}"
        )


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


def _needed_modules(context: DryRunContext, files: environments.ModelFiles) -> dict[str, set[str]]:
    """Top-level module -> what needs it: the model's pickles, the nodes' functions."""
    from kedro_mlflow_dryrun.adapters.models import PipelineModel

    needed: dict[str, set[str]] = {}
    for pickle_name, modules in files.pickled_modules.items():
        for module in modules:
            needed.setdefault(module.split(".")[0], set()).add(pickle_name)
    if isinstance(context.model, PipelineModel):
        for node in context.model.inference.nodes:
            for module in environments.function_modules(node.func):
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
    if environments.normalized(top) in closure:
        return f"requirements ({environments.normalized(top)})"
    provider = next((d for d in sorted(closure) if top in environments.provided_modules(d)), None)
    return f"requirements ({provider})" if provider else None


def _missing(missing: dict[str, set[str]], package: Path | None) -> tuple[list[str], list[str]]:
    """The modules the environment lacks, where each comes from here; and the pins to add.

    A distribution that another missing one requires comes with it: the pin names
    the one to add.
    """
    distributions = {top: environments.distribution_of(top) for top in missing}
    installable = {d for d in distributions.values() if d and no_index_has(d, package) is None}
    requires = {d: environments.requirement_closure([d]) - {d} for d in installable}
    roots = sorted(d for d in installable if not any(d in requires[o] for o in installable))
    findings, add = [], []
    for top, needed_by in missing.items():
        where, distribution = ", ".join(sorted(needed_by)), distributions[top]
        if package is not None and top == package.name:
            findings.append(
                f"'{top}' is the project's package (needed by {where}), and it is not shipped "
                "with the model. Fix: set 'ship_project_code: true' in conf/<env>/dryrun.yml "
                f"(or add '{package}' to log_model_kwargs['code_paths'])."
            )
        elif distribution is None or distribution not in installable:
            origin = (no_index_has(distribution, package) if distribution else None) or (
                "on sys.path only"
            )
            findings.append(
                f"'{top}' (needed by {where}) is {origin}, so no index has it. "
                "Fix: add its directory to log_model_kwargs['code_paths']."
            )
        else:
            requirer = next((root for root in roots if distribution in requires[root]), None)
            pin = _pinned(requirer or distribution)
            add += [pin] if pin not in add else []
            findings.append(
                f"'{top}' (needed by {where}) comes from the distribution '{distribution}', "
                f"which the model's requirements do not install: it needs '{pin}'"
                + (f" (which requires '{distribution}')" if requirer else "")
                + "."
            )
    return findings, add


def _unindexed_entries(files: environments.ModelFiles, package: Path | None) -> dict[str, str]:
    """Requirement name -> the entry of requirements.txt or conda.yaml naming what no index has.

    A conda dependency counts as a pip one does: no channel has the project's package,
    or a stranger's may.
    """
    entries = [("requirements.txt pins", line) for line in files.requirements]
    entries += [("conda.yaml lists", entry) for entry in files.conda_dependencies]
    found = {}
    for where, entry in entries:
        name = environments.requirement_name(entry)
        origin = no_index_has(name, package) if name else None
        if name and origin:
            found[name] = f"{where} '{entry}', {origin}"
    return found


def no_index_has(name: str, package: Path | None) -> str | None:
    """Where a distribution that no index has comes from, or ``None``: an index has it.

    A directory here (editable or not), or the project's own package (by name, or
    built from its source folder into a wheel or sdist): shipped as code, never
    pinned. Any other wheel or sdist file is a release an index has: pinned.
    """
    source = environments.local_source(name)
    if package is not None and (
        environments.normalized(name) == environments.normalized(package.name)
        or package.name in environments.provided_modules(name)
    ):
        source = source or environments.archive_source(name)
        return "the project's own package" + (f", installed here from {source}" if source else "")
    return f"installed here from {source}" if source else None


def _pinned(distribution: str) -> str:
    return f"{distribution}=={environments.installed_version(distribution)}"


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1] if text.strip() else text
