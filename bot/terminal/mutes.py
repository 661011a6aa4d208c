"""``mutes`` for people."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.terminal.moments import human
from jobs.muting import MuteView

__all__ = ["render_mutes"]


def render_mutes(
    mutes: Sequence[MuteView], now: datetime | None = None, *, ended: bool = False
) -> str:
    """One line per mute: id, scope, until when, who, why."""
    if not mutes:
        return "no mutes" if ended else "no active mutes"
    lines = []
    for m in mutes:
        source = "from the configuration file" if m.from_config else f"by {m.by}"
        until = human(m.expires_at, now) if m.expires_at else "lifted"
        lifted = f", lifted {human(m.lifted_at, now)}" if m.lifted_at else ""
        lines.append(f"{m.id}: {m.advisory} on {m.cluster} until {until}, {source}{lifted}: "
                     f"{m.reason}")  # fmt: skip
    return "\n".join(lines)
