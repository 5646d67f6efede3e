"""``kedro dryrun --json``: stdout carries the report alone, from the plugins' start on.

Kedro's CLI runs the ``kedro.init`` entry points (``_init_plugins()`` in
``kedro/framework/cli/cli.py``) before it finds the project, bootstraps it and loads
the plugins' commands, whose lines (a plugin warning as it is imported, say) would
come before the command's own redirect. :func:`init` is such an entry point: for
``kedro dryrun --json`` it points descriptor 1 and ``sys.stdout`` at stderr for the
rest of the process, whatever logging configuration follows, and keeps the real
stdout for :func:`write_report`. Every other command is left untouched.

One line comes earlier and stays on stdout: Kedro 1.7 logs "Using '…' as logging
configuration" while ``kedro.framework.cli`` is imported (``kedro.framework.project``
configures logging at import), before any entry point runs. ``KEDRO_LOGGING_CONFIG``
pointing at a configuration that writes to stderr moves it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

#: The process's real stdout, kept for the report once :func:`init` diverted descriptor 1.
_report_descriptor: int | None = None


def init() -> None:
    """The ``kedro.init`` entry point: runs before Kedro configures logging."""
    global _report_descriptor
    if _report_descriptor is not None or not asks_for_json(sys.argv[1:]):
        return
    try:
        sys.stdout.flush()
        _report_descriptor = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no descriptors (an embedding host): the command redirects what it can
        return
    sys.stdout = sys.stderr


def asks_for_json(args: Sequence[str]) -> bool:
    """``kedro dryrun ... --json``: the command first, the flag before any ``--``."""
    options = list(args[: list(args).index("--")] if "--" in args else args)
    command = next((arg for arg in options if not arg.startswith("-")), None)
    return command == "dryrun" and "--json" in options


def write_report(text: str) -> None:
    """``text`` on the real stdout: the descriptor :func:`init` kept, else ``sys.stdout``."""
    if _report_descriptor is None:
        click.echo(text)
        return
    with open(_report_descriptor, "w", closefd=False, encoding="utf-8") as stdout:
        stdout.write(text + "\n")
