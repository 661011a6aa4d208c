"""Links to netadvisor's posts (``chat.getPermalink``), for the digest to point at them.

A link is a nicety: a post Slack cannot link (deleted, a channel the app left, an API error)
is listed without one, and nothing here raises. Each message's link is asked for once and kept
for the life of the :class:`Permalinks` (a permalink does not change).
See: https://api.slack.com/methods/chat.getPermalink
"""

from __future__ import annotations

import http.client
import logging
from collections.abc import Iterable
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from jobs import metrics
from jobs.notices import MessageRef

__all__ = ["METHOD", "Permalinks"]

log = logging.getLogger(__name__)

METHOD = "chat.getPermalink"


class Permalinks:
    """The permalinks of posted messages, through ``client`` (built by
    :func:`bot.slack.notifier.make_client`), cached per message."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._cache: dict[MessageRef, str] = {}

    def get(self, ref: MessageRef) -> str | None:
        """The link to ``ref``, or None when Slack gives none (logged, never raised)."""
        if ref in self._cache:
            return self._cache[ref]
        metrics.SLACK_REQUESTS.labels(method=METHOD).inc()
        error, detail = "", ""
        try:
            answer = self.client.chat_getPermalink(channel=ref.channel, message_ts=ref.ts)
            link = answer.get("permalink")
            if isinstance(link, str) and link.startswith("https://"):
                self._cache[ref] = link
                return link
            error = "no permalink in the answer"
        except SlackApiError as exc:
            error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        except (URLError, OSError, http.client.HTTPException) as exc:
            error, detail = "connection failed", type(exc).__name__
        except SlackClientError as exc:
            error = type(exc).__name__
        metrics.SLACK_FAILURES.labels(method=METHOD, error=error).inc()
        # A failure is not cached: the next digest asks again.
        said = f"{error} ({detail})" if detail else error
        log.warning("%s: no link to message %s in %s: %s", METHOD, ref.ts, ref.channel, said)
        return None

    def resolve(self, refs: Iterable[MessageRef | None]) -> dict[MessageRef, str]:
        """The links of every distinct message among ``refs`` that has one."""
        links: dict[MessageRef, str] = {}
        for ref in dict.fromkeys(r for r in refs if r is not None):
            link = self.get(ref)
            if link is not None:
                links[ref] = link
        return links
