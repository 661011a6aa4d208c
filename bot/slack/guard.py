"""What the Slack endpoint checks before Bolt sees a request.

Bolt answers a request it cannot parse with 500 (a non-numeric ``X-Slack-Request-Timestamp``,
a body that is not UTF-8, JSON that does not parse) and logs a refused request's whole body.
:func:`guarded` answers those with 4xx and one bounded log line that never carries the body:
400 for a request that is not Slack's shape, 401 for a missing, stale or wrong signature. Bodies
over the server's limit never get this far (:class:`bot.http.HttpServer` answers 413 unread).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Final
from urllib.parse import parse_qs

from bot.logs import bounded

__all__ = ["MAX_SKEW", "Refusal", "check_request", "guarded"]

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MAX_SKEW: Final = 300
"""Seconds a request's timestamp may be from now (Slack's five minutes)."""


class Refusal(Exception):
    """The request is refused: ``status`` (``"400 Bad Request"``...) and why (no user text)."""

    def __init__(self, status: str, reason: str) -> None:
        self.status = status
        super().__init__(reason)


def check_request(
    body: bytes,
    headers: dict[str, str],
    signing_secret: str | None,
    now: float,
) -> None:
    """Raise :class:`Refusal` unless ``body`` is signed with ``signing_secret`` (when given)
    within :data:`MAX_SKEW` seconds of ``now`` and parses as Bolt will parse it. ``headers``:
    lower-case names."""
    if signing_secret is not None:
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not timestamp or not signature:
            raise Refusal("401 Unauthorized", "no Slack signature")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise Refusal("400 Bad Request", "X-Slack-Request-Timestamp is not a number")
        if abs(now - int(timestamp)) > MAX_SKEW:
            raise Refusal("401 Unauthorized", "stale X-Slack-Request-Timestamp")
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise Refusal("401 Unauthorized", "wrong Slack signature")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal("400 Bad Request", "the body is not UTF-8") from None
    # Bolt parses a body as JSON when its content type says so or it starts with "{", and a
    # form's ``payload`` field (interactivity) as JSON.
    try:
        if "json" in headers.get("content-type", "") or text.lstrip().startswith("{"):
            if text.strip():
                json.loads(text)
        else:
            for payload in parse_qs(text).get("payload", ()):
                json.loads(payload)
    except ValueError:
        raise Refusal("400 Bad Request", "the body is not valid JSON") from None


def guarded(
    app: WsgiApp,
    signing_secret: str | None,
    clock: Callable[[], float] = time.time,
) -> WsgiApp:
    """``app`` behind :func:`check_request` for POST requests; refusals are logged on one line
    (method, path, client address, reason), the body never."""

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        headers["content-type"] = str(environ.get("CONTENT_TYPE") or "")
        try:
            if length < 0:
                raise Refusal("400 Bad Request", "invalid Content-Length")
            body = environ["wsgi.input"].read(length) if length else b""
            check_request(body, headers, signing_secret, clock())
        except Refusal as refusal:
            log.warning(
                "refused %s %s %s from %s: %s",
                refusal.status.split()[0],
                bounded(str(environ.get("REQUEST_METHOD")), 10),
                bounded(str(environ.get("PATH_INFO", "")), 100),
                bounded(str(environ.get("REMOTE_ADDR", "-")), 64),
                refusal,
            )
            answer = json.dumps({"error": str(refusal)}).encode()
            start_response(refusal.status, [("Content-Type", "application/json"),
                                            ("Content-Length", str(len(answer)))])  # fmt: skip
            return [answer]
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return app(environ, start_response)

    return handle
