"""A state database that does not answer never takes down answers that need no cluster.

``netadvisor ask`` with ``--state`` on a closed port of 127.0.0.1, and serve's Slack app on a
store whose database does not answer: catalog questions are answered from the catalog with a
note that cluster data is unavailable; questions naming a cluster say they cannot be answered
now.
"""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from bot.http import HttpServer
from bot.service import Service
from bot.settings import load_settings
from bot.slack.app import create_app, wsgi_app
from bot.slack.listeners import register
from bot.wiring import Wiring
from jobs.store import Store
from tests.bot.cli.test_digest_and_serve import fleet_config
from tests.bot.slack.test_listeners import SECRET, Bot, _Recorder, event_body, post, slash
from tests.runner import run
from tests.servers.slack import SlackServer

# The verdict line as the answers put it (see tests/advisories/test_answers.py).
VERDICT = (
    "Not safe: IPVS mode: 1 s delay or failed requests when accessing Services "
    "(KP-IPVS-CONN-REUSE). Use kernel 5.9 or later and Kubernetes 1.22 or later; or switch the "
    "kube-proxy mode to iptables."
)


def closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def down_url() -> str:
    return f"postgresql://netadvisor:hunter2@127.0.0.1:{closed_port()}/netadvisor"


def test_ask_answers_a_catalog_question_with_the_state_database_down() -> None:
    code, out, err = run("ask", "is kernel 5.4 safe for IPVS?", "--state", down_url())
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Not safe: IPVS mode") and "KP-IPVS-CONN-REUSE" in lines[0]
    assert "Cluster data is unavailable (the state store did not answer)" in out
    assert err.count("\n") == 1 and "warning" in err and "hunter2" not in err


def test_ask_json_says_cluster_data_is_unavailable() -> None:
    code, out, _ = run("ask", "内核 5.4 用 IPVS 安全吗？", "--json", "--state", down_url())
    data = json.loads(out)
    assert code == 0
    assert data["verdict"] == "not_safe"
    assert data["cluster_data_unavailable"] == "the state store did not answer"
    assert "集群数据暂不可用" in data["text"]


def test_ask_about_a_configured_cluster_says_it_cannot_be_answered_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet_config(tmp_path, monkeypatch)
    code, out, _ = run("ask", "is web safe?", "--state", down_url())
    assert code == 1
    assert out.splitlines()[0] == (
        "web: cannot be answered now: cluster data is unavailable (the state store did not answer)."
    )


@pytest.fixture
def bot_on_a_dead_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    """serve's Slack app, with the context serve builds (:meth:`Service.bot_context`: the last
    scan read from the store per question), on a store whose PostgreSQL does not answer."""
    fleet_config(tmp_path, monkeypatch)  # clusters prod-centos and web
    engine = create_engine(down_url().replace("postgresql://", "postgresql+psycopg://"))
    store = Store(engine)
    responses: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    responses.posts = []
    responses.lock = threading.Lock()
    threading.Thread(target=responses.serve_forever, daemon=True).start()
    wiring = Wiring(load_settings(), stream=io.StringIO())
    service = Service(wiring, store, demo=False, stream=io.StringIO())
    with SlackServer(channels={"C0NET": "net"}) as slack:
        app = create_app(token=slack.token, signing_secret=SECRET, api_url=slack.url)
        register(app, service.bot_context())
        with HttpServer(wsgi_app(app), port=0) as server:
            yield Bot(f"http://127.0.0.1:{server.port}", slack, responses, "")
    responses.shutdown()
    responses.server_close()
    engine.dispose()


def test_slash_ask_answers_from_the_catalog_while_the_store_is_down(
    bot_on_a_dead_store: Bot,
) -> None:
    bot = bot_on_a_dead_store
    status, ack = slash(bot, "ask is kernel 5.4 safe for IPVS?")
    assert status == 200 and "working on it" in ack["text"]
    [reply] = bot.wait_responses(1)
    assert reply["text"].startswith("Not safe: IPVS mode") and "KP-IPVS-CONN-REUSE" in reply["text"]
    assert "Cluster data is unavailable" in json.dumps(reply["blocks"])


def test_slash_questions_about_a_cluster_say_they_cannot_be_answered_now(
    bot_on_a_dead_store: Bot,
) -> None:
    bot = bot_on_a_dead_store
    slash(bot, "ask is web safe?")
    [asked] = bot.wait_responses(1)
    assert asked["text"] == (
        "web: cannot be answered now: cluster data is unavailable (the state store did not answer)."
    )
    slash(bot, "cluster web")
    assert bot.wait_responses(2)[1]["text"].startswith("web: cannot be answered now")


def test_a_mention_is_answered_while_the_store_is_down(bot_on_a_dead_store: Bot) -> None:
    bot = bot_on_a_dead_store
    question = "<@U0BOT> is kernel 5.4 safe for IPVS?"
    body = event_body({"type": "app_mention", "user": "U0OPS", "channel": "C0NET",
                       "text": question, "ts": "1700000000.000400"})  # fmt: skip
    assert post(bot.url, body, "application/json")[0] == 200
    [request] = bot.slack.wait_for("chat.postMessage")
    text = request.params["text"]
    assert text.startswith("Not safe: IPVS mode") and "KP-IPVS-CONN-REUSE" in text
