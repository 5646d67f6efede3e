#!/usr/bin/env python
"""Where a ``kedro run`` spends its time in the hooks, measured in-process.

Whole-process wall times on a shared machine vary by a second or more from run
to run; the plugin's own cost is a tenth of that. This runs
``kedro run --pipeline=training`` once, in this process, in the current
directory (a Kedro project), with a timer around each hook of kedro-mlflow-dryrun
and kedro-mlflow and around the MLflow calls they make, and prints the totals::

    cd /path/to/project && python /path/to/benchmarks/hook_timer.py [--out timings.json]

``benchmarks/run_benchmarks.py --workdir DIR`` leaves the projects it ran in DIR
(``project_a*`` with the plugin, ``project_b*``/``project_c*`` without). The dry run's
own stages are timed by its engine, into ``dryrun/report.json`` (``seconds``).
"""

from __future__ import annotations

import argparse
import atexit
import functools
import inspect
import json
import sys
import time
from collections.abc import Callable, Generator
from typing import Any

START = time.perf_counter()
TIMINGS: dict[str, list[float]] = {}


def _add(label: str, seconds: float) -> None:
    entry = TIMINGS.setdefault(label, [0.0, 0])
    entry[0] += seconds
    entry[1] += 1


def timed(owner: Any, name: str, label: str) -> None:
    original = getattr(owner, name, None)
    if original is None:
        return
    if inspect.isgeneratorfunction(original):
        setattr(owner, name, _timed_wrapper(original, label))
        return

    @functools.wraps(original)  # keeps the hook markers and the signature pluggy reads
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            _add(label, time.perf_counter() - start)

    setattr(owner, name, wrapper)


def _timed_wrapper(original: Callable[..., Generator], label: str) -> Callable[..., Generator]:
    """A pluggy ``wrapper=True`` hook: its own steps count, not the hooks it wraps."""

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Generator:
        generator = original(*args, **kwargs)
        spent, step = 0.0, functools.partial(next, generator)
        try:
            while True:
                start = time.perf_counter()
                try:
                    value = step()
                except StopIteration as stop:
                    return stop.value
                finally:
                    spent += time.perf_counter() - start
                try:
                    sent = yield value
                except BaseException as error:  # noqa: BLE001 - handed on to the hook
                    step = functools.partial(generator.throw, error)
                else:
                    step = functools.partial(generator.send, sent)
        finally:
            _add(label, spent)

    return wrapper


def instrument(plugin: bool) -> None:
    import kedro_mlflow.framework.hooks.mlflow_hook  # noqa: F401
    import mlflow.models.signature
    import mlflow.models.utils
    import mlflow.pyfunc

    mlflow_hook = sys.modules["kedro_mlflow.framework.hooks.mlflow_hook"]
    for name in ("after_context_created", "before_pipeline_run", "before_node_run"):
        timed(mlflow_hook.MlflowHook, name, f"kedro-mlflow {name}")
    timed(mlflow_hook.MlflowHook, "after_pipeline_run", "kedro-mlflow after_pipeline_run")
    timed(mlflow.pyfunc, "log_model", "  mlflow.pyfunc.log_model")
    timed(mlflow.pyfunc, "load_model", "  mlflow.pyfunc.load_model")
    timed(mlflow.models.utils, "_validate_serving_input", "    mlflow validates input_example")
    timed(mlflow.models.signature, "infer_signature", "  mlflow infer_signature")
    mlflow_hook.infer_signature = mlflow.models.signature.infer_signature

    if not plugin:
        return
    # The dry run's stages are timed by the engine itself, into dryrun/report.json.
    from kedro_mlflow_dryrun.framework.hooks import DryRunHook

    for name in (
        "after_context_created",
        "before_pipeline_run",
        "after_dataset_loaded",
        "after_dataset_saved",
        "after_pipeline_run",
    ):
        timed(DryRunHook, name, f"dryrun {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="write the timings as JSON")
    parser.add_argument(
        "--without-plugin",
        action="store_true",
        help="do not import kedro_mlflow_dryrun (its hooks are off in this project)",
    )
    args = parser.parse_args()
    instrument(plugin=not args.without_plugin)

    def report() -> None:
        TIMINGS["whole run (in-process)"] = [time.perf_counter() - START, 1]
        for label, (seconds, calls) in TIMINGS.items():
            print(f"{label:45s} {seconds * 1000:9.1f} ms  ({calls} call(s))", file=sys.stderr)
        if args.out:
            with open(args.out, "w") as out:
                json.dump(TIMINGS, out, indent=2)

    atexit.register(report)
    sys.argv = ["kedro", "run", "--pipeline=training"]
    from kedro.framework.cli import main as kedro_main

    kedro_main()


if __name__ == "__main__":
    main()
