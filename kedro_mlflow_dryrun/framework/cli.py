"""``kedro run`` with one more flag, ``--no-output-schema``; every other option is Kedro's."""

from __future__ import annotations

import click
from kedro.framework.cli.project import run as kedro_run

from kedro_mlflow_dryrun.config import cli_overrides
from kedro_mlflow_dryrun.errors import DryRunError

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
