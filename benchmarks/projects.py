"""The projects a benchmark runs: variants of ``examples/house_prices``, and what they left.

A variant is the example copied into the work dir and patched at the end of its
files: the plugin's hooks on or off, kedro-mlflow's ``signature`` setting, and,
for the artifact-size suite, a fitted model that carries an N MiB numpy array.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from measure import PYTHON, REPO, Children, log

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModel, Run

EXAMPLE = REPO / "examples" / "house_prices"
PLUGIN_DIST = "kedro-mlflow-dryrun"
MODEL_FILE = Path("data") / "06_models" / "regressor.pkl"


@dataclass(frozen=True)
class Variant:
    name: str
    label: str
    #: ``log_model_kwargs["signature"]``; ``"default"``: the example's own (none: ``"auto"``).
    signature: str | None
    hooks: bool


VARIANTS = {
    variant.name: variant
    for variant in (
        Variant("a", "plugin on (signature auto)", "default", hooks=True),
        Variant("b", "kedro-mlflow alone, signature None", None, hooks=False),
        Variant("c", "kedro-mlflow alone, signature auto", "auto", hooks=False),
    )
}

REGISTRY_PATCH = """

# --- appended by benchmarks/projects.py (variant {variant}) ---
_benchmark_register_pipelines = register_pipelines


def register_pipelines():
    pipelines = _benchmark_register_pipelines()
    for _pipeline in pipelines.values():
        if hasattr(_pipeline, "log_model_kwargs"):
            _pipeline.log_model_kwargs["signature"] = {signature!r}
    return pipelines
"""

SETTINGS_PATCH = """

# --- appended by benchmarks/projects.py: kedro-mlflow alone ---
DISABLE_HOOKS_FOR_PLUGINS = ("{dist}",)
"""

# The pipelines import ``fit_regressor`` after this module ran: they get this one.
BALLAST_PATCH = """

# --- appended by benchmarks/projects.py: a model that weighs {mib} MiB ---
_benchmark_fit_regressor = fit_regressor


def fit_regressor(houses, features):
    fitted = _benchmark_fit_regressor(houses, features)
    fitted["ballast"] = np.ones({mib} * 2**20 // 8)
    return fitted
"""


def make_project(
    workdir: Path, variant: str, artifact_mib: int | None = None, suffix: str = ""
) -> Path:
    """The example as ``variant``; with ``artifact_mib``, its model carries that much more."""
    spec = VARIANTS[variant]
    project = workdir / f"project_{variant}{suffix}"
    shutil.copytree(
        EXAMPLE,
        project,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            "mlflow.db", "mlruns", "mlartifacts", "__pycache__", "*.pkl", "*.csv", ".telemetry"
        ),
    )
    package = project / "src" / "house_prices"
    if spec.signature != "default":
        _append(
            package / "pipeline_registry.py",
            REGISTRY_PATCH,
            variant=variant,
            signature=spec.signature,
        )
    if not spec.hooks:
        _append(package / "settings.py", SETTINGS_PATCH, dist=PLUGIN_DIST)
    if artifact_mib is not None:
        _append(package / "pipelines" / "nodes.py", BALLAST_PATCH, mib=artifact_mib)
    return project


def _append(path: Path, template: str, **values: Any) -> None:
    with open(path, "a") as file:
        file.write(template.format(**values))


def make_template_db(workdir: Path, children: Children) -> Path:
    """An empty MLflow sqlite store with its schema already migrated."""
    template = workdir / "template_mlflow.db"
    code = (
        "import sys; from mlflow import MlflowClient; "
        "MlflowClient(tracking_uri='sqlite:///' + sys.argv[1]).search_experiments()"
    )
    subprocess.run([PYTHON, "-c", code, str(template)], env=children.env(), check=True, cwd=workdir)
    return template


def reset_project(project: Path, template_db: Path) -> None:
    """The state every run starts from: an empty store, no model, no predictions."""
    for name in ("mlruns", "mlartifacts"):
        shutil.rmtree(project / name, ignore_errors=True)
    for path in (project / MODEL_FILE, project / "data/07_model_output/predictions.csv"):
        path.unlink(missing_ok=True)
    shutil.copyfile(template_db, project / "mlflow.db")


def link_input(project: Path, csv: Path) -> None:
    target = project / "data" / "01_raw" / "houses.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    target.symlink_to(csv)


def generate_csv(workdir: Path, rows: int, children: Children) -> Path:
    out = workdir / "data" / f"houses_{rows}.csv"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    env = children.env(PYTHONPATH=str(EXAMPLE / "src"))
    start = time.perf_counter()
    subprocess.run(
        [PYTHON, "-m", "house_prices.synthetic", str(rows), str(out)], env=env, check=True
    )
    log(
        f"generated {out.name} ({out.stat().st_size / 1e6:.1f} MB) in "
        f"{time.perf_counter() - start:.1f} s"
    )
    return out


def warm_page_cache(path: Path) -> None:
    with open(path, "rb") as file:
        while file.read(1 << 24):
            pass


def read_back(project: Path, variant: str) -> dict[str, Any]:
    """What the run left in MLflow: its tags, the dry-run report, the model's signature."""
    from mlflow import MlflowClient

    # MLflow keeps one store per URI in the process: a copy under a new name is read
    # afresh, where the project's own file would show the previous run.
    store = Path(tempfile.mkdtemp(prefix="store-", dir=project.parent)) / "mlflow.db"
    shutil.copyfile(project / "mlflow.db", store)
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    experiments = [exp.experiment_id for exp in client.search_experiments()]
    runs = client.search_runs(experiment_ids=experiments)
    if len(runs) != 1:
        raise SystemExit(f"variant {variant}: expected 1 MLflow run, found {len(runs)}")
    run = runs[0]
    found: dict[str, Any] = {
        "run_id": run.info.run_id,
        "run_status": run.info.status,
        "dryrun_status": run.data.tags.get("dryrun.status"),
    }
    report = _dryrun_report(client, run.info.run_id)
    if report is not None:
        found["report"] = {
            "status": report.get("status"),
            "sample_rows": report.get("sample_rows"),
            "sample_source": report.get("sample_source"),
            "seconds": report.get("seconds", {}),
            "environment_seconds": (report.get("environment") or {}).get("seconds", {}),
            "has_output_schema": bool((report.get("signature") or {}).get("outputs")),
            "explore": {
                key: value
                for key, value in (report.get("explore") or {}).items()
                if key in ("status", "requests", "sent", "seconds", "cpu_seconds")
            },
        }
    model = _logged_model(client, run)
    found["model_id"] = model.model_id if model else None
    found["model_signature"] = _logged_signature(project, model)
    return found


def _dryrun_report(client: MlflowClient, run_id: str) -> dict[str, Any] | None:
    artifacts = {info.path for info in client.list_artifacts(run_id, "dryrun")}
    if "dryrun/report.json" not in artifacts:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, "dryrun/report.json", tmp)
        return json.loads(Path(path).read_text())


def _logged_model(client: MlflowClient, run: Run) -> LoggedModel | None:
    from kedro_mlflow_dryrun.adapters.logged_models import logged_model_of_run
    from kedro_mlflow_dryrun.errors import ServeCheckError

    try:
        return logged_model_of_run(run.info.run_id, client, run.info.experiment_id)
    except ServeCheckError:
        return None


def _logged_signature(project: Path, model: LoggedModel | None) -> str:
    """'inputs+outputs', 'inputs', 'none' or 'no model'."""
    import yaml

    if model is None:
        return "no model"
    # A relative artifact location is relative to the project, where the run was.
    mlmodel = project / unquote(urlparse(model.artifact_location).path) / "MLmodel"
    signature = (yaml.safe_load(mlmodel.read_text()) or {}).get("signature")
    if not signature:
        return "none"
    return "inputs+outputs" if signature.get("outputs") else "inputs"


def check_variant(variant: str, found: dict[str, Any]) -> list[str]:
    """The run did what the variant says, or the comparison would mean nothing."""
    problems = []
    if variant == "a":
        report = found.get("report") or {}
        if found.get("dryrun_status") != "passed" or report.get("status") != "passed":
            problems.append(f"dry run not passed: {found.get('dryrun_status')}")
        if report.get("sample_source") != "captured from training":
            problems.append(f"sample not captured: {report.get('sample_source')}")
        if found["model_signature"] != "inputs+outputs":
            problems.append(f"model signature is {found['model_signature']}")
    else:
        if found.get("dryrun_status") is not None or "report" in found:
            problems.append("the plugin's hooks ran although they are disabled")
        expected = "none" if variant == "b" else "inputs"
        if found["model_signature"] != expected:
            problems.append(f"model signature is {found['model_signature']}, not {expected}")
    return problems
