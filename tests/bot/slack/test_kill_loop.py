"""kill -9 during delivery, on PostgreSQL, again and again: every message reaches Slack once.

Each trial starts a real process that records a scan of five clusters (one match each, all of
one advisory: one grouped post, after the channel's baseline) in a channel of its own and
delivers it through the real slack_sdk client to the Slack fake; the process is killed with
SIGKILL after a random number of posts, in the middle of any step. A recovery scan in this
process, at once (no waiting out the dead worker's lease), must leave the baseline and the
grouped post in Slack exactly once, the post naming every cluster.
"""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bot.slack.notifier import EVENT_TYPE, SlackNotifier, make_client
from bot.terminal.notifier import TerminalNotifier
from jobs.notices import MessageRef
from jobs.notify import Routing
from jobs.store import IntentState, MatchState, Store
from jobs.tracker import Tracker
from tests.servers.slack import SlackServer
from tests.state_databases import database_url
from tests.tracked_fleet import catalog, cluster, scan

TRIALS = 50
CLUSTERS = 5
ROOT = Path(__file__).resolve().parents[3]

CHILD = """
import io, sys
from datetime import UTC, datetime
from bot.slack.notifier import SlackNotifier, make_client
from bot.terminal.notifier import TerminalNotifier
from jobs.notify import Routing
from jobs.store import Store
from jobs.tracker import Tracker
from tests.tracked_fleet import catalog, cluster, scan

url, api, token, trial, count = sys.argv[1:6]
clusters = [cluster(f"t{trial}-c{i}") for i in range(int(count))]
with Store.open(url) as store:
    notifier = SlackNotifier(make_client(token, base_url=api))
    routing = Routing(f"#trial-{trial}")
    tracker = Tracker(store, notifier, TerminalNotifier(io.StringIO()), routing)
    catalog()
    print("ready", flush=True)
    tracker.record(scan(*clusters), datetime.now(UTC), source="kill", catalog_version="x")
"""


def _markers(slack: SlackServer) -> Counter[str]:
    found: Counter[str] = Counter()
    for _, message in slack.all_messages():
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == EVENT_TYPE:
            found[str(metadata["event_payload"]["marker"])] += 1
    return found


def test_kill_9_during_delivery_on_postgresql_loses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    rng = random.Random(15)
    killed = 0
    channels = {f"C0TRIAL{t:02d}": f"trial-{t}" for t in range(TRIALS)}
    with (
        SlackServer(channels=channels) as slack,
        database_url("postgresql", tmp_path) as url,
    ):
        with Store.open(url):
            pass  # the schema, once, before the processes race for nothing
        for trial in range(TRIALS):
            before = len(slack.requests("chat.postMessage"))
            # 0: during the baseline; 1: during the grouped post; 2: after it, maybe before
            # it was recorded.
            kill_after = rng.randrange(0, 3)
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD, url, slack.url, slack.token, str(trial),
                 str(CLUSTERS)],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )  # fmt: skip
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            deadline = time.monotonic() + 20
            while child.poll() is None and time.monotonic() < deadline:
                if len(slack.requests("chat.postMessage")) - before >= kill_after:
                    os.kill(child.pid, signal.SIGKILL)
                    killed += 1
                    break
                time.sleep(0.001)
            child.wait(20)
            child.stdout.close()
            # Recovery at once: the scan again, in a process of its own.
            clusters = [cluster(f"t{trial}-c{i}") for i in range(CLUSTERS)]
            with Store.open(url) as store:
                notifier = SlackNotifier(make_client(slack.token, base_url=slack.url))
                routing = Routing(f"#trial-{trial}")
                tracker = Tracker(store, notifier, TerminalNotifier(io.StringIO()), routing)
                report = tracker.record(
                    scan(*clusters),
                    datetime.now(UTC),
                    source="recovery",
                    catalog_version=catalog().version,
                )
                assert report.delivery.pending == 0, (trial, report.delivery)
                with store.transaction() as tx:
                    assert tx.intents(IntentState.PENDING) == [], trial
                    mine = [
                        m
                        for m in tx.matches(None, MatchState.OPEN)
                        if m.cluster_uid.startswith(f"uid-t{trial}-")
                    ]
            channel = f"C0TRIAL{trial:02d}"
            (post,) = slack.top_level(channel)
            assert len(slack.baselines(channel)) == 1, (trial, kill_after)
            assert len(mine) == CLUSTERS, trial
            assert {m.message for m in mine} == {MessageRef(channel, post["ts"])}, (
                trial,
                kill_after,
            )
            for i in range(CLUSTERS):
                assert f"t{trial}-c{i}" in str(post["blocks"]), (trial, i)
        markers = _markers(slack)
    assert killed >= TRIALS // 2, "most trials must kill the process during delivery"
    assert markers and max(markers.values()) == 1, [m for m, n in markers.items() if n > 1]
    assert len(markers) == 2 * TRIALS  # each baseline and each grouped post once
