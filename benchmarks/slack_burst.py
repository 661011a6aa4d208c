"""A burst of signed ``/netadvisor`` slash commands sent at once: how many are refused or reset,
and p50/p99 to the acknowledgement.

``--n`` threads (100 by default) each open a connection to ``/slack/events`` on 127.0.0.1,
wait at a barrier, then POST one signed ``/netadvisor ask ...`` at the same instant; the ack is
the HTTP response. The app is the one ``serve`` runs (Bolt with request verification, served by
:class:`bot.http.HttpServer`); answers go to a response-URL recorder on 127.0.0.1. Bounded: at
most ``--rounds`` bursts, each request with a 10 s timeout. Target: none refused or reset, p99
ack under 1 s. Run::

    python benchmarks/slack_burst.py [--n 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
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


def main() -> None:
    """Run the bursts and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n, rounds = min(args.n, 500), min(args.rounds, 10)
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
    recorder.shutdown()
    failed = sum(count for key, count in totals.items() if key != "200")
    print(f"total: {rounds} x {n}: {failed} not acknowledged {dict(sorted(totals.items()))}; "
          f"ack p50 {_pct(all_acks, 50):.0f} ms, p99 {_pct(all_acks, 99):.0f} ms")  # fmt: skip
    met = failed == 0 and _pct(all_acks, 99) < 1000
    print("target (none refused or reset, p99 ack < 1 s):", "met" if met else "NOT met")


if __name__ == "__main__":
    main()
