"""The fleet exposure matrix attached to each delivered digest, in the digest's thread.

After a digest pass, every digest delivered since the pass began (outbox intents of kind
``digest`` that are done) gets a reply with the PNG of its channel's clusters, built from the
state store: each active cluster's last successful facts, matched against the catalog now;
clusters that cannot be read at the moment are rows of "not read", and active mutes are shown
as muted.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Any

from slack_sdk import WebClient

from advisories.catalog import Catalog
from advisories.engine import Engine
from advisories.fleet import ClusterFacts
from bot.report.model import FleetReport, read_scan
from bot.report.png import render_png
from bot.slack.files import upload_image
from jobs.inventory.report import scan_fleet, scan_to_json
from jobs.notify import NotifyError, Routing
from jobs.store import ClusterState, IntentState, Store, Tx

__all__ = ["attach_after_digest", "attach_digest_images", "stored_report"]

log = logging.getLogger(__name__)


def stored_report(tx: Tx, catalog: Catalog, now: datetime) -> FleetReport:
    """The fleet exposure report of what the store knows now (no cluster is read)."""
    readable: list[ClusterFacts] = []
    unreadable: list[dict[str, Any]] = []
    last: datetime | None = None
    muted: list[tuple[str, str]] = []
    mutes = tx.mutes(active_at=now)
    for record in tx.clusters(ClusterState.ACTIVE):
        latest = tx.latest_facts(record.uid)
        if latest is None or record.unreadable_since is not None:
            unreadable.append(
                {
                    "name": record.name,
                    "status": record.last_status or "error",
                    "error": record.last_error,
                    "labels": dict(record.labels),
                    "results": [],
                }
            )
            continue
        at, facts = latest
        last = at if last is None or at > last else last
        readable.append(dataclasses.replace(facts, name=record.name, labels=dict(record.labels)))
        for advisory in catalog.advisories:
            if any(m.covers(record.uid, advisory.id, record.name) for m in mutes):
                muted.append((record.name, advisory.id))
    data = scan_to_json(scan_fleet(readable, Engine(catalog.advisories)), catalog.version)
    data["clusters"] += unreadable
    return read_scan(data, last, muted=muted)


def _for_channel(report: FleetReport, routing: Routing, channel: str) -> FleetReport:
    if channel == routing.default:
        # The default channel's digest covers the whole fleet.
        return report
    rows = tuple(r for r in report.clusters if routing.channel_for(r.labels) == channel)
    return dataclasses.replace(report, clusters=rows)


def attach_digest_images(
    store: Store, client: WebClient, catalog: Catalog, routing: Routing, since: datetime,
    now: datetime,
) -> list[str]:  # fmt: skip
    """Upload the matrix into the thread of every digest delivered since ``since``; returns
    the file ids. A failed upload is logged and skipped: the digest itself was delivered."""
    intents = store.run(lambda tx: tx.intents(IntentState.DONE))
    delivered = [
        i for i in intents if i.kind == "digest" and i.created_at >= since and "0" in i.progress
    ]
    if not delivered:
        return []
    report = store.run(lambda tx: stored_report(tx, catalog, now))
    files: list[str] = []
    for intent in delivered:
        channel_id, ts = intent.progress["0"]
        shown = _for_channel(report, routing, intent.channel)
        if not shown.clusters:
            continue
        try:
            files.append(
                upload_image(client, channel_id, ts, render_png(shown),
                             comment="Fleet exposure: clusters x advisories that hold somewhere")
            )  # fmt: skip
        except NotifyError as exc:
            log.warning("digest image not attached: %s", exc)
    return files


def attach_after_digest(
    store: Store, notifier: object, catalog: Catalog, routing: Routing, since: datetime,
    now: datetime,
) -> list[str]:  # fmt: skip
    """:func:`attach_digest_images` when the digests went to Slack (nothing when printed)."""
    from bot.slack.notifier import SlackNotifier

    if not isinstance(notifier, SlackNotifier):
        return []
    return attach_digest_images(store, notifier.client, catalog, routing, since, now)
