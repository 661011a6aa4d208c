"""``/healthz``, ``/readyz`` and ``/metrics`` on the bot's port (``NETADVISOR_PORT``), in both
Slack modes.

- ``/healthz``: the process answers. The liveness probe restarts a pod only when this stops.
- ``/readyz``: every readiness check passes: the state store answers, the catalog is loaded,
  and in Socket Mode the connection to Slack is up. 200 or 503, with a JSON body naming each
  check and what is wrong; the readiness probe keeps a pod that is not ready out of the Service
  (in HTTP mode Slack's requests then go to the other replicas).
- ``/metrics``: Prometheus text format (:mod:`jobs.metrics`).

:func:`operations` wraps the Slack app's WSGI application (:mod:`bot.slack.app`), so that one
port carries everything; other paths go to the wrapped application. :class:`HttpServer` serves
it: Bolt's built-in development server handles one request at a time, so a threaded ``wsgiref``
server runs it instead, and a slow answer never delays the next request's acknowledgement.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any, Final
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from advisories.catalog import Catalog
from jobs import metrics
from jobs.store import Store

__all__ = [
    "Check",
    "CheckResult",
    "HttpServer",
    "NotReady",
    "Readiness",
    "catalog_check",
    "operations",
    "slack_connection_check",
    "store_check",
]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

Check = Callable[[], str]
"""A readiness check: returns a short note when ready, raises :class:`NotReady` (or any
exception) when not. Notes and messages are shown at /readyz: no secrets in them."""

_TEXT: Final = "text/plain; charset=utf-8"
_JSON: Final = "application/json"


class NotReady(Exception):
    """A readiness check failed; the message says why."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check."""

    name: str
    ok: bool
    detail: str
    seconds: float


class Readiness:
    """Runs the readiness checks, each bounded by ``timeout`` seconds.

    A check that has not returned in time fails as "timed out", and is not started again until
    it returns (a hung database connection does not pile up threads at every probe).
    """

    def __init__(self, checks: Mapping[str, Check], timeout: float = 2.0) -> None:
        self.checks = dict(checks)
        self.timeout = timeout
        self._running: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def run(self) -> list[CheckResult]:
        """Every check, in parallel, in the order given."""
        results: dict[str, CheckResult] = {}
        threads: list[tuple[str, threading.Thread]] = []
        for name, check in self.checks.items():
            with self._lock:
                previous = self._running.get(name)
                if previous is not None and previous.is_alive():
                    results[name] = CheckResult(name, False, "still running from before", 0.0)
                    continue
                thread = threading.Thread(
                    target=self._one, args=(name, check, results), daemon=True,
                    name=f"readyz-{name}",
                )  # fmt: skip
                self._running[name] = thread
            thread.start()
            threads.append((name, thread))
        deadline = time.monotonic() + self.timeout
        for name, thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                results.setdefault(
                    name, CheckResult(name, False, f"timed out after {self.timeout:g} s", 0.0)
                )
        return [results[name] for name in self.checks]

    @staticmethod
    def _one(name: str, check: Check, results: dict[str, CheckResult]) -> None:
        start = time.monotonic()
        try:
            detail, ok = check(), True
        except Exception as exc:
            detail, ok = (str(exc) if isinstance(exc, NotReady) else type(exc).__name__), False
        results.setdefault(name, CheckResult(name, ok, detail, time.monotonic() - start))


def store_check(store: Store) -> Check:
    """The state store answers a query (and holds netadvisor's tables)."""

    def check() -> str:
        version = store.schema_version()
        return f"{store.dialect} schema version {version}"

    return check


def catalog_check(catalog: Callable[[], Catalog | None]) -> Check:
    """The advisory catalog is loaded."""

    def check() -> str:
        loaded = catalog()
        if loaded is None or not loaded.advisories:
            raise NotReady("the advisory catalog is not loaded")
        return f"{len(loaded.advisories)} advisories, catalog {loaded.version}"

    return check


def slack_connection_check(connected: Callable[[], bool]) -> Check:
    """Socket Mode: the WebSocket connection to Slack is up."""

    def check() -> str:
        if not connected():
            raise NotReady("not connected to Slack (Socket Mode)")
        return "connected (Socket Mode)"

    return check


def operations(
    app: WsgiApp | None,
    readiness: Readiness,
    *,
    exposition: Callable[[], bytes] = metrics.exposition,
) -> WsgiApp:
    """``app`` with ``/healthz``, ``/readyz`` and ``/metrics`` in front of it (404 for other
    paths when ``app`` is None)."""

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in ("/healthz", "/readyz", "/metrics"):
            if app is not None:
                return app(environ, start_response)
            return _answer(start_response, "404 Not Found", _TEXT, b"not found\n")
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"),
                                                     ("Content-Type", _TEXT)])  # fmt: skip
            return [b"method not allowed\n"]
        if path == "/healthz":
            body, status, kind = b"ok\n", "200 OK", _TEXT
        elif path == "/metrics":
            body, status, kind = exposition(), "200 OK", metrics.CONTENT_TYPE
        else:
            results = readiness.run()
            ready = all(r.ok for r in results)
            document = {
                "ready": ready,
                "checks": {
                    r.name: {"ok": r.ok, "detail": r.detail, "seconds": round(r.seconds, 3)}
                    for r in results
                },
            }
            body = json.dumps(document, indent=2).encode() + b"\n"
            status = "200 OK" if ready else "503 Service Unavailable"
            kind = _JSON
        return _answer(start_response, status, kind, b"" if method == "HEAD" else body,
                       length=len(body))  # fmt: skip

    return handle


def _answer(
    start_response: Callable[..., Any],
    status: str,
    content_type: str,
    body: bytes,
    length: int | None = None,
) -> list[bytes]:
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body) if length is None else length)),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # Request lines would carry nothing secret, but they are noise at Slack's volume.
        return


class HttpServer:
    """A threaded WSGI server on ``host:port`` (port 0 picks a free one), run in a thread."""

    def __init__(self, application: WsgiApp, host: str = "127.0.0.1", port: int = 3000) -> None:
        self._server = make_server(host, port, application, server_class=_ThreadingServer,
                                   handler_class=_QuietHandler)  # fmt: skip
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    def start(self) -> HttpServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="netadvisor-http")  # fmt: skip
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop` is called from another."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
