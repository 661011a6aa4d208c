"""Grouped posts: one Slack message per advisory and channel, listing every cluster it affects.

Read on a phone first: a header of at most 80 characters (severity, consequence, how many
clusters), a fallback text (what a lock screen shows) that starts with the cluster names, then
the impact, what to do (the recommendation and the workarounds of the case that holds), the
clusters and their nodes, why it was posted, and a trailing context with the identifiers. A
post whose clusters are all fixed collapses to what changed. Updates are told in the thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from advisories.answers import short_ref
from advisories.wording import fact_name
from bot.slack.blocks import (
    Block,
    SlackMessage,
    context,
    escape,
    fit,
    header,
    pages,
    plural,
    section,
    utc,
)
from bot.slack.post_actions import post_actions
from jobs.notices import (
    BaselineNotice,
    MatchNotice,
    MatchSnapshot,
    NoticeKind,
    PostMember,
    PostNotice,
)

__all__ = [
    "FALLBACK_LIMIT",
    "HEADER_LIMIT",
    "INLINE_NODES",
    "baseline_message",
    "post_message",
    "post_node_lists",
    "post_reply",
    "single_post",
]

HEADER_LIMIT: Final = 80
"""Characters of a post's header: two lines on a phone."""
FALLBACK_LIMIT: Final = 300
"""Characters of a post's fallback text (notifications show the first hundred or so)."""
INLINE_NODES: Final = 15
"""Node names a one-cluster post lists itself; longer lists go to a thread reply."""
_UIDS_SHOWN: Final = 3

_MARK: Final = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "⚪"}
_CLOSED_WORD: Final = {"resolved": "resolved", "retired": "left the configuration",
                       "replaced": "replaced by another cluster"}  # fmt: skip


def _names(members: Sequence[PostMember], limit: int = 3) -> str:
    names = [m.cluster.name for m in members]
    shown = ", ".join(names[:limit])
    return shown + (f" +{len(names) - limit} more" if len(names) > limit else "")


def _headline(notice: PostNotice) -> str:
    lead = notice.lead
    if notice.closed:
        prefix = "✅ RESOLVED · "
        scope = ""
    else:
        prefix = _MARK.get(lead.severity or "", "⚠️") + " "
        scope = " · " + plural(len(notice.open_members), "cluster")
    return prefix + fit(lead.title, HEADER_LIMIT - len(prefix) - len(scope)) + scope


def _fallback(notice: PostNotice) -> str:
    lead = notice.lead
    if notice.closed:
        text = f"Resolved on {_names(notice.members)}: {lead.title} [{lead.advisory_id}]"
    else:
        severity = (lead.severity or "unrated").upper()
        text = f"{_names(notice.open_members)}: {lead.title} [{severity}, {lead.advisory_id}]"
    return fit(text, FALLBACK_LIMIT)


def _fact(key: str, value: str) -> str:
    return f"{escape(fact_name(key))} `{escape(value)}`"


def _common(members: Sequence[PostMember]) -> set[tuple[str, str]]:
    """The deciding facts every listed cluster shares."""
    sets = [set(m.snapshot.triggers) for m in members]
    return set.intersection(*sets) if sets else set()


def _nodes_phrase(snap: MatchSnapshot) -> str:
    if not snap.affected_nodes:
        return "the whole cluster"
    total = f" of {snap.node_count}" if snap.node_count else ""
    return f"{len(snap.affected_nodes)}{total} nodes"


def _member_line(member: PostMember, shared: set[tuple[str, str]], now: datetime) -> str:
    name = escape(member.cluster.name)
    snap = member.snapshot
    parts = [f"*{name}*", _nodes_phrase(snap)]
    parts += [_fact(k, v) for k, v in snap.triggers if (k, v) not in shared]
    if snap.uncertain_nodes:
        parts.append(f"{len(snap.uncertain_nodes)} uncertain")
    if member.stale_since is not None:
        parts.append(f"_not read since {utc(member.stale_since)}_")
    if member.muted_until is not None and member.muted_until > now:
        parts.append(f"🔇 muted until {member.muted_until:%Y-%m-%d}")
    return "• " + " · ".join(parts)


def _closed_lines(members: Sequence[PostMember]) -> list[str]:
    """Clusters struck from the post, those closed alike (same way, same facts) on one line:
    ``• ~a~, ~b~ resolved 2026-12-03 18:08 UTC: kube-proxy mode ipvs → iptables``."""
    alike: dict[tuple[str, tuple[str, ...], str], list[PostMember]] = {}
    for member in members:
        when = utc(member.closed_at)
        alike.setdefault((member.closed_as, member.changes, when), []).append(member)
    lines = []
    for (closed_as, changes, when), group in alike.items():
        names = ", ".join(f"~{escape(m.cluster.name)}~" for m in group)
        word = _CLOSED_WORD.get(closed_as, closed_as or "closed")
        what = "; ".join(escape(c) for c in changes)
        lines.append(f"• {names} {word} {when}" + (f": {what}" if what else ""))
    return lines


def _node_names(snap: MatchSnapshot) -> str:
    nodes = snap.affected_nodes
    if not nodes:
        return ""
    shown = ", ".join(f"`{escape(n)}`" for n in nodes[:INLINE_NODES])
    more = (
        f" and {len(nodes) - INLINE_NODES} more (in the thread)"
        if len(nodes) > INLINE_NODES
        else ""
    )
    lines = [f"  Nodes: {shown}{more}"]
    for group in snap.groups:
        os_image = f" ({escape(group.os_image)})" if group.os_image else ""
        kernel = f"kernel `{escape(group.kernel)}`" if group.kernel else "unknown kernel"
        lines.append(f"  {plural(group.count, 'node')}: {kernel}{os_image}")
    return "\n".join(lines)


def _do_this(notice: PostNotice) -> str:
    lead = notice.lead
    lines = [f"*Do this:* {escape(lead.recommendation)}"]
    members = notice.open_members
    holders: dict[tuple[str, str], list[str]] = {}
    for member in members:
        for description, command in member.snapshot.workaround:
            holders.setdefault((description, command), []).append(member.cluster.name)
    for (description, command), names in holders.items():
        scope = ""
        if len(names) < len(members):
            scope = f" _(on {escape(', '.join(names))})_"
        label = escape(description) if description else "Workaround"
        lines.append(f"• {label}{scope}\n```{command}```")
    return "\n".join(lines)


def _impact(notice: PostNotice) -> str:
    impacts = list(dict.fromkeys(m.snapshot.impact for m in notice.open_members))
    if len(impacts) <= 1:
        return f"*Impact:* {escape(notice.lead.impact)}"
    return "*Impact:*\n" + "\n".join(f"• {escape(i)}" for i in impacts)


def _why(notice: PostNotice, shared: set[tuple[str, str]]) -> str:
    lead = notice.lead
    facts = [_fact(k, v) for k, v in lead.triggers if (k, v) in shared]
    cases = sorted({c for m in notice.open_members for c in m.snapshot.cases})
    text = "*Why:* " + (", ".join(facts) if facts else "the facts on each cluster's line")
    if cases:
        text += f" (case {escape(', '.join(cases))})"
    if lead.fixed_in:
        text += f"\n*Fixed in:* {escape(', '.join(lead.fixed_in))}"
    return text


def _trailer(notice: PostNotice) -> list[Block]:
    lead = notice.lead
    parts = [f"`{escape(lead.advisory_id)}`", f"catalog {escape(lead.catalog_version)}",
             escape(lead.component)]  # fmt: skip
    if notice.opened_at is not None:
        parts.append(f"posted {utc(notice.opened_at)}")
    links = [f"<{url}|{escape(short_ref(url))}>" for _, url in lead.references]
    texts = [" · ".join(parts)]
    if links:
        texts.append(" · ".join(dict.fromkeys(links)))
    for member in notice.members[:_UIDS_SHOWN]:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(member.cluster.labels.items()))
        text = f"{escape(member.cluster.name)}: kube-system UID `{escape(member.cluster.uid)}`"
        texts.append(text + (f" · {escape(labels)}" if labels else ""))
    if len(notice.members) > _UIDS_SHOWN:
        texts.append(f"+{len(notice.members) - _UIDS_SHOWN} more: `netadvisor scan --json`")
    return context(*texts)


def post_message(notice: PostNotice) -> list[SlackMessage]:
    """The grouped post (as posted or edited), then any continuation pages (thread replies)."""
    blocks: list[Block] = [header(_headline(notice))]
    shared = _common(notice.open_members)
    if notice.closed:
        resolved = plural(len(notice.members), "cluster")
        blocks += section(f"*No cluster is affected any more* ({resolved} fixed or gone):")
        blocks += section("\n".join(_closed_lines(notice.members)))
    else:
        blocks += section(_impact(notice))
        blocks += section(_do_this(notice))
        lines = [_member_line(m, shared, notice.at) for m in notice.open_members]
        lines += _closed_lines([m for m in notice.members if not m.open])
        if len(notice.members) == 1:
            names = _node_names(notice.members[0].snapshot)
            if names:
                lines.append(names)
        title = f"*Clusters ({len(notice.open_members)}):*"
        blocks += section(title + "\n" + "\n".join(lines))
        blocks += section(_why(notice, shared))
        blocks.append(post_actions(notice.advisory_id))
    blocks += _trailer(notice)
    fallback = _fallback(notice)
    return [
        SlackMessage(fallback if i == 0 else f"{fallback} (continued)", page)
        for i, page in enumerate(pages(blocks))
    ]


def post_node_lists(notice: PostNotice) -> list[SlackMessage]:
    """Thread replies with every affected node of a one-cluster post too long to list them."""
    if len(notice.members) != 1:
        return []
    member = notice.members[0]
    nodes = member.snapshot.affected_nodes
    if len(nodes) <= INLINE_NODES:
        return []
    text = f"*All {len(nodes)} affected nodes of {escape(member.cluster.name)}:*\n" + "\n".join(
        f"• `{escape(n)}`" for n in nodes
    )
    fallback = f"{member.cluster.name}: {len(nodes)} affected nodes"
    return [SlackMessage(fallback, page) for page in pages(section(text))]


_EVENT_MARK: Final = {
    NoticeKind.NEW: ("➕", "affected too"),
    NoticeKind.UPDATED: ("✏️", "changed"),
    NoticeKind.RESOLVED: ("✅", "resolved"),
    NoticeKind.RETIRED: ("➖", "left the configuration"),
    NoticeKind.REPLACED: ("🔄", "now point at another cluster"),
}


def _event_lines(events: Sequence[MatchNotice]) -> list[str]:
    """What a delivery tells, clusters told alike on one line: ``✅ resolved (3): a, b, c:
    kube-proxy mode ipvs → iptables``; each update on its own line (its changes are its own)."""
    alike: dict[tuple[NoticeKind, tuple[str, ...]], list[MatchNotice]] = {}
    for event in events:
        if event.kind is NoticeKind.UPDATED:
            alike.setdefault((event.kind, (event.cluster.uid,)), []).append(event)
            continue
        what: tuple[str, ...] = ()
        if event.kind is NoticeKind.RESOLVED:
            what = event.changes or (event.reason,)
        elif event.kind is not NoticeKind.NEW:
            what = (event.reason,)
        alike.setdefault((event.kind, what), []).append(event)
    lines = []
    for (kind, what), group in alike.items():
        mark, word = _EVENT_MARK[kind]
        if kind is NoticeKind.UPDATED:
            (event,) = group
            changes = "; ".join(escape(c) for c in event.changes)
            lines.append(f"{mark} *{escape(event.cluster.name)}*: {changes}")
            continue
        if kind is NoticeKind.NEW:
            names = ", ".join(
                f"*{escape(e.cluster.name)}* ({_nodes_phrase(e.snapshot)})" for e in group
            )
        else:
            names = ", ".join(f"*{escape(e.cluster.name)}*" for e in group)
        count = f" ({len(group)})" if len(group) > 1 else ""
        detail = "; ".join(escape(w) for w in what if w)
        lines.append(f"{mark} {word}{count}: {names}" + (f": {detail}" if detail else ""))
    return lines


def post_reply(notice: PostNotice) -> list[SlackMessage]:
    """The thread reply under an edited post: what changed, clusters told alike together."""
    lines = [f"*{utc(notice.at)}*", *_event_lines(notice.events)]
    if notice.closed:
        lines.append("No cluster remains affected: the post is marked RESOLVED.")
    names = ", ".join(dict.fromkeys(e.cluster.name for e in notice.events))
    kinds = ", ".join(dict.fromkeys(_EVENT_MARK[e.kind][1] for e in notice.events))
    fallback = fit(f"{names} {kinds}: {notice.lead.title}", FALLBACK_LIMIT)
    return [SlackMessage(fallback, page) for page in pages(section("\n".join(lines)))]


def baseline_message(notice: BaselineNotice) -> list[SlackMessage]:
    """The first message in a channel: what the grouped posts that follow add up to."""
    posts = plural(notice.advisories, "post")
    severities = " · ".join(f"{_MARK.get(s, '⚠️')} {n} {s}" for s, n in notice.by_severity.items())
    matches = sum(notice.by_severity.values())
    title = f"📋 netadvisor baseline · {plural(notice.clusters, 'cluster')}"
    text = (
        f"*{plural(notice.affected, 'cluster')}* of the {notice.clusters} that report here "
        f"{'is' if notice.affected == 1 else 'are'} affected by "
        f"*{plural(notice.advisories, 'known issue')}* ({plural(matches, 'match', 'matches')}): "
        f"{severities}.\n{posts} follow, one per issue, each listing its clusters; they are "
        "edited as clusters change, and the changes are told in their threads."
    )
    blocks = [header(title), *section(text), *context(f"since {utc(notice.at)}")]
    fallback = (
        f"netadvisor baseline: {notice.affected} of {notice.clusters} clusters affected by "
        f"{notice.advisories} known issues"
    )
    return [SlackMessage(fallback, blocks)]


def single_post(notice: MatchNotice) -> PostNotice:
    """A match notice as a post of its one cluster (what the terminal prints for it)."""
    member = PostMember(
        cluster=notice.cluster,
        snapshot=notice.snapshot,
        open=notice.kind in (NoticeKind.NEW, NoticeKind.UPDATED),
        opened_at=notice.opened_at,
        closed_at=None if notice.kind in (NoticeKind.NEW, NoticeKind.UPDATED) else notice.at,
        closed_as=notice.kind.value,
        changes=notice.changes,
        reason=notice.reason,
    )
    return PostNotice("", notice.snapshot.advisory_id, (member,), (notice,), notice.at)
