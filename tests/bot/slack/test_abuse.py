"""The Slack endpoint under abuse: oversized, unsigned and malformed requests over real HTTP.

Each is refused with a 4xx before Bolt acts on it, and logged on one bounded line that never
carries the body.
"""

from __future__ import annotations

import logging
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

import pytest

from tests.bot.slack import test_listeners as base
from tests.bot.slack.test_listeners import Bot, post, sign

bot = base.bot

MiB = 1024 * 1024


def _logged(caplog: pytest.LogCaptureFixture) -> int:
    return sum(len(r.getMessage()) for r in caplog.records)


def _raw_post(url: str, length: int, chunk: bytes) -> bytes:
    """POST ``length`` bytes of ``chunk`` over a raw socket, as far as the server lets us, and
    return what it answered."""
    where = urlparse(url)
    assert where.port is not None
    with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
        sock.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-Slack-Request-Timestamp: %d\r\nX-Slack-Signature: v0=00\r\n"
            b"Content-Length: %d\r\n\r\n" % (int(time.time()), length)
        )
        sent = 0
        try:
            while sent < length:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:  # the server answered and closed without reading the rest
            pass
        answer = b""
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            answer += data
        return answer


def test_a_10_mib_post_is_refused_413_unread_and_logged_on_one_short_line(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    before = _logged(caplog)
    answer = _raw_post(bot.url, 10 * MiB, b"A" * 65536)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    grown = _logged(caplog) - before
    assert 0 < grown < 300, [r.getMessage() for r in caplog.records]
    assert "AAAA" not in caplog.text
    assert "413" in caplog.text


def test_an_unsigned_body_gets_401_and_one_bounded_line_without_the_body(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = b'{"type": "event_callback", "secret-ish": "' + b"B" * 500_000 + b'"}'
    status, _ = post(bot.url, body, "application/json", signature="v0=" + "0" * 64)
    assert status == 401
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1 and len(refused[0]) < 200, refused
    assert "BBBB" not in caplog.text and "secret-ish" not in caplog.text
    assert _logged(caplog) < 1000


@pytest.mark.parametrize("timestamp", ["soon", "1e9", "-5", "12.5", ""])
def test_a_timestamp_that_is_not_a_number_is_a_4xx_not_a_500(bot: Bot, timestamp: str) -> None:
    body = base.event_body({"type": "app_mention", "text": "hi", "channel": "C0NET", "ts": "1.0"})
    request_headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign(body, int(time.time())),
    }
    request = urllib.request.Request(bot.url + "/slack/events", data=body, method="POST",
                                     headers=request_headers)  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    refused.value.close()
    assert refused.value.code in (400, 401)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"type": "event_callback", "event": \xff\xfe}', "application/json"),
        (b'{"type": "event_callback", "event": {', "application/json"),
        (b"command=%2Fnetadvisor&text=\xc3\x28", "application/x-www-form-urlencoded"),
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
    ],
    ids=["not-utf8-json", "truncated-json", "not-utf8-form", "bad-payload"],
)
def test_a_signed_body_that_does_not_parse_is_400_not_500(
    bot: Bot, body: bytes, content_type: str
) -> None:
    status, answer = post(bot.url, body, content_type)
    assert status == 400, answer
    assert not bot.slack.requests("chat.postMessage")
