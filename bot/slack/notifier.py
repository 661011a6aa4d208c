"""The Slack notifier: posts, edits and finds netadvisor's messages through slack_sdk's WebClient.

The client is built elsewhere (:func:`make_client`) and only retries 429 answers, after the
``Retry-After`` Slack gives. Nothing else is retried here: ``chat.postMessage`` has no
idempotency key, so a 5xx or a lost connection becomes :class:`~jobs.notify.DeliveryUncertain`
and the jobs search the channel (:meth:`SlackNotifier.lookup`) for the message's metadata
before posting again.
"""

from __future__ import annotations

import http.client
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.slack.blocks import SlackMessage
from bot.slack.messages import digest_messages, news_message
from bot.slack.permalinks import Permalinks
from bot.slack.posts import (
    baseline_message,
    post_message,
    post_node_lists,
    post_reply,
    single_post,
)
from jobs import metrics
from jobs.notices import (
    BaselineNotice,
    Digest,
    MatchNotice,
    MessageRef,
    NewsNotice,
    NoticeKind,
    PostNotice,
)
from jobs.notify import DeliveryUncertain, NotDelivered, NotifyError, Posted, Step, StepAction

__all__ = ["DEFAULT_API_URL", "EVENT_TYPE", "SlackNotifier", "make_client"]

log = logging.getLogger(__name__)

DEFAULT_API_URL: Final = "https://slack.com/api/"
EVENT_TYPE: Final = "netadvisor_message"
"""The metadata event type of every message netadvisor posts; its payload holds the marker."""
RATE_LIMIT_RETRIES: Final = 3

# ok:false errors that concern the channel, not the message or the token.
_CHANNEL_ERRORS: Final = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "cannot_reply_to_message",
        "thread_not_found",
        "message_not_found",
        "cant_update_message",
    }
)
# ok:false errors after which Slack may have stored the message anyway.
# See: https://api.slack.com/methods/chat.postMessage#errors (internal_error, fatal_error)
_UNCERTAIN_ERRORS: Final = frozenset(
    {"internal_error", "fatal_error", "request_timeout", "service_unavailable"}
)
# ok:false errors that retrying will not fix, with what a person must do ({channel}, {needed}).
# See: https://api.slack.com/methods/chat.postMessage#errors
_TOKEN_FIX: Final = (
    "the bot token is not accepted: reinstall the Slack app and set SLACK_BOT_TOKEN to its bot "
    "token (xoxb-...)"
)
_FIXES: Final[dict[str, str]] = {
    "channel_not_found": (
        "{channel} does not exist or the app cannot see it: correct the channel in the "
        "configuration, or invite the app to {channel} if it is private"
    ),
    "not_in_channel": "invite the app to {channel} (/invite @netadvisor in {channel})",
    "is_archived": "{channel} is archived: unarchive it or route to another channel",
    "restricted_action": "the workspace does not let the app post in {channel}: ask an admin",
    "invalid_auth": _TOKEN_FIX,
    "not_authed": _TOKEN_FIX,
    "account_inactive": _TOKEN_FIX,
    "token_revoked": _TOKEN_FIX,
    "token_expired": _TOKEN_FIX,
    "no_permission": "the app may not do this in {channel}: check its scopes and reinstall it",
    "missing_scope": (
        "add the {needed} scope to the Slack app (OAuth & Permissions) and reinstall it"
    ),
    "not_allowed_token_type": _TOKEN_FIX,
}
_CHANNEL_ID: Final = re.compile(r"^[CGD][A-Z0-9]{2,}$")  # names are lower case


def make_client(token: str, base_url: str = DEFAULT_API_URL, timeout: int = 30) -> WebClient:
    """A WebClient for ``base_url`` (passed unchanged) that retries only rate-limited calls."""
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        # Not slack_sdk's default ConnectionErrorRetryHandler: retrying a post after a lost
        # connection is exactly the blind retry that duplicates messages.
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)],
    )


def _ts(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


class SlackNotifier:
    """Posts notices to Slack. ``client`` is a WebClient built by :func:`make_client`."""

    posts = True

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._channel_ids: dict[str, str] = {}
        self.permalinks = Permalinks(client)
        """Links to the posts a digest lists (asked once per message)."""

    # -- planning -----------------------------------------------------------------------------

    def plan(
        self,
        notice: MatchNotice | Digest | NewsNotice | PostNotice | BaselineNotice,
        intent: str,
        channel: str,
        original: MessageRef | None,
    ) -> Sequence[Step]:
        """Steps: a new message with continuation and node-list replies; or an edit of the
        original and a reply in its thread; or a digest (or upstream news, or a baseline) and
        its continuation replies."""
        steps: list[Step] = []

        def add(
            action: StepAction,
            where: str,
            body: SlackMessage,
            thread: str | None = None,
            parent: int | None = None,
        ) -> None:
            steps.append(Step(action, where, body, f"{intent}/{len(steps)}", thread, parent))

        if isinstance(notice, PostNotice):
            first, *rest = post_message(notice)
            if original is None:
                add(StepAction.POST, channel, first)
                for page in [*rest, *post_node_lists(notice)]:
                    add(StepAction.REPLY, channel, page, parent=0)
                return steps
            add(StepAction.UPDATE, original.channel, first, thread=original.ts)
            for page in [*rest, *post_reply(notice)]:
                add(StepAction.REPLY, original.channel, page, thread=original.ts)
            return steps
        if isinstance(notice, Digest | NewsNotice | BaselineNotice):
            if isinstance(notice, Digest):
                messages = digest_messages(notice, links=self._digest_links(notice))
            elif isinstance(notice, NewsNotice):
                messages = news_message(notice)
            else:
                messages = baseline_message(notice)
            first, *rest = messages
            add(StepAction.POST, channel, first)
            for page in rest:
                add(StepAction.REPLY, channel, page, parent=0)
            return steps
        # A match told on its own (posted before posts were grouped): a post of its one cluster.
        post = single_post(notice)
        if notice.kind is NoticeKind.NEW:
            first, *rest = post_message(post)
            add(StepAction.POST, channel, first)
            for page in [*rest, *post_node_lists(post)]:
                add(StepAction.REPLY, channel, page, parent=0)
            return steps
        if original is None:
            raise ValueError(f"a {notice.kind.value} notice needs the message it edits")
        first = post_message(post)[0]
        add(StepAction.UPDATE, original.channel, first, thread=original.ts)
        for page in post_reply(post):
            add(StepAction.REPLY, original.channel, page, thread=original.ts)
        return steps

    def _digest_links(self, digest: Digest) -> dict[MessageRef, str]:
        """The permalink of each post the digest lists (a post without one: no link)."""
        return self.permalinks.resolve(m.message for m in (*digest.open, *digest.resolved))

    # -- performing ---------------------------------------------------------------------------

    def perform(self, step: Step, thread: str | None) -> Posted:
        """Post, reply or edit; raises NotDelivered or DeliveryUncertain."""
        body: SlackMessage = step.body
        method = "chat.update" if step.action is StepAction.UPDATE else "chat.postMessage"
        with _errors(method, step.channel, uncertain=step.action is not StepAction.UPDATE):
            if step.action is StepAction.UPDATE:
                answer = self.client.chat_update(
                    channel=step.channel,
                    ts=step.thread or "",
                    text=body.text,
                    blocks=list(body.blocks),
                )
            else:
                answer = self.client.chat_postMessage(
                    channel=step.channel,
                    text=body.text,
                    blocks=list(body.blocks),
                    thread_ts=thread if step.action is StepAction.REPLY else None,
                    metadata={"event_type": EVENT_TYPE, "event_payload": {"marker": step.marker}},
                    unfurl_links=False,
                    unfurl_media=False,
                )
        channel = str(answer.get("channel") or step.channel)
        if _CHANNEL_ID.match(channel) and not _CHANNEL_ID.match(step.channel):
            self._channel_ids[step.channel] = channel
        return Posted(channel, str(answer["ts"]))

    def lookup(self, step: Step, thread: str | None, since: datetime) -> Posted | None:
        """Search the channel (or the thread) for a message carrying ``step.marker``."""
        channel = self.channel_id(step.channel)
        for message in self._messages(channel, thread, since):
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == EVENT_TYPE and payload.get("marker") == step.marker:
                return Posted(channel, str(message["ts"]))
        return None

    def _messages(self, channel: str, thread: str | None, since: datetime) -> Iterator[Any]:
        method = "conversations.replies" if thread else "conversations.history"
        cursor: str | None = None
        while True:
            with _errors(method, channel, uncertain=False):
                if thread:
                    answer = self.client.conversations_replies(
                        channel=channel,
                        ts=thread,
                        oldest=_ts(since),
                        cursor=cursor,
                        limit=200,
                        include_all_metadata=True,
                    )
                else:
                    answer = self.client.conversations_history(
                        channel=channel,
                        oldest=_ts(since),
                        cursor=cursor,
                        limit=200,
                        include_all_metadata=True,
                    )
            yield from answer.get("messages") or []
            cursor = (answer.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return

    def channel_id(self, channel: str) -> str:
        """The ID of a channel given by ID or name (names are looked up once)."""
        if _CHANNEL_ID.match(channel):
            return channel
        name = channel.lstrip("#")
        if channel in self._channel_ids:
            return self._channel_ids[channel]
        cursor: str | None = None
        while True:
            with _errors("conversations.list", channel, uncertain=False):
                answer = self.client.conversations_list(
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=1000,
                    cursor=cursor,
                )
            for item in answer.get("channels") or []:
                if item.get("name") == name:
                    self._channel_ids[channel] = str(item["id"])
                    return str(item["id"])
            cursor = (answer.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                raise NotDelivered(
                    "channel_not_found",
                    channel=channel,
                    method="conversations.list",
                    channel_problem=True,
                    fix=_FIXES["channel_not_found"].format(channel=channel),
                )

    def check(self) -> str:
        """``auth.test``: who the bot is (``@name in team``); raises NotDelivered."""
        with _errors("auth.test", "", uncertain=False):
            answer = self.client.auth_test()
        return f"@{answer.get('user')} in {answer.get('team')}"


@contextmanager
def _errors(method: str, channel: str, *, uncertain: bool) -> Iterator[None]:
    """Turn slack_sdk errors into the jobs' NotifyError family (messages never hold a token).

    ``uncertain``: the call may have taken effect although it failed (a post).
    """

    def maybe(message: str) -> NotifyError:
        if uncertain:
            return DeliveryUncertain(message, channel=channel, method=method)
        return NotDelivered(message, channel=channel, method=method)

    metrics.SLACK_REQUESTS.labels(method=method).inc()
    try:
        yield
    except SlackApiError as exc:
        status = exc.response.status_code
        code = str(exc.response.get("error") or f"HTTP {status}")
        metrics.SLACK_FAILURES.labels(method=method, error=code).inc()
        if status >= 500 or code in _UNCERTAIN_ERRORS:
            raise maybe(f"{code} (HTTP {status})") from None
        if status == 429 or code == "ratelimited":
            raise NotDelivered(
                "rate limited, retries exhausted", channel=channel, method=method
            ) from None
        fix = _FIXES.get(code, "").format(
            channel=channel or "the channel", needed=exc.response.get("needed") or "missing"
        )
        raise NotDelivered(
            code,
            channel=channel,
            method=method,
            channel_problem=code in _CHANNEL_ERRORS,
            fix=fix,
        ) from None
    except (URLError, OSError, http.client.HTTPException) as exc:
        metrics.SLACK_FAILURES.labels(method=method, error="connection failed").inc()
        reason = getattr(exc, "reason", None) or exc
        raise maybe(f"connection failed: {type(exc).__name__}: {reason}") from None
    except SlackClientError as exc:
        metrics.SLACK_FAILURES.labels(method=method, error=type(exc).__name__).inc()
        raise NotDelivered(str(exc), channel=channel, method=method) from None
