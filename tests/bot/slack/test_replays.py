"""Replays and Slack's retries, as signed requests over real HTTP: acted on once.

A state-changing slash command replayed with the same signature makes one change; an event
re-delivered with the same ``event_id`` (``X-Slack-Retry-Num`` 1 and 2) is answered once. The
record is the state store's ``replays`` table, so another app on the same store (another
replica) does not act on it either.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from bot.http import HttpServer
from bot.slack.app import create_app, wsgi_app
from bot.slack.listeners import BotContext, register
from jobs.store import Store
from tests.bot.cli.test_ask import READ_AT
from tests.bot.slack import test_listeners as base
from tests.bot.slack.test_listeners import CATALOG, SECRET, Bot, command_body, sign

bot = base.bot


def _post(url: str, body: bytes, content_type: str, timestamp: int, **headers: str) -> int:
    request = urllib.request.Request(
        url + "/slack/events",
        data=body,
        method="POST",
        headers={
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": sign(body, timestamp),
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def _mutes(bot: Bot) -> list[str]:
    with Store.open(bot.store_url) as store, store.transaction() as tx:
        return [m.reason for m in tx.mutes(READ_AT) if not m.from_config]


def test_the_same_signed_mute_sent_three_times_makes_one_mute(bot: Bot) -> None:
    body = command_body(bot, "mute KP-IPVS-CONN-REUSE prod-eu 7 kernel upgrade", user="U0ADMIN")
    ts = int(time.time())
    statuses = [_post(bot.url, body, "application/x-www-form-urlencoded", ts) for _ in range(3)]
    assert statuses == [200, 200, 200]
    replies = [r["text"] for r in bot.wait_responses(3)]
    assert sum(r.startswith("Mute #") for r in replies) == 1, replies
    assert sum("already carried out" in r for r in replies) == 2, replies
    assert _mutes(bot) == ["kernel upgrade"]
    # A new request (another timestamp, so another signature) is carried out.
    _post(bot.url, body, "application/x-www-form-urlencoded", ts + 1)
    assert bot.wait_responses(4)[3]["text"].startswith("Mute #")
    assert _mutes(bot) == ["kernel upgrade", "kernel upgrade"]


def test_a_refused_mute_can_be_sent_again_once_it_would_succeed(bot: Bot) -> None:
    body = command_body(bot, "unmute 99", user="U0ADMIN")
    ts = int(time.time())
    _post(bot.url, body, "application/x-www-form-urlencoded", ts)
    bot.wait_responses(1)  # refused ("no active mute 99"): not carried out
    _post(bot.url, body, "application/x-www-form-urlencoded", ts)
    replies = [r["text"] for r in bot.wait_responses(2)]
    assert all("already carried out" not in r for r in replies), replies


def _mention(event_id: str) -> bytes:
    return json.dumps(
        {
            "token": "legacy-unused",
            "team_id": "T0",
            "api_app_id": "A0APP",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {"type": "app_mention", "user": "U0OPS", "channel": "C0NET",
                      "text": "<@U0BOT> is kernel 5.4 safe for IPVS?", "ts": "1700000000.000300"},
            "authorizations": [{"team_id": "T0", "user_id": "U0BOT", "is_bot": True}],
        }
    ).encode()  # fmt: skip


def test_an_event_retried_with_the_same_event_id_is_answered_once(bot: Bot) -> None:
    body = _mention("Ev0RETRY1")
    ts = int(time.time())
    assert _post(bot.url, body, "application/json", ts) == 200
    for retry in ("1", "2"):
        headers = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"}
        status = _post(bot.url, body, "application/json", ts + int(retry), **headers)
        assert status == 200
    [answer] = bot.slack.wait_for("chat.postMessage")
    assert answer.params["thread_ts"] == "1700000000.000300"
    time.sleep(0.5)
    assert len(bot.slack.requests("chat.postMessage")) == 1


def test_a_retry_that_reaches_another_replica_is_not_answered_again(bot: Bot) -> None:
    body = _mention("Ev0RETRY2")
    ts = int(time.time())
    assert _post(bot.url, body, "application/json", ts) == 200
    bot.slack.wait_for("chat.postMessage")
    with Store.open(bot.store_url) as store:
        other = create_app(token=bot.slack.token, signing_secret=SECRET, api_url=bot.slack.url)
        register(other, BotContext(CATALOG, store=store, now=lambda: READ_AT))
        with HttpServer(wsgi_app(other), port=0) as replica:
            status = _post(f"http://127.0.0.1:{replica.port}", body, "application/json", ts + 1,
                           **{"X-Slack-Retry-Num": "1"})  # fmt: skip
            assert status == 200
            time.sleep(0.5)
    assert len(bot.slack.requests("chat.postMessage")) == 1


def test_an_error_answer_escapes_user_text_in_the_fallback_text_too(bot: Bot) -> None:
    base.slash(bot, "advisory <!channel><@U0BOSS>")
    [reply] = bot.wait_responses(1)
    assert "unknown id" in reply["text"]
    assert "<!channel>" not in reply["text"] and "<@U0BOSS>" not in reply["text"]
    assert "&lt;!channel&gt;" in reply["text"]
