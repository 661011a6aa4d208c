"""What netadvisor's Slack messages say besides match posts: upstream news, and the digest as
text for the bot's answer. Match posts are :mod:`bot.slack.posts`, the digest
:mod:`bot.slack.digest_message`; anything longer than Slack allows is split (see
:mod:`bot.slack.blocks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from bot.slack.blocks import (
    Block,
    SlackMessage,
    blocks_to_text,
    context,
    escape,
    header,
    pages,
    section,
    utc,
)
from bot.slack.digest_message import digest_messages
from jobs.notices import Digest, NewsNotice

__all__ = ["digest_messages", "digest_text", "news_message"]


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
    blocks += context(f"<{notice.reference}|{escape(notice.reference)}> · seen {utc(notice.at)}")
    fallback = f"Upstream ({advisories}): {notice.text}"[:3000]
    return [
        SlackMessage(fallback if i == 0 else f"{fallback} (continued)", page)
        for i, page in enumerate(pages(blocks))
    ]


def digest_text(digests: Sequence[Digest]) -> str:
    """Digests as mrkdwn text (the bot's ``/netadvisor digest`` answer)."""
    return "\n\n".join(blocks_to_text(m.blocks) for d in digests for m in digest_messages(d))
