"""The scoring server's own app, as ``mlflow models serve`` builds it, answering in-process.

``mlflow.pyfunc.scoring_server.init(model)`` returns the FastAPI app that uvicorn
runs. It is driven here over ASGI: no socket, no port, no HTTP client (httpx is
not a dependency of MLflow). A request goes through everything the server puts
around the model: its middleware, its routing, its error replies, and the thread
(``asyncio.to_thread``) each request's ``predict`` runs in.
"""

from __future__ import annotations

import asyncio
import json
import threading
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kedro_mlflow_dryrun import compat, patches
from kedro_mlflow_dryrun.errors import ServingAppError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlflow.pyfunc import PyFuncModel

Message = MutableMapping[str, Any]
AsgiApp = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]

#: What ``init`` sets for the server's process; MLflow's type hints read it per request.
SERVING_ENVIRONMENT = "_MLFLOW_IS_IN_SERVING_ENVIRONMENT"
_JSON = [(b"content-type", b"application/json")]


@dataclass(frozen=True)
class Reply:
    """What a client of ``mlflow models serve`` gets back for one request."""

    status: int
    text: str
    #: What the model returned, when it returned.
    output: object = None
    #: Why the server did not answer 200: the model raised (400), the request was
    #: refused (400), or the answer could not be written as JSON (500).
    error: Exception | None = None
    #: The model's ``predict`` returned (the server may still fail to write its answer).
    answered: bool = False
    #: The exception came out of the model's own code, past schema enforcement (a nested
    #: pyfunc model's ``MlflowException``, which the server passes on as it passes a
    #: refused request).
    raised_in_model: bool = False

    @property
    def model_raised(self) -> bool:
        """The model's ``predict`` raised: the server's 400 for any exception, or the
        model's own ``MlflowException`` passed on."""
        return self.raised_in_model or (self.status == 400 and _MODEL_RAISED in self.text)


_MODEL_RAISED = "Encountered an unexpected error while evaluating the model"


@dataclass
class _Request:
    """What the model did for one request, kept while the app answers it."""

    answered: bool = False
    output: object = None
    error: Exception | None = None
    raised_in_model: bool = False


_request: ContextVar[_Request | None] = ContextVar("kedro_mlflow_dryrun_request", default=None)


class _RecordingModel:
    """Stands in for the model in the app: answers as it does, and keeps, for the request
    being answered, what it returned or raised (``asyncio.to_thread`` carries the request's
    context into the thread that runs ``predict``)."""

    def __init__(self, model: PyFuncModel) -> None:
        # Weak: the app, cached per model, must not keep a model of a GiB alive.
        self._model = weakref.ref(model)
        self.metadata = model.metadata

    def predict(self, data: object, params: dict[str, object] | None = None) -> object:
        request, model = _request.get(), self._model()
        assert model is not None, "the app outlived its model"
        try:
            output = model.predict(data, params=params)
        except Exception as error:
            if request is not None:
                request.error = error
                request.raised_in_model = _raised_inside(error, compat.model_implementation(model))
            raise
        if request is not None:
            request.answered, request.output = True, output
        return output


class ScoringApp:
    """The app of ``mlflow models serve`` for one loaded model; built once, asked many times.

    As under uvicorn, one event loop answers every request, in a thread of its own, and its
    thread pool runs the model's ``predict``: a request costs what the app adds, no new loop.
    """

    def __init__(self, app: AsgiApp) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        threading.Thread(
            target=_serve, args=(self._loop,), name="kedro-mlflow-dryrun scoring app", daemon=True
        ).start()
        weakref.finalize(self, self._loop.call_soon_threadsafe, self._loop.stop)

    @classmethod
    def build(cls, model: PyFuncModel) -> ScoringApp:
        """``scoring_server.init(model)``; an app that cannot be built is a failed serve check."""
        try:
            with patches.environment_variable(SERVING_ENVIRONMENT, "true"):
                app = compat.scoring_app(_RecordingModel(model))
        except Exception as error:
            versions = {name: compat.version(name) for name in ("mlflow", "fastapi", "starlette")}
            installed = ", ".join(f"{name} {number}" for name, number in versions.items())
            raise ServingAppError(
                "mlflow models serve cannot build its app for this model: "
                f"{type(error).__name__}: {error} ({installed}).\n"
                f"Fix: pin in the model's requirements (log_model_kwargs["
                f"'extra_pip_requirements']), and install here, the FastAPI and Starlette "
                f"mlflow {versions['mlflow']} was released with (Starlette 1.0 dropped "
                "app.route; FastAPI 0.164 and later require it), or upgrade MLflow."
            ) from error
        return cls(app)

    def post_concurrently(self, bodies: Sequence[str]) -> list[Reply]:
        """``POST /invocations`` with each JSON body, all at once, as clients of the server
        send them; answered as the server's thread pool answers them, in order."""

        async def all_at_once() -> list[Reply]:
            return list(await asyncio.gather(*(self._post(body) for body in bodies)))

        with patches.environment_variable(SERVING_ENVIRONMENT, "true"):
            return asyncio.run_coroutine_threadsafe(all_at_once(), self._loop).result()

    async def _post(self, body: str) -> Reply:
        request = _Request()
        _request.set(request)  # this task's context, which its predict thread inherits
        content = body.encode()
        answered = asyncio.Event()
        status, chunks = 500, [b"Internal Server Error"]
        scope: Message = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/invocations",
            "raw_path": b"/invocations",
            "root_path": "",
            "query_string": b"",
            "headers": [*_JSON, (b"content-length", str(len(content)).encode())],
            "client": None,
            "server": None,
        }
        sent_body = False

        async def receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": content, "more_body": False}
            await answered.wait()  # the client stays connected until it has the answer
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status, chunks
            if message["type"] == "http.response.start":
                status, chunks = message["status"], []
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    answered.set()

        raised = None
        try:
            await self._app(scope, receive, send)
        except Exception as unhandled:  # noqa: BLE001 - the server has answered it with a 500
            raised = unhandled
        finally:
            answered.set()
        text = b"".join(chunks).decode(errors="replace")
        cause = raised or request.error or (_reported(text) if status != 200 else None)
        return Reply(status, text, request.output, cause, request.answered, request.raised_in_model)


def _raised_inside(error: BaseException, implementation: object) -> bool:
    """Whether ``error`` came out of the model's implementation (past schema enforcement),
    read from its traceback's frames, as :func:`failing_node` reads the node."""
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_locals.get("self") is implementation:
            return True
        traceback = traceback.tb_next
    return False


def _reported(text: str) -> Exception:
    """The error a reply reports, when the request was refused before the model saw it."""
    from mlflow.exceptions import MlflowException

    try:
        message = json.loads(text).get("message", text)
    except (ValueError, AttributeError):
        message = text
    return MlflowException(str(message))


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    """The app's event loop, until its :class:`ScoringApp` is gone."""
    loop.run_forever()
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
