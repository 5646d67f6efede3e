"""What the tests serve: a real ``mlflow server`` and ``mlflow models serve`` on a free
port of 127.0.0.1, each stopped with the workers it started."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_STARTUP_SECONDS = 120
SERVER_STOP_SECONDS = 15


@dataclass
class Server:
    url: str
    root: Path

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"


@contextmanager
def mlflow_server(root: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    """``mlflow server [args]`` on a free port of 127.0.0.1, serving its artifacts over HTTP,
    stopped with the workers it started."""
    command = [
        "server",
        *args,
        f"--backend-store-uri=sqlite:///{root / 'server.db'}",
        f"--artifacts-destination={root / 'artifacts'}",
    ]
    # No background job runner: the tests need none, and it is 4 more processes.
    environment = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})}
    with _serving(command, root, "server.log", environment) as url:
        yield Server(url=url, root=root)


@dataclass
class ServedModel:
    """A logged model as ``mlflow models serve`` answers it, over HTTP on 127.0.0.1."""

    url: str

    def post(self, body: dict[str, Any]) -> tuple[int, str]:
        """One ``/invocations`` request, as ``curl -d`` sends it: (HTTP status, body text)."""
        request = urllib.request.Request(
            f"{self.url}/invocations",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def post_concurrently(self, bodies: list[dict[str, Any]]) -> list[tuple[int, str]]:
        """The bodies sent at once, as ``xargs -P`` with ``curl`` would: answers in order."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(bodies) or 1) as pool:
            return list(pool.map(self.post, bodies))


@contextmanager
def models_serve(model_uri: str, tracking_uri: str, root: Path) -> Iterator[ServedModel]:
    """``mlflow models serve --env-manager local`` of ``model_uri`` on a free port, started
    from ``root`` (outside the project, ``PYTHONPATH`` unset), stopped with its workers."""
    root.mkdir(parents=True, exist_ok=True)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["MLFLOW_TRACKING_URI"] = tracking_uri
    # It starts ``uvicorn`` by name: this interpreter's scripts come first on PATH.
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    command = ["models", "serve", f"--model-uri={model_uri}", "--env-manager=local"]
    with _serving(command, root, "serve.log", environment) as url:
        yield ServedModel(url=url)


@contextmanager
def _serving(command: list[str], root: Path, log: str, env: dict[str, str]) -> Iterator[str]:
    """``mlflow <command>`` on a free port of 127.0.0.1, run from ``root`` with its output in
    ``root / log``: its URL once ``/health`` answers; then stopped with its workers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    address = ["--host=127.0.0.1", f"--port={port}", "--workers=1"]
    with (root / log).open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", *command, *address],
            cwd=root,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + SERVER_STARTUP_SECONDS
            while not _healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"mlflow {command[0]} did not start:\n{(root / log).read_text()}"
                    )
                time.sleep(0.25)
            yield url
        finally:
            _stop(process)


def free_port() -> int:
    """A port nothing listened on a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _stop(process: subprocess.Popen) -> None:
    """Stops the server and the workers it started: its own process group."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=SERVER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=SERVER_STOP_SECONDS)
    with suppress(ProcessLookupError):  # any worker that outlived the server
        os.killpg(process.pid, signal.SIGKILL)
