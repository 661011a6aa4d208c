"""A burst of signed ``/netadvisor`` slash commands sent at once: how many are refused or reset,
and p50/p99 to the acknowledgement.

``--n`` threads (100 by default) each open a connection to ``/slack/events`` on 127.0.0.1,
wait at a barrier, then POST one signed ``/netadvisor ask ...`` at the same instant; the ack is
the HTTP response. The app is the one ``serve`` runs (Bolt with request verification, served by
:class:`bot.http.HttpServer`); answers go to a response-URL recorder on 127.0.0.1. Bounded: at
most ``--rounds`` bursts, each request with a 10 s timeout. Target: none refused or reset, p99
ack under 1 s. Then three 10 MiB POSTs (refused 413 unread) and three unsigned 512 KiB POSTs
(401): the bytes they add to the log, per refused MiB. Run::

    python benchmarks/slack_burst.py [--n 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import io
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

from advisories.catalog import load_catalog
from bot.http import HttpServer
from bot.slack.app import create_app, wsgi_app
from bot.slack.listeners import BotContext, register

SECRET = "benchmark-signing-secret"
QUESTION = "ask is kernel 5.4 safe for IPVS?"


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b"{}"
        if self.path.endswith("/api/auth.test"):
            body = json.dumps({"ok": True, "user_id": "U0BOT", "team_id": "T0",
                               "bot_id": "B0BOT"}).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _body(i: int, response_base: str) -> bytes:
    return urlencode({
        "team_id": "T0", "channel_id": "C0NET", "user_id": "U0", "command": "/netadvisor",
        "text": QUESTION, "response_url": f"{response_base}{i}", "trigger_id": str(i),
    }).encode()  # fmt: skip


def _headers(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    signature = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + signature.hexdigest(),
    }


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def burst(port: int, n: int, response_base: str) -> tuple[list[float], dict[str, int]]:
    """One burst of ``n`` requests; the ack times of those answered 200 and the count of each
    other outcome (an HTTP status or an exception's name)."""
    barrier = threading.Barrier(n)
    acks: list[float] = []
    outcomes: dict[str, int] = {}
    lock = threading.Lock()

    def one(i: int) -> None:
        body = _body(i, response_base)
        headers = _headers(body)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        outcome = "200"
        try:
            connection.connect()
            barrier.wait(timeout=10)
            start = time.perf_counter()
            connection.request("POST", "/slack/events", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - start
            outcome = str(response.status)
            if response.status == 200:
                with lock:
                    acks.append(elapsed)
        except Exception as exc:  # a reset or refusal is what we count
            outcome = type(exc).__name__
        finally:
            connection.close()
        with lock:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return acks, outcomes


def refused_log_bytes(port: int) -> tuple[float, float, list[str]]:
    """Log bytes per refused MiB: for 10 MiB bodies over the limit, and for 512 KiB unsigned
    ones; and the statuses answered."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.DEBUG)
    statuses: list[str] = []
    try:
        for _ in range(3):
            size = 10 * 1024 * 1024
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Length: %d\r\n\r\n" % size)  # fmt: skip
                try:
                    for _ in range(size // 65536):
                        sock.sendall(b"A" * 65536)
                except OSError:
                    pass
                statuses.append(sock.recv(64).split(b"\r\n")[0].decode())
        big = len(stream.getvalue().encode())
        stream.seek(0)
        stream.truncate()
        for _ in range(3):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            body = b'{"type": "event_callback", "x": "' + b"B" * (512 * 1024) + b'"}'
            headers = {"Content-Type": "application/json", "X-Slack-Signature": "v0=00",
                       "X-Slack-Request-Timestamp": str(int(time.time()))}  # fmt: skip
            connection.request("POST", "/slack/events", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            statuses.append(str(response.status))
            connection.close()
        unsigned = len(stream.getvalue().encode())
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    return big / 30, unsigned / 1.5, statuses


def main() -> None:
    """Run the bursts and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n, rounds = min(args.n, 500), min(args.rounds, 10)
    # As serve logs: at info, from before the app is built (Bolt's logger takes the level then).
    logging.getLogger().setLevel(logging.INFO)
    recorder = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{recorder.server_address[1]}"
    app = create_app(token="xoxb-benchmark", signing_secret=SECRET, api_url=base + "/api/")
    register(app, BotContext(load_catalog()))
    all_acks: list[float] = []
    totals: dict[str, int] = {}
    with HttpServer(wsgi_app(app), port=0) as server:
        burst(server.port, 5, base + "/commands/T0/")  # warm-up
        for r in range(rounds):
            acks, outcomes = burst(server.port, n, base + "/commands/T0/")
            all_acks += acks
            for key, count in outcomes.items():
                totals[key] = totals.get(key, 0) + count
            print(f"round {r + 1}: {n} at once: {dict(sorted(outcomes.items()))}; "
                  f"ack p50 {_pct(acks, 50):.0f} ms, p99 {_pct(acks, 99):.0f} ms")  # fmt: skip
            time.sleep(1)
        per_big, per_unsigned, statuses = refused_log_bytes(server.port)
    recorder.shutdown()
    failed = sum(count for key, count in totals.items() if key != "200")
    print(f"total: {rounds} x {n}: {failed} not acknowledged {dict(sorted(totals.items()))}; "
          f"ack p50 {_pct(all_acks, 50):.0f} ms, p99 {_pct(all_acks, 99):.0f} ms")  # fmt: skip
    met = failed == 0 and _pct(all_acks, 99) < 1000
    print("target (none refused or reset, p99 ack < 1 s):", "met" if met else "NOT met")
    print(
        f"refused requests {statuses}: log growth {per_big:.0f} bytes per refused MiB (10 MiB "
        f"bodies, 413), {per_unsigned:.0f} bytes per MiB (512 KiB unsigned, 401)"
    )


if __name__ == "__main__":
    main()
