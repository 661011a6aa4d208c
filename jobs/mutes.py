"""Mutes declared in the configuration file (``mutes:``), for teams that review mutes in Git.

A :class:`ConfigMute` is one entry of that section, already validated by the settings. The state
store keeps it as a mute *from the configuration* (:meth:`jobs.store.Tx.sync_config_mutes`):
added when the entry appears, kept while it stays the same, lifted when it is removed or changed.
People cannot lift such a mute from Slack or the command line; they change the file.

An entry is identified by its content (:meth:`ConfigMute.key`), not by its position, so
reordering the section changes nothing, and an entry that expired stays expired while it is in
the file (it is not created again at the next start).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

__all__ = ["CONFIG_SOURCE", "MAX_MUTE_DAYS", "MAX_REASON", "ConfigMute"]

CONFIG_SOURCE: Final = "config"
"""The ``source`` of a mute that comes from the configuration file (people's mutes: None)."""


@dataclass(frozen=True, slots=True)
class ConfigMute:
    """One entry of ``mutes:``: a scope, a reason, and an expiry (a time, or days)."""

    advisory_id: str | None
    """Advisory id as written in the file (checked against the catalog when applied); None: all."""
    cluster: str | None
    """Cluster name; None: every cluster. Matched by name, so it holds from the first scan."""
    reason: str
    expires_at: datetime | None = None
    """When the mute ends (aware, UTC); None when :attr:`days` is given."""
    days: int | None = None
    """How long the mute lasts, counted from when netadvisor first applied this entry."""
    field: str = "mutes"
    """Where the entry is (``mutes[2]``), for error messages."""

    def key(self) -> str:
        """The entry's identity: a hash of everything but its position in the file."""
        content = {
            "advisory": self.advisory_id,
            "cluster": self.cluster,
            "reason": self.reason,
            "expires": self.expires_at.isoformat() if self.expires_at else None,
            "days": self.days,
        }
        data = json.dumps(content, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(data).hexdigest()[:32]

    def ends_at(self, applied_at: datetime) -> datetime:
        """When the mute ends if netadvisor first applies it at ``applied_at``."""
        if self.expires_at is not None:
            return self.expires_at
        assert self.days is not None  # the settings require one of them
        return applied_at + timedelta(days=self.days)


MAX_MUTE_DAYS: Final = 365
"""The longest a mute may last, from a person or from the configuration file."""
MAX_REASON: Final = 500
"""Characters of a mute's reason that are kept."""
