"""Joint fixes: sets of changes (versions and modes together) that clear advisories.

``plan --safe`` used to move one component at a time, so a cluster that needs a kernel *and* a
Calico upgrade had no answer. Here the search runs over combinations of target versions (the
versions the catalog's events name) and mode changes (IPVS -> iptables), smallest first, and
returns alternatives best first: fewest mode changes, then fewest changes, then the lowest
versions. Every alternative is checked by evaluating the engine with the changes applied to
every fact group, so what is returned is true of the catalog, not guessed from it.

Two strengths:

- *strict* (``safe_with`` of ``ask`` / ``check``): the stated facts plus the alternative make
  every named advisory ``not_affected``;
- *fix* (``fixes`` of ``plan``): none of the advisories at risk is ``affected`` after the
  changes (and none that did not hold becomes so); one may stay ``unknown`` only when it depends
  on nothing but facts that the setup does not give (facts inventory cannot read, or a stated
  setup leaves out); those are listed in :attr:`Fix.remaining`.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from advisories.derive import resolve
from advisories.engine import MEMO_LIMIT, Engine, Result
from advisories.facts import (
    FACTS,
    FEATURES,
    FactKind,
    Facts,
    KernelDomain,
    VersionDomain,
    parse_fact,
)
from advisories.models import Advisory, Verdict
from advisories.planning import Change, apply_changes, candidate_versions, oses_meeting
from advisories.versions import VersionError, VersionKey, parse_kernel, parse_version
from advisories.wording import change_words, words

__all__ = ["MAX_TARGETS", "Fix", "find_fixes", "to_change"]

_SKIPPED_KEYS = frozenset({"iptables-version", "os", "kernel-vendor"})
# Not offered as fixes: removing kube-proxy or the overlay; IPVS (the mode with the most
# advisories) and nftables (alpha before Kubernetes 1.31): the seed's advice is iptables mode.
_NOT_A_FIX = {"proxy-mode": {"none", "ipvs", "nftables"}, "calico-encapsulation": {"none"}}
MAX_TARGETS: Final = 8
"""More advisories than this at once (nothing stated about a component): no search."""
_BUDGET = 300
"""Evaluations per search at most (each is one engine pass over the advisories concerned)."""


@dataclass(frozen=True, slots=True)
class Fix:
    """One alternative: changes that, applied together, clear the advisories."""

    changes: Mapping[str, str]
    """Fact key (as the ``check`` flags name it) -> a value a user could state; features as
    ``on`` / ``off``."""
    clears: tuple[str, ...]
    """The advisories it makes ``not_affected``."""
    remaining: tuple[str, ...] = ()
    """Advisories left ``unknown`` because they depend only on facts the setup does not give."""
    or_later: frozenset[str] = field(default_factory=frozenset)
    """Version keys for which every later candidate version works as well."""
    modes: int = 0
    """How many of the changes are mode or setting changes rather than upgrades."""

    def describe(self, language: str = "en", *, releases: bool = True) -> str:
        """``kernel 5.9 or later (RHEL 9, Ubuntu 22.04) and Calico 3.28.2 or later``; without
        the OS releases when ``releases`` is False."""
        parts = []
        order = ("kernel", "kubernetes", "kube-proxy", "calico", "spiderpool")
        keys = sorted(self.changes, key=lambda k: order.index(k) if k in order else len(order))
        for key in keys:
            value = self.changes[key]
            text = change_words(key, value, language, or_later=key in self.or_later)
            if key == "kernel" and releases:
                oses = _oses(value)
                if oses:
                    text += f" ({', '.join(oses[:3])})"
            parts.append(text)
        glue = " 且 " if language == "zh" else f" {words(language)['and']} "
        return glue.join(parts)

    def sentence(self, language: str = "en", *, releases: bool = True) -> str:
        """As advice for a plan: ``upgrade the kernel to 5.9 or later (RHEL 9, ...) and Calico
        to 3.28.2 or later``; ``switch the kube-proxy mode to iptables``."""
        order = ("kernel", "kubernetes", "kube-proxy", "calico", "spiderpool")
        keys = sorted(self.changes, key=lambda k: order.index(k) if k in order else len(order))
        upgrades = [k for k in keys if _is_version(k)]
        others = [k for k in keys if not _is_version(k)]
        parts: list[str] = []
        steps = []
        for key in upgrades:
            value = _short(self.changes[key])
            later = key in self.or_later
            if language == "zh":
                text = f"{_NAMES_ZH.get(key, key)}升级到 {value}{' 或更高' if later else ''}"
            else:
                text = f"{_NAMES_EN.get(key, key)} to {value}{' or later' if later else ''}"
            if key == "kernel" and releases and _oses(self.changes[key]):
                text += f" ({', '.join(_oses(self.changes[key])[:3])})"
            steps.append(text)
        if steps:
            if language == "zh":
                parts.append("将" + "，并将".join(steps))
            else:
                parts.append("upgrade " + " and ".join(steps))
        parts.extend(change_words(k, self.changes[k], language) for k in others)
        return ("，并且" if language == "zh" else " and ").join(parts)


_NAMES_EN = {"kernel": "the kernel", "kubernetes": "Kubernetes", "kube-proxy": "kube-proxy",
             "calico": "Calico", "spiderpool": "Spiderpool"}  # fmt: skip
_NAMES_ZH = {"kernel": "内核", "kubernetes": "Kubernetes ", "kube-proxy": "kube-proxy ",
             "calico": "Calico ", "spiderpool": "Spiderpool "}  # fmt: skip


def _short(value: str) -> str:
    parts = value.split(".")
    while len(parts) > 2 and parts[-1] == "0":
        parts.pop()
    return ".".join(parts)


def find_fixes(
    engine: Engine,
    groups: Sequence[Facts],
    ids: Sequence[str],
    *,
    strict: bool,
    limit: int = 3,
    max_size: int = 3,
) -> list[Fix]:
    """Alternatives that clear the advisories ``ids`` at ``groups`` (unresolved), best first."""
    if not ids or not groups or len(ids) > MAX_TARGETS:
        return []
    # Questions repeat (the same setup asked twice, a Slack channel's favourites): the search
    # depends only on the domains, so its result is kept on the engine.
    memo_key = ("fixes", tuple(ids), strict, limit, max_size, *(_signature(g) for g in groups))
    cached = engine.memo.get(memo_key)
    if isinstance(cached, list):
        return list(cached)
    found = _search(engine, groups, ids, strict=strict, limit=limit, max_size=max_size)
    if len(engine.memo) >= MEMO_LIMIT:
        engine.memo.clear()
    engine.memo[memo_key] = found
    return list(found)


def _signature(facts: Facts) -> tuple[object, ...]:
    """What a search's outcome depends on: the domains (not the raw strings)."""
    values = tuple(sorted(facts.values.items(), key=lambda kv: kv[0]))
    return (facts.os_name, values, tuple(sorted(facts.raw)))


def _search(
    engine: Engine,
    groups: Sequence[Facts],
    ids: Sequence[str],
    *,
    strict: bool,
    limit: int,
    max_size: int,
) -> list[Fix]:
    by_id: dict[str, Advisory] = {str(a.id): a for a in engine.advisories}
    targets = [by_id[i] for i in ids if i in by_id]
    stated = _stated(groups)
    unread = _unread(groups)
    keys = _keys(targets, stated)
    candidates = {k: _values(targets, groups, k) for k in keys}
    keys = [k for k in keys if candidates[k]]
    # Only advisories the candidate changes can move need evaluating (plus the targets).
    moved = set(keys) | ({"kube-proxy", "iptables-version"} if "kubernetes" in keys else set())
    concerned = engine.subset(
        [a for a in engine.advisories if a.id in ids or moved & set(_presence_keys(a))]
    )
    search = _Search(concerned, groups, [t.id for t in targets], strict, unread)
    # "or later" is checked against every version the concerned advisories name.
    later_values = {k: _values(concerned.advisories, groups, k) for k in keys}
    found: list[Fix] = []
    for size in range(1, max_size + 1):
        for combo in itertools.combinations(keys, size):
            if any(set(f.changes) <= set(combo) for f in found):
                continue  # a smaller alternative already clears them
            ranges = [range(len(candidates[k])) for k in combo]
            for picks in sorted(itertools.product(*ranges), key=lambda p: (sum(p), p)):
                if search.spent >= _BUDGET:
                    break
                changes = {k: candidates[k][i] for k, i in zip(combo, picks, strict=True)}
                outcome = search.check(changes)
                if outcome is None:
                    continue
                later = frozenset(
                    k for k in combo
                    if _is_version(k) and all(
                        search.check({**changes, k: v}) is not None
                        for v in later_values[k] if _after(v, changes[k])
                    )
                )  # fmt: skip
                found.append(
                    Fix(
                        changes=changes,
                        clears=outcome[0],
                        remaining=outcome[1],
                        or_later=later,
                        modes=sum(1 for k in combo if not _is_version(k)),
                    )
                )
                break
        if len(found) >= limit or search.spent >= _BUDGET:
            break
    found.sort(key=lambda f: (f.modes, len(f.changes)))
    return found[:limit]


_Outcome = tuple[tuple[str, ...], tuple[str, ...]]
"""(advisories cleared, advisories left unknown on facts the setup does not give)."""


class _Search:
    """Evaluates candidate changes (cached) and says whether they clear the targets."""

    def __init__(
        self,
        engine: Engine,
        groups: Sequence[Facts],
        ids: Sequence[str],
        strict: bool,
        unread: Collection[str],
    ) -> None:
        self.engine = engine
        self.groups = groups
        self.ids = ids
        self.strict = strict
        self.unread = unread
        self.spent = 0
        self.before = {i for i, r in self._worst([]).items() if r.verdict is Verdict.AFFECTED}
        self._seen: dict[tuple[tuple[str, str], ...], _Outcome | None] = {}

    def check(self, changes: Mapping[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """(cleared, remaining unknown) when the changes clear the targets, else None."""
        key = tuple(sorted(changes.items()))
        if key in self._seen:
            return self._seen[key]
        self.spent += 1
        worst = self._worst([to_change(k, v) for k, v in changes.items()])
        outcome: _Outcome | None
        if self.strict:
            # The named advisories clear, and the changes break nothing that did not hold.
            ok = all(worst[i].verdict is Verdict.NOT_AFFECTED for i in self.ids) and not any(
                r.verdict is Verdict.AFFECTED and i not in self.before for i, r in worst.items()
            )
            outcome = (tuple(self.ids), ()) if ok else None
        else:
            # The advisories at risk clear, or stay unknown only on facts the setup does not
            # give (upstream-uncertain bands of an unread version included); nothing that did
            # not hold becomes affected.
            remaining = []
            ok = not any(
                r.verdict is Verdict.AFFECTED and i not in self.before for i, r in worst.items()
            )
            for advisory_id in self.ids:
                result = worst[advisory_id]
                if result.verdict is Verdict.AFFECTED:
                    ok = False
                elif result.verdict is Verdict.UNKNOWN:
                    given = set(result.depends_on)
                    if not given or not given <= set(self.unread):
                        ok = False
                    else:
                        remaining.append(advisory_id)
            cleared = tuple(i for i in self.ids if worst[i].verdict is Verdict.NOT_AFFECTED)
            outcome = (cleared, tuple(remaining)) if ok else None
        self._seen[key] = outcome
        return outcome

    def _worst(self, parsed: Sequence[Change]) -> dict[str, Result]:
        worst: dict[str, Result] = {}
        for group in self.groups:
            for result in self.engine.evaluate(resolve(apply_changes(group, parsed))):
                old = worst.get(result.id)
                if old is None or result.verdict.rank > old.verdict.rank:
                    worst[result.id] = result
        return worst


def to_change(key: str, value: str) -> Change:
    """A change as ``plan --set KEY=VALUE`` (or ``--feature``) would state it."""
    if key in FEATURES:
        return Change(key, frozenset({value == "on"}), value)
    canonical, domain, _ = parse_fact(key, value)
    return Change(canonical, domain, value)


def _after(value: str, than: str) -> bool:
    return parse_version(value).key > parse_version(than).key


def _presence_keys(advisory: Advisory) -> tuple[str, ...]:
    """The advisory's keys and the fact that says whether its component is installed."""
    presence = {"kube-proxy": "proxy-mode"}.get(advisory.component, advisory.component)
    return (*advisory.keys, presence)


def _is_version(key: str) -> bool:
    spec = FACTS.get(key)
    return spec is not None and spec.kind in (FactKind.VERSION, FactKind.KERNEL)


def _stated(groups: Sequence[Facts]) -> set[str]:
    keys: set[str] = set()
    for group in groups:
        keys.update(group.values)
    return keys


def _unread(groups: Sequence[Facts]) -> set[str]:
    """Facts that no group gives (after resolution): unknown however the setup changes."""
    given: set[str] = set()
    for group in groups:
        given.update(resolve(group).values)
    return {k for k in (*FACTS, *FEATURES) if k not in given}


def _keys(targets: Sequence[Advisory], stated: Collection[str]) -> list[str]:
    """Keys worth changing, versions before modes; kube-proxy as Kubernetes unless stated."""
    keys: dict[str, None] = {}
    for advisory in targets:
        for key in advisory.keys:
            if key in _SKIPPED_KEYS:
                continue
            if key in FEATURES and key in stated:
                continue  # a feature the question states is the setup, not a choice
            if key == "kube-proxy" and "kube-proxy" not in stated:
                key = "kubernetes"
            keys[key] = None
    return sorted(keys, key=lambda k: (not _is_version(k), k in FEATURES))


def _values(targets: Sequence[Advisory], groups: Sequence[Facts], key: str) -> list[str]:
    """Candidate values of one key: later versions the catalog names, other modes."""
    if key in FEATURES:
        return ["off", "on"]
    spec = FACTS[key]
    if spec.kind in (FactKind.VERSION, FactKind.KERNEL):
        event_key = "kube-proxy" if key == "kubernetes" else key
        lowest = _lowest(groups, key)
        return [
            _text(v) for v in candidate_versions(targets, event_key) if lowest is None or v > lowest
        ]
    current: set[str] = set()
    for group in groups:
        domain = group.values.get(key)
        if isinstance(domain, frozenset) and len(domain) == 1:
            (value,) = domain
            current.update(value if isinstance(value, frozenset) else {str(value)})
    skip = _NOT_A_FIX.get(key, set())
    return [v for v in spec.values if v not in current and v not in skip]


def _lowest(groups: Sequence[Facts], key: str) -> VersionKey | None:
    lowest: VersionKey | None = None
    for group in groups:
        domain = resolve(group).domain(key)
        if isinstance(domain, VersionDomain | KernelDomain) and not domain.versions.is_everything():
            low = domain.versions.lowest()
            if low is not None and (lowest is None or low < lowest):
                lowest = low
    return lowest


def _text(key: VersionKey) -> str:
    parts = list(key.release)
    while len(parts) > 3 and parts[-1] == 0:
        parts.pop()
    return ".".join(str(p) for p in parts)


def _oses(value: str) -> tuple[str, ...]:
    try:
        key = parse_kernel(value).key
    except VersionError:
        return ()
    return oses_meeting(key)
