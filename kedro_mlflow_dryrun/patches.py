"""Process-wide changes the dry run makes for a while, safe when dry runs overlap.

A patched MLflow name, an environment variable or a logger's level belongs to the
whole process: two dry runs in threads (a notebook, an orchestrator running two
pipelines) would each save what the other set and put it back last, leaving it
changed for good. Here the first caller to enter saves and changes, the last to
leave restores; whoever comes between finds the change made.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager

_lock = threading.Lock()
#: Per change in effect: how many callers are inside, and how to undo it.
_active: dict[Hashable, tuple[int, Callable[[], None]]] = {}


@contextmanager
def shared(key: Hashable, apply: Callable[[], Callable[[], None]]) -> Iterator[None]:
    """``apply()`` runs when the first caller enters; the undo it returns, when the last leaves."""
    with _lock:
        depth, undo = _active.get(key, (0, None))
        _active[key] = (depth + 1, undo or apply())
    try:
        yield
    finally:
        with _lock:
            depth, undo = _active.pop(key)
            if depth > 1:
                _active[key] = (depth - 1, undo)
            else:
                undo()


def attribute(owner: object, name: str, value: object) -> AbstractContextManager[None]:
    """``owner.name`` is ``value`` while any caller is inside."""

    def apply() -> Callable[[], None]:
        original = getattr(owner, name)
        setattr(owner, name, value)
        return lambda: setattr(owner, name, original)

    return shared(("attribute", id(owner), name), apply)


def environment_variable(name: str, value: str) -> AbstractContextManager[None]:
    """``os.environ[name]`` is ``value`` while any caller is inside."""

    def apply() -> Callable[[], None]:
        original = os.environ.get(name)
        os.environ[name] = value

        def undo() -> None:
            if original is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = original

        return undo

    return shared(("environ", name), apply)


@contextmanager
def logger_levels(names: tuple[str, ...], level: int) -> Iterator[None]:
    """The loggers ``names`` let through ``level`` and above only, while any caller is inside.

    One change per logger: a caller finding it lowered already leaves it as it is.
    """

    def lowered(logger: logging.Logger) -> Callable[[], Callable[[], None]]:
        def apply() -> Callable[[], None]:
            original = logger.level
            logger.setLevel(level)
            return lambda: logger.setLevel(original)

        return apply

    with ExitStack() as stack:
        for name in names:
            logger = logging.getLogger(name)
            stack.enter_context(shared(("logger", name), lowered(logger)))
        yield
