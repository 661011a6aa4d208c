"""The daily digest in Block Kit, laid out for a phone.

One list of what is open, by advisory (one line per grouped post, worst severity first), each
cluster named once with its node count and its marks: ``new`` since the previous digest, stale
("unreadable since ..."), muted ("muted until ..."). Resolved matches, unknown verdicts,
unreadable clusters, upstream news and expiring mutes follow in short sections of their own,
each only when it has something to say; the summary line says only the counts that are not
zero. The rendering is pure: links to the posts (``chat.getPermalink``, resolved by the
notifier) come in as a mapping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

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
)
from jobs.notices import Digest, DigestMatch, MessageRef

__all__ = [
    "LINE_CHARS",
    "MAX_FALLBACK",
    "NAMES_SHOWN",
    "TITLE_CHARS",
    "digest_messages",
    "digest_summary",
]

TITLE_CHARS: Final = 56
"""An advisory's title is cut to this many characters (a phone line)."""
LINE_CHARS: Final = 600
"""A long list of clusters continues on a new line after about this many characters."""
NAMES_SHOWN: Final = 12
"""Clusters named in an unknown verdict's line (``digest --json`` lists them all)."""
MAX_FALLBACK: Final = 4000
"""Slack truncates a message's ``text`` beyond 4,000 characters."""
_DETAIL_CHARS: Final = 100
_EMPTY: Final = "Nothing to report: no open matches and every cluster was read."
_SEVERITY_MARK: Final = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
    "low": ":white_circle:",
}
_RANK: Final = ("critical", "high", "medium", "low", "none")

Links = Mapping[MessageRef, str]


def _date(moment: datetime, now: datetime) -> str:
    return f"{moment:%m-%d}" if moment.year == now.year else f"{moment:%Y-%m-%d}"


def _time(moment: datetime, now: datetime) -> str:
    if moment.date() == now.date():
        return f"{moment:%H:%M}"  # the digest's own day
    return f"{_date(moment, now)} {moment:%H:%M}"


def _worst(matches: Sequence[DigestMatch]) -> str | None:
    return min(
        (m.severity for m in matches),
        key=lambda s: _RANK.index(s) if s in _RANK else len(_RANK),
    )


def _link(text: str, url: str | None) -> str:
    """``text`` (escaped already) linked to ``url``; "|" and ">" would end Slack's link early."""
    if not url:
        return text
    return f"<{url.replace('|', '%7C').replace('>', '%3E')}|{text}>"


def _group_link(matches: Sequence[DigestMatch], links: Links) -> str | None:
    """The post's link when the group's clusters were told in one post (grouped posts); those
    not told (muted before they were posted) do not count."""
    refs = {m.message for m in matches if m.message is not None}
    if len(refs) == 1:
        (ref,) = refs
        return links.get(ref) if ref is not None else None
    return None


def digest_summary(digest: Digest) -> str:
    """The counts that are not zero, e.g. ``12 open in 5 advisories · 3 new · 1 resolved``
    (upstream changes and ending mutes are counted only when nothing else is; empty when there
    is nothing to count)."""
    parts: list[str] = []
    if digest.open:
        advisories = len({m.advisory_id for m in digest.open})
        parts.append(f"{len(digest.open)} open in {plural(advisories, 'advisory', 'advisories')}")
    if digest.new:
        parts.append(f"{len(digest.new)} new")
    muted = sum(1 for m in digest.open if m.muted)
    if muted:
        parts.append(f"{muted} muted")
    if digest.resolved:
        parts.append(f"{len(digest.resolved)} resolved")
    if digest.unknown:
        parts.append(f"{len(digest.unknown)} unknown")
    if digest.unreadable:
        parts.append(f"{plural(len(digest.unreadable), 'cluster')} unreadable")
    if not parts:
        # Only news and mutes: their own sections say the rest.
        if digest.upstream:
            parts.append(plural(len(digest.upstream), "upstream change"))
        if digest.expiring_mutes:
            parts.append(f"{plural(len(digest.expiring_mutes), 'mute')} ending soon")
    return " · ".join(parts)


def _cluster(
    match: DigestMatch,
    digest: Digest,
    unreadable: Mapping[str, datetime],
    url: str | None,
    severity: str | None,
) -> str:
    text = f"*{_link(escape(match.cluster), url)}*"
    details = [plural(match.nodes, "node")] if match.nodes else []
    if match.severity != severity:
        # The cluster's case is less severe than the advisory's worst one listed.
        details.append(match.severity or "unrated")
    if details:
        text += f" ({', '.join(details)})"
    if match.new:
        text += " `new`"
    if match.stale_since is not None:
        since = unreadable.get(match.cluster_uid)
        what = "unreadable" if since is not None else "unconfirmed"
        text += f" :warning: {what} since {_time(since or match.stale_since, digest.at)}"
    if match.muted:
        until = match.muted_until
        text += " :mute: " + (f"muted until {_date(until, digest.at)}" if until else "muted")
    return text


def _groups(
    matches: Sequence[DigestMatch],
    digest: Digest,
    links: Links,
    mark: str | None = None,
) -> list[str]:
    """One heading line per advisory (its post linked), then its clusters: each stale or muted
    one on a line of its own, the new ones together, then the others together."""
    grouped: dict[str, list[DigestMatch]] = {}
    for match in matches:
        grouped.setdefault(match.advisory_id, []).append(match)
    unreadable = {c.uid: c.since for c in digest.unreadable}
    lines: list[str] = []
    for advisory, items in grouped.items():
        items.sort(key=lambda m: (m.cluster, m.cluster_uid))
        post = _group_link(items, links)
        worst = _worst(items)
        emoji = mark or _SEVERITY_MARK.get(worst or "", ":white_circle:")
        title = escape(fit(items[0].title, TITLE_CHARS))
        lines.append(f"{emoji} *{_link(escape(advisory), post)}* {title}")
        marked: list[str] = []
        new: list[str] = []
        plain: list[str] = []
        for m in items:
            url = None if post else links.get(m.message) if m.message else None
            text = _cluster(m, digest, unreadable, url, worst)
            if m.stale_since or m.muted:
                marked.append(text)
            else:
                (new if m.new else plain).append(text)
        # Stale and muted clusters each on a line of their own; the new ones together, first,
        # then the others (a fleet's first digest is not one line per cluster).
        lines += [*marked, *_wrap(new), *_wrap(plain)]
    return lines


def _wrap(items: Sequence[str], width: int = LINE_CHARS) -> list[str]:
    """``items`` joined by " · " in lines of about ``width`` characters, so that a long list
    is split between clusters (never inside a link) when it fills more than one section."""
    lines: list[str] = []
    current = ""
    for item in items:
        if current and len(current) + 3 + len(item) > width:
            lines.append(current)
            current = item
        else:
            current = f"{current} · {item}" if current else item
    if current:
        lines.append(current)
    return lines


def _names(names: Sequence[str], shown: int = NAMES_SHOWN) -> str:
    listed = ", ".join(escape(n) for n in names[:shown])
    return listed + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _section(title: str, lines: Sequence[str]) -> list[Block]:
    return section(f"*{title}*\n" + "\n".join(lines)) if lines else []


def digest_messages(digest: Digest, links: Links | None = None) -> list[SlackMessage]:
    """The digest: the first message and its continuation pages (thread replies).

    ``links``: the permalink of each post the digest's matches were told in (a match whose
    post has none is listed without a link).
    """
    links = links or {}
    at = digest.at
    summary = digest_summary(digest)
    blocks: list[Block] = [header(f"netadvisor digest · {at:%Y-%m-%d}")]
    notes = [summary] if summary else []
    if digest.demo:
        notes.append("_demo data_")
    if notes:
        blocks += context(" · ".join(notes))
    if digest.empty:
        blocks += section(_EMPTY)
    order = [m for _, group in digest.open_by_advisory() for m in group]
    blocks += _section("Open", _groups(order, digest, links))
    since = f" since {_time(digest.since, at)}" if digest.since else ""
    blocks += _section(
        f"Resolved{since}", _groups(digest.resolved, digest, links, mark=":white_check_mark:")
    )
    unknown: dict[tuple[str, str], list[DigestMatch]] = {}
    for match in digest.unknown:
        unknown.setdefault((match.advisory_id, match.reason), []).append(match)
    blocks += _section(
        "Unknown verdicts",
        [
            f"• *{escape(advisory)}* on {_names([m.cluster for m in items])}"
            + (f": {escape(fit(reason, _DETAIL_CHARS))}" if reason else "")
            for (advisory, reason), items in unknown.items()
        ],
    )
    blocks += _section(
        "Not read",
        [
            f"• *{escape(c.name)}* since {_time(c.since, at)}"
            + (f": {escape(fit(c.error, _DETAIL_CHARS))}" if c.error else "")
            for c in digest.unreadable
        ],
    )
    blocks += _section(
        "Upstream",
        [
            f"• {escape(n.text)} ({', '.join(escape(a) for a in n.advisories)})"
            for n in digest.upstream
        ],
    )
    blocks += _section(
        "Mutes ending soon",
        [
            f"• #{m.id} {escape(m.scope)} until {_time(m.expires_at, at)}, "
            f"by {escape(m.created_by)}: {escape(fit(m.reason, _DETAIL_CHARS))}"
            for m in digest.expiring_mutes
        ],
    )
    fallback = f"netadvisor digest {at:%Y-%m-%d}: {summary or _EMPTY}"
    if len(fallback) > MAX_FALLBACK - len(" (continued)"):
        fallback = fallback[: MAX_FALLBACK - len(" (continued)") - 1] + "…"
    return [
        SlackMessage(fallback if i == 0 else f"{fallback} (continued)", page)
        for i, page in enumerate(pages(blocks))
    ]
