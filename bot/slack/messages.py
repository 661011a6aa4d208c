"""What netadvisor's Slack messages say: match notices, digests and upstream news in Block Kit.

Every match message names the cluster, the catalog version and the facts that triggered it, so
that "why was this posted?" is answered in the message itself. Long node lists go to a thread
reply; anything longer than Slack allows is split (see :mod:`bot.slack.blocks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from bot.slack.blocks import (
    Block,
    SlackMessage,
    blocks_to_text,
    context,
    divider,
    escape,
    header,
    pages,
    section,
)
from bot.slack.digest_message import digest_messages
from bot.slack.post_actions import post_actions
from jobs.notices import Digest, MatchNotice, MatchSnapshot, NewsNotice, NoticeKind

__all__ = [
    "INLINE_NODES",
    "digest_messages",
    "digest_text",
    "match_message",
    "news_message",
    "node_list_messages",
    "notice_reply",
]

INLINE_NODES: Final = 15
"""Node names listed in the message itself; longer lists go to a thread reply."""

_SEVERITY_MARK: Final = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
    "low": ":white_circle:",
}
_CLOSED_MARK: Final = {
    NoticeKind.RESOLVED: (":white_check_mark:", "RESOLVED"),
    NoticeKind.RETIRED: (":heavy_minus_sign:", "RETIRED"),
    NoticeKind.REPLACED: (":arrows_counterclockwise:", "CLOSED (cluster replaced)"),
}


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "-"


def _severity(snap: MatchSnapshot) -> str:
    return (snap.severity or "unrated").upper()


def _headline(snap: MatchSnapshot) -> str:
    return f"[{_severity(snap)}] {snap.advisory_id}: {snap.title}"


def _fallback(notice: MatchNotice, prefix: str = "") -> str:
    text = f"{prefix}{_headline(notice.snapshot)} on {notice.cluster.name}"
    return text[:3000]


def _triggers(snap: MatchSnapshot) -> str:
    facts = [f"{escape(key)} `{escape(value)}`" for key, value in snap.triggers]
    lines = ["*Why this was posted:* " + (", ".join(facts) or "the catalog's conditions hold")]
    for group in snap.groups:
        os_image = f" ({escape(group.os_image)})" if group.os_image else ""
        kernel = f"kernel `{escape(group.kernel)}`" if group.kernel else "unknown kernel"
        lines.append(f"• {group.count} node{'s' if group.count != 1 else ''}: {kernel}{os_image}")
    return "\n".join(lines)


def _nodes(snap: MatchSnapshot) -> str:
    nodes = snap.affected_nodes
    total = f" of {snap.node_count}" if snap.node_count else ""
    if not nodes:
        return "*Affected nodes:* the whole cluster (decided by cluster-wide facts)"
    shown = ", ".join(f"`{escape(n)}`" for n in nodes[:INLINE_NODES])
    more = ""
    if len(nodes) > INLINE_NODES:
        more = f" and {len(nodes) - INLINE_NODES} more (full list in the thread)"
    return f"*Affected nodes ({len(nodes)}{total}):* {shown}{more}"


def _body(snap: MatchSnapshot) -> list[Block]:
    blocks: list[Block] = []
    blocks += section(_nodes(snap))
    blocks += section(_triggers(snap))
    blocks += section("*Impact:* " + escape(snap.impact))
    blocks += section("*Recommendation:* " + escape(snap.recommendation))
    for description, command in snap.workaround:
        label = f"*Workaround:* {escape(description)}" if description else "*Workaround:*"
        blocks += section(f"{label}\n```{command}```")
    if snap.fixed_in:
        blocks += section("*Fixed in:* " + ", ".join(snap.fixed_in))
    links = [f"<{url}|{kind.lower()}>" for kind, url in snap.references]
    if links:
        blocks += context("*References:* " + " · ".join(links))
    return blocks


def _about(notice: MatchNotice) -> str:
    cluster = notice.cluster
    labels = ", ".join(f"{k}={v}" for k, v in sorted(cluster.labels.items()))
    parts = [f"Cluster *{escape(cluster.name)}* (kube-system UID `{escape(cluster.uid)}`)"]
    if labels:
        parts.append(f"labels {escape(labels)}")
    parts.append(f"catalog {escape(notice.snapshot.catalog_version)}")
    parts.append(f"component {escape(notice.snapshot.component)}")
    if notice.opened_at:
        parts.append(f"affected since {_when(notice.opened_at)}")
    return " · ".join(parts)


def match_message(notice: MatchNotice) -> list[SlackMessage]:
    """The match's own message (as posted, updated or closed) and its continuation pages.

    The first element is the message; any others are thread replies that continue it.
    """
    snap = notice.snapshot
    mark = _SEVERITY_MARK.get(snap.severity or "", ":warning:")
    blocks: list[Block] = []
    prefix = ""
    if notice.kind in _CLOSED_MARK:
        emoji, word = _CLOSED_MARK[notice.kind]
        prefix = f"{word}: "
        blocks.append(header(f"{emoji} {word}: {snap.advisory_id}: {snap.title}"))
        blocks += section(f"*{word.capitalize()} {_when(notice.at)}:* {escape(notice.reason)}")
    else:
        blocks.append(header(f"{mark} {_headline(snap)}"))
    blocks += context(_about(notice))
    if notice.kind is NoticeKind.UPDATED:
        blocks += context(f"_Updated {_when(notice.at)}: what changed is in the thread._")
    blocks.append(divider())
    blocks += _body(snap)
    if notice.kind not in _CLOSED_MARK:
        blocks.append(post_actions(snap.advisory_id))
    fallback = _fallback(notice, prefix)
    return [
        SlackMessage(fallback if i == 0 else f"{fallback} (continued)", page)
        for i, page in enumerate(pages(blocks))
    ]


def node_list_messages(notice: MatchNotice) -> list[SlackMessage]:
    """Thread replies listing every affected node, when the message could not list them all."""
    nodes = notice.snapshot.affected_nodes
    if len(nodes) <= INLINE_NODES:
        return []
    text = f"*All {len(nodes)} affected nodes of {escape(notice.cluster.name)}:*\n" + "\n".join(
        f"• `{escape(n)}`" for n in nodes
    )
    fallback = f"{len(nodes)} affected nodes of {notice.cluster.name}"
    return [SlackMessage(fallback, page) for page in pages(section(text))]


def notice_reply(notice: MatchNotice) -> list[SlackMessage]:
    """The thread reply that says what changed (UPDATED) or when and why it closed."""
    if notice.kind is NoticeKind.UPDATED:
        lines = [f":pencil2: *Updated {_when(notice.at)}*"]
        lines += [f"• {escape(change)}" for change in notice.changes]
        fallback = f"Updated: {notice.snapshot.advisory_id} on {notice.cluster.name}"
    else:
        emoji, word = _CLOSED_MARK[notice.kind]
        lines = [f"{emoji} *{word.capitalize()} {_when(notice.at)}:* {escape(notice.reason)}"]
        fallback = f"{word.capitalize()}: {notice.snapshot.advisory_id} on {notice.cluster.name}"
    return [SlackMessage(fallback, page) for page in pages(section("\n".join(lines)))]


# ---------------------------------------------------------------------------------------------

_NEWS_MARK: Final = {
    "pull-merged": ":twisted_rightwards_arrows:",
    "cherry-pick-merged": ":twisted_rightwards_arrows:",
    "fix-released": ":package:",
    "issue-closed": ":white_check_mark:",
    "catalog-disagrees": ":warning:",
}


def news_message(notice: NewsNotice) -> list[SlackMessage]:
    """Upstream news for the clusters of one channel that it concerns."""
    advisories = ", ".join(notice.advisories)
    mark = _NEWS_MARK.get(notice.kind, ":newspaper:")
    blocks: list[Block] = [header(f"{mark} Upstream: {advisories}")]
    blocks += section(escape(notice.text))
    clusters = ", ".join(f"*{escape(c)}*" for c in notice.clusters)
    count = len(notice.clusters)
    blocks += section(f"*Concerns {count} cluster{'s' if count != 1 else ''} here:* {clusters}")
    if notice.kind == "catalog-disagrees":
        blocks += section(
            "The catalog stays authoritative: verdicts do not change until its maintainers "
            "review this."
        )
    elif notice.kind == "fix-released":
        blocks += section(
            "_From upstream, not curated_: netadvisor's catalog decides verdicts and fixed "
            "versions; check the release before relying on it."
        )
    blocks += context(f"<{notice.reference}|{escape(notice.reference)}> · seen {_when(notice.at)}")
    fallback = f"Upstream ({advisories}): {notice.text}"[:3000]
    return [
        SlackMessage(fallback if i == 0 else f"{fallback} (continued)", page)
        for i, page in enumerate(pages(blocks))
    ]


def digest_text(digests: Sequence[Digest]) -> str:
    """Digests as mrkdwn text (the bot's ``/netadvisor digest`` answer)."""
    return "\n\n".join(blocks_to_text(m.blocks) for d in digests for m in digest_messages(d))
