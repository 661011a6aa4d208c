"""The Slack app: a Bolt ``App`` on a Web API client built here, and its WSGI endpoint.

:func:`create_app` builds the app, :func:`wsgi_app` exposes ``/slack/events`` through Bolt's WSGI
adapter; :mod:`bot.http` serves it on the operations port beside ``/healthz``, ``/readyz`` and
``/metrics``. In Socket Mode (:func:`socket_mode`) the port carries only the operations paths.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.logs import bounded
from bot.slack.guard import guarded
from jobs.notify import NotifyError

__all__ = ["SlackApp", "SocketMode", "create_app", "socket_mode", "wsgi_app"]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


RATE_LIMIT_RETRIES: Final = 3
"""Times a rate-limited (429) call of a listener is retried, each after Slack's Retry-After."""

LISTENER_THREADS: Final = 32
"""Listeners run at once. Bolt runs each listener (its acknowledgement and then its answer) on
a pool of 5 threads by default, so under a burst the acknowledgements queued behind answers;
the HTTP server's own pool is smaller, so this one never makes a request wait for a thread."""


class SlackApp(App):
    """A Bolt ``App`` that remembers its signing secret, for :func:`wsgi_app`'s guard."""

    signing_secret: str | None = None


class _BoundedRecords(logging.Filter):
    """Bolt's own log lines cut to one bounded line: some quote a request's whole body."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = bounded(record.getMessage(), 300), ()
        return True


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("bot.slack.bolt")
    if not any(isinstance(f, _BoundedRecords) for f in logger.filters):
        logger.addFilter(_BoundedRecords())
    return logger


def create_app(
    *,
    token: str,
    signing_secret: str | None,
    api_url: str = "https://slack.com/api/",
    token_verification: bool = True,
) -> SlackApp:
    """A Bolt app whose Web API client uses ``api_url`` (tests point it at 127.0.0.1).

    With a signing secret, every request's signature and timestamp are verified: by
    :func:`wsgi_app`'s guard first (401 for a bad signature or a timestamp older than five
    minutes, 400 for a request Bolt could not parse, each logged on one bounded line), then by
    Bolt. Bolt's own log lines go through ``bot.slack.bolt``, cut to one bounded line each.
    """
    client = WebClient(token=token, base_url=api_url)
    # Listeners post several messages in a row (a long "Show nodes" reply): a 429 is retried
    # after Slack's Retry-After rather than losing the rest of the reply.
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    app = SlackApp(
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        token_verification_enabled=token_verification,
        logger=_bolt_logger(),
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="slack"),
    )
    app.signing_secret = signing_secret
    return app


def wsgi_app(app: App | None, healthy: Callable[[], bool] = lambda: True) -> WsgiApp:
    """``/healthz`` (200 ``ok`` or 503) and, when ``app`` is given, ``/slack/events`` behind
    :func:`bot.slack.guard.guarded` (signature, timestamp and body checked before Bolt)."""
    slack = None
    if app is not None:
        secret = app.signing_secret if isinstance(app, SlackApp) else None
        slack = guarded(SlackRequestHandler(app), secret)

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


class SocketMode:
    """The app's Socket Mode connection (an app-level token instead of a public endpoint)."""

    def __init__(self, handler: SocketModeHandler) -> None:
        self._handler = handler

    def connect(self) -> None:
        """``apps.connections.open``, then the WebSocket. A refused token raises
        :class:`NotifyError`; a WebSocket that cannot be opened now is retried by the handler
        (and the service is not ready meanwhile)."""
        try:
            self._handler.connect()  # type: ignore[no-untyped-call]
        except SlackApiError as exc:
            error = exc.response.get("error") or f"HTTP {exc.response.status_code}"
            raise NotifyError(f"Socket Mode: apps.connections.open: {error}") from None
        except (SlackClientError, OSError) as exc:
            raise NotifyError(f"Socket Mode: {type(exc).__name__}") from None

    def is_connected(self) -> bool:
        """Whether the WebSocket is up (the readiness check)."""
        socket = self._handler.client
        return bool(socket.is_connected())

    def close(self) -> None:
        """Close the connection."""
        self._handler.close()  # type: ignore[no-untyped-call]


def socket_mode(app: App, app_token: str) -> SocketMode:
    """Socket Mode for ``app`` with the app-level token ``app_token`` (not connected yet)."""
    return SocketMode(SocketModeHandler(app, app_token))
