"""The Slack bot over HTTP: real signed requests to the app's endpoint on 127.0.0.1.

Slash commands, ``app_mention`` and ``message.im`` events arrive signed as Slack signs them
(HMAC-SHA256 ``v0`` over ``v0:<timestamp>:<body>``); replies reach the Slack Web API server of
``tests/servers/slack.py`` (thread replies) or a response-URL recorder (slash commands).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from advisories.answers import cluster_data
from advisories.catalog import load_catalog
from bot.http import HttpServer
from bot.slack.answers import answer_blocks
from bot.slack.app import create_app, wsgi_app
from bot.slack.blocks import escape
from bot.slack.listeners import BotContext, register
from jobs.mutes import ConfigMute
from jobs.store import Store
from tests.bot.cli.test_ask import READ_AT, seed_store
from tests.servers.slack import SlackServer

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # test signing secret, as in Slack's docs
CATALOG = load_catalog()


class _Recorder(BaseHTTPRequestHandler):
    """Records what the app posts to a slash command's response_url."""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        server: Any = self.server
        with server.lock:
            server.posts.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@dataclass
class Bot:
    url: str
    slack: SlackServer
    responses: Any
    store_url: str

    def response_url(self) -> str:
        host, port = self.responses.server_address[:2]
        return f"http://{host}:{port}/commands/T0/1/abc"

    def wait_responses(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.responses.lock:
                if len(self.responses.posts) >= count:
                    return list(self.responses.posts)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} response(s), got {len(self.responses.posts)}")


def sign(body: bytes, timestamp: int, secret: str = SECRET) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def post(
    url: str,
    body: bytes,
    content_type: str,
    *,
    timestamp: int | None = None,
    signature: str | None = None,
) -> tuple[int, bytes]:
    ts = int(time.time()) if timestamp is None else timestamp
    request = urllib.request.Request(
        url + "/slack/events",
        data=body,
        method="POST",
        headers={
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature or sign(body, ts),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def command_body(bot: Bot, text: str, user: str = "U0OPS", channel: str = "C0NET") -> bytes:
    return urlencode(
        {
            "token": "legacy-unused",
            "team_id": "T0",
            "team_domain": "example",
            "channel_id": channel,
            "channel_name": "net",
            "user_id": user,
            "user_name": "ops",
            "command": "/netadvisor",
            "text": text,
            "api_app_id": "A0APP",
            "response_url": bot.response_url(),
            "trigger_id": "1.2.3",
        }
    ).encode()


def slash(bot: Bot, text: str, **kwargs: str) -> tuple[int, dict[str, Any]]:
    status, body = post(bot.url, command_body(bot, text, **kwargs),
                        "application/x-www-form-urlencoded")  # fmt: skip
    return status, (json.loads(body) if body else {})


def event_body(event: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "token": "legacy-unused",
            "team_id": "T0",
            "api_app_id": "A0APP",
            "type": "event_callback",
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": "T0", "user_id": "U0BOT", "is_bot": True}],
        }
    ).encode()


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    store_url = seed_store(tmp_path / "state.db")

    def clusters() -> dict[str, Any]:
        with Store.open(store_url) as store, store.transaction() as tx:
            latest = tx.latest_facts("prod-eu")
        assert latest is not None
        return {"prod-eu": cluster_data(latest[1], latest[0])}

    responses: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    responses.posts = []
    responses.lock = threading.Lock()
    threading.Thread(target=responses.serve_forever, daemon=True).start()
    with (
        SlackServer(channels={"C0NET": "net", "D0DM": "dm"}) as slack,
        Store.open(store_url) as store,
    ):
        app = create_app(token=slack.token, signing_secret=SECRET, api_url=slack.url)
        context = BotContext(
            CATALOG,
            clusters=clusters,
            store=store,
            mute_users=frozenset({"U0ADMIN"}),
            mute_channels=frozenset({"C0ADMINS"}),
            now=lambda: READ_AT,
        )
        register(app, context)
        with HttpServer(wsgi_app(app), port=0) as server:
            yield Bot(f"http://127.0.0.1:{server.port}", slack, responses, store_url)
    responses.shutdown()
    responses.server_close()


def test_healthz_answers_on_the_same_port(bot: Bot) -> None:
    with urllib.request.urlopen(bot.url + "/healthz", timeout=5) as response:
        assert (response.status, response.read()) == (200, b"ok\n")


def test_ask_is_acknowledged_then_answered_through_the_response_url(bot: Bot) -> None:
    status, ack = slash(bot, "ask is kernel 5.4 safe for IPVS?")
    assert status == 200
    assert "working on it" in ack["text"]
    [reply] = bot.wait_responses(1)
    assert reply["text"] == (
        "Not safe: IPVS mode: 1 s delay or failed requests when accessing Services "
        "(KP-IPVS-CONN-REUSE). Use kernel 5.9 or later and Kubernetes 1.22 or later; or switch "
        "the kube-proxy mode to iptables."
    )
    first = reply["blocks"][0]["text"]["text"]
    assert first.startswith(":rotating_light: *Not safe")
    body = json.dumps(reply["blocks"])
    assert "```sysctl net.ipv4.vs.conn_reuse_mode" in body
    assert "<https://github.com/kubernetes/kubernetes/issues/93297|kubernetes#93297>" in (
        body.replace("\\", "")
    )


def test_chinese_questions_are_answered_in_chinese(bot: Bot) -> None:
    slash(bot, "ask 内核 5.4 用 IPVS 安全吗？")
    [reply] = bot.wait_responses(1)
    assert reply["text"].startswith("不安全")


@pytest.mark.parametrize("text", ["", "help", "frobnicate now"])
def test_help_and_unknown_subcommands_get_help_in_the_ack(bot: Bot, text: str) -> None:
    status, ack = slash(bot, text)
    assert status == 200
    assert "/netadvisor check kernel=5.4" in json.dumps(ack["blocks"])


def test_check_reads_the_vocabulary_keys_and_aliases(bot: Bot) -> None:
    slash(bot, "check kernel=5.4 mode=ipvs k8s=1.27")
    [reply] = bot.wait_responses(1)
    assert reply["text"].startswith("Not safe: IPVS mode: 1 s delay or failed requests")
    assert "(KP-IPVS-CONN-REUSE)" in reply["text"]


def test_check_names_a_bad_value(bot: Bot) -> None:
    slash(bot, "check mode=fast")
    [reply] = bot.wait_responses(1)
    assert "proxy-mode" in reply["text"] and "ipvs" in reply["text"]


def test_cluster_answers_from_the_last_scan_with_when_it_was_read(bot: Bot) -> None:
    slash(bot, "cluster prod-eu")
    [reply] = bot.wait_responses(1)
    body = json.dumps(reply["blocks"])
    assert "prod-eu read 2026-11-20 09:00 UTC" in body
    assert "CALICO-VXLAN-OFFLOAD" in body


def test_plan_and_safe_use_the_clusters_facts(bot: Bot) -> None:
    slash(bot, "plan prod-eu k8s=1.30")
    slash(bot, "safe prod-eu")
    replies = bot.wait_responses(2)
    plan = next(r for r in replies if r["text"].startswith("plan"))
    safe = next(r for r in replies if r["text"].startswith("safe"))
    assert "KP-ENDPOINT-UPDATE-DELAY" in json.dumps(plan["blocks"])
    assert "1.27.11" in json.dumps(safe["blocks"])
    # Joint fixes first: prod-eu (Calico 3.26.1 VXLAN on kernel 5.4, kube-proxy 1.27.3) needs a
    # kernel, a Calico and a Kubernetes patch upgrade together.
    assert "*Fix*: Upgrade the kernel to 5.7.1 or later" in json.dumps(safe["blocks"])


def test_advisory_shows_the_catalog_entry(bot: Bot) -> None:
    slash(bot, "advisory sp-3118")
    [reply] = bot.wait_responses(1)
    assert reply["text"].startswith("SP-3118")


def test_mute_is_limited_to_configured_users_and_channels(bot: Bot) -> None:
    slash(bot, "mute SP-3118 all 7 upgrade planned")
    [denied] = bot.wait_responses(1)
    assert "not allowed" in denied["text"]
    slash(bot, "mute CALICO-VXLAN-OFFLOAD prod-eu 7 upgrade <!channel> planned", user="U0ADMIN")
    replies = bot.wait_responses(2)
    assert replies[1]["text"].startswith("Mute #")
    assert "<!channel>" not in json.dumps(replies[1])
    slash(bot, "unmute 1", channel="C0ADMINS")
    assert bot.wait_responses(3)[2]["text"] == "Mute 1 lifted"


def test_a_mention_is_answered_in_a_thread(bot: Bot) -> None:
    body = event_body({"type": "app_mention", "user": "U0OPS", "channel": "C0NET",
                       "text": "<@U0BOT> why do we see a 1 second delay on CentOS 7 with ipvs?",
                       "ts": "1700000000.000100"})  # fmt: skip
    status, _ = post(bot.url, body, "application/json")
    assert status == 200
    [request] = bot.slack.wait_for("chat.postMessage")
    assert request.params["thread_ts"] == "1700000000.000100"
    assert request.params["channel"] == "C0NET"
    assert request.params["text"].startswith("Not safe: IPVS mode: 1 s delay")
    assert "(KP-IPVS-CONN-REUSE)" in request.params["text"]
    assert request.authorization == f"Bearer {bot.slack.token}"


def test_a_direct_message_is_answered_in_a_thread_and_bots_are_ignored(bot: Bot) -> None:
    dm = {"type": "message", "channel_type": "im", "channel": "D0DM"}
    own = event_body({**dm, "bot_id": "B0BOT", "text": "Not safe", "ts": "1700000000.000050"})
    assert post(bot.url, own, "application/json")[0] == 200
    body = event_body(
        {
            **dm,
            "user": "U0OPS",
            "text": "calico 3.23 上 calico-kube-controllers 内存泄漏",
            "ts": "1700000000.000200",
        }
    )
    assert post(bot.url, body, "application/json")[0] == 200
    [request] = bot.slack.wait_for("chat.postMessage")
    assert request.params["thread_ts"] == "1700000000.000200"
    assert request.params["text"].startswith("不安全")
    time.sleep(0.2)
    assert len(bot.slack.requests("chat.postMessage")) == 1


def test_a_bad_signature_is_rejected(bot: Bot) -> None:
    body = command_body(bot, "ask is kernel 5.4 ok?")
    status, _ = post(bot.url, body, "application/x-www-form-urlencoded",
                     signature=sign(body, int(time.time()), "wrong-secret"))  # fmt: skip
    assert status == 401
    assert bot.responses.posts == []


def test_a_timestamp_older_than_five_minutes_is_rejected(bot: Bot) -> None:
    old = int(time.time()) - 6 * 60
    body = command_body(bot, "ask is kernel 5.4 ok?")
    status, _ = post(bot.url, body, "application/x-www-form-urlencoded", timestamp=old)
    assert status == 401


def test_url_verification_answers_the_challenge(bot: Bot) -> None:
    body = json.dumps({"token": "x", "challenge": "c-123", "type": "url_verification"}).encode()
    status, answer = post(bot.url, body, "application/json")
    assert (status, json.loads(answer)["challenge"]) == (200, "c-123")


# ---------------------------------------------------------------------------------------------
# Escaping


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here> <!everyone>", "&lt;!here&gt; &lt;!everyone&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
        ("a & b", "a &amp; b"),
        ("&lt;", "&amp;lt;"),
    ],
)
def test_escape_neutralises_mentions_and_links(text: str, escaped: str) -> None:
    assert escape(text) == escaped


def _texts(blocks: list[dict[str, Any]]) -> Iterator[str]:
    for block in blocks:
        if "text" in block:
            yield block["text"]["text"]
        for element in block.get("elements", []):
            yield element["text"]


@pytest.mark.parametrize(
    "question",
    [
        "<!channel> is kernel 5.4 safe for <https://evil.example|IPVS>?",
        "<!here> hello <@U0ADMIN> & friends",
        "coredns <!everyone> is slow",
    ],
)
def test_user_text_echoed_back_cannot_ping_or_link(question: str) -> None:
    context = BotContext(CATALOG)
    blocks = answer_blocks(context.ask(question))
    for text in _texts(blocks):
        for forbidden in ("<!channel>", "<!here>", "<!everyone>", "<@U0ADMIN>", "<https://evil"):
            assert forbidden not in text


def test_long_answers_respect_slacks_limits() -> None:
    blocks = answer_blocks(BotContext(CATALOG).ask("is spiderpool ok on kernel 5.4 with calico?"))
    assert len(blocks) <= 50
    assert all(len(t) <= 3000 for t in _texts(blocks))


def test_a_config_mute_shows_in_cluster_and_cannot_be_lifted_from_slack(bot: Bot) -> None:
    entry = ConfigMute("CALICO-VXLAN-OFFLOAD", "prod-eu", "reviewed in Git", days=30)
    with Store.open(bot.store_url) as store:
        [mute_id] = store.run(lambda tx: tx.sync_config_mutes([entry], READ_AT)).added
    slash(bot, "cluster prod-eu")
    [reply] = bot.wait_responses(1)
    body = json.dumps(reply["blocks"])
    assert f"#{mute_id} CALICO-VXLAN-OFFLOAD on prod-eu until 2026-12-20 (configuration file)" in (
        body
    )
    slash(bot, f"unmute {mute_id}", user="U0ADMIN")
    refused = bot.wait_responses(2)[1]
    assert "configuration file" in refused["text"] and "cannot be lifted" in refused["text"]
    with Store.open(bot.store_url) as store, store.transaction() as tx:
        assert [m.id for m in tx.mutes(READ_AT)] == [mute_id]


def test_show_all_answers_again_with_every_advisory_that_may_hold(bot: Bot) -> None:
    question = "is kernel 5.4 safe for IPVS?"
    slash(bot, f"ask {question}")
    [first] = bot.wait_responses(1)
    [button] = [e for b in first["blocks"] if b["type"] == "actions" for e in b["elements"]]
    payload = {
        "type": "block_actions",
        "team": {"id": "T0"},
        "user": {"id": "U0OPS"},
        "api_app_id": "A0APP",
        "token": "legacy-unused",
        "container": {"type": "message", "is_ephemeral": True},
        "trigger_id": "1.2.3",
        "channel": {"id": "C0NET"},
        "response_url": bot.response_url(),
        "actions": [
            {
                "type": "button",
                "action_id": button["action_id"],
                "block_id": "show-all",
                "value": button["value"],
                "action_ts": str(time.time()),
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    status, _ = post(bot.url, body, "application/x-www-form-urlencoded")
    assert status == 200
    shown = bot.wait_responses(2)[1]
    folded = CATALOG.get("KP-EXTERNALIPS-ETP-LOCAL")
    assert folded is not None
    title = escape(folded.title)  # shown only when the advisory is expanded
    assert title not in json.dumps(first["blocks"], ensure_ascii=False)
    text = json.dumps(shown["blocks"], ensure_ascii=False)
    assert "KP-IPVS-CONN-REUSE" in text and title in text
    assert not [b for b in shown["blocks"] if b["type"] == "actions"]  # nothing left to expand
