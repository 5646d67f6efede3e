"""``kedro run`` with one more flag, ``--no-output-schema``; every other option is Kedro's."""

from __future__ import annotations

from typing import Any

import click
from kedro.framework.cli.project import run as kedro_run

from kedro_mlflow_dryrun.errors import DryRunFailed

NO_OUTPUT_SCHEMA_HELP = (
    "Skip the kedro-mlflow-dryrun check: the inference pipeline does not run and "
    "the logged model's signature has no output schema."
)


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
def run(no_output_schema: bool, **kedro_run_options: Any) -> Any:
    """The hook reads ``--no-output-schema`` from this command's click context."""
    try:
        return kedro_run.callback(**kedro_run_options)
    except DryRunFailed as failure:
        raise click.ClickException(str(failure)) from failure
