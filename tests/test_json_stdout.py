"""The ``kedro.init`` entry point diverts stdout for ``kedro dryrun --json`` alone.

Kedro runs it before every command: any other command keeps its stdout.
(``kedro dryrun --json`` end to end: tests/test_dryrun_command.py.)
"""

from __future__ import annotations

import pytest

from kedro_mlflow_dryrun.framework.json_stdout import asks_for_json


@pytest.mark.parametrize(
    "args",
    [["dryrun", "--json"], ["dryrun", "--model-uri", "models:/m-1", "--json", "--fresh"]],
)
def test_kedro_dryrun_json_is_diverted(args):
    assert asks_for_json(args)


@pytest.mark.parametrize(
    "args",
    [[], ["run", "--json"], ["dryrun"], ["--help"], ["dryrun", "--params", "a=1", "--", "--json"]],
)
def test_every_other_command_keeps_its_stdout(args):
    assert not asks_for_json(args)
