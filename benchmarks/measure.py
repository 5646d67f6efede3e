"""Running children and reading what they cost: wall time, peak RSS, medians, intervals.

Every child is started with the environment of a :class:`Children`: telemetry off,
the plugin imported from a snapshot (so that edits made to the work tree while the
benchmark runs do not mix two versions), bytecode cached in the work dir.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provenance import plugin_sha256

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
PLUGIN_MODULE = "kedro_mlflow_dryrun"
QUIET_ENV = {
    "KEDRO_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
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


def log(message: str) -> None:
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Children:
    """How every child process is started: the plugin from ``snapshot``, .pyc in ``pycache``."""

    snapshot: Path
    pycache: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {**os.environ, **QUIET_ENV, **extra}
        env.pop("MLFLOW_TRACKING_URI", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(self.pycache)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(
                None, [str(self.snapshot), extra.get("PYTHONPATH") or os.environ.get("PYTHONPATH")]
            )
        )
        return env


def snapshot_plugin(workdir: Path) -> tuple[Children, str]:
    """Copies the plugin's package; the editable install's finder comes after PYTHONPATH.

    Returns the children's settings and the hash of the source they run.
    """
    children = Children(snapshot=workdir / "plugin_snapshot", pycache=workdir / "pycache")
    package = children.snapshot / PLUGIN_MODULE
    shutil.copytree(REPO / PLUGIN_MODULE, package, ignore=shutil.ignore_patterns("__pycache__"))
    probe = subprocess.run(
        [PYTHON, "-c", f"import {PLUGIN_MODULE}; print({PLUGIN_MODULE}.__file__)"],
        env=children.env(),
        capture_output=True,
        text=True,
        check=True,
        cwd=workdir,
    ).stdout.strip()
    if not probe.startswith(str(children.snapshot)):
        raise SystemExit(f"children import the plugin from {probe}, not from the snapshot")
    return children, plugin_sha256(children.snapshot, PLUGIN_MODULE)


def run_child(
    cmd: Sequence[str], cwd: Path, env: dict[str, str], log_path: Path | None = None
) -> dict[str, Any]:
    """Runs one process; its wall time, peak RSS (its own and its children's) and exit code."""
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


def medians_of(runs: Sequence[dict[str, Any]], keys: Sequence[str]) -> dict[str, float | None]:
    return {key: median([run[key] for run in runs]) for key in keys}


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
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": mem_total_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
        "packages": versions,
    }


def kedro_training_run(project: Path, env: Mapping[str, str]) -> float:
    """Whole-process seconds of one ``kedro run --pipeline=training`` in ``project``; a run
    that fails ends the benchmark with its output."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipeline=training"],
        cwd=project,
        env=dict(env),
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"kedro run failed in {project}:\n{done.stdout}\n{done.stderr}")
    return seconds
