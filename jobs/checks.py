"""The result of one set-up check (``netadvisor doctor``): what was checked, how it went, and
how to fix it. Every adapter that checks its own outside system returns these."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["CheckResult", "CheckStatus"]


class CheckStatus(Enum):
    """How one check went."""

    OK = "ok"
    WARN = "warn"
    """Works, but something deserves attention (a low rate limit, no token)."""
    FAIL = "fail"
    SKIP = "skip"
    """Not checked: an earlier check failed, or there is nothing to check."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of ``doctor``."""

    area: str
    """``kubernetes``, ``slack``, ``github`` or ``database``."""
    subject: str
    """What was checked: a cluster, a channel, a permission (never a secret)."""
    status: CheckStatus
    message: str
    """What was found, for a person."""
    fix: str = ""
    """What to do when it is not OK."""

    @property
    def failed(self) -> bool:
        """Whether this check makes ``doctor`` exit 1."""
        return self.status is CheckStatus.FAIL
