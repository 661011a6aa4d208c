"""The fleet exposure matrix attached to each delivered digest, in the digest's thread.

After a digest pass, every digest delivered since the pass began (outbox intents of kind
``digest`` that are done) gets a reply with the PNG of its channel's clusters. The caller (the
composition root) builds the matrix from the state store: each active cluster's last successful
facts, matched against the catalog now; clusters that cannot be read at the moment are rows of
"not read", active mutes are shown as muted, and the matches the digest tags ``new`` get a
dark corner.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient

from bot.report.model import FleetReport
from bot.report.png import render_png
from bot.slack.files import upload_image
from jobs.notices import Digest
from jobs.notify import NotifyError, Routing
from jobs.store import IntentState, Store

__all__ = ["attach_digest_images"]

log = logging.getLogger(__name__)


def _for_channel(report: FleetReport, routing: Routing, channel: str) -> FleetReport:
    if channel == routing.default:
        # The default channel's digest covers the whole fleet.
        return report
    rows = tuple(r for r in report.clusters if routing.channel_for(r.labels) == channel)
    return dataclasses.replace(report, clusters=rows)


def attach_digest_images(
    store: Store,
    client: WebClient,
    report: Callable[[], FleetReport],
    routing: Routing,
    since: datetime,
) -> list[str]:
    """Upload the matrix into the thread of every digest delivered since ``since``; returns
    the file ids. A failed upload is logged and skipped: the digest itself was delivered."""
    intents = store.run(lambda tx: tx.intents(IntentState.DONE))
    delivered = [
        i for i in intents if i.kind == "digest" and i.created_at >= since and "0" in i.progress
    ]
    if not delivered:
        return []
    whole = report()
    files: list[str] = []
    for intent in delivered:
        channel_id, ts = intent.progress["0"]
        shown = _for_channel(whole, routing, intent.channel)
        if not shown.clusters:
            continue
        digest = Digest.from_json(intent.notice)
        # The digest's own words: its date, and its new matches marked in their cells.
        new = {(m.cluster, m.advisory_id) for m in digest.open if m.new}
        image = render_png(shown, title=f"netadvisor digest · {digest.at:%Y-%m-%d}", new=new)
        try:
            files.append(
                upload_image(client, channel_id, ts, image,
                             comment="Fleet exposure: clusters x advisories that hold somewhere")
            )  # fmt: skip
        except NotifyError as exc:
            log.warning("digest image not attached: %s", exc)
    return files
