"""1,000 questions through the Slack app's HTTP endpoint: p50/p99 to the ack and to the answer.

Each question is a signed ``/netadvisor ask ...`` slash command POSTed to ``/slack/events`` on
127.0.0.1 (waitress, Bolt with request verification); the ack is the HTTP response, the
answer is the POST the app makes to the command's response URL (a recorder on 127.0.0.1).
Questions need no cluster data. Target: p99 < 100 ms. Run::

    python benchmarks/ask_http.py [--n 1000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import statistics
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

from advisories.catalog import load_catalog
from bot.http import HttpServer
from bot.slack.app import create_app, wsgi_app
from bot.slack.listeners import BotContext, register

SECRET = "benchmark-signing-secret"
QUESTIONS = (
    "is kernel 5.4 safe for IPVS?",
    "why do we see a 1 second delay on CentOS 7 with ipvs?",
    "is kernel 5.4 ok?",
    "calico 3.26 vxlan on kernel 5.15",
    "calico v3.28.2 vxlan on kernel 6.1 safe?",
    "calico-kube-controllers memory leak on calico 3.23",
    "pods cannot communicate across nodes",
    "rolling update failures with iptables on k8s 1.28.3",
    "spiderpool v0.9.0 upgrade panic",
    "内核 5.4 用 IPVS 安全吗？",
    "calico 3.26 vxlan 节点访问 NodePort 延迟 63 秒",
    "can we upgrade kube-proxy from 1.27 to 1.30 in iptables mode?",
    "coredns is slow",
    "hello",
)

ARRIVED: dict[str, float] = {}
LOCK = threading.Lock()


class _Recorder(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b""
        if self.path.endswith("/api/auth.test"):
            # Bolt's single-workspace authorization asks once who the token is.
            body = json.dumps({"ok": True, "user_id": "U0BOT", "team_id": "T0",
                               "bot_id": "B0BOT"}).encode()  # fmt: skip
        else:
            with LOCK:
                ARRIVED[self.path.rsplit("/", 1)[-1]] = time.perf_counter()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _signed(url: str, body: bytes) -> urllib.request.Request:
    ts = str(int(time.time()))
    signature = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256)
    return urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "X-Slack-Request-Timestamp": ts,
                 "X-Slack-Signature": "v0=" + signature.hexdigest()},
    )  # fmt: skip


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    recorder = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    api_url = f"http://127.0.0.1:{recorder.server_address[1]}/api/"
    app = create_app(token="xoxb-benchmark", signing_secret=SECRET, api_url=api_url)
    register(app, BotContext(load_catalog()))
    acks: list[float] = []
    answers: list[float] = []
    sent: dict[str, float] = {}
    with HttpServer(wsgi_app(app), port=0) as server:
        url = f"http://127.0.0.1:{server.port}/slack/events"
        response_base = f"http://127.0.0.1:{recorder.server_address[1]}/commands/T0/"

        def one(i: int) -> None:
            body = urlencode({
                "team_id": "T0", "channel_id": "C0NET", "user_id": "U0", "command": "/netadvisor",
                "text": "ask " + QUESTIONS[i % len(QUESTIONS)],
                "response_url": f"{response_base}{i}", "trigger_id": str(i),
            }).encode()  # fmt: skip
            request = _signed(url, body)
            start = time.perf_counter()
            sent[str(i)] = start
            with urllib.request.urlopen(request, timeout=10) as response:
                json.loads(response.read())
            acks.append(time.perf_counter() - start)

        for i in range(20):  # warm-up
            one(-i - 1)
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(one, range(args.n)))
        deadline = time.time() + 30
        while time.time() < deadline:
            with LOCK:
                if all(str(i) in ARRIVED for i in range(args.n)):
                    break
            time.sleep(0.05)
        answers = [ARRIVED[str(i)] - sent[str(i)] for i in range(args.n) if str(i) in ARRIVED]
    recorder.shutdown()
    print(f"{args.n} questions, concurrency {args.concurrency}, {len(QUESTIONS)} distinct")
    print(f"ack:    p50 {_pct(acks, 50):6.1f} ms   p99 {_pct(acks, 99):6.1f} ms")
    print(f"answer: p50 {_pct(answers, 50):6.1f} ms   p99 {_pct(answers, 99):6.1f} ms "
          f"({len(answers)} answered; mean {statistics.mean(answers) * 1000:.1f} ms)")  # fmt: skip
    print("target p99 < 100 ms:", "met" if _pct(answers, 99) < 100 else "NOT met")


if __name__ == "__main__":
    main()
