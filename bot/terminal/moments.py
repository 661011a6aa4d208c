"""Times as people read them: ``Thu 17 Dec 14:00 UTC``, never microseconds."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["human"]


def human(moment: datetime | None, now: datetime | None = None) -> str:
    """``Thu 17 Dec 14:00 UTC`` (the year too when it is not ``now``'s); ``-`` for None."""
    if moment is None:
        return "-"
    at = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    year = "" if now is None or now.astimezone(UTC).year == at.year else f" {at.year}"
    return f"{at:%a %d %b}{year} {at:%H:%M} UTC"
