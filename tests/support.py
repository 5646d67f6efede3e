"""What the tests share: real Kedro projects, what MLflow shows of them, the engine's context.

Imported by the tests as ``support``; ``conftest.py`` only holds the fixtures.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

for _name, _value in {
    "KEDRO_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}.items():
    os.environ.setdefault(_name, _value)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "house_prices"
PACKAGE = "house_prices"


@dataclass
class RunResult:
    returncode: int
    output: str


@dataclass
class MlflowView:
    """What a user sees in MLflow after a training run."""

    run: Any
    models: list[Any]
    model_info: Any
    report: dict[str, Any] | None

    @property
    def signature(self) -> Any:
        return self.model_info.signature if self.model_info else None

    @property
    def tags(self) -> dict[str, str]:
        return self.run.data.tags


class Project:
    """A copy of the example project that a test may change before running it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.path / 'mlflow.db'}"

    def write(self, relative: str, text: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))

    def append(self, relative: str, text: str) -> None:
        with (self.path / relative).open("a") as file:
            file.write("\n" + textwrap.dedent(text))

    def set_catalog_entry(self, name: str, entry: str) -> None:
        """Declares ``name`` anew in ``conf/base/catalog.yml``, in place of its entry."""
        import yaml

        path = self.path / "conf/base/catalog.yml"
        catalog = yaml.safe_load(path.read_text())
        catalog[name] = yaml.safe_load(textwrap.dedent(entry))
        path.write_text(yaml.safe_dump(catalog, sort_keys=False))

    def override_node(self, source: str) -> None:
        """Redefines node functions: the pipelines pick up the last definition."""
        self.append(f"src/{PACKAGE}/pipelines/nodes.py", source)

    def made_with_installed_kedro(self) -> None:
        """Declares the installed Kedro as the one that made the project, as ``kedro new`` would.

        Kedro before 1.2 refuses a project made with another minor version, and the
        lowest-versions run of ``.ci/run`` installs Kedro 1.0.
        """
        import kedro

        path = self.path / "pyproject.toml"
        text = path.read_text()
        made_with = re.search(r'^kedro_init_version = "(.+)"$', text, re.MULTILINE)
        assert made_with, "the example's pyproject.toml names its kedro_init_version"
        if made_with[1].split(".")[:2] != kedro.__version__.split(".")[:2]:
            start, end = made_with.span(1)
            path.write_text(text[:start] + kedro.__version__ + text[end:])

    def set_dryrun(self, **settings: Any) -> None:
        self.write("conf/base/dryrun.yml", json.dumps(settings))

    def set_log_model_kwargs(self, expression: str) -> None:
        registry = self.path / f"src/{PACKAGE}/pipeline_registry.py"
        text = registry.read_text()
        start = text.index("log_model_kwargs=")
        end = text.index("\n", start)
        registry.write_text(text[:start] + f"log_model_kwargs={expression}," + text[end:])

    def kedro(self, *args: str, env: dict[str, str] | None = None) -> RunResult:
        """``kedro <args>`` in a subprocess, as a user types it."""
        completed = subprocess.run(
            [sys.executable, "-m", "kedro", *args],
            cwd=self.path,
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "250", **(env or {})},
            timeout=600,
        )
        return RunResult(completed.returncode, completed.stdout + completed.stderr)

    def mlflow_view(self) -> MlflowView:
        """The single run of the store, its logged models, signature and report."""
        import mlflow
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri)
        experiments = client.search_experiments()
        runs = client.search_runs([e.experiment_id for e in experiments])
        assert len(runs) == 1, f"expected one MLflow run, found {len(runs)}"
        run = runs[0]
        models = logged_models(client, run)
        model_info = None
        if models:
            mlflow.set_tracking_uri(self.tracking_uri)
            model_info = mlflow.models.get_model_info(f"models:/{models[0].model_id}")
        artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "dryrun")]
        report = None
        if "dryrun/report.json" in artifacts:
            local = mlflow.artifacts.download_artifacts(
                run_id=run.info.run_id,
                artifact_path="dryrun/report.json",
                tracking_uri=self.tracking_uri,
                dst_path=str(self.path.parent / "downloaded"),
            )
            report = json.loads(Path(local).read_text())
        return MlflowView(run=run, models=list(models), model_info=model_info, report=report)


def logged_models(client: Any, run: Any) -> list[Any]:
    """The models a run logged, found the way the plugin finds them."""
    from kedro_mlflow_dryrun.adapters.models import logged_models_of_run

    return logged_models_of_run(run.info.run_id, client, run.info.experiment_id)


def engine_context(
    inference: Any,
    catalog: Any,
    input_name: str,
    rows: Any,
    config: Any = None,
    signature: Any = "auto",
) -> Any:
    """The engine's context for an inference pipeline, as if training had loaded ``rows``."""
    from kedro_mlflow_dryrun.adapters.models import PipelineModel
    from kedro_mlflow_dryrun.config import DryRunConfig
    from kedro_mlflow_dryrun.context import DryRunContext
    from kedro_mlflow_dryrun.stages.sample import SampleCapture

    config = config or DryRunConfig()
    capture = SampleCapture(input_name, config.sample_size, config.sample_strategy)
    capture.offer(input_name, rows)
    model = PipelineModel(inference, catalog, input_name, signature=signature)
    return DryRunContext(
        config, model=model, input_name=input_name, catalog=catalog, captured=capture
    )


def output_context(output: Any, output_name: str = "predictions", config: Any = None) -> Any:
    """The context of an inference pipeline whose one node returns ``output``."""
    import pandas as pd
    from kedro.io import DataCatalog
    from kedro.pipeline import Pipeline, node

    def produce(rows: Any) -> Any:
        return output

    inference = Pipeline([node(produce, "rows", output_name, name="produce")])
    return engine_context(inference, DataCatalog(), "rows", pd.DataFrame({"x": [1]}), config)


def dry_run(context: Any) -> Any:
    """The stages that run before logging, as the hooks run them; returns the report."""
    from kedro_mlflow_dryrun.engine import before_logging, run_stages

    run_stages(context, before_logging(), total="total")
    return context.report
