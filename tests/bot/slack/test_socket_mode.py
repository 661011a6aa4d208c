"""``netadvisor serve`` in Socket Mode, as a real process, against Slack's two endpoints on
127.0.0.1: the Web API (:mod:`tests.servers.slack`: ``apps.connections.open`` with the app-level
token, ``chat.postMessage``, response URLs) and the Socket Mode WebSocket
(:mod:`tests.servers.slack_socket`: ``hello``, envelopes, acknowledgements, ``disconnect``).

slack_bolt's own SocketModeHandler (slack_sdk's built-in client) does the talking; nothing of it
is patched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers.slack import SlackServer
from tests.servers.slack_socket import SocketModeServer

ACK_DEADLINE = 3.0
"""Slack shows the user an error when an envelope is not acknowledged within 3 seconds."""


@dataclass
class Service:
    """A running ``netadvisor serve`` and the Slack it talks to."""

    process: subprocess.Popen[str]
    port: int
    slack: SlackServer
    socket_mode: SocketModeServer
    lines: list[str]

    def get(self, path: str) -> tuple[int, dict[str, Any] | str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
                status, body = r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read().decode()
            exc.close()
        return status, (json.loads(body) if body.startswith("{") else body)

    def ready(self) -> tuple[bool, str]:
        status, body = self.get("/readyz")
        assert isinstance(body, dict)
        slack = body["checks"]["slack"]
        assert (status == 200) == body["ready"]
        return bool(slack["ok"]) and status == 200, str(slack["detail"])

    def wait_ready(self, wanted: bool, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            ok, detail = self.ready()
            if ok is wanted or time.monotonic() > deadline:
                assert ok is wanted, f"readyz: {detail}"
                return detail
            time.sleep(0.2)


def _environment(tmp_path: Path, slack: SlackServer, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NETADVISOR_", "SLACK_", "KUBE", "GITHUB_"))
    }
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        SLACK_BOT_TOKEN=slack.token,
        SLACK_APP_TOKEN=slack.app_token,
        NETADVISOR_SLACK_API_URL=slack.url,
        NETADVISOR_PORT="0",
        NETADVISOR_SCAN_INTERVAL="3600",
        NETADVISOR_LEADER_ELECTION="off",
    )
    env.update(extra)
    return env


def _start(env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]
    return subprocess.Popen(
        [*command, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _stop(process: subprocess.Popen[str], lines: list[str]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    out, rest = process.communicate(timeout=30)
    return "".join(lines) + rest + out


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with (
        SocketModeServer(app_id="A0APP") as socket_mode,
        SlackServer(channels={"C0NET": "net"}, socket_mode=socket_mode) as slack,
    ):
        process = _start(_environment(tmp_path, slack))
        lines: list[str] = []
        try:
            assert process.stderr is not None
            deadline = time.monotonic() + 60
            port = 0
            while not port and time.monotonic() < deadline:
                line = process.stderr.readline()
                lines.append(line)
                if "on port " in line:
                    port = int(line.split("on port ")[1].split(";")[0])
                elif not line and process.poll() is not None:
                    break
            assert port, "serve did not start: " + "".join(lines)
            yield Service(process, port, slack, socket_mode, lines)
        finally:
            log = _stop(process, lines)
            assert process.returncode == 0, log
            assert "stopped" in log
            assert slack.token not in log and slack.app_token not in log


def slash_command(slack: SlackServer, text: str) -> dict[str, Any]:
    """A slash command as Socket Mode delivers it: the form fields of the HTTP request, as JSON."""
    return {
        "token": "legacy-verification-token",
        "team_id": "T0TEST",
        "team_domain": "netadvisor-test",
        "channel_id": "C0NET",
        "channel_name": "net",
        "user_id": "U0OPS",
        "user_name": "ops",
        "command": "/netadvisor",
        "text": text,
        "api_app_id": "A0APP",
        "is_enterprise_install": "false",
        "response_url": slack.response_url("1234/abcd"),
        "trigger_id": "1234.5678.abcd",
    }


def app_mention(text: str, ts: str) -> dict[str, Any]:
    """An ``events_api`` payload: the Events API's event_callback wrapper around an
    ``app_mention``."""
    return {
        "token": "legacy-verification-token",
        "team_id": "T0TEST",
        "api_app_id": "A0APP",
        "event": {
            "client_msg_id": "6f0c5a6e-8f6b-4d5e-9c38-0d8d3b2c1a55",
            "type": "app_mention",
            "text": f"<@U0BOT> {text}",
            "user": "U0OPS",
            "ts": ts,
            "team": "T0TEST",
            "channel": "C0NET",
            "event_ts": ts,
        },
        "type": "event_callback",
        "event_id": "Ev0TEST0001",
        "event_time": int(float(ts)),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": "T0TEST",
                "user_id": "U0BOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6ImFwcF9tZW50aW9uIn0",
    }


def test_serve_opens_a_socket_mode_connection_with_the_app_level_token(service: Service) -> None:
    service.socket_mode.wait_connected()
    [opened] = service.slack.requests("apps.connections.open")
    assert opened.authorization == f"Bearer {service.slack.app_token}"
    assert service.get("/healthz") == (200, "ok\n")
    assert service.wait_ready(True) == "connected (Socket Mode)"
    # The port carries the operations endpoints only: Slack's events come over the socket.
    assert service.get("/slack/events")[0] == 404


def test_a_slash_command_is_acknowledged_within_3_s_and_answered_through_the_response_url(
    service: Service,
) -> None:
    service.socket_mode.wait_connected()
    payload = slash_command(service.slack, "ask is kernel 5.4 safe for IPVS?")
    envelope = service.socket_mode.send_envelope("slash_commands", payload)
    ack, seconds = service.socket_mode.wait_ack(envelope)
    assert seconds < ACK_DEADLINE
    assert ack["envelope_id"] == envelope
    assert ack["payload"]["text"] == "netadvisor ask: working on it…"
    assert ack["payload"]["response_type"] == "ephemeral"
    [answer] = service.slack.wait_for("response_url")
    assert answer.params["_path"] == "/commands/T0TEST/1234/abcd"
    assert answer.params["text"].startswith("Not safe: IPVS mode: 1 s delay or failed requests")
    assert answer.params["blocks"][0]["text"]["text"].startswith(":rotating_light: *Not safe")
    assert answer.params["response_type"] == "ephemeral"


def test_an_unknown_subcommand_gets_the_help_in_the_ack_itself(service: Service) -> None:
    service.socket_mode.wait_connected()
    envelope = service.socket_mode.send_envelope(
        "slash_commands", slash_command(service.slack, "frobnicate")
    )
    ack, seconds = service.socket_mode.wait_ack(envelope)
    assert seconds < ACK_DEADLINE
    assert ack["payload"]["text"] == "netadvisor help"
    assert "/netadvisor ask" in json.dumps(ack["payload"]["blocks"])


def test_a_mention_is_acknowledged_within_3_s_and_answered_in_its_thread(
    service: Service,
) -> None:
    service.socket_mode.wait_connected()
    question = "is kernel 5.4 safe for IPVS?"
    ts = service.slack.add_user_message("C0NET", f"<@U0BOT> {question}")
    payload = app_mention(question, ts)
    envelope = service.socket_mode.send_envelope("events_api", payload)
    ack, seconds = service.socket_mode.wait_ack(envelope)
    assert seconds < ACK_DEADLINE
    assert ack == {"envelope_id": envelope}
    [post] = service.slack.wait_for("chat.postMessage")
    assert post.authorization == f"Bearer {service.slack.token}"
    assert post.params["channel"] == "C0NET" and post.params["thread_ts"] == ts
    assert post.params["text"].startswith("Not safe: IPVS mode: 1 s delay or failed requests")
    [reply] = service.slack.replies("C0NET", ts)
    assert reply["user"] == "U0BOT" and reply["blocks"] == post.params["blocks"]


def test_readyz_fails_while_disconnected_and_recovers_when_slack_is_back(
    service: Service,
) -> None:
    sockets = service.socket_mode
    sockets.wait_connected()
    service.wait_ready(True)
    sockets.refuse()
    sockets.drop()
    sockets.wait_disconnected()
    assert service.wait_ready(False) == "not connected to Slack (Socket Mode)"
    status, body = service.get("/readyz")
    assert status == 503 and isinstance(body, dict)
    assert body["checks"]["store"]["ok"] and body["checks"]["catalog"]["ok"]
    assert service.get("/healthz") == (200, "ok\n")  # alive: no restart for a Slack outage
    sockets.refuse(False)
    # The handler retries at its ping interval (10 s), each time with a new URL.
    sockets.wait_connected(opened=2, timeout=30)
    service.wait_ready(True)
    assert len(service.slack.requests("apps.connections.open")) >= 2
    envelope = sockets.send_envelope("slash_commands", slash_command(service.slack, "help"))
    assert sockets.wait_ack(envelope)[1] < ACK_DEADLINE


def test_a_disconnect_message_makes_the_app_reconnect_on_a_new_url(service: Service) -> None:
    sockets = service.socket_mode
    sockets.wait_connected()
    sockets.disconnect("refresh_requested")
    sockets.wait_connected(opened=2, timeout=15)
    assert len(service.slack.requests("apps.connections.open")) == 2
    # slack_sdk's built-in client closes the old connection once the new one is up; that close
    # waits for the old socket's 3 s receive timeout, and the new connection is read only after
    # it. An envelope that arrives in that window is acknowledged late (a known limitation).
    sockets.wait_open(1)
    envelope = sockets.send_envelope("slash_commands", slash_command(service.slack, "help"))
    ack, seconds = sockets.wait_ack(envelope)
    assert seconds < ACK_DEADLINE and ack["payload"]["text"] == "netadvisor help"


def test_a_rejected_app_token_stops_serve_at_start_without_printing_it(tmp_path: Path) -> None:
    with (
        SocketModeServer() as socket_mode,
        SlackServer(socket_mode=socket_mode) as slack,
    ):
        env = _environment(tmp_path, slack, SLACK_APP_TOKEN="xapp-1-A0APP-1-revoked-token")
        process = _start(env)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 1, err
    assert "cannot start: Socket Mode: apps.connections.open: invalid_auth" in err
    assert "revoked-token" not in out + err and slack.token not in out + err
    assert socket_mode.opened == 0
