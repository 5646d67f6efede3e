"""Fresh environment (opt-in): the logged model, in the environment each env manager it is
served with builds from the model's files, loads and answers the sample.

As ``mlflow models serve --env-manager <manager>`` would run it: outside the project,
without ``PYTHONPATH``, in Python's isolated mode. A manager whose tool is not
installed here (uv, conda) is skipped, and the report says why. Environments are cached.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro_mlflow_dryrun.adapters import environments
from kedro_mlflow_dryrun.errors import IncompatibleVersionError, ModelEnvironmentError
from kedro_mlflow_dryrun.report import FAILED, PASSED, SKIPPED
from kedro_mlflow_dryrun.stages.environment import BUILDS_FROM

if TYPE_CHECKING:
    from kedro_mlflow_dryrun.context import DryRunContext

logger = logging.getLogger(__name__)

_FIX = (
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


def run(context: DryRunContext) -> None:
    """Each env manager of ``env_manager`` builds the model's environment and it answers."""
    import mlflow
    from mlflow.models import convert_input_example_to_serving_input

    assert context.sample is not None
    model_uri = context.logged_model_uri()
    environment = context.report.environment = context.report.environment or {"status": PASSED}
    fresh: dict[str, dict[str, Any]] = environment.setdefault("fresh", {})
    with tempfile.TemporaryDirectory(prefix="dryrun-fresh-") as temporary:
        model = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=temporary))
        request = Path(temporary, "request.json")
        request.write_text(convert_input_example_to_serving_input(context.sample.data) or "")
        for manager in context.config.env_manager:
            missing_tool = environments.missing_tool(manager)
            if missing_tool is not None:
                fresh[manager] = {"status": SKIPPED, "reason": missing_tool}
                logger.warning(
                    "Fresh environment of --env-manager %s skipped: %s", manager, missing_tool
                )
                continue
            environment["mode"] = "fresh"  # at least one manager built it
            fresh[manager] = _answer(manager, model, request, model_uri)
            if fresh[manager]["status"] == FAILED:
                environment["status"] = FAILED
                raise ModelEnvironmentError(fresh[manager]["reason"])


def _answer(manager: str, model: Path, request: Path, model_uri: str) -> dict[str, Any]:
    """``manager``'s environment for ``model``, built or reused, answering ``request``."""
    files = (model / ("conda.yaml" if manager == "conda" else "requirements.txt")).read_text()
    directory = environments.environment_directory(manager, files)
    cached, start = directory.exists(), time.perf_counter()
    built_from = f"built by {manager} from {BUILDS_FROM[manager]}"
    entry: dict[str, Any] = {"environment": str(directory), "cached": cached}
    try:
        if manager == "local":
            python, entry = Path(sys.executable), {"environment": sys.prefix, "cached": True}
        else:
            python = environments.build_environment(manager, model, directory)
        built = time.perf_counter()
        output = environments.run_isolated(
            python, _ANSWER, str(model), str(request), cwd=request.parent
        )
    except environments.EnvironmentBuildError as error:
        reason = (
            f"The logged model {model_uri} failed in a fresh environment {built_from}: "
            f"{_last_line(str(error))}\n{error}\n{_FIX}"
        )
        return entry | {"status": FAILED, "reason": reason}
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
    entry["seconds"] = {
        "reuse" if cached else "build": round(built - start, 2),
        "answer": round(time.perf_counter() - built, 2),
    }
    if reply["status"] != 200:
        reason = (
            f"The logged model {model_uri}, in a fresh environment {built_from}, answered "
            f"HTTP {reply['status']}: {reply['response'][:500]}\n{_FIX}"
        )
        return entry | {"status": FAILED, "reason": reason}
    return entry | {"status": PASSED}


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1] if text.strip() else text
