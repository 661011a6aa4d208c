"""``mutes`` for people."""

from __future__ import annotations

from collections.abc import Sequence

from jobs.muting import MuteView

__all__ = ["render_mutes"]


def render_mutes(mutes: Sequence[MuteView], *, ended: bool = False) -> str:
    """One line per mute: id, scope, until when, who, why."""
    if not mutes:
        return "no mutes" if ended else "no active mutes"
    lines = []
    for m in mutes:
        source = "configuration file" if m.from_config else m.by
        until = m.expires_at.isoformat() if m.expires_at else None
        lifted = f", lifted {m.lifted_at.isoformat()}" if m.lifted_at else ""
        lines.append(f"{m.id}: {m.advisory} on {m.cluster} until {until} ({source}{lifted}): "
                     f"{m.reason}")  # fmt: skip
    return "\n".join(lines)
