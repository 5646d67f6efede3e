"""The plugin's log lines read in Kedro's default (rich) logging exactly as written."""

from __future__ import annotations

import io
import logging

import pytest
from kedro.logging import RichHandler
from rich.console import Console

import kedro_mlflow_dryrun  # noqa: F401 - installs the plain-text records

REPLAY = """Replay: curl -s -d '{"dataframe_split": {"data": [[null, 4, 76, "Nantes"]]}}'"""


@pytest.mark.parametrize("name", ["kedro_mlflow_dryrun", "kedro_mlflow_dryrun.stages.explore"])
def test_a_replay_command_keeps_its_brackets_under_kedros_rich_handler(name: str) -> None:
    """Kedro's RichHandler reads console markup by default: a request's rows in brackets
    would be taken for a style tag and dropped from the command a user pastes."""
    written = io.StringIO()
    handler = RichHandler(console=Console(file=written, width=300))
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        logger.warning(REPLAY)
    finally:
        logger.removeHandler(handler)
    assert '[[null, 4, 76, "Nantes"]]' in written.getvalue()


def test_other_loggers_keep_kedros_markup() -> None:
    written = io.StringIO()
    handler = RichHandler(console=Console(file=written, width=300))
    logger = logging.getLogger("kedro.some_project_module")
    logger.addHandler(handler)
    try:
        logger.warning("[bold]done[/bold]")
    finally:
        logger.removeHandler(handler)
    assert "[bold]" not in written.getvalue() and "done" in written.getvalue()
