"""The terminal notifier: what would be posted to Slack, printed as text.

Used when no Slack token or channel is configured (the embedded default), and always for demo
data. It renders the same Block Kit messages as the Slack notifier and turns them into text, so
the terminal shows what a channel would read.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import TextIO

from bot.slack.blocks import Block, SlackMessage, blocks_to_text
from bot.slack.messages import digest_messages, news_message
from bot.slack.posts import (
    baseline_message,
    post_message,
    post_node_lists,
    post_reply,
    single_post,
)
from jobs.notices import (
    BaselineNotice,
    Digest,
    MatchNotice,
    MessageRef,
    NewsNotice,
    NoticeKind,
    PostNotice,
)
from jobs.notify import Posted, Step, StepAction

__all__ = ["TerminalNotifier"]

_RULE = "-" * 72


class TerminalNotifier:
    """Prints notices to ``stream`` (standard error under ``--json``). Thread-safe."""

    posts = False

    def __init__(self, stream: TextIO, *, label: str = "") -> None:
        self.stream = stream
        self.label = label
        """Said before each message, e.g. why it is printed rather than posted."""
        self._lock = threading.Lock()
        self.count = 0

    def plan(
        self,
        notice: MatchNotice | Digest | NewsNotice | PostNotice | BaselineNotice,
        intent: str,
        channel: str,
        original: MessageRef | None,
    ) -> Sequence[Step]:
        """One printed message per notice: the whole message for new ones, digests and news,
        the thread reply for updates and closings."""
        messages: list[SlackMessage]
        if isinstance(notice, Digest):
            messages = digest_messages(notice)
        elif isinstance(notice, NewsNotice):
            messages = news_message(notice)
        elif isinstance(notice, BaselineNotice):
            messages = baseline_message(notice)
        elif isinstance(notice, PostNotice):
            messages = post_message(notice) if original is None else post_reply(notice)
        elif notice.kind is NoticeKind.NEW:
            post = single_post(notice)
            messages = [*post_message(post), *post_node_lists(post)]
        else:
            messages = post_reply(single_post(notice))
            header = f"{notice.snapshot.advisory_id} on {notice.cluster.name}"
            messages = [SlackMessage(m.text, [_plain(header), *m.blocks]) for m in messages]
        text = "\n\n".join(blocks_to_text(m.blocks) for m in messages)
        return [Step(StepAction.POST, channel, text, f"{intent}/0")]

    def perform(self, step: Step, thread: str | None) -> Posted:
        """Print the step's text between rules."""
        with self._lock:
            self.count += 1
            prefix = f"{self.label}\n" if self.label else ""
            print(f"{_RULE}\n{prefix}{step.body}\n{_RULE}", file=self.stream, flush=True)
            return Posted("terminal", str(self.count))

    def lookup(self, step: Step, thread: str | None, since: datetime) -> Posted | None:
        """Nothing printed can be looked up."""
        return None


def _plain(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}}
