"""The buttons of one post about ``--clusters`` clusters (40 by default, ``--nodes`` affected
nodes each): time to the acknowledgement of each click, to the last thread reply of "Show nodes"
and "Plan a fix", and to the acknowledgement of a "Mute…" submission for all of them (the mutes
are written before it, so that a refusal shows in the form).

The app is the one ``serve`` runs (Bolt with request verification behind
:class:`bot.http.HttpServer`), the Slack Web API is the test server of ``tests/servers/slack.py``
on 127.0.0.1, the post is made by a real scan (:class:`jobs.tracker.Tracker`) and then made the
post of every cluster, as a grouped post is. Target: every acknowledgement well under Slack's
3 seconds, the submission included. Run::

    python benchmarks/post_actions.py [--clusters 40] [--nodes 50] [--clicks 20]
        [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.http import HttpServer  # noqa: E402
from bot.slack.app import create_app, wsgi_app  # noqa: E402
from bot.slack.listeners import BotContext, register  # noqa: E402
from bot.slack.post_actions import MUTE_ACTION, NODES_ACTION, PLAN_ACTION  # noqa: E402
from jobs.muting import list_mutes  # noqa: E402
from jobs.scan import LastScan  # noqa: E402
from jobs.store import Store  # noqa: E402
from tests.bot.slack.test_notifier import NOW, run, tracker  # noqa: E402
from tests.bot.slack.test_post_actions import (  # noqa: E402
    ADMIN,
    CLICKED_AT,
    SECRET_OF_TESTS,
    Bot,
    submission,
)
from tests.servers.slack import SlackServer  # noqa: E402
from tests.tracked_fleet import IPVS, catalog, cluster, engine  # noqa: E402


def _ms(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def _wait(bot: Bot, channel: str, ts: str, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(bot.slack.replies(channel, ts)) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"no thread reply after {timeout} s")
        time.sleep(0.005)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=40)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'state.db'}"
        with SlackServer() as slack, Store.open(url) as store:
            app = create_app(token=slack.token, signing_secret=SECRET_OF_TESTS,
                             api_url=slack.url)  # fmt: skip
            register(app, BotContext(catalog(), engine=engine(), clusters=LastScan(store),
                                     store=store, mute_users=frozenset({ADMIN}),
                                     now=lambda: CLICKED_AT))  # fmt: skip
            with HttpServer(wsgi_app(app), port=0) as server:
                bot = Bot(f"http://127.0.0.1:{server.port}", slack, store, tracker(store, slack))
                kernels = ("5.4.0-150-generic",) * args.nodes
                fleet = [cluster(f"prod-{i:03d}", kernels=kernels) for i in range(args.clusters)]
                run(bot.tracker, *fleet, at=NOW)
                ref = bot.post_of(fleet[0].name)
                with store.transaction() as tx:
                    for facts in fleet[1:]:
                        match = tx.match(facts.uid or "", IPVS)
                        assert match is not None
                        tx.save_match(replace(match, message=ref))
                print(f"one post of {args.clusters} clusters x {args.nodes} affected nodes, "
                      f"{store.display_url.split(':')[0]}")  # fmt: skip
                for name, action in (("Show nodes", NODES_ACTION), ("Plan a fix", PLAN_ACTION)):
                    acks, done = [], []
                    first = len(slack.replies(ref.channel, ref.ts))
                    for _ in range(args.clicks):
                        before = len(slack.replies(ref.channel, ref.ts))
                        wall, start = time.time(), time.perf_counter()
                        status, _ = bot.click(ref, action)
                        acks.append(time.perf_counter() - start)
                        assert status == 200
                        _wait(bot, ref.channel, ref.ts, before + 1)
                        time.sleep(0.2)  # a reply of several messages ends by then
                        replies = slack.replies(ref.channel, ref.ts)
                        done.append(float(replies[-1]["ts"]) - wall)
                    messages = (len(slack.replies(ref.channel, ref.ts)) - first) // args.clicks
                    print(f"{name}: ack p50 {_ms(acks, 50):.0f} ms, p99 {_ms(acks, 99):.0f} ms; "
                          f"{messages} message(s) in the thread, last one posted "
                          f"{_ms(done, 50):.0f} ms after the click (p50)")  # fmt: skip
                acks = []
                for _ in range(args.clicks):
                    start = time.perf_counter()
                    assert bot.click(ref, MUTE_ACTION)[0] == 200
                    acks.append(time.perf_counter() - start)
                slack.wait_for("views.open", args.clicks)
                print(f"Mute…: ack p50 {_ms(acks, 50):.0f} ms, p99 {_ms(acks, 99):.0f} ms")
                view = slack.views()[-1]
                start = time.perf_counter()
                status, _ = bot.send(submission(view))
                took = time.perf_counter() - start
                mutes = len(list_mutes(store, CLICKED_AT))
                print(f"Mute submission for all {args.clusters} clusters: acknowledged in "
                      f"{took * 1000:.0f} ms (HTTP {status}), {mutes} mutes written")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
