#!/usr/bin/env python
"""Benchmarks of kedro-mlflow-dryrun against kedro-mlflow alone (issue 5).

One command::

    python benchmarks/run_benchmarks.py [--sizes 10000,100000,1000000,2000000]
                                        [--repeats 3] [--out benchmarks/results/latest.json]

What it measures
----------------
1. ``kedro run --pipeline=training`` of ``examples/house_prices``, copied into a
   temporary folder once per variant:

   a. the plugin on: the example as it is (``signature`` left at kedro-mlflow's
      default ``"auto"``, which the plugin answers from its 100-row sample);
   b. kedro-mlflow alone, ``signature: None``: the plugin's hooks switched off
      with ``DISABLE_HOOKS_FOR_PLUGINS = ("kedro-mlflow-dryrun",)`` in settings.py;
   c. kedro-mlflow alone, ``signature: "auto"``: hooks off as in (b); kedro-mlflow
      loads the whole input a second time to infer the signature.

   For every size the houses CSV is generated once and symlinked into the three
   projects. The variants alternate (a, b, c, a, b, c, ...). Every run starts from
   the same state: an empty, already migrated MLflow sqlite store copied from a
   template (so no run pays MLflow's schema migration), no ``mlruns`` folder and no
   model file. Each child is reaped with ``os.wait4``, which gives its own wall time
   and peak RSS (``ru_maxrss``). Medians are reported. The dry run's own stage times
   are read back from ``dryrun/report.json`` of every (a) run with ``MlflowClient``.
   Each child is ``benchmarks/hook_timer.py``, which runs ``kedro run`` in its own
   process and times the plugin's hooks and MLflow's ``log_model`` from inside: the
   plugin costs less than the run-to-run spread of whole-process times on a shared
   machine, and only those inner timings make its share visible.

2. Start-up cost: ``-X importtime`` of the plugin's modules after everything
   ``kedro`` and ``kedro-mlflow`` import anyway, and the whole-process time of
   ``kedro run --help`` and ``kedro info`` with the plugin's entry points visible
   or hidden (Kedro has no switch to hide a plugin's CLI entry points, so both are
   started by the same launcher, which filters ``importlib.metadata.entry_points``).

3. The fallback partial read (``kedro_mlflow_dryrun.sample.read_partial``) of a
   ``pandas.CSVDataset`` and a ``pandas.ParquetDataset`` at a small and a large size.

Everything is written to the results JSON, and a Markdown summary is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

REPO = Path(__file__).resolve().parents[1]
HOOK_TIMER = REPO / "benchmarks" / "hook_timer.py"
LOG_MODEL_LABEL = "  mlflow.pyfunc.log_model"
VALIDATION_LABEL = "    mlflow validates input_example"
EXAMPLE = REPO / "examples" / "house_prices"
PYTHON = sys.executable
PLUGIN_DIST = "kedro-mlflow-dryrun"
PLUGIN_MODULE = "kedro_mlflow_dryrun"
QUIET_ENV = {
    "KEDRO_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
STAGES = ("sample", "execute", "check", "infer", "total")
PACKAGES = (
    "kedro-mlflow-dryrun",
    "kedro",
    "kedro-mlflow",
    "kedro-datasets",
    "mlflow",
    "pandas",
    "numpy",
    "pyarrow",
    "SQLAlchemy",
    "click",
)

VARIANTS: dict[str, dict[str, Any]] = {
    "a": {"label": "plugin on (signature auto)", "signature": "default", "hooks": True},
    "b": {"label": "kedro-mlflow alone, signature None", "signature": None, "hooks": False},
    "c": {"label": "kedro-mlflow alone, signature auto", "signature": "auto", "hooks": False},
}

# Targets of issue 5.
TARGET_A_OVER_B = 1.05
TARGET_A_OVER_C = 0.6
TARGET_RSS_A_OVER_B = 1.05
TARGET_DRYRUN_GROWTH = 1.5
TARGET_STARTUP_MS = 30.0
TARGET_PARTIAL_RATIO = 1.25  # "the same time": at most 25 % slower at the large size
TARGET_SIZES = (1_000_000, 2_000_000)

# Started as ``python -c LAUNCHER <kedro args>``, with the plugin's entry points
# visible or not. Both sides go through the same filter, so they cost the same.
LAUNCHER = r"""
import importlib.metadata as _md
import os as _os
import sys as _sys

_hidden = _os.environ.get("KMD_BENCH_HIDE_PLUGIN") == "1"
_all_entry_points = _md.entry_points


def _entry_points(**params):
    found = _all_entry_points()
    # Python < 3.12 returns a dict of groups (SelectableGroups) when called bare.
    flat = [ep for group in found.values() for ep in group] if hasattr(found, "values") else found
    kept = _md.EntryPoints(
        ep for ep in flat
        if not (_hidden and ep.value.split(".")[0].split(":")[0] == "kedro_mlflow_dryrun")
    )
    return kept.select(**params)


_md.entry_points = _entry_points
_sys.argv[0] = "kedro"
from kedro.framework.cli import main

main()
"""

# What ``kedro run`` imports anyway before it loads the plugin: Kedro's CLI,
# session, catalog and config, and kedro-mlflow's CLI and hooks.
PREIMPORTS = (
    "kedro.framework.cli.cli",
    "kedro.framework.cli.project",
    "kedro.framework.session",
    "kedro.framework.hooks",
    "kedro.config",
    "kedro.io",
    "kedro.pipeline",
    "kedro.runner",
    "kedro_mlflow.framework.cli.cli",
    "kedro_mlflow.framework.hooks",
)
IMPORT_MARK = "@@kmd-bench-mark@@"


# --------------------------------------------------------------------------- utils


def log(message: str) -> None:
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


# Set by snapshot_plugin(): children import the plugin from this copy, so that
# edits made to the work tree while the benchmark runs do not mix two versions.
SNAPSHOT: Path | None = None
# Compiled .pyc of every child go here: nothing is written to the venv or the
# repository, and PYTHONDONTWRITEBYTECODE, if set, does not make every child
# compile the plugin again (the uncounted warm-up runs fill this cache).
PYCACHE: Path | None = None


def child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **QUIET_ENV, **extra}
    env.pop("MLFLOW_TRACKING_URI", None)
    if PYCACHE is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    if SNAPSHOT is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(SNAPSHOT), extra.get("PYTHONPATH") or os.environ.get("PYTHONPATH")])
        )
    return env


def snapshot_plugin(workdir: Path) -> dict[str, Any]:
    """Copies the plugin's package; the editable install's finder comes after PYTHONPATH."""
    global SNAPSHOT, PYCACHE
    source = REPO / PLUGIN_MODULE
    PYCACHE = workdir / "pycache"
    SNAPSHOT = workdir / "plugin_snapshot"
    shutil.copytree(source, SNAPSHOT / PLUGIN_MODULE, ignore=shutil.ignore_patterns("__pycache__"))
    digest = hashlib.sha256()
    files = sorted((SNAPSHOT / PLUGIN_MODULE).rglob("*.py"))
    for path in files:
        digest.update(path.relative_to(SNAPSHOT).as_posix().encode())
        digest.update(path.read_bytes())
    sys.path.insert(0, str(SNAPSHOT))
    probe = subprocess.run(
        [PYTHON, "-c", f"import {PLUGIN_MODULE}; print({PLUGIN_MODULE}.__file__)"],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
        cwd=workdir,
    ).stdout.strip()
    if not probe.startswith(str(SNAPSHOT)):
        raise SystemExit(f"children import the plugin from {probe}, not from the snapshot")
    dirty = None
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        dirty = bool(
            subprocess.run(
                ["git", "-C", str(REPO), "status", "--porcelain", "--", PLUGIN_MODULE],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
    return {
        "sha256": digest.hexdigest(),
        "files": [path.relative_to(SNAPSHOT).as_posix() for path in files],
        "uncommitted_changes": dirty,
    }


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def bootstrap_median_diff(
    first: Sequence[float], second: Sequence[float], rounds: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95 % interval of median(first) - median(second), by resampling."""
    rng = random.Random(seed)
    diffs = sorted(
        statistics.median(rng.choices(first, k=len(first)))
        - statistics.median(rng.choices(second, k=len(second)))
        for _ in range(rounds)
    )
    return diffs[int(0.025 * rounds)], diffs[int(0.975 * rounds) - 1]


def run_child(
    cmd: Sequence[str], cwd: Path, env: dict[str, str], log_path: Path | None = None
) -> dict[str, Any]:
    """Runs one process; returns its wall time, its own peak RSS and exit code."""
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    finally:
        if log_path:
            out.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "wall_s": wall,
        "maxrss_mb": usage.ru_maxrss / 1024,  # Linux: kilobytes
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rc": proc.returncode,
    }


def fail_with_log(message: str, log_path: Path | None) -> None:
    tail = ""
    if log_path and log_path.exists():
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
    raise SystemExit(f"{message}\n--- last lines of {log_path} ---\n{tail}")


def fmt(value: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def size_label(rows: int) -> str:
    for unit, name in ((1_000_000, "M"), (1_000, "k")):
        if rows >= unit and rows % (unit // 10) == 0:
            value = rows / unit
            return f"{value:g}{name}"
    return str(rows)


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------ machine


def machine_info() -> dict[str, Any]:
    model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_total_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    commit = None
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": mem_total_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
        "packages": versions,
        "git_commit": commit,
    }


# ----------------------------------------------------------------------- projects


REGISTRY_PATCH = """

# --- appended by benchmarks/run_benchmarks.py (variant {variant}) ---
_benchmark_register_pipelines = register_pipelines


def register_pipelines():
    pipelines = _benchmark_register_pipelines()
    for _pipeline in pipelines.values():
        if hasattr(_pipeline, "log_model_kwargs"):
            _pipeline.log_model_kwargs["signature"] = {signature!r}
    return pipelines
"""

SETTINGS_PATCH = """

# --- appended by benchmarks/run_benchmarks.py: kedro-mlflow alone ---
DISABLE_HOOKS_FOR_PLUGINS = ("{dist}",)
"""


def make_project(workdir: Path, variant: str) -> Path:
    spec = VARIANTS[variant]
    project = workdir / f"project_{variant}"
    shutil.copytree(
        EXAMPLE,
        project,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            "mlflow.db", "mlruns", "mlartifacts", "__pycache__", "*.pkl", "*.csv", ".telemetry"
        ),
    )
    package = project / "src" / "house_prices"
    if spec["signature"] != "default":
        with open(package / "pipeline_registry.py", "a") as registry:
            registry.write(REGISTRY_PATCH.format(variant=variant, signature=spec["signature"]))
    if not spec["hooks"]:
        with open(package / "settings.py", "a") as settings:
            settings.write(SETTINGS_PATCH.format(dist=PLUGIN_DIST))
    return project


def make_template_db(workdir: Path) -> Path:
    """An empty MLflow sqlite store with its schema already migrated."""
    template = workdir / "template_mlflow.db"
    code = (
        "import sys; from mlflow import MlflowClient; "
        "MlflowClient(tracking_uri='sqlite:///' + sys.argv[1]).search_experiments()"
    )
    subprocess.run([PYTHON, "-c", code, str(template)], env=child_env(), check=True, cwd=workdir)
    return template


def reset_project(project: Path, template_db: Path) -> None:
    for name in ("mlruns", "mlartifacts"):
        shutil.rmtree(project / name, ignore_errors=True)
    for path in (
        project / "mlflow.db",
        project / "data" / "06_models" / "regressor.pkl",
        project / "data" / "07_model_output" / "predictions.csv",
    ):
        path.unlink(missing_ok=True)
    shutil.copyfile(template_db, project / "mlflow.db")


def link_input(project: Path, csv: Path) -> None:
    target = project / "data" / "01_raw" / "houses.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    target.symlink_to(csv)


def generate_csv(workdir: Path, rows: int) -> Path:
    out = workdir / "data" / f"houses_{rows}.csv"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    env = child_env(PYTHONPATH=str(EXAMPLE / "src"))
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


# ------------------------------------------------------------------- read back


def read_back(project: Path, variant: str) -> dict[str, Any]:
    """What the run left in MLflow: its tags, the dry-run report, the model's signature."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    try:
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
        artifacts = {info.path for info in client.list_artifacts(run.info.run_id, "dryrun")}
        if "dryrun/report.json" in artifacts:
            with tempfile.TemporaryDirectory() as tmp:
                path = client.download_artifacts(run.info.run_id, "dryrun/report.json", tmp)
                report = json.loads(Path(path).read_text())
            found["report"] = {
                "status": report.get("status"),
                "sample_rows": report.get("sample_rows"),
                "sample_source": report.get("sample_source"),
                "seconds": report.get("seconds", {}),
                "has_output_schema": bool((report.get("signature") or {}).get("outputs")),
            }
        found["model_signature"] = _logged_signature(client, experiments)
        return found
    finally:
        # MLflow caches stores by URI; the next run replaces this file.
        with contextlib.suppress(Exception):
            client._tracking_client.store.engine.dispose()


def _logged_signature(client: Any, experiments: list[str]) -> str:
    """'inputs+outputs', 'inputs', 'none' or 'no model'."""
    import yaml

    models = client.search_logged_models(experiment_ids=experiments)
    if not models:
        return "no model"
    location = urlparse(models[0].artifact_location)
    mlmodel = Path(unquote(location.path)) / "MLmodel"
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


# ------------------------------------------------------------------ kedro runs


def bench_runs(
    workdir: Path,
    sizes: list[int],
    repeats: int,
    warmup: bool,
    progress: Callable[[dict[str, Any]], None] = lambda runs: None,
) -> dict[str, Any]:
    projects = {variant: make_project(workdir, variant) for variant in VARIANTS}
    template_db = make_template_db(workdir)
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    env = child_env()
    results: dict[str, Any] = {"command": "kedro run --pipeline=training", "sizes": {}}
    seen_run_ids: set[str] = set()

    def one_run(variant: str, rows: int, tag: str) -> dict[str, Any]:
        project = projects[variant]
        reset_project(project, template_db)
        log_path = logs / f"{rows}_{variant}_{tag}.log"
        timings_path = logs / f"{rows}_{variant}_{tag}.timings.json"
        cmd = [PYTHON, str(HOOK_TIMER), "--out", str(timings_path)]
        if not VARIANTS[variant]["hooks"]:
            cmd.append("--without-plugin")
        measured = run_child(cmd, project, env, log_path)
        measured["in_process"] = in_process_timings(timings_path)
        if measured["rc"] != 0:
            fail_with_log(f"variant {variant} at {rows} rows exited {measured['rc']}", log_path)
        found = read_back(project, variant)
        if found["run_id"] in seen_run_ids:
            raise SystemExit(f"stale MLflow store: run {found['run_id']} seen twice")
        seen_run_ids.add(found["run_id"])
        problems = check_variant(variant, found)
        if problems:
            fail_with_log(f"variant {variant} at {rows} rows: {'; '.join(problems)}", log_path)
        return {**measured, **found}

    if warmup:
        rows = sizes[0]
        csv = generate_csv(workdir, rows)
        for variant, project in projects.items():
            link_input(project, csv)
            one_run(variant, rows, "warmup")
        log("warm-up runs done (not counted)")

    for rows in sizes:
        csv = generate_csv(workdir, rows)
        warm_page_cache(csv)
        for project in projects.values():
            link_input(project, csv)
        per_variant: dict[str, list[dict[str, Any]]] = {variant: [] for variant in VARIANTS}
        for repeat in range(repeats):
            for variant in VARIANTS:
                measured = one_run(variant, rows, str(repeat))
                per_variant[variant].append(measured)
                log(
                    f"{size_label(rows):>5} rows  {variant}  run {repeat + 1}/{repeats}: "
                    f"{measured['wall_s']:6.2f} s  {measured['maxrss_mb']:7.1f} MB"
                    + (
                        f"  dry run {measured['report']['seconds'].get('total', 0):.3f} s"
                        if "report" in measured
                        else ""
                    )
                )
        results["sizes"][str(rows)] = summarize_size(rows, per_variant)
        progress(results)
    return results


def in_process_timings(path: Path) -> dict[str, float]:
    """The plugin's hooks and MLflow's ``log_model``, as ``hook_timer.py`` timed them."""
    timings = json.loads(path.read_text()) if path.exists() else {}
    return {
        "plugin_hooks_s": sum(
            seconds for label, (seconds, _) in timings.items() if label.startswith("dryrun ")
        ),
        "log_model_s": timings.get(LOG_MODEL_LABEL, [0.0])[0],
        "validation_s": timings.get(VALIDATION_LABEL, [0.0])[0],
    }


def summarize_size(rows: int, per_variant: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {"rows": rows, "runs": per_variant, "median": {}}
    for variant, runs in per_variant.items():
        summary["median"][variant] = {
            "wall_s": median([run["wall_s"] for run in runs]),
            "maxrss_mb": median([run["maxrss_mb"] for run in runs]),
            "cpu_s": median([run["cpu_s"] for run in runs]),
        }
    med = summary["median"]
    summary["a_over_b"] = ratio(med["a"]["wall_s"], med["b"]["wall_s"])
    summary["a_over_c"] = ratio(med["a"]["wall_s"], med["c"]["wall_s"])
    summary["a_minus_b_s"] = med["a"]["wall_s"] - med["b"]["wall_s"]
    summary["paired_a_over_b"] = median(
        [a["wall_s"] / b["wall_s"] for a, b in zip(per_variant["a"], per_variant["b"], strict=True)]
    )
    summary["paired_a_over_c"] = median(
        [a["wall_s"] / c["wall_s"] for a, c in zip(per_variant["a"], per_variant["c"], strict=True)]
    )
    summary["cpu_a_over_b"] = ratio(med["a"]["cpu_s"], med["b"]["cpu_s"])
    summary["cpu_a_over_c"] = ratio(med["a"]["cpu_s"], med["c"]["cpu_s"])
    summary["rss_a_over_b"] = ratio(med["a"]["maxrss_mb"], med["b"]["maxrss_mb"])
    summary["rss_c_over_b"] = ratio(med["c"]["maxrss_mb"], med["b"]["maxrss_mb"])
    # The plugin's own time, timed inside the process: its hooks, plus MLflow's check of
    # the input example it hands to log_model (a model load and a predict).
    in_process = [run["in_process"] for run in per_variant["a"]]
    log_model = {
        variant: median([run["in_process"]["log_model_s"] for run in per_variant[variant]])
        for variant in ("a", "b")
    }
    summary["plugin_hooks_s"] = median([timed["plugin_hooks_s"] for timed in in_process])
    summary["validation_s"] = median([timed["validation_s"] for timed in in_process])
    summary["log_model_added_s"] = log_model["a"] - log_model["b"]
    summary["attributed_s"] = median(
        [timed["plugin_hooks_s"] + timed["validation_s"] for timed in in_process]
    )
    summary["attributed_a_over_b"] = 1 + summary["attributed_s"] / med["b"]["wall_s"]
    summary["a_minus_b_95ci_s"] = bootstrap_median_diff(
        [run["wall_s"] for run in per_variant["a"]], [run["wall_s"] for run in per_variant["b"]]
    )
    reports = [run["report"]["seconds"] for run in per_variant["a"] if "report" in run]
    summary["dryrun_seconds"] = {
        stage: median([seconds[stage] for seconds in reports if stage in seconds])
        for stage in stage_names(reports)
    }
    return summary


def stage_names(reports: Iterable[dict[str, Any]]) -> list[str]:
    """The report's stages, known ones first; later versions of the plugin may add some."""
    names = list(STAGES)
    for seconds in reports:
        names += [stage for stage in seconds if stage not in names]
    return names


# --------------------------------------------------------------------- start-up


def parse_importtime(stderr: str) -> dict[str, Any]:
    """Self time of every module imported after the mark, ours apart."""
    after = stderr.split(IMPORT_MARK, 1)[1] if IMPORT_MARK in stderr else ""
    ours_us = added_us = 0
    ours_modules, added_modules = [], []
    for line in after.splitlines():
        match = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
        if not match:
            continue
        self_us, module = int(match.group(1)), match.group(4)
        added_us += self_us
        added_modules.append(module)
        if module.split(".")[0] == PLUGIN_MODULE:
            ours_us += self_us
            ours_modules.append(module)
    return {
        "ours_ms": ours_us / 1000,
        "added_ms": added_us / 1000,
        "ours_modules": ours_modules,
        "added_modules": added_modules,
    }


def bench_importtime(workdir: Path, targets: Sequence[str], repeats: int) -> dict[str, Any]:
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in PREIMPORTS)
        + f"sys.stderr.write('{IMPORT_MARK}\\n'); sys.stderr.flush()\n"
        + "".join(f"import {module}\n" for module in targets)
    )
    samples = []
    for attempt in range(repeats + 1):  # the first one compiles the snapshot's .pyc
        proc = subprocess.run(
            [PYTHON, "-X", "importtime", "-c", code],
            env=child_env(),
            capture_output=True,
            text=True,
            check=True,
            cwd=workdir,  # not the repository, whose plugin folder would shadow the snapshot
        )
        if attempt:
            samples.append(parse_importtime(proc.stderr))
    return {
        "targets": list(targets),
        "preimported": list(PREIMPORTS),
        "ours_ms": [s["ours_ms"] for s in samples],
        "added_ms": [s["added_ms"] for s in samples],
        "median_ours_ms": median([s["ours_ms"] for s in samples]),
        "median_added_ms": median([s["added_ms"] for s in samples]),
        "our_modules": samples[-1]["ours_modules"],
        "other_modules_added": [
            m for m in samples[-1]["added_modules"] if m.split(".")[0] != PLUGIN_MODULE
        ],
    }


def bench_startup(workdir: Path, repeats: int, import_repeats: int) -> dict[str, Any]:
    project = workdir / "project_a"
    if not project.exists():
        project = make_project(workdir, "a")
    commands = {"kedro run --help": ["run", "--help"], "kedro info": ["info"]}

    # Sanity: the launcher really shows / hides the plugin.
    shown = subprocess.run(
        [PYTHON, "-c", LAUNCHER, "run", "--help"],
        cwd=project,
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    hidden = subprocess.run(
        [PYTHON, "-c", LAUNCHER, "run", "--help"],
        cwd=project,
        env=child_env(KMD_BENCH_HIDE_PLUGIN="1"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "--no-output-schema" not in shown or "--no-output-schema" in hidden:
        raise SystemExit("the launcher does not show/hide the plugin's run command as expected")

    results: dict[str, Any] = {
        "method": (
            "whole process, `python -c LAUNCHER <args>` in the example project; LAUNCHER "
            "filters importlib.metadata.entry_points, dropping the plugin's entry points "
            "only in the 'hidden' case"
        ),
        "commands": {},
    }
    for name, args in commands.items():
        cases = [
            ("plugin", [PYTHON, "-c", LAUNCHER, *args], child_env()),
            ("hidden", [PYTHON, "-c", LAUNCHER, *args], child_env(KMD_BENCH_HIDE_PLUGIN="1")),
        ]
        if name == "kedro run --help":
            cases.append(("python -m kedro", [PYTHON, "-m", "kedro", *args], child_env()))
        times: dict[str, list[float]] = {case[0]: [] for case in cases}
        cpu: dict[str, list[float]] = {case[0]: [] for case in cases}
        for repeat in range(repeats + 1):  # the first round is a warm-up
            for case, cmd, env in cases:
                measured = run_child(cmd, project, env)
                if measured["rc"] != 0:
                    raise SystemExit(f"{' '.join(cmd[-len(args) :])} exited {measured['rc']}")
                if repeat:
                    times[case].append(measured["wall_s"])
                    cpu[case].append(measured["cpu_s"])
        low, high = bootstrap_median_diff(times["plugin"], times["hidden"])
        results["commands"][name] = {
            "seconds": times,
            "median_plugin_s": median(times["plugin"]),
            "median_hidden_s": median(times["hidden"]),
            "median_python_m_kedro_s": median(times.get("python -m kedro", [])),
            "added_ms": (median(times["plugin"]) - median(times["hidden"])) * 1000,
            "added_ms_95ci": [low * 1000, high * 1000],
            "cpu_seconds": cpu,
            "added_cpu_ms": (median(cpu["plugin"]) - median(cpu["hidden"])) * 1000,
            "added_cpu_ms_95ci": [
                value * 1000 for value in bootstrap_median_diff(cpu["plugin"], cpu["hidden"])
            ],
        }
        log(
            f"start-up {name}: plugin {median(times['plugin']):.3f} s, hidden "
            f"{median(times['hidden']):.3f} s, +{results['commands'][name]['added_ms']:.1f} ms"
        )
    results["importtime_cli"] = bench_importtime(workdir, [f"{PLUGIN_MODULE}.cli"], import_repeats)
    results["importtime_cli_and_hooks"] = bench_importtime(
        workdir, [f"{PLUGIN_MODULE}.cli", f"{PLUGIN_MODULE}.hooks"], import_repeats
    )
    log(
        "importtime: cli {:.1f} ms (all added {:.1f} ms), cli+hooks {:.1f} ms (all added "
        "{:.1f} ms)".format(
            results["importtime_cli"]["median_ours_ms"],
            results["importtime_cli"]["median_added_ms"],
            results["importtime_cli_and_hooks"]["median_ours_ms"],
            results["importtime_cli_and_hooks"]["median_added_ms"],
        )
    )
    return results


# ---------------------------------------------------------------- partial reads


def bench_partial(workdir: Path, sizes: list[int], repeats: int, sample_size: int) -> dict:
    """Times ``read_partial``; every round reads each size once, so drifts hit all alike."""
    import pandas as pd
    from kedro.io import DataCatalog
    from kedro_datasets.pandas import CSVDataset, ParquetDataset

    from kedro_mlflow_dryrun.sample import PARTIAL_READ, read_partial

    kinds = ("CSVDataset", "ParquetDataset")
    cases: dict[tuple[str, int], Any] = {}
    files: dict[tuple[str, int], Path] = {}
    for rows in sizes:
        csv = generate_csv(workdir, rows)
        parquet = workdir / "data" / f"houses_{rows}.parquet"
        if not parquet.exists():
            # Written as a user would: kedro-datasets' ParquetDataset, pyarrow's defaults.
            ParquetDataset(filepath=str(parquet)).save(pd.read_csv(csv))
        for kind, dataset, path in (
            ("CSVDataset", CSVDataset(filepath=str(csv)), csv),
            ("ParquetDataset", ParquetDataset(filepath=str(parquet)), parquet),
        ):
            catalog = DataCatalog({"houses": dataset})
            sample = read_partial(catalog, "houses", sample_size)
            if sample.source != PARTIAL_READ or sample.rows != min(sample_size, rows):
                raise SystemExit(f"read_partial of {kind}: {sample.source}, {sample.rows} rows")
            cases[(kind, rows)], files[(kind, rows)] = catalog, path

    partial: dict[tuple[str, int], list[float]] = {key: [] for key in cases}
    for round_ in range(repeats + 1):  # round 0 is a warm-up
        for key, catalog in cases.items():
            start = time.perf_counter()
            read_partial(catalog, "houses", sample_size)
            if round_:
                partial[key].append(time.perf_counter() - start)

    results: dict[str, Any] = {"sample_size": sample_size, "sizes": {}}
    for (kind, rows), catalog in cases.items():
        dataset = catalog.get("houses")
        full = []
        for _ in range(1 if rows >= 1_000_000 else 3):
            start = time.perf_counter()
            dataset.load()
            full.append(time.perf_counter() - start)
        results["sizes"].setdefault(str(rows), {})[kind] = {
            "partial_s": partial[(kind, rows)],
            "median_partial_ms": median(partial[(kind, rows)]) * 1000,
            "full_load_s": median(full),
            "file_mb": files[(kind, rows)].stat().st_size / 1e6,
        }
        log(
            f"read_partial {kind} {size_label(rows)} rows: "
            f"{median(partial[(kind, rows)]) * 1000:.2f} ms (full load {median(full):.2f} s)"
        )

    def ratios(numerator: int, denominator: int) -> dict[str, float | None]:
        return {
            kind: ratio(
                results["sizes"][str(numerator)][kind]["median_partial_ms"],
                results["sizes"][str(denominator)][kind]["median_partial_ms"],
            )
            for kind in kinds
        }

    results["ratio_large_over_small"] = ratios(sizes[-1], sizes[0])
    if len(sizes) > 2:
        results["ratio_large_over_next"] = {"from": sizes[-2], **ratios(sizes[-1], sizes[-2])}
    return results


# ---------------------------------------------------------------------- report


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    targets = []

    def add(name: str, value: float | None, limit: float, unit: str = "") -> None:
        targets.append(
            {
                "target": name,
                "value": value,
                "limit": limit,
                "unit": unit,
                "met": None if value is None else value <= limit,
            }
        )

    runs = results.get("runs")
    if runs:
        for rows in TARGET_SIZES:
            size = runs["sizes"].get(str(rows))
            if not size:
                continue
            label = size_label(rows)
            add(f"{label}: wall a/b", size["a_over_b"], TARGET_A_OVER_B)
            add(f"{label}: CPU a/b", size["cpu_a_over_b"], TARGET_A_OVER_B)
            add(
                f"{label}: attributed a/b (in-process)",
                size["attributed_a_over_b"],
                TARGET_A_OVER_B,
            )
            add(f"{label}: wall a/c", size["a_over_c"], TARGET_A_OVER_C)
            add(f"{label}: CPU a/c", size["cpu_a_over_c"], TARGET_A_OVER_C)
            add(f"{label}: peak RSS a/b", size["rss_a_over_b"], TARGET_RSS_A_OVER_B)
        growth = runs.get("dryrun_growth")
        if growth and growth["ratio"] is not None:
            add(
                f"dry-run total {size_label(growth['from'])} -> {size_label(growth['to'])}",
                growth["ratio"],
                TARGET_DRYRUN_GROWTH,
                "x",
            )
    startup = results.get("startup")
    if startup:
        add(
            "`kedro run --help` added by the plugin (whole process, wall)",
            startup["commands"]["kedro run --help"]["added_ms"],
            TARGET_STARTUP_MS,
            "ms",
        )
        add(
            "`kedro run --help` added by the plugin (whole process, CPU)",
            startup["commands"]["kedro run --help"]["added_cpu_ms"],
            TARGET_STARTUP_MS,
            "ms",
        )
        add(
            "`kedro run --help`: plugin modules' import (importtime)",
            startup["importtime_cli"]["median_ours_ms"],
            TARGET_STARTUP_MS,
            "ms",
        )
    partial = results.get("partial")
    if partial and len(partial["sizes"]) > 1:
        sizes = sorted(int(rows) for rows in partial["sizes"])
        for kind, value in partial["ratio_large_over_small"].items():
            add(
                f"read_partial {kind} {size_label(sizes[-1])}/{size_label(sizes[0])}",
                value,
                TARGET_PARTIAL_RATIO,
                "x",
            )
    return targets


def render(results: dict[str, Any]) -> str:
    out = []
    machine = results["machine"]
    packages = ", ".join(f"{name} {ver}" for name, ver in machine["packages"].items() if ver)
    out.append(
        f"Machine: {machine['cpu_count']} CPU ({machine['cpu_model']}), "
        f"{machine['ram_gb']} GB RAM, Python {machine['python']}, {machine['platform']}.  \n"
        f"Packages: {packages}.  \nCommit: {machine['git_commit']}."
    )
    runs = results.get("runs")
    if runs:
        repeats = results["args"]["repeats"]
        out.append(
            f"\n### `kedro run --pipeline=training`, median of {repeats} runs per variant\n\n"
            "a = plugin on (signature `auto`, answered from the 100-row sample); "
            "b = kedro-mlflow alone, `signature: None`; c = kedro-mlflow alone, "
            '`signature: "auto"` (reloads the whole input). Ratios are of medians, except '
            "paired a/b, the median of the a/b ratios of runs made one after the other; a/b and "
            "a/c are wall time, CPU a/b and CPU a/c are the child's user+sys time (less "
            "sensitive to other load on the machine). Peak RSS is the child's `ru_maxrss`.\n"
        )
        rows_out = []
        for size in runs["sizes"].values():
            med = size["median"]
            rows_out.append(
                [
                    f"{size['rows']:,}",
                    fmt(med["a"]["wall_s"], ".2f", " s"),
                    fmt(med["b"]["wall_s"], ".2f", " s"),
                    fmt(med["c"]["wall_s"], ".2f", " s"),
                    fmt(size["a_over_b"], ".3f"),
                    f"{size['a_minus_b_s']:+.2f} s",
                    fmt(size["paired_a_over_b"], ".3f"),
                    fmt(size["a_over_c"], ".3f"),
                    fmt(size["cpu_a_over_b"], ".3f"),
                    fmt(size["cpu_a_over_c"], ".3f"),
                    fmt(med["a"]["maxrss_mb"], ".0f", " MB"),
                    fmt(med["b"]["maxrss_mb"], ".0f", " MB"),
                    fmt(med["c"]["maxrss_mb"], ".0f", " MB"),
                    fmt(size["rss_a_over_b"], ".3f"),
                ]
            )
        out.append(
            markdown_table(
                [
                    "rows",
                    "wall a",
                    "wall b",
                    "wall c",
                    "a/b",
                    "a-b",
                    "paired a/b",
                    "a/c",
                    "CPU a/b",
                    "CPU a/c",
                    "peak RSS a",
                    "peak RSS b",
                    "peak RSS c",
                    "RSS a/b",
                ],
                rows_out,
            )
        )
        out.append(
            "\n### What the plugin adds to a run, timed inside the process (median, ms)\n\n"
            "Whole-process times on this shared machine vary by several tenths of a second "
            "from run to run, more than the plugin costs, so every run is also timed inside "
            "the process by `benchmarks/hook_timer.py`: the plugin's hooks (the dry run, "
            "recording, the serve check) and MLflow's validation of the input example the "
            "plugin hands to `log_model` (a model load and a predict). Attributed a/b = "
            "(wall b + plugin in all) / wall b. MLflow also predicts on the input example in "
            "the subprocess that infers the model's pip requirements; that is not in 'plugin "
            "in all', and hides in the spread of `log_model` a-b (the whole `log_model`, "
            "subprocess included).\n"
        )
        out.append(
            markdown_table(
                [
                    "rows",
                    "wall a-b (95% CI)",
                    "plugin's hooks",
                    "input example validation",
                    "log_model a-b",
                    "plugin in all",
                    "attributed a/b",
                ],
                [
                    [
                        f"{size['rows']:,}",
                        f"{size['a_minus_b_s'] * 1000:+.0f} "
                        f"({size['a_minus_b_95ci_s'][0] * 1000:+.0f} .. "
                        f"{size['a_minus_b_95ci_s'][1] * 1000:+.0f})",
                        fmt(size["plugin_hooks_s"] * 1000, ".0f"),
                        fmt(size["validation_s"] * 1000, ".0f"),
                        f"{size['log_model_added_s'] * 1000:+.0f}",
                        fmt(size["attributed_s"] * 1000, ".0f"),
                        fmt(size["attributed_a_over_b"], ".3f"),
                    ]
                    for size in runs["sizes"].values()
                ],
            )
        )
        out.append("\n### The dry run's own time (variant a, `dryrun/report.json`, median, ms)\n")
        stages = stage_names(size["dryrun_seconds"] for size in runs["sizes"].values())
        out.append(
            markdown_table(
                ["rows", *stages],
                [
                    [f"{size['rows']:,}"]
                    + [
                        fmt(
                            None
                            if size["dryrun_seconds"].get(stage) is None
                            else size["dryrun_seconds"][stage] * 1000,
                            ".1f",
                        )
                        for stage in stages
                    ]
                    for size in runs["sizes"].values()
                ],
            )
        )
        out.append(
            "\n`total` is what the report times as the dry run (sample, execute, check, "
            "infer); stages after it, if any, are timed apart by the plugin."
        )
        growth = runs.get("dryrun_growth")
        if growth:
            per_stage = ", ".join(
                f"{stage} x{fmt(value, '.2f')}" for stage, value in growth["per_stage"].items()
            )
            out.append(
                f"\nDry-run total from {growth['from']:,} to {growth['to']:,} rows: "
                f"x{fmt(growth['ratio'], '.2f')} (per stage: {per_stage})."
            )
    startup = results.get("startup")
    if startup:
        out.append("\n### Start-up\n")
        rows_out = []
        for name, command in startup["commands"].items():
            low, high = command["added_ms_95ci"]
            cpu_low, cpu_high = command["added_cpu_ms_95ci"]
            rows_out.append(
                [
                    f"`{name}`",
                    fmt(command["median_hidden_s"] * 1000, ".0f", " ms"),
                    fmt(command["median_plugin_s"] * 1000, ".0f", " ms"),
                    f"{command['added_ms']:+.0f} ms (95% CI {low:+.0f} .. {high:+.0f})",
                    f"{command['added_cpu_ms']:+.0f} ms (95% CI {cpu_low:+.0f} .. {cpu_high:+.0f})",
                    fmt(
                        command["median_python_m_kedro_s"]
                        and command["median_python_m_kedro_s"] * 1000,
                        ".0f",
                        " ms",
                    ),
                ]
            )
        out.append(
            markdown_table(
                [
                    f"command (median of {results['args']['startup_repeats']})",
                    "plugin hidden",
                    "plugin installed",
                    "added (wall)",
                    "added (CPU)",
                    "`python -m kedro`",
                ],
                rows_out,
            )
        )
        cli, both = startup["importtime_cli"], startup["importtime_cli_and_hooks"]
        out.append(
            f"\n`python -X importtime`, after importing what Kedro and kedro-mlflow import "
            f"anyway (median of {results['args']['import_repeats']}): the plugin's modules "
            f"take {cli['median_ours_ms']:.1f} ms for the CLI (`kedro run --help`) and "
            f"{both['median_ours_ms']:.1f} ms for CLI + hooks (`kedro run`); everything "
            f"newly imported, ours included: {cli['median_added_ms']:.1f} ms and "
            f"{both['median_added_ms']:.1f} ms."
        )
    partial = results.get("partial")
    if partial:
        out.append(
            f"\n### Fallback partial read: `read_partial(catalog, name, "
            f"{partial['sample_size']})`, median of {results['args']['partial_repeats']}\n"
        )
        rows_out = []
        for rows, entry in partial["sizes"].items():
            for kind, value in entry.items():
                rows_out.append(
                    [
                        kind,
                        f"{int(rows):,}",
                        f"{value['file_mb']:.1f} MB",
                        fmt(value["median_partial_ms"], ".2f", " ms"),
                        fmt(value["full_load_s"] * 1000, ".0f", " ms"),
                    ]
                )
        out.append(
            markdown_table(["dataset", "rows", "file", "read_partial", "full load()"], rows_out)
        )
        out.append(
            "\nLarge/small ratio: "
            + ", ".join(
                f"{kind} x{fmt(value, '.2f')}"
                for kind, value in partial["ratio_large_over_small"].items()
            )
            + "."
        )
        nxt = partial.get("ratio_large_over_next")
        if nxt:
            largest = max(int(rows) for rows in partial["sizes"])
            out.append(
                f"From {nxt['from']:,} to {largest:,} rows: "
                + ", ".join(
                    f"{kind} x{fmt(value, '.2f')}" for kind, value in nxt.items() if kind != "from"
                )
                + "."
            )
    targets = results.get("targets")
    if targets:
        out.append("\n### Targets of issue 5\n")
        out.append(
            markdown_table(
                ["target", "measured", "limit", "met"],
                [
                    [
                        target["target"],
                        fmt(
                            target["value"],
                            ".3f" if not target["unit"] else ".2f",
                            f" {target['unit']}" if target["unit"] else "",
                        ),
                        f"<= {target['limit']:g}{' ' + target['unit'] if target['unit'] else ''}",
                        {True: "yes", False: "**no**", None: "n/a"}[target["met"]],
                    ]
                    for target in targets
                ],
            )
        )
    return "\n".join(out)


# ------------------------------------------------------------------------ main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000,2000000",
        help="rows of the houses CSV, comma-separated",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant and size")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "latest.json"))
    parser.add_argument("--startup-repeats", type=int, default=15)
    parser.add_argument("--import-repeats", type=int, default=15)
    parser.add_argument(
        "--partial-sizes",
        default=None,
        help="rows for the read_partial benchmark (default: --sizes)",
    )
    parser.add_argument("--partial-repeats", type=int, default=31)
    parser.add_argument(
        "--no-warmup", action="store_true", help="skip the uncounted first run of each variant"
    )
    parser.add_argument(
        "--skip", default="", help="comma-separated parts to skip: runs,startup,partial"
    )
    parser.add_argument("--workdir", default=None, help="keep the projects and data here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.update(QUIET_ENV)
    sizes = sorted(int(size) for size in args.sizes.split(",") if size)
    partial_sizes = (
        sorted(int(size) for size in args.partial_sizes.split(",")) if args.partial_sizes else sizes
    )
    skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="kmd-bench-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"work dir {workdir}")
    plugin_source = snapshot_plugin(workdir)

    results: dict[str, Any] = {
        "issue": 5,
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "args": {
            "sizes": sizes,
            "repeats": args.repeats,
            "startup_repeats": args.startup_repeats,
            "import_repeats": args.import_repeats,
            "partial_sizes": partial_sizes,
            "partial_repeats": args.partial_repeats,
            "warmup": not args.no_warmup,
        },
        "machine": machine_info(),
        "plugin_source": plugin_source,
        "variants": {name: spec["label"] for name, spec in VARIANTS.items()},
    }
    start = time.perf_counter()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save_partial(runs: dict[str, Any]) -> None:
        partial_out = out.with_suffix(".partial.json")
        partial_out.write_text(json.dumps({**results, "runs": runs}, indent=2, default=str))

    try:
        if "runs" not in skip:
            runs = bench_runs(
                workdir, sizes, args.repeats, warmup=not args.no_warmup, progress=save_partial
            )
            first, last = runs["sizes"][str(sizes[0])], runs["sizes"][str(sizes[-1])]
            runs["dryrun_growth"] = {
                "from": sizes[0],
                "to": sizes[-1],
                "ratio": ratio(last["dryrun_seconds"]["total"], first["dryrun_seconds"]["total"]),
                "per_stage": {
                    stage: ratio(last["dryrun_seconds"].get(stage), value)
                    for stage, value in first["dryrun_seconds"].items()
                },
            }
            results["runs"] = runs
        if "startup" not in skip:
            results["startup"] = bench_startup(workdir, args.startup_repeats, args.import_repeats)
        if "partial" not in skip:
            results["partial"] = bench_partial(
                workdir, partial_sizes, args.partial_repeats, sample_size=100
            )
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    results["targets"] = evaluate_targets(results)
    results["elapsed_s"] = round(time.perf_counter() - start, 1)
    results["load_average_at_end"] = os.getloadavg()
    results["markdown"] = render(results)

    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    out.with_suffix(".partial.json").unlink(missing_ok=True)
    print(results["markdown"])
    print(f"\nResults written to {out} ({results['elapsed_s']:.0f} s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
