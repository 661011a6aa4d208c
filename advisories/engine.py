"""Exact verdicts over unknown facts.

A fact that is not known is a *domain* of possible values (see :mod:`advisories.facts`). The
boundaries that an advisory's conditions draw split every domain into finitely many *cells*
(intervals of versions, enum values, groups of encapsulation sets, feature states) inside which
no condition changes its answer. The engine evaluates one representative of every combination of
cells: the verdict is ``affected`` when every combination is affected, ``not_affected`` when
none is, and otherwise ``unknown`` together with the facts it depends on and the values under
which it would be affected or safe, in words and in data.

The same machinery answers "what is the lowest safe version" (see :mod:`advisories.planning`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from advisories.derive import OS_RELEASES, ResolvedFacts, resolve
from advisories.facts import (
    FACTS,
    FEATURES,
    FactKind,
    Facts,
    KernelDomain,
    VersionDomain,
)
from advisories.models import Advisory, Case, Condition, DecidedBy, Severity, Verdict
from advisories.versions import MAX_KEY, MIN_KEY, VersionSet

__all__ = ["ABSENT", "Engine", "Result", "Term", "evaluate"]


class _Absent(Enum):
    ABSENT = "not installed"


ABSENT: Final = _Absent.ABSENT
"""The cell of a component version fact meaning "not installed"."""

VENDOR_KEY: Final = "kernel-vendor"
"""Pseudo-fact: the kernel is a distribution kernel that may carry backports."""

MEMO_LIMIT: Final = 4096
"""Entries of :attr:`Engine.memo` at most (it is emptied when full)."""

PRESENCE: Final[Mapping[str, str]] = {
    "kube-proxy": "proxy-mode",
    "calico": "calico",
    "spiderpool": "spiderpool",
}
"""The fact that tells whether each component is installed."""


@dataclass(frozen=True, slots=True)
class _SetGroup:
    """Encapsulation sets that answer every condition of an advisory alike."""

    sets: frozenset[frozenset[str]]
    signature: tuple[tuple[frozenset[str], bool], ...]


CellValue = VersionSet | _Absent | str | bool | _SetGroup


class _Outcome(Enum):
    AFFECTED = 2
    UNCERTAIN = 1
    NOT_AFFECTED = 0


@dataclass(frozen=True, slots=True)
class Term:
    """One conjunct of a condition in disjunctive normal form: key -> allowed values in words.

    ``values`` keeps the same in data: version keys map to :class:`VersionSet`, enum keys and
    features to sorted tuples of values (``True``/``False`` for features).
    """

    words: Mapping[str, str]
    values: Mapping[str, object] = field(default_factory=dict)

    def describe(self) -> str:
        """``kube-proxy >= 1.22.0 and kernel < 5.9.0``; ``always`` for the empty conjunction."""
        if not self.words:
            return "always"
        if len(self.words) == 1:
            return next(iter(self.words.values()))
        return " and ".join(f"({w})" if " or " in w else w for w in self.words.values())


@dataclass(frozen=True, slots=True)
class Result:
    """The answer for one advisory at one set of facts."""

    advisory: Advisory
    verdict: Verdict
    cases: tuple[Case, ...]
    """Cases that hold at some combination of the facts' values (affected or uncertain first)."""
    severity: Severity | None
    """The worst severity among the affected cases that may hold."""
    depends_on: tuple[str, ...] = ()
    """For unknown verdicts: the facts whose value decides."""
    affected_when: tuple[Term, ...] = ()
    """For unknown verdicts: values of ``depends_on`` under which it is affected."""
    safe_when: tuple[Term, ...] = ()
    """For unknown verdicts: values of ``depends_on`` under which it is not affected."""
    uncertain: tuple[str, ...] = ()
    """Why upstream leaves a band that may hold uncertain."""
    caveats: tuple[str, ...] = ()
    evidence: Mapping[str, str] = field(default_factory=dict)
    """Fact key -> the value that decided (the raw string where one was read)."""

    @property
    def id(self) -> str:
        """The advisory id."""
        return self.advisory.id

    def impact(self, language: str = "en") -> str:
        """What the user will see, from the cases that (may) hold."""
        relevant = [c for c in self.cases if c.affected] or list(self.cases)
        if self.verdict is Verdict.NOT_AFFECTED:
            relevant = [c for c in self.cases if not c.affected]
        texts = list(dict.fromkeys(c.impact.get(language) for c in relevant))
        return " / ".join(texts)

    def depends_text(self) -> str:
        """``affected if kube-proxy < 1.22.0 or kernel < 5.9.0`` (empty unless unknown)."""
        if self.verdict is not Verdict.UNKNOWN:
            return ""
        parts = []
        if self.affected_when:
            parts.append("affected if " + " or ".join(t.describe() for t in self.affected_when))
        if self.uncertain:
            parts.append("uncertain: " + "; ".join(dict.fromkeys(self.uncertain)))
        return "; ".join(parts)


@dataclass(slots=True)
class Engine:
    """Evaluates advisories at facts; caches answers per advisory and relevant domains.

    Fleets repeat the same node facts many times; the cache makes a fleet cost one evaluation
    per distinct combination.
    """

    advisories: Sequence[Advisory]
    _cache: dict[tuple[object, ...], Result] = field(default_factory=dict)
    _keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    memo: dict[tuple[object, ...], object] = field(default_factory=dict)
    """Results of searches built on this engine (joint fixes, :mod:`advisories.fixes`), by
    their inputs; bounded by :data:`MEMO_LIMIT` entries."""

    def subset(self, advisories: Sequence[Advisory]) -> Engine:
        """An engine over some of these advisories that shares this one's caches."""
        return Engine(list(advisories), self._cache, self._keys, self.memo)

    def evaluate(self, facts: ResolvedFacts) -> list[Result]:
        """Results for every advisory, in catalog order."""
        return [self.evaluate_one(advisory, facts) for advisory in self.advisories]

    def evaluate_one(self, advisory: Advisory, facts: ResolvedFacts) -> Result:
        """The result of one advisory at resolved facts."""
        keys = self._keys.get(advisory.id)
        if keys is None:
            keys = self._keys[advisory.id] = _relevant_keys(advisory)
        domains = tuple(facts.domain(k) if k != VENDOR_KEY else _vendor(facts) for k in keys)
        cache_key = (advisory.id, keys, domains)
        cached = self._cache.get(cache_key)
        if cached is None:
            cached = _evaluate(advisory, keys, domains)
            self._cache[cache_key] = cached
        caveats = _caveats(advisory, facts, cached, keys)
        evidence = {k: facts.raw[k] for k in keys if k in facts.raw}
        if not caveats and not evidence:
            return cached
        return Result(
            advisory=cached.advisory,
            verdict=cached.verdict,
            cases=cached.cases,
            severity=cached.severity,
            depends_on=cached.depends_on,
            affected_when=cached.affected_when,
            safe_when=cached.safe_when,
            uncertain=cached.uncertain,
            caveats=cached.caveats + caveats,
            evidence=evidence,
        )


def evaluate(advisories: Iterable[Advisory], facts: Facts) -> list[Result]:
    """Results for every advisory at ``facts`` (resolved first)."""
    return Engine(list(advisories)).evaluate(resolve(facts))


# ---------------------------------------------------------------------------------------------


def _vendor(facts: ResolvedFacts) -> frozenset[bool]:
    kernel = facts.domain("kernel")
    assert isinstance(kernel, KernelDomain)
    return kernel.vendor


def _relevant_keys(advisory: Advisory) -> tuple[str, ...]:
    keys = list(advisory.keys)
    presence = PRESENCE[advisory.component]
    if presence not in keys:
        keys.insert(0, presence)
    if advisory.decided_by is DecidedBy.KERNEL_BUG and "kernel" in keys:
        keys.append(VENDOR_KEY)
    return tuple(keys)


def _conditions_on(advisory: Advisory, key: str) -> list[Condition]:
    return [c for case in advisory.cases for c in case.when if c.key == key]


def _cells(advisory: Advisory, key: str, domain: object) -> list[CellValue]:
    """Split a domain into cells inside which no condition of the advisory changes."""
    if key == VENDOR_KEY:
        assert isinstance(domain, frozenset)
        return sorted(domain)
    if isinstance(domain, VersionDomain | KernelDomain):
        versions = domain.versions
        bounds = {MIN_KEY, MAX_KEY}
        for cond in _conditions_on(advisory, key):
            assert cond.versions is not None
            for lo, hi in cond.versions.intervals:
                bounds.update((lo, hi))
        ordered = sorted(bounds)
        cells: list[CellValue] = []
        for lo, hi in itertools.pairwise(ordered):
            piece = versions.intersect(VersionSet(((lo, hi),)))
            if piece:
                cells.append(piece)
        if isinstance(domain, VersionDomain) and domain.absent:
            cells.append(ABSENT)
        return cells
    if key in FEATURES:
        assert isinstance(domain, frozenset)
        return sorted(domain)
    spec = FACTS[key]
    assert isinstance(domain, frozenset)
    if spec.kind is FactKind.SET:
        groups: dict[tuple[tuple[frozenset[str], bool], ...], set[frozenset[str]]] = {}
        tests = list(dict.fromkeys(c.values for c in _conditions_on(advisory, key) if c.values))
        for item in domain:
            assert isinstance(item, frozenset)
            signature = tuple((t, bool(item & t)) for t in tests)
            groups.setdefault(signature, set()).add(item)
        return [_SetGroup(frozenset(sets), sig) for sig, sets in groups.items()]
    return [str(v) for v in sorted(domain, key=str)]


def _holds(cond: Condition, cell: CellValue) -> bool:
    if cond.versions is not None:
        if not isinstance(cell, VersionSet):
            return False
        lowest = cell.lowest()
        return lowest is not None and lowest in cond.versions
    if cond.values is not None:
        if isinstance(cell, _SetGroup):
            return dict(cell.signature).get(cond.values, False)
        return isinstance(cell, str) and cell in cond.values
    return cell is cond.flag


def _present(component: str, cell: CellValue) -> bool:
    if component == "kube-proxy":
        return cell != "none"
    return cell is not ABSENT


_VENDOR_REASON: Final = (
    "the node runs a distribution kernel whose vendor may have backported the kernel fix"
)


def _evaluate(advisory: Advisory, keys: tuple[str, ...], domains: tuple[object, ...]) -> Result:
    cell_lists = [_cells(advisory, k, d) for k, d in zip(keys, domains, strict=True)]
    index = {k: i for i, k in enumerate(keys)}
    presence_at = index[PRESENCE[advisory.component]]
    vendor_at = index.get(VENDOR_KEY)
    outcomes: dict[tuple[int, ...], _Outcome] = {}
    holding: dict[str, Case] = {}
    uncertain: list[str] = []
    for combo in itertools.product(*(range(len(c)) for c in cell_lists)):
        point = [cell_lists[i][j] for i, j in enumerate(combo)]
        if not _present(advisory.component, point[presence_at]):
            outcomes[combo] = _Outcome.NOT_AFFECTED
            continue
        outcome = _Outcome.NOT_AFFECTED
        for case in advisory.cases:
            if not all(_holds(c, point[index[c.key]]) for c in case.when):
                continue
            holding.setdefault(case.id, case)
            if not case.affected:
                continue
            if case.uncertain:
                uncertain.append(case.uncertain)
                outcome = max(outcome, _Outcome.UNCERTAIN, key=lambda o: o.value)
            elif (
                vendor_at is not None
                and point[vendor_at] is True
                and any(c.key == "kernel" for c in case.when)
            ):
                uncertain.append(_VENDOR_REASON)
                outcome = max(outcome, _Outcome.UNCERTAIN, key=lambda o: o.value)
            else:
                outcome = _Outcome.AFFECTED
        outcomes[combo] = outcome
    values = set(outcomes.values())
    order = {c.id: i for i, c in enumerate(advisory.cases)}
    cases = sorted(holding.values(), key=lambda c: (not c.affected, order[c.id]))
    severities = [c.severity for c in cases if c.affected and c.severity is not None]
    severity = max(severities, key=lambda s: s.rank) if severities else None
    if values == {_Outcome.AFFECTED}:
        return Result(advisory, Verdict.AFFECTED, tuple(cases), severity)
    if values == {_Outcome.NOT_AFFECTED} or not values:
        safe_cases = tuple(c for c in cases if not c.affected)
        return Result(advisory, Verdict.NOT_AFFECTED, safe_cases, None)
    depends = [
        keys[i] for i in range(len(keys)) if len(cell_lists[i]) > 1 and _matters(outcomes, i)
    ]
    shown = [i for i, k in enumerate(keys) if k in depends]
    affected_when = _terms(outcomes, cell_lists, keys, shown, {_Outcome.AFFECTED})
    safe_when = _terms(outcomes, cell_lists, keys, shown, {_Outcome.NOT_AFFECTED})
    return Result(
        advisory,
        Verdict.UNKNOWN,
        tuple(cases),
        severity,
        depends_on=tuple(k if k != VENDOR_KEY else "kernel" for k in dict.fromkeys(depends)),
        affected_when=affected_when,
        safe_when=safe_when,
        uncertain=tuple(dict.fromkeys(uncertain)),
    )


def _matters(outcomes: Mapping[tuple[int, ...], _Outcome], i: int) -> bool:
    groups: dict[tuple[int, ...], set[_Outcome]] = {}
    for combo, outcome in outcomes.items():
        groups.setdefault(combo[:i] + combo[i + 1 :], set()).add(outcome)
    return any(len(v) > 1 for v in groups.values())


def _terms(
    outcomes: Mapping[tuple[int, ...], _Outcome],
    cell_lists: Sequence[Sequence[CellValue]],
    keys: Sequence[str],
    shown: Sequence[int],
    wanted: set[_Outcome],
) -> tuple[Term, ...]:
    """A small disjunction of boxes over the shown keys covering the wanted combinations.

    Each box grows greedily from an uncovered wanted point, one key at a time, by every cell
    that keeps the box free of unwanted points; boxes may overlap. Keys that are not shown do
    not change the outcome, so the projection is consistent.
    """
    good: set[tuple[int, ...]] = set()
    bad: set[tuple[int, ...]] = set()
    for combo, outcome in outcomes.items():
        (good if outcome in wanted else bad).add(tuple(combo[i] for i in shown))
    sizes = [len(cell_lists[i]) for i in shown]
    boxes: list[tuple[frozenset[int], ...]] = []

    def clean(box: Sequence[frozenset[int]]) -> bool:
        return not any(point in bad for point in itertools.product(*box))

    for start in sorted(good):
        if any(all(start[i] in box[i] for i in range(len(shown))) for box in boxes):
            continue
        box: list[frozenset[int]] = [frozenset({v}) for v in start]
        for i in range(len(shown)):
            for cell in range(sizes[i]):
                if cell in box[i]:
                    continue
                trial: list[frozenset[int]] = [*box[:i], box[i] | {cell}, *box[i + 1 :]]
                if clean(trial):
                    box = trial
        boxes.append(tuple(box))
    out = []
    for found in boxes:
        words: dict[str, str] = {}
        values: dict[str, object] = {}
        for pos, i in enumerate(shown):
            allowed = found[pos]
            if len(allowed) == sizes[pos]:
                continue
            cells = [cell_lists[i][j] for j in sorted(allowed)]
            word, value = _describe_cells(keys[i], cells)
            words[keys[i]] = word
            values[keys[i]] = value
        out.append(Term(words=words, values=values))
    return tuple(out)


def _describe_cells(key: str, cells: Sequence[CellValue]) -> tuple[str, object]:
    if key == VENDOR_KEY:
        vendor = bool(cells[0])
        return ("a distribution kernel" if vendor else "an upstream kernel"), vendor
    versions = VersionSet.empty()
    words: list[str] = []
    plain: list[object] = []
    for cell in cells:
        if isinstance(cell, VersionSet):
            versions = versions.union(cell)
        elif cell is ABSENT:
            words.append(f"{key} not installed")
            plain.append(None)
        elif isinstance(cell, _SetGroup):
            used = sorted(v for t, hit in cell.signature if hit for v in t)
            unused = sorted(v for t, hit in cell.signature if not hit for v in t)
            if used:
                words.append(f"{key} uses {' or '.join(dict.fromkeys(used))}")
            elif unused:
                words.append(f"{key} uses none of {', '.join(dict.fromkeys(unused))}")
            plain.append(sorted(dict.fromkeys(used)))
        elif isinstance(cell, bool):
            words.append(f"{key} {'on' if cell else 'off'}")
            plain.append(cell)
        else:
            plain.append(cell)
    enum_values = [c for c in cells if isinstance(c, str)]
    if enum_values:
        words.insert(0, f"{key} is {' or '.join(enum_values)}")
    if versions:
        words.insert(0, versions.describe(key))
        plain.insert(0, versions)
    return " or ".join(words), (plain[0] if len(plain) == 1 else tuple(plain))


def _caveats(
    advisory: Advisory, facts: ResolvedFacts, result: Result, keys: tuple[str, ...]
) -> tuple[str, ...]:
    out: list[str] = []
    kernel_matters = "kernel" in keys and result.verdict is not Verdict.NOT_AFFECTED
    kernel = facts.domain("kernel")
    if (
        kernel_matters
        and advisory.decided_by is DecidedBy.COMPONENT_VERSION_CHECK
        and isinstance(kernel, KernelDomain)
        and kernel.vendor == frozenset({True})
    ):
        raw = facts.raw.get("kernel") or f"the {facts.os_name or 'distribution'} kernel"
        out.append(
            f"{raw} is a distribution kernel that may carry backported fixes; "
            f"{advisory.component} decides by the base version number, so the verdict stands"
        )
    if kernel_matters and facts.os_name and "kernel" not in facts.raw:
        release = next((r for r in OS_RELEASES if r.name == facts.os_name), None)
        shipped = f" ({release.note})" if release else ""
        out.append(f"kernel inferred from {facts.os_name}{shipped}")
    return tuple(out)
