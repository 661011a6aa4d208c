"""The buttons on a match post: "Mute…", "Show nodes" and "Plan a fix".

The message renderer (:mod:`bot.slack.messages`) puts :func:`post_actions` under an open post;
the listeners (:mod:`bot.slack.listeners`) answer the clicks. Every button carries the advisory
id as its value; the clusters a click concerns are the matches the post announces, found by the
post's channel and ts (``container.channel_id`` / ``container.message_ts`` of the payload).
"""

from __future__ import annotations

from typing import Final

from bot.slack.blocks import Block

__all__ = [
    "ACTIONS_BLOCK",
    "MUTE_ACTION",
    "MUTE_VIEW",
    "NODES_ACTION",
    "PLAN_ACTION",
    "post_actions",
]

MUTE_ACTION: Final = "netadvisor_mute"
"""Opens the mute modal (duration and reason, both required)."""
NODES_ACTION: Final = "netadvisor_nodes"
"""Replies in the post's thread with every affected node of every cluster it lists."""
PLAN_ACTION: Final = "netadvisor_plan"
"""Replies in the post's thread with the joint fix of each cluster it lists."""
MUTE_VIEW: Final = "netadvisor_mute_view"
"""The ``callback_id`` of the mute modal (its ``view_submission`` writes the mute)."""
ACTIONS_BLOCK: Final = "netadvisor_post_actions"


def post_actions(advisory_id: str) -> Block:
    """The actions block of an open post about ``advisory_id``."""

    def button(action_id: str, label: str) -> Block:
        return {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": label, "emoji": True},
            "value": advisory_id[:2000],
        }

    return {
        "type": "actions",
        "block_id": ACTIONS_BLOCK,
        "elements": [
            button(MUTE_ACTION, "Mute…"),
            button(NODES_ACTION, "Show nodes"),
            button(PLAN_ACTION, "Plan a fix"),
        ],
    }
