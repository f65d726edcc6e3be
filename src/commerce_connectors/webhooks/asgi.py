"""The receiver as an ASGI app (Starlette), and a uvicorn server you can start from code.

Needs the ``webhooks`` extra: ``pip install "commerce-connectors[webhooks]"``.

:func:`create_app` gives one ``POST`` route per endpoint plus ``GET /healthz``.
The blocking parts (verification, the inbox write) run in Starlette's thread
pool, so the event loop keeps accepting deliveries while SQLite commits.
:class:`ReceiverServer` runs the app under uvicorn in a background thread,
for ``commerce-connectors serve``, tests and notebooks.

Example:
    >>> from commerce_connectors.state import MemoryStateStore
    >>> from commerce_connectors.webhooks import WebhookEndpoint, WebhookReceiver
    >>> receiver = WebhookReceiver(MemoryStateStore(), [
    ...     WebhookEndpoint("shopify:acme.myshopify.com", "shopify", secret="s")])
    >>> import httpx
    >>> with ReceiverServer(create_app(receiver)) as server:
    ...     httpx.get(server.url + "/healthz").json()["status"]
    'ok'
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

try:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        'the webhook receiver needs the "webhooks" extra: '
        'pip install "commerce-connectors[webhooks]"'
    ) from exc

from .receiver import WebhookReceiver

__all__ = ["ReceiverServer", "create_app"]


def create_app(receiver: WebhookReceiver) -> Starlette:
    """A Starlette app with a ``POST`` route per endpoint of ``receiver`` and ``GET /healthz``.

    Bodies larger than the receiver's ``max_body`` are refused with 413 while
    they are read, before they are held in memory whole.
    """

    async def deliver(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > receiver.max_body:
            return JSONResponse({"error": "body_too_large check failed"}, status_code=413)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > receiver.max_body:
                return JSONResponse({"error": "body_too_large check failed"}, status_code=413)
            chunks.append(chunk)
        ack = await run_in_threadpool(
            receiver.handle, request.headers.raw, b"".join(chunks), str(request.url)
        )
        return JSONResponse(dict(ack.body), status_code=ack.status)

    async def health(request: Request) -> Response:
        counts = await run_in_threadpool(receiver.state.event_counts)
        return JSONResponse({"status": "ok", "events": {k.value: v for k, v in counts.items()}})

    routes = [Route(path, deliver, methods=["POST"]) for path in receiver.endpoints]
    routes.append(Route("/healthz", health, methods=["GET"]))
    return Starlette(routes=routes)


class ReceiverServer:
    """Runs an ASGI app under uvicorn in a daemon thread; a context manager.

    Args:
        app: the ASGI app (e.g. :func:`create_app`).
        host: the interface (default loopback).
        port: the port (0: any free port; read :attr:`url`).
        log_level: uvicorn's log level.
    """

    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
    ) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: without it, a response written in two parts
        # waits for the sender's delayed ACK (~40 ms per delivery on a kept-alive connection).
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(app, log_level=log_level, lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's base URL, e.g. ``http://127.0.0.1:8123``."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Start serving; returns once the server accepts connections."""
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving and wait for the thread (idempotent)."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._socket.close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until a signal stops uvicorn."""
        self._server.run(sockets=[self._socket])

    def __enter__(self) -> ReceiverServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
