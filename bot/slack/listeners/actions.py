"""Buttons on the bot's messages: "Show all" under an answer with folded advisories.

Each click is acknowledged at once; the full answer (every advisory that may hold) follows
through the response URL, only to the person who clicked.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.slack.answers import SHOW_ALL_ACTION, answer_blocks, plain_blocks
from bot.slack.listeners.context import MAX_INPUT, BotContext

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(app: App, context: BotContext) -> None:
    """Register the "Show all" button."""

    def show_all(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        actions = body.get("actions") or [{}]
        question = str(actions[0].get("value") or "")[:MAX_INPUT].strip()
        if not question:
            respond(text="netadvisor: the button carries no question",
                    blocks=plain_blocks(":warning: the button carries no question"),
                    response_type="ephemeral", replace_original=False)  # fmt: skip
            return
        try:
            ans = context.ask(question, show_all=True)
        except Exception:  # the person gets an answer, the log gets the trace
            log.exception("show all failed")
            summary = "netadvisor could not answer; the error is in its log"
            respond(text=summary, blocks=plain_blocks(f":warning: {summary}"),
                    response_type="ephemeral", replace_original=False)  # fmt: skip
            return
        respond(text=ans.headline()[:3000], blocks=answer_blocks(ans),
                response_type="ephemeral", replace_original=False)  # fmt: skip

    app.action(SHOW_ALL_ACTION)(show_all)
