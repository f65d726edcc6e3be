"""Serving a simulator on a real loopback socket (stdlib ``ThreadingHTTPServer``).

The server turns each HTTP request into an :class:`httpx.Request`, runs the very
same pipeline as the in-process transport, and writes
the answer back, so the two modes differ only where a real socket must:

* ``ConnectionReset(mode="reset")`` closes the socket with an RST
  (``SO_LINGER`` 0); ``mode="disconnect"`` closes it without a byte of answer.
* ``SlowResponse`` really sleeps before answering (real sockets time out in real
  time, whatever clock the simulator uses).
* An exception in a handler becomes a 500 in the platform's error shape and is
  logged, where in-process it propagates to the test.

Use it through :meth:`Simulator.serve`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import httpx

__all__ = ["Servable", "serve"]

logger = logging.getLogger(__name__)

# Hop-by-hop or length headers the server sets itself.
# How long shutdown waits for each request thread (one may be inside a SlowResponse sleep).
_JOIN_TIMEOUT_S = 10.0

_SKIP_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive"}


class _Outcome(Protocol):
    """What the simulator decided for one request (``base._Outcome``)."""

    @property
    def response(self) -> httpx.Response | None: ...

    @property
    def action(self) -> str | None: ...

    @property
    def delay(self) -> float: ...


class Servable(Protocol):
    """What the server uses of the :class:`~.base.Simulator` it serves.

    :meth:`Simulator.serve <.base.Simulator.serve>` passes the simulator; naming only
    this keeps the imports one way (the simulator's module imports this one).
    """

    def _process(self, request: httpx.Request, *, served: bool = False) -> _Outcome: ...

    def error_response(self, status: int, message: str) -> httpx.Response:
        """A JSON error response in the platform's shape."""


class _Server(ThreadingHTTPServer):
    # Daemon threads, which the stdlib does not join: a client that never sends its request
    # must not hang the test. close() joins them itself, with a time limit.
    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: Servable) -> None:
        self.simulator = simulator
        self.connections: dict[socket.socket, threading.Thread] = {}
        self.connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def close(self, timeout: float) -> None:
        """Stop serving, wake the threads blocked on keep-alive connections, join them."""
        self.shutdown()
        with self.connections_lock:
            open_connections = dict(self.connections)
        for conn in open_connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in open_connections.values():
            thread.join(timeout)
        self.server_close()


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so resets hit a live connection
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK
    # would add ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections[self.connection] = threading.current_thread()

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.pop(self.connection, None)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        # The simulator keeps its own RequestLog; stderr noise helps nobody.
        return

    def _handle(self) -> None:
        sim = self.server.simulator
        body = self._read_body()
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = httpx.Request(
            self.command,
            f"http://{host}{self.path}",
            headers=[(k, v) for k, v in self.headers.items() if k.lower() != "transfer-encoding"],
            content=body,
        )
        try:
            outcome = sim._process(request, served=True)
        except Exception:
            logger.exception("simulator handler failed for %s %s", self.command, self.path)
            self._send(sim.error_response(500, "Internal Server Error (simulator handler failed)"))
            return
        if outcome.action in ("reset", "disconnect"):
            self._drop(rst=outcome.action == "reset")
            return
        if outcome.action == "timeout":
            time.sleep(outcome.delay)
        assert outcome.response is not None
        try:
            self._send(outcome.response)
        except OSError:
            # The client gave up (typically after its read timeout): nothing to answer.
            self.close_connection = True

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # httpx streams generator bodies chunked; reassemble them.
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, response: httpx.Response) -> None:
        content = response.read()
        self.send_response(response.status_code)
        for key, value in response.headers.multi_items():
            if key.lower() not in _SKIP_HEADERS:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)
        self.wfile.flush()

    def _drop(self, *, rst: bool) -> None:
        self.close_connection = True
        if rst:
            # Linger 0: close() sends RST instead of FIN, which the client sees as a reset.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()

    # BaseHTTPRequestHandler dispatches on these names.
    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()


@contextlib.contextmanager
def serve(simulator: Servable, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``simulator`` on ``host:port`` in a background thread; yield the base URL."""
    server = _Server((host, port), simulator)
    bound_host, bound_port = server.server_address[:2]
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"{type(simulator).__name__}-server",
        daemon=True,
    )
    thread.start()
    try:
        yield f"http://{bound_host!s}:{bound_port}"
    finally:
        server.close(timeout=_JOIN_TIMEOUT_S)
        thread.join()
