"""Sending: requests to the served model through the scoring server's own app.

Every send is the model's own ``predict``, so sends are what explore costs; this is
where they are counted, and where ``explore_seconds``, a safety cap, stops them.
Requests sent at once are answered as the server's thread pool answers them
(``asyncio.to_thread``): the model's ``predict`` runs beside itself.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel

    from kedro_mlflow_dryrun.adapters.models import Reply


class OutOfTime(BaseException):
    """``explore_seconds`` reached, or the search called off: a BaseException, which
    hypothesis does not take for a failing example but lets through, ending the search."""


@dataclass
class Sender:
    """The served model, and what was sent to it."""

    model: PyFuncModel
    deadline: float
    sent: int = 0
    #: Set when nothing will read the search's findings (the dry run ended before).
    called_off: threading.Event = field(default_factory=threading.Event)

    def send(self, body: dict[str, Any]) -> Reply:
        """The server's reply to one request; past the deadline, :class:`OutOfTime`."""
        from kedro_mlflow_dryrun.adapters.models import reply

        self._in_time()
        self.sent += 1
        return reply(self.model, json.dumps(body, allow_nan=False))

    def send_concurrently(self, bodies: list[dict[str, Any]]) -> list[Reply]:
        """The server's replies to requests sent at once, in the order of ``bodies``."""
        from kedro_mlflow_dryrun.adapters.models import send_concurrently

        self._in_time()
        self.sent += len(bodies)
        return send_concurrently(self.model, [json.dumps(b, allow_nan=False) for b in bodies])

    def _in_time(self) -> None:
        if time.perf_counter() > self.deadline or self.called_off.is_set():
            raise OutOfTime


def decoded(answered: Reply) -> Any:
    """The predictions of a 200 answer; otherwise its text."""
    return json.loads(answered.text)["predictions"] if answered.status == 200 else answered.text
