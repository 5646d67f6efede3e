"""The plugin's commands: ``kedro run`` with ``--no-output-schema``, and ``kedro dryrun``."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import click
from kedro.framework.cli.project import run as kedro_run

from kedro_mlflow_dryrun import patches
from kedro_mlflow_dryrun.config import EnvManager, cli_overrides
from kedro_mlflow_dryrun.errors import DryRunError
from kedro_mlflow_dryrun.framework.json_stdout import write_report
from kedro_mlflow_dryrun.report import ERROR, FAILED, DryRunReport

if TYPE_CHECKING:
    from kedro.framework.startup import ProjectMetadata
    from mlflow.models import ModelSignature

    from kedro_mlflow_dryrun.context import DryRunContext
    from kedro_mlflow_dryrun.framework.standalone import LoggedModelCheck

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

Both then send the model requests its input schema admits beyond the sample (one
row, small batches, unseen values; --explore N of them) and report what it answers
wrongly, each with the request that shows it.

Exit code 0: it would serve (or the check was skipped); 1: it would not (the reason
is printed); 2: it could not check (a tracking server that does not answer or refuses
the credentials, a model URI that names no model, a usage error, the plugin's own failure).

With --json, stdout holds the report alone, as JSON, whatever happens; every log line
goes to stderr. With --junit-xml PATH, the checks are also written there as JUnit XML,
one test case per check, whatever happens.
"""
#: ``kedro dryrun``'s exit code when there is no verdict on the model (1 is "would not serve").
COULD_NOT_CHECK = 2
NEEDS_MODEL_URI = "--set-signature, --input and --fresh need --model-uri."
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
@click.option(
    "--env-manager",
    "env_managers",
    type=click.Choice(get_args(EnvManager)),
    multiple=True,
    help=(
        "How the model is served (mlflow models serve --env-manager; repeat it for several): "
        "its environment is judged for that manager (env_manager in dryrun.yml; default "
        "virtualenv)."
    ),
)
@click.option(
    "--explore",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help=(
        "Requests generated from the input schema and sent to the model, after the check "
        "(explore in dryrun.yml; 0: none)."
    ),
)
@click.option(
    "--spark",
    is_flag=True,
    help=(
        "Also score the sample with mlflow.pyfunc.spark_udf on a SparkSession (a local one "
        "if none is active; spark_udf: always) and compare with the scoring server's answers."
    ),
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON, for CI.")
@click.option(
    "--junit-xml",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    metavar="PATH",
    help="Also write the checks as JUnit XML there, for a CI system's test view.",
)
@click.pass_obj
def dryrun(
    metadata: ProjectMetadata,
    pipeline: str | None,
    model_uri: str | None,
    set_signature: bool,
    input_file: Path | None,
    fresh: bool,
    explore: int | None,
    env_managers: tuple[str, ...],
    spark: bool,
    as_json: bool,
    junit_xml: Path | None,
    env: str | None,
    params: dict[str, Any],
) -> None:
    from kedro_mlflow_dryrun.adapters.tracking import redact
    from kedro_mlflow_dryrun.engine import could_not_check
    from kedro_mlflow_dryrun.framework.project import project_context
    from kedro_mlflow_dryrun.framework.standalone import check_logged_model, preflight

    context: DryRunContext | None = None
    check: LoggedModelCheck | None = None
    overrides: dict[str, object] = {"environment": "fresh"} if fresh else {}
    if explore is not None:
        overrides["explore"] = explore
    if spark:
        overrides["spark_udf"] = "always"
    if env_managers:
        overrides["env_manager"] = tuple(dict.fromkeys(env_managers))
    with _stdout_to_stderr(as_json):
        try:
            if not model_uri and (set_signature or input_file or fresh):
                raise click.UsageError(NEEDS_MODEL_URI)
            with cli_overrides(**overrides):
                project = project_context(metadata, env, params or None)
                if model_uri:
                    check = check_logged_model(
                        project,
                        model_uri,
                        pipeline,
                        input_file,
                        set_signature,
                        fresh,
                        audit=bool(env_managers),
                    )
                    context = check.context
                else:
                    context = preflight(project, pipeline)
            _log_verdict(context, fresh)
            report = context.report
        except (DryRunError, click.UsageError) as error:  # before any check: no verdict
            if isinstance(error, click.UsageError) and not as_json:
                raise
            report = DryRunReport()
            report.error(redact(str(error)))
        except Exception as error:
            logger.debug("kedro dryrun could not check the model", exc_info=True)
            report = DryRunReport()
            report.error(could_not_check("kedro dryrun", error, report.versions, training=False))
    if junit_xml is not None:
        from kedro_mlflow_dryrun.stages.record import write_junit

        write_junit(
            junit_xml, report, f"kedro dryrun{f' --model-uri {model_uri}' if model_uri else ''}"
        )
    if as_json:
        # An error's ``message`` stands beside the report's ``reason``: CI reads one key.
        message = {"message": report.reason} if report.errored else {}
        write_report(json.dumps({**report.to_dict(), **message}, indent=2, default=str))
    elif check is not None:
        _echo_signature(f"Signature of {check.model.describe()}:", check.signature_before)
        if check.signature_written is not None:
            _echo_signature("Signature written:", check.signature_written)
        elif report.passed:
            _echo_signature(
                "With its output schema (not written: add --set-signature):",
                check.context.signature,
            )
    elif context is not None and report.passed:
        _echo_signature("Signature a training run would log:", context.signature)
    _exit(report, context)


def _exit(report: DryRunReport, context: DryRunContext | None) -> None:
    """``Error: ...`` on stderr and exit code 2 when nothing could be checked; 1 when the
    model would not serve and ``on_failure: fail``; else 0."""
    from kedro_mlflow_dryrun import engine

    if report.errored:
        raise CouldNotCheck(report.reason or "")
    if context is not None:
        try:
            engine.raise_if_failed(context)
        except DryRunError as error:
            raise click.ClickException(str(error)) from error


class CouldNotCheck(click.ClickException):
    """No verdict on the model: exit code 2, apart from 1, "it would not serve"."""

    exit_code = COULD_NOT_CHECK


def _log_verdict(context: DryRunContext, fresh: bool) -> None:
    """The lines ``kedro run`` logs: the whole reason where no error message follows."""
    from kedro_mlflow_dryrun import engine

    report = context.report
    full_reason = not (report.errored or engine.raises(context))  # else Error: follows
    level = logging.WARNING if report.status in (FAILED, ERROR) else logging.INFO
    logger.log(level, report.summary(full_reason))
    if fresh and report.passed:
        logger.info(report.serve_summary(full_reason))
    logger.log(level, report.verdict(full_reason))


def _echo_signature(title: str, signature: ModelSignature | None) -> None:
    click.echo(title)
    if signature is None:
        click.echo("  none")
        return
    for part in ("inputs", "outputs", "params"):
        click.echo(f"  {part + ':':8} {getattr(signature, part)}")


@contextlib.contextmanager
def _stdout_to_stderr(active: bool) -> Iterator[None]:
    """With ``--json``, stdout is the report's alone: while the command runs, whatever
    else writes there goes to stderr, at the file descriptor.

    Redirecting ``sys.stdout`` alone is not enough: a ``StreamHandler`` of a project's
    ``conf/logging.yml`` holds the stream it was given, and MLflow's and Spark's child
    processes, and C code, write to descriptor 1.
    """
    if not active:
        yield
        return
    with _descriptor_to_stderr(), patches.attribute(sys, "stdout", sys.stderr):
        yield


def _descriptor_to_stderr() -> AbstractContextManager[None]:
    """Descriptor 1 writes where descriptor 2 does, while any caller is inside."""
    stdout, stderr = sys.stdout, sys.stderr

    def apply() -> Callable[[], None]:
        try:
            out, err = stdout.fileno(), stderr.fileno()
        except (AttributeError, OSError, ValueError):  # a test's buffers: no descriptor
            return lambda: None
        stdout.flush()
        saved = os.dup(out)
        os.dup2(err, out)

        def undo() -> None:
            stdout.flush()  # what a handler holding it wrote goes to stderr too
            os.dup2(saved, out)
            os.close(saved)

        return undo

    return patches.shared(("descriptor", 1), apply)
