"""Mentions of the bot and direct messages: answered as questions, in a thread."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import App, Say

from bot.slack.answers import answer_blocks
from bot.slack.listeners.context import MAX_INPUT, BotContext

__all__ = ["register"]

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def _reply(context: BotContext, event: dict[str, Any], say: Say) -> None:
    text = _MENTION.sub(" ", str(event.get("text") or "")[:MAX_INPUT]).strip()
    thread = event.get("thread_ts") or event.get("ts")
    ans = context.ask(text)
    say(text=ans.headline(), blocks=answer_blocks(ans), thread_ts=thread)


def register(app: App, context: BotContext) -> None:
    """Register ``app_mention`` and direct messages (``message`` in an ``im`` channel)."""

    def mention(event: dict[str, Any], say: Say) -> None:
        _reply(context, event, say)

    def direct(event: dict[str, Any], say: Say) -> None:
        # Edits, joins and the bot's own messages arrive as messages too; answer people only.
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        _reply(context, event, say)

    app.event("app_mention")(mention)
    app.event("message")(direct)
