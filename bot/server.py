"""The Slack app's HTTP endpoint: one port carrying ``/slack/events`` and ``/healthz``.

Bolt's built-in development server handles one request at a time; this wraps Bolt's WSGI
adapter in a threaded ``wsgiref`` server so that a slow answer never delays the next request's
acknowledgement. In Socket Mode the same server carries only ``/healthz``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

__all__ = ["HttpServer", "create_app", "wsgi_app"]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def create_app(
    *,
    token: str,
    signing_secret: str | None,
    api_url: str = "https://slack.com/api/",
    token_verification: bool = True,
) -> App:
    """A Bolt app whose Web API client uses ``api_url`` (tests point it at 127.0.0.1).

    With a signing secret, every request's signature and timestamp are verified (Bolt rejects a
    bad signature or a timestamp older than five minutes with 401).
    """
    client = WebClient(token=token, base_url=api_url)
    return App(
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        token_verification_enabled=token_verification,
    )


def wsgi_app(app: App | None, healthy: Callable[[], bool] = lambda: True) -> WsgiApp:
    """``/healthz`` (200 ``ok`` or 503) and, when ``app`` is given, ``/slack/events``."""
    slack = SlackRequestHandler(app) if app is not None else None

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            ok = healthy()
            start_response("200 OK" if ok else "503 Service Unavailable",
                           [("Content-Type", "text/plain; charset=utf-8")])  # fmt: skip
            return [b"ok\n" if ok else b"unhealthy\n"]
        if slack is not None and path == "/slack/events":
            return slack(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found\n"]

    return handle


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
