"""Bolt listeners of the netadvisor Slack app, one module per kind (``commands``, ``events``,
``actions``, and ``post_actions`` for the buttons under a match post).

``register(app, context)`` wires them to an ``App``; :class:`BotContext` carries what they need
(catalog, engine, the last scan's facts, the state store for mutes), built by the composition
root (``netadvisor serve``) or by tests.
"""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners import actions, commands, events, post_actions
from bot.slack.listeners.context import BotContext, ReplyError
from bot.slack.listeners.replays import retry_middleware

__all__ = ["BotContext", "ReplyError", "register"]


def register(app: App, context: BotContext) -> None:
    """Register the ``/netadvisor`` command, the mention / direct-message listeners and the
    buttons (the answers' "Show all", the match posts' "Mute…", "Show nodes", "Plan a fix"), behind
    a middleware that acknowledges an event already delivered without acting on it again."""
    app.middleware(retry_middleware(context.store, context.now))
    commands.register(app, context)
    events.register(app, context)
    actions.register(app, context)
    post_actions.register(app, context)
