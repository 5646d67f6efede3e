"""The plugin's commands: ``kedro run`` with ``--no-output-schema``, and ``kedro dryrun``."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from kedro.framework.cli.project import run as kedro_run

from kedro_mlflow_dryrun import patches
from kedro_mlflow_dryrun.config import cli_overrides
from kedro_mlflow_dryrun.errors import DryRunError
from kedro_mlflow_dryrun.report import ERROR, FAILED

if TYPE_CHECKING:
    from kedro.framework.startup import ProjectMetadata
    from mlflow.models import ModelSignature

    from kedro_mlflow_dryrun.context import DryRunContext

logger = logging.getLogger("kedro_mlflow_dryrun")

NO_OUTPUT_SCHEMA_HELP = (
    "Skip the kedro-mlflow-dryrun check: the inference pipeline does not run and "
    "the logged model's signature has no output schema."
)
DRYRUN_HELP = """Check the inference pipeline of a PipelineML without training.

Without --model-uri (pre-flight): runs the inference pipeline on the first rows of
its input with the artifacts the last training left in the catalog, and prints the
verdict and the signature a training run would log. It starts no MLflow run, needs
no tracking server and writes nothing.

With --model-uri: sends the sample to a logged model through the scoring server's
request path, checks its answer and infers its output schema; --set-signature writes
it into the model's signature (inputs and params kept).

Exit code 0: it would serve; 1: it would not (the reason is printed).
"""
#: The options ``kedro dryrun`` shares with ``kedro run``, with Kedro's own parsing.
_KEDRO_OPTIONS = ("env", "params")


@click.group(name="kedro-mlflow-dryrun")
def commands() -> None:
    """Commands of kedro-mlflow-dryrun."""


@commands.command(
    name="run",
    help=kedro_run.help,
    params=[
        *kedro_run.params,
        click.Option(["--no-output-schema"], is_flag=True, help=NO_OUTPUT_SCHEMA_HELP),
    ],
)
def run(no_output_schema: bool, **kedro_run_options: object) -> object:
    """The flag is an explicit override of the settings the hooks resolve.

    The plugin's errors (a failed check, a bad ``dryrun.yml``) already say what is
    wrong and how to fix it: they end the run as one ``Error:`` line, not a traceback.
    """
    overrides = {"enabled": False} if no_output_schema else {}
    try:
        with cli_overrides(**overrides):
            assert kedro_run.callback is not None
            return kedro_run.callback(**kedro_run_options)
    except DryRunError as error:
        raise click.ClickException(str(error)) from error


@commands.command(
    name="dryrun",
    help=DRYRUN_HELP,
    params=[param for param in kedro_run.params if param.name in _KEDRO_OPTIONS],
)
@click.option("--pipeline", "-p", default=None, help="The PipelineML to check, if several.")
@click.option(
    "--model-uri",
    default=None,
    metavar="URI",
    help=(
        "A logged model: models:/<model_id>, models:/<name>/<version>, models:/<name>@<alias> "
        "or runs:/<run_id>/<path>, on the tracking server of conf/<env>/mlflow.yml."
    ),
)
@click.option(
    "--set-signature",
    is_flag=True,
    help=(
        "With --model-uri: write the output schema into the model's signature, keeping its "
        "inputs and params."
    ),
)
@click.option(
    "--input",
    "input_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --model-uri: the sample, a CSV, Parquet or JSON-records file "
    "(default: the catalog's input of the PipelineML).",
)
@click.option(
    "--fresh",
    is_flag=True,
    help=(
        "With --model-uri: also check the model in a fresh environment built from its own "
        "requirements (environment: fresh), then serve it, as after training."
    ),
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON, for CI.")
@click.pass_obj
def dryrun(
    metadata: ProjectMetadata,
    pipeline: str | None,
    model_uri: str | None,
    set_signature: bool,
    input_file: Path | None,
    fresh: bool,
    as_json: bool,
    env: str | None,
    params: dict[str, Any],
) -> None:
    from kedro_mlflow_dryrun import engine
    from kedro_mlflow_dryrun.framework.project import project_context
    from kedro_mlflow_dryrun.framework.standalone import check_logged_model, preflight

    if not model_uri and (set_signature or input_file or fresh):
        raise click.UsageError("--set-signature, --input and --fresh need --model-uri.")
    overrides = {"environment": "fresh"} if fresh else {}
    try:
        with cli_overrides(**overrides), _report_only(as_json):
            project = project_context(metadata, env, params or None)
            if model_uri:
                check = check_logged_model(
                    project, model_uri, pipeline, input_file, set_signature, fresh
                )
                context = check.context
            else:
                context = preflight(project, pipeline)
            _log_verdict(context, fresh)
        if as_json:
            click.echo(json.dumps(context.report.to_dict(), indent=2, default=str))
        elif model_uri:
            _echo_signature(f"Signature of {check.model.describe()}:", check.signature_before)
            if check.signature_written is not None:
                _echo_signature("Signature written:", check.signature_written)
            elif context.report.passed:
                _echo_signature(
                    "With its output schema (not written: add --set-signature):",
                    context.signature,
                )
        elif context.report.passed:
            _echo_signature("Signature a training run would log:", context.signature)
        engine.raise_if_failed(context)
    except DryRunError as error:
        raise click.ClickException(str(error)) from error


def _log_verdict(context: DryRunContext, fresh: bool) -> None:
    """The lines ``kedro run`` logs: the whole reason where no error message follows."""
    from kedro_mlflow_dryrun import engine

    report, full_reason = context.report, not engine.raises(context)
    level = logging.WARNING if report.status in (FAILED, ERROR) else logging.INFO
    logger.log(level, report.summary(full_reason))
    if fresh and report.passed:
        logger.info(report.serve_summary(full_reason))


def _echo_signature(title: str, signature: ModelSignature | None) -> None:
    click.echo(title)
    if signature is None:
        click.echo("  none")
        return
    for part in ("inputs", "outputs", "params"):
        click.echo(f"  {part + ':':8} {getattr(signature, part)}")


@contextlib.contextmanager
def _report_only(as_json: bool) -> Iterator[None]:
    """With ``--json``, stdout holds the report alone: the plugin's lines are left out
    (the report has them) and anything else printed goes to stderr."""
    if not as_json:
        yield
        return
    with (
        patches.logger_levels((logger.name,), logging.ERROR),
        patches.attribute(sys, "stdout", sys.stderr),
    ):
        yield
