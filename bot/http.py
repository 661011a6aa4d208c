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
it through waitress, a production WSGI server: a real listen backlog, a bounded thread pool,
a request-body limit enforced before the body is read, and idle-connection timeouts
(:class:`Limits`), so that a burst of Slack requests is queued rather than reset.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask

from advisories.catalog import Catalog
from bot.logs import bounded
from jobs import metrics
from jobs.store import Store

__all__ = [
    "Check",
    "CheckResult",
    "HttpServer",
    "Limits",
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

log = logging.getLogger(__name__)

# waitress warns once per request queued behind busy threads: a burst of Slack requests would
# write a line each. Queued is what the pool is for; the burst benchmark measures the wait.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)

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


@dataclass(frozen=True, slots=True)
class Limits:
    """What one connection may cost the server."""

    max_body: int = 1024 * 1024
    """Bytes of request body; a larger ``Content-Length`` is answered 413 before the body is
    read (Slack's payloads are a few KiB)."""
    max_header: int = 64 * 1024
    """Bytes of request line and headers (431 beyond)."""
    timeout: float = 30.0
    """Seconds a connection may sit idle, headers or body half sent, before it is closed."""
    threads: int = 16
    """Requests handled at once; more wait in the queue (their connections stay open)."""
    backlog: int = 1024
    """Connections the kernel queues before they are accepted."""
    connections: int = 512
    """Open connections at once; more wait in the backlog."""


class _LoggingErrorTask(ErrorTask):  # type: ignore[misc]
    """waitress's answer to a request it refuses itself (413, 431, 400): one bounded log line,
    never the body (which is not read)."""

    def execute(self) -> None:
        request = self.request
        error = request.error
        log.warning(
            "refused %s %s %s from %s: %s",
            error.code,
            bounded(getattr(request, "command", "") or "-", 16),
            bounded(getattr(request, "path", "") or "-", 200),
            bounded(str(self.channel.addr[0]) if self.channel.addr else "-", 64),
            bounded(str(error.body), 200),
        )
        super().execute()


class _Channel(HTTPChannel):  # type: ignore[misc]
    error_task_class = _LoggingErrorTask


class HttpServer:
    """The production WSGI server (waitress) on ``host:port`` (port 0 picks a free one), run
    in a thread.

    waitress reads requests on one asynchronous loop and hands complete ones to a bounded pool
    of :attr:`Limits.threads` threads, so a burst of connections waits in its queue and the
    kernel's backlog instead of being reset, a slow or half-sent request ties up no thread, and
    a body over :attr:`Limits.max_body` is refused with 413 before it is read.
    """

    def __init__(
        self,
        application: WsgiApp,
        host: str = "127.0.0.1",
        port: int = 3000,
        limits: Limits = Limits(),
    ) -> None:
        self.limits = limits
        self._map: dict[int, Any] = {}
        self._server = create_server(
            application,
            map=self._map,
            host=host,
            port=port,
            threads=limits.threads,
            backlog=limits.backlog,
            connection_limit=limits.connections,
            channel_timeout=max(1, int(limits.timeout)),
            cleanup_interval=max(1, int(limits.timeout) // 2),
            max_request_body_size=limits.max_body + 1,  # waitress refuses at >=
            max_request_header_size=limits.max_header,
            expose_tracebacks=False,
            ident="netadvisor",
            clear_untrusted_proxy_headers=True,
        )
        self._server.channel_class = _Channel
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.effective_port)

    def start(self) -> HttpServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                        name="netadvisor-http")  # fmt: skip
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop` is called from another."""
        with contextlib.suppress(OSError):  # the sockets closed under the loop by stop()
            self._server.run()

    def stop(self) -> None:
        """Stop accepting, close the connections, and let the running requests finish (up to
        five seconds)."""
        # The request threads first: one that finishes after its socket is closed would wake
        # the loop through a closed trigger (EBADF in that thread).
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        # Then the loop's own thread closes the sockets: the trigger wakes it with this call.
        self._server.trigger.pull_trigger(lambda: wasyncore.close_all(self._map))
        if self._thread is not None:
            self._thread.join(timeout=5)
        else:
            wasyncore.close_all(self._map)

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
