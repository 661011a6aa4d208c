"""Domain values of the catalog and of verdicts. Every value is a frozen dataclass."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import NewType

from advisories.versions import VersionSet

__all__ = [
    "Advisory",
    "AdvisoryId",
    "Case",
    "Condition",
    "DecidedBy",
    "Reference",
    "Severity",
    "Text",
    "Verdict",
    "Workaround",
]

AdvisoryId = NewType("AdvisoryId", str)


class Severity(Enum):
    """How bad an affected case is; see the catalog README for the scale."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Higher is worse."""
        return {"critical": 4, "high": 3, "medium": 2, "low": 1}[self.value]


class Verdict(Enum):
    """The engine's answer for one advisory."""

    AFFECTED = "affected"
    NOT_AFFECTED = "not_affected"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Order for ``--fail-on``: affected > unknown > not_affected."""
        return {"affected": 2, "unknown": 1, "not_affected": 0}[self.value]


class DecidedBy(Enum):
    """Who decides by the kernel version; see the catalog README ("Kinds")."""

    COMPONENT_VERSION_CHECK = "component-version-check"
    KERNEL_BUG = "kernel-bug"
    COMPONENT_BUG = "component-bug"


@dataclass(frozen=True, slots=True)
class Text:
    """A text in English and, where the catalog has it, Chinese."""

    en: str
    zh: str | None = None

    def get(self, language: str = "en") -> str:
        """The text in ``language`` if the catalog has it, else English."""
        if language == "zh" and self.zh:
            return self.zh
        return self.en


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition of a case: a fact (or feature) must take one of the allowed values.

    Exactly one of ``versions`` (version and kernel facts), ``values`` (enum facts; set facts:
    any member) and ``flag`` (features) is set.
    """

    key: str
    versions: VersionSet | None = None
    values: frozenset[str] | None = None
    flag: bool | None = None
    events: tuple[tuple[str, str], ...] = ()
    """The OSV events the versions were read from, for export."""

    def describe(self) -> str:
        """Readable form, e.g. ``kernel >= 4.1.0 and < 5.9.0`` or ``proxy-mode is ipvs``."""
        if self.versions is not None:
            return self.versions.describe(self.key)
        if self.values is not None:
            return f"{self.key} is {' or '.join(sorted(self.values))}"
        return f"{self.key} {'on' if self.flag else 'off'}"


@dataclass(frozen=True, slots=True)
class Case:
    """A band of facts under which one impact holds (a row of the seed's tables)."""

    id: str
    affected: bool
    when: tuple[Condition, ...]
    impact: Text
    severity: Severity | None = None
    uncertain: str | None = None
    """When set, upstream leaves this band uncertain: the case yields unknown, with this reason."""
    note: str | None = None
    symptoms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Symptoms only this case produces (language -> keyword phrases), where cases differ."""


@dataclass(frozen=True, slots=True)
class Reference:
    """A typed link to upstream evidence (OSV reference types)."""

    type: str
    url: str
    note: str | None = None

    @property
    def github(self) -> tuple[str, str, int] | None:
        """(``owner/repo``, ``pull`` | ``issues``, number) for a GitHub PR or issue link."""
        parts = self.url.rstrip("/").split("/")
        if len(parts) >= 7 and parts[2] == "github.com" and parts[5] in {"pull", "issues"}:
            try:
                return f"{parts[3]}/{parts[4]}", parts[5], int(parts[6])
            except ValueError:
                return None
        return None


@dataclass(frozen=True, slots=True)
class Workaround:
    """A command an operator can run, with what it does."""

    description: str
    command: str
    description_zh: str | None = None
    """The description in Chinese, where the catalog has it."""
    cases: tuple[str, ...] = ()
    """Ids of the cases it is for; empty = every affected case."""

    def describe(self, language: str = "en") -> str:
        """The description in ``language`` if the catalog has it, else English."""
        if language == "zh" and self.description_zh:
            return self.description_zh
        return self.description


@dataclass(frozen=True, slots=True)
class Advisory:
    """A known issue of one component, as data."""

    id: AdvisoryId
    title: str
    component: str
    decided_by: DecidedBy
    summary: str
    cases: tuple[Case, ...]
    recommendation: Text
    symptoms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    workaround: tuple[Workaround, ...] = ()
    references: tuple[Reference, ...] = ()
    source: str = ""
    notes: tuple[str, ...] = ()
    path: str = ""
    """The file it was loaded from."""
    title_zh: str | None = None
    """The title in Chinese, where the catalog has it."""
    modified: date | None = None
    """The day the advisory itself last changed (OSV's ``modified``); None: not recorded."""

    def title_in(self, language: str = "en") -> str:
        """The title in ``language`` if the catalog has it, else English."""
        if language == "zh" and self.title_zh:
            return self.title_zh
        return self.title

    def workarounds_for(self, case_ids: Iterable[str]) -> tuple[Workaround, ...]:
        """The workarounds that apply to any of these cases (those without ``cases``: all)."""
        wanted = set(case_ids)
        return tuple(w for w in self.workaround if not w.cases or wanted & set(w.cases))

    @property
    def keys(self) -> tuple[str, ...]:
        """Every fact key or feature its cases depend on, in first-use order."""
        seen: dict[str, None] = {}
        for case in self.cases:
            for cond in case.when:
                seen.setdefault(cond.key, None)
        return tuple(seen)

    @property
    def worst_severity(self) -> Severity | None:
        """The worst severity of its affected cases."""
        severities = [c.severity for c in self.cases if c.affected and c.severity is not None]
        return max(severities, key=lambda s: s.rank) if severities else None
