"""The tracking server's answers that are no verdict on a model.

A request the server never answered, or answered with 401 or 403, says nothing about
the model: it is reported as such (status ``error``), never as "No logged model" or as
a model that cannot load. Messages never carry a credential: a tracking URI's
``user:password@`` is cut out of every text built from MLflow's errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kedro_mlflow_dryrun.errors import TrackingServerError

#: ``scheme://user:password@host``: what a message must never show.
_USERINFO = re.compile(r"(?<=://)[^/@\s'\"]+@")
_CREDENTIALS_FIX = (
    "Fix: set the user and password in the entry of conf/<env>/credentials.yml that "
    "server.credentials of conf/<env>/mlflow.yml names (keys MLFLOW_TRACKING_USERNAME, "
    "MLFLOW_TRACKING_PASSWORD), as kedro-mlflow reads them."
)


def redact(text: str) -> str:
    """``text`` without the user and password of any URL in it."""
    return _USERINFO.sub("***@", text)


def server_error(error: BaseException, what: str) -> TrackingServerError | None:
    """What ``error`` means when it is the tracking server's answer rather than the
    model's: not reached, credentials refused, access denied; ``None`` for anything else."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import Timeout

    server = redact(mlflow.get_tracking_uri())
    unreachable = (RequestsConnectionError, Timeout, ConnectionError, TimeoutError)
    if any(isinstance(link, unreachable) for link in _chain(error)):
        return TrackingServerError(
            f"The tracking server {server} did not answer while reading {what}: "
            f"{redact(str(error))}\n"
            "Fix: start it, or point server.mlflow_tracking_uri in conf/<env>/mlflow.yml at "
            "one that runs (MLflow retries first: MLFLOW_HTTP_REQUEST_MAX_RETRIES and "
            "MLFLOW_HTTP_REQUEST_TIMEOUT bound the wait)."
        )
    status = error.get_http_status_code() if isinstance(error, MlflowException) else None
    if status == 401:
        return TrackingServerError(
            f"The tracking server {server} refused the credentials (HTTP 401) while reading "
            f"{what}.\n{_CREDENTIALS_FIX}"
        )
    if status == 403:
        return TrackingServerError(
            f"The tracking server {server} denied access to {what} (HTTP 403): the user of "
            "the credentials may not read it, or it does not exist.\n"
            "Fix: check the URI, and ask an admin of the server for READ permission on it."
        )
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and every exception it was raised from or while handling."""
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__
