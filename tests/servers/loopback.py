"""The threaded HTTP server on 127.0.0.1 under the fake GitHub, Kubernetes and Slack servers.

It listens on a free port, serves from a daemon thread once started, and when stopped also shuts
down the keep-alive connections still open, so that no handler thread outlives the test.
"""

from __future__ import annotations

import abc
import contextlib
import socket
import socketserver
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = ["LoopbackHTTPServer", "Stoppable"]


class Stoppable(abc.ABC):
    """A fake server used as a context manager: it is stopped when the block ends."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop serving and close what is open; a second call does nothing."""


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer on a free port of 127.0.0.1; ``start`` it, then ``stop`` it once."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._conns: set[socket.socket] = set()
        self._conns_cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        super().__init__(("127.0.0.1", 0), handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would do a reverse DNS lookup (getfqdn); not needed on 127.0.0.1.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self.tracking(request):
            self.RequestHandlerClass(request, client_address, self)

    @contextlib.contextmanager
    def tracking(self, conn: socket.socket) -> Iterator[None]:
        """Count ``conn`` as open (for :meth:`stop`) while the block runs."""
        with self._conns_cv:
            self._conns.add(conn)
        try:
            yield
        finally:
            with self._conns_cv:
                self._conns.discard(conn)
                self._conns_cv.notify_all()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | ValueError):
            return  # the peer went away, or we closed the connection while stopping
        super().handle_error(request, client_address)

    def start(self, name: str) -> None:
        """Serve from a daemon thread called ``name``."""
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, close the socket and the open connections; a second call does nothing."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self.shutdown()
        self.server_close()
        self.close_connections(timeout)
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def close_connections(self, timeout: float) -> None:
        """Shut down every open connection and wait (up to ``timeout``) for their threads."""
        with self._conns_cv:
            for conn in list(self._conns):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._conns_cv.wait_for(lambda: not self._conns, timeout=timeout)
