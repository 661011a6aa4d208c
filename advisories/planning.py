"""Upgrade planning: what changes if a setup moves to other versions, and the lowest safe ones.

Pure and reusable by the bot and the command line. A setup is one or more fact groups (one per
distinct node group of a cluster, or a single stated setup), *unresolved*: implications such as
Kubernetes -> kube-proxy -> iptables version are applied after the changes, so that upgrading
Kubernetes also upgrades what follows from it.

A verdict is *at risk* when it is ``affected`` or ``unknown``.

Safe targets come from the catalog. Upstream tracking may add candidates (:class:`UpstreamFix`:
the first released tag upstream reports for an advisory's fix on a line), and they count only
where the catalog knows no fix: a candidate clears an advisory on upstream's word when the
catalog's affected range holding the candidate is open-ended (no ``fixed`` or ``last_affected``
event closes it) and upstream reports a fix on the candidate's line at or below it. Such a
target is labelled "from upstream, not curated"; everywhere else the catalog's ranges decide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from advisories.derive import OS_RELEASES, kernels_of_os, parse_os, resolve
from advisories.engine import Engine, Result
from advisories.facts import (
    FEATURES,
    Domain,
    FactError,
    Facts,
    KernelDomain,
    VersionDomain,
    parse_fact,
)
from advisories.models import Advisory, Verdict
from advisories.versions import (
    MAX_KEY,
    VersionError,
    VersionKey,
    VersionSet,
    parse_kernel,
    parse_version,
)

__all__ = [
    "FROM_UPSTREAM",
    "Change",
    "Plan",
    "PlanEntry",
    "Target",
    "UpstreamFix",
    "apply_changes",
    "candidate_versions",
    "oses_meeting",
    "parse_change",
    "safe_targets",
    "what_if",
    "worst_results",
]


@dataclass(frozen=True, slots=True)
class Change:
    """One ``KEY=VALUE`` of a plan, already parsed."""

    key: str
    domain: Domain
    raw: str


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """One advisory before and after the changes."""

    before: Result
    after: Result

    @property
    def id(self) -> str:
        """The advisory id."""
        return self.before.advisory.id

    @property
    def differs(self) -> bool:
        """True when the case or the impact changed (both sides at risk)."""
        return (
            {c.id for c in self.before.cases if c.affected}
            != {c.id for c in self.after.cases if c.affected}
            or self.before.impact() != self.after.impact()
            or self.before.verdict is not self.after.verdict
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """The result of a what-if."""

    resolved: tuple[PlanEntry, ...]
    """At risk before, not affected after."""
    introduced: tuple[PlanEntry, ...]
    """Not affected before, at risk after."""
    remaining: tuple[PlanEntry, ...]
    """At risk before and after."""
    changes: tuple[Change, ...] = ()

    @property
    def changed(self) -> tuple[PlanEntry, ...]:
        """The remaining entries whose case, impact or verdict differs."""
        return tuple(e for e in self.remaining if e.differs)


def _at_risk(result: Result) -> bool:
    return result.verdict is not Verdict.NOT_AFFECTED


def apply_changes(facts: Facts, changes: Sequence[Change]) -> Facts:
    """The facts with the changes applied (unresolved).

    Kubernetes also moves kube-proxy unless the plan sets kube-proxy; a kernel or OS change
    applies to every node; a changed kube-proxy version re-derives the iptables version unless
    the plan or an override set it.
    """
    out = facts
    keys = {c.key for c in changes}
    for change in changes:
        if change.key == "os":
            continue
        out = out.set(change.key, change.domain, change.raw)
    if "kubernetes" in keys and "kube-proxy" not in keys:
        k8s = next(c for c in changes if c.key == "kubernetes")
        assert isinstance(k8s.domain, VersionDomain)
        out = out.set("kube-proxy", VersionDomain(k8s.domain.versions), k8s.raw)
    moved = keys & {"kubernetes", "kube-proxy"}
    if moved and "iptables-version" not in keys and "iptables-version" not in facts.raw:
        out = out.without("iptables-version")
    os_change = next((c for c in changes if c.key == "os"), None)
    if os_change is not None and "kernel" not in keys:
        release = next((r for r in OS_RELEASES if r.name == os_change.raw), None)
        if release is not None:
            out = out.set("kernel", kernels_of_os(release), f"kernel of {release.name}")
    return out


def worst_results(engine: Engine, groups: Sequence[Facts]) -> list[Result]:
    """Per advisory, the worst result over the fact groups (affected > unknown > not)."""
    per_group = [engine.evaluate(resolve(g)) for g in groups]
    return [
        max((results[i] for results in per_group), key=lambda r: r.verdict.rank)
        for i in range(len(engine.advisories))
    ]


def what_if(engine: Engine, groups: Sequence[Facts], changes: Sequence[Change]) -> Plan:
    """Compare every advisory before and after the changes."""
    before = worst_results(engine, groups)
    after = worst_results(engine, [apply_changes(g, changes) for g in groups])
    resolved, introduced, remaining = [], [], []
    for old, new in zip(before, after, strict=True):
        entry = PlanEntry(old, new)
        if _at_risk(old) and not _at_risk(new):
            resolved.append(entry)
        elif not _at_risk(old) and _at_risk(new):
            introduced.append(entry)
        elif _at_risk(old) and _at_risk(new):
            remaining.append(entry)
    return Plan(tuple(resolved), tuple(introduced), tuple(remaining), tuple(changes))


# ---------------------------------------------------------------------------------------------
# Safe targets

FROM_UPSTREAM = "from upstream, not curated"
"""How a target that relies on upstream tracking is labelled wherever it is shown."""


@dataclass(frozen=True, slots=True)
class UpstreamFix:
    """A version upstream tracking reports as the first release of its line with a fix.

    Not curated: ancestry is evidence, not proof. :func:`safe_targets` uses it only where the
    catalog's affected range is open-ended.
    """

    version: str
    """The released tag, e.g. ``v3.28.3``."""
    source: str
    """Where upstream says so, for people (``projectcalico/calico#8031``)."""


@dataclass(frozen=True, slots=True)
class Target:
    """The lowest version of a component (or the kernel) that clears its advisories."""

    key: str
    """``kube-proxy``, ``calico``, ``spiderpool`` or ``kernel``."""
    current: str | None
    """What the setup has now, in words."""
    version: str | None
    """The lowest safe version at or above the current one; None when none clears them."""
    line: str | None = None
    """The release line of ``version`` (``3.28``)."""
    current_line_fixed: bool | None = None
    """False when the current line has no safe release (the target is on a later line)."""
    blocking: tuple[str, ...] = ()
    """When ``version`` is None: advisories that no candidate clears."""
    caveats: tuple[str, ...] = ()
    """Advisories left unknown only because of other unknown facts."""
    os_releases: tuple[str, ...] = ()
    """For the kernel: OS releases whose every default kernel meets the target."""
    reasons: Mapping[str, str] = field(default_factory=dict)
    """Advisory id -> why it blocks (for the lowest candidate tried)."""
    source: str = "catalog"
    """``catalog``, or ``upstream`` when ``version`` clears an advisory only on upstream
    tracking's word (see :attr:`upstream`)."""
    upstream: Mapping[str, str] = field(default_factory=dict)
    """Advisory id -> the upstream fix that clears it at ``version`` (``v3.28.3 per
    projectcalico/calico#8031``), for advisories whose catalog range is open-ended."""

    @property
    def label(self) -> str | None:
        """:data:`FROM_UPSTREAM` for a target that relies on upstream tracking, else None."""
        return FROM_UPSTREAM if self.source == "upstream" else None


def _text(key: VersionKey) -> str:
    parts = list(key.release)
    while len(parts) > 3 and parts[-1] == 0:
        parts.pop()
    return ".".join(str(p) for p in parts)


def candidate_versions(advisories: Sequence[Advisory], key: str) -> list[VersionKey]:
    """Release versions named by the catalog's events for a fact (fixed, introduced, ...)."""
    out: set[VersionKey] = set()
    for advisory in advisories:
        for case in advisory.cases:
            for cond in case.when:
                if cond.key != key:
                    continue
                for kind, text in cond.events:
                    if kind == "introduced" and text == "0":
                        continue
                    parsed = parse_kernel(text).key if key == "kernel" else parse_version(text).key
                    if kind == "last_affected":
                        release = (*parsed.release[:2], parsed.release[2] + 1, 0)
                        parsed = VersionKey(release)
                    if parsed.is_final:
                        out.add(parsed)
    return sorted(out)


def _current(groups: Sequence[Facts], key: str) -> tuple[VersionKey | None, str | None]:
    lowest: VersionKey | None = None
    words: list[str] = []
    for facts in groups:
        resolved = resolve(facts)
        domain = resolved.domain(key)
        if not isinstance(domain, VersionDomain | KernelDomain) or not domain.versions:
            continue
        if domain.versions.is_everything():
            continue
        low = domain.versions.lowest()
        if low is not None and (lowest is None or low < lowest):
            lowest = low
        words.append(resolved.raw.get(key) or domain.versions.describe())
    return lowest, (", ".join(dict.fromkeys(words)) or None)


def _blocks(result: Result, key: str) -> str | None:
    """Why a result blocks a target, or None when it clears or is only a caveat."""
    if result.verdict is Verdict.AFFECTED:
        return f"affected: {result.impact()}"
    if result.verdict is Verdict.UNKNOWN and result.uncertain:
        # Uncertain only through other unknown facts (kube-proxy's version when planning the
        # kernel): a caveat. Uncertain whatever they are (Calico 3.28.0 on kernel 6.1): blocks.
        if any(k != key for k in result.depends_on):
            return None
        return "uncertain upstream: " + "; ".join(result.uncertain)
    return None


def _open_ended(advisory: Advisory, key: str, version: VersionKey) -> bool:
    """The catalog knows no fix for ``version``: every affected case constrains ``key``, and
    each range of ``key`` that holds ``version`` has no end."""
    holding: list[VersionKey] = []
    for case in advisory.cases:
        if not case.affected:
            continue
        conditions = [c for c in case.when if c.key == key and c.versions is not None]
        if not conditions:
            return False  # affected whatever the version: no version of it can fix that
        for cond in conditions:
            assert cond.versions is not None
            holding += [hi for lo, hi in cond.versions.intervals if lo <= version < hi]
    return bool(holding) and all(hi == MAX_KEY for hi in holding)


def _upstream_keys(fixes: Sequence[UpstreamFix]) -> list[tuple[VersionKey, UpstreamFix]]:
    out = []
    for fix in fixes:
        try:
            parsed = parse_version(fix.version)
        except VersionError:
            continue
        # A released tag only: no pre-release, no vendor suffix (3.28.x, v3.28.0-0.dev).
        if parsed.key.is_final and not parsed.vendor:
            out.append((parsed.key, fix))
    return sorted(out, key=lambda item: item[0])


def _upstream_clears(
    advisory: Advisory,
    key: str,
    candidate: VersionKey,
    fixes: Sequence[tuple[VersionKey, UpstreamFix]],
) -> str | None:
    """How upstream clears ``advisory`` at ``candidate`` (``v3.28.3 per ...``), or None."""
    if not _open_ended(advisory, key, candidate):
        return None
    for version, fix in fixes:
        if version.line() == candidate.line() and version <= candidate:
            return f"{fix.version} per {fix.source}"
    return None


def safe_targets(
    engine: Engine,
    groups: Sequence[Facts],
    keys: Sequence[str] = (),
    upstream: Mapping[str, Sequence[UpstreamFix]] | None = None,
) -> dict[str, Target]:
    """For each component in use (and the kernel), the lowest version that clears it.

    A component clears when each of its advisories is ``not_affected``, or ``unknown`` only
    because of *other* unknown facts (listed as caveats); an ``affected`` verdict or an
    upstream-uncertain band blocks.

    ``upstream`` (advisory id -> what upstream tracking reports) adds candidates and clears an
    ``affected`` advisory only where the catalog's range is open-ended (see the module
    docstring); a target that needs it has ``source == "upstream"``.
    """
    upstream_keys = {i: _upstream_keys(f) for i, f in (upstream or {}).items()}
    wanted = list(keys) or ["kube-proxy", "calico", "spiderpool", "kernel"]
    targets: dict[str, Target] = {}
    for key in wanted:
        if key == "kernel":
            advisories = [a for a in engine.advisories if "kernel" in a.keys]
        else:
            advisories = [a for a in engine.advisories if a.component == key]
        if not advisories:
            continue
        current, current_words = _current(groups, key)
        if key != "kernel" and _absent(groups, key):
            continue
        if current is None and not keys:
            # "The lowest version at or above the current one" needs a current one; a target
            # for an unknown version (kube-proxy 1.11.0) would mislead.
            continue
        sub = Engine(advisories)
        by_id: dict[str, Advisory] = {a.id: a for a in advisories}
        hints: dict[str, list[tuple[VersionKey, UpstreamFix]]] = {
            a.id: upstream_keys[a.id]
            for a in advisories
            if key != "kernel" and upstream_keys.get(a.id)
        }
        candidates = candidate_versions(advisories, key)
        extra = {
            version
            for advisory_id, fixes in hints.items()
            for version, _ in fixes
            if _open_ended(by_id[advisory_id], key, version)
        }
        candidates = sorted(set(candidates) | extra)
        if current is not None:
            candidates = [current] + [c for c in candidates if c > current]
        chosen: VersionKey | None = None
        caveats: list[str] = []
        reasons: dict[str, str] = {}
        cleared: dict[str, str] = {}
        for candidate in candidates:
            change = _candidate_change(key, candidate)
            results = worst_results(sub, [apply_changes(g, [change]) for g in groups])
            blocking = {r.id: why for r in results if (why := _blocks(r, key)) is not None}
            cleared = {
                r.id: how
                for r in results
                if r.id in blocking
                and r.verdict is Verdict.AFFECTED
                and r.id in hints
                and (how := _upstream_clears(by_id[r.id], key, candidate, hints[r.id]))
            }
            if not blocking.keys() - cleared.keys():
                chosen = candidate
                caveats = [
                    f"{r.id} depends on {', '.join(r.depends_on)}"
                    for r in results
                    if r.verdict is Verdict.UNKNOWN
                ]
                break
            if not reasons:
                reasons = blocking
        if chosen is None:
            targets[key] = Target(key, current_words, None, blocking=tuple(reasons),
                                  reasons=reasons)  # fmt: skip
            continue
        line = ".".join(str(p) for p in chosen.release[:2])
        same_line = current is None or current.release[:2] == chosen.release[:2]
        targets[key] = Target(
            key=key,
            current=current_words,
            version=_text(chosen),
            line=line,
            current_line_fixed=same_line if current is not None else None,
            caveats=tuple(caveats),
            os_releases=oses_meeting(chosen) if key == "kernel" else (),
            source="upstream" if cleared else "catalog",
            upstream=cleared,
        )
    return targets


def _absent(groups: Sequence[Facts], key: str) -> bool:
    presence = "proxy-mode" if key == "kube-proxy" else key
    for facts in groups:
        domain = facts.domain(presence)
        if isinstance(domain, VersionDomain) and not domain.versions and domain.absent:
            return True
        if presence == "proxy-mode" and domain == frozenset({"none"}):
            return True
    return False


def _candidate_change(key: str, candidate: VersionKey) -> Change:
    point = VersionSet.point(candidate)
    if key == "kernel":
        return Change("kernel", KernelDomain(point, frozenset({False})), _text(candidate))
    return Change(key, VersionDomain(point), _text(candidate))


def oses_meeting(kernel: VersionKey) -> tuple[str, ...]:
    """OS releases whose every default kernel is at least ``kernel``."""
    out = []
    for release in OS_RELEASES:
        lows = [VersionKey((m, n, max(p, 0), 0)) for m, n, p in release.kernels]
        if lows and lows[0] >= kernel:
            out.append(release.name)
    return tuple(out)


def parse_change(text: str) -> Change:
    """``KEY=VALUE`` as people write a change (``calico=3.28.2``, ``k8s=1.30``,
    ``os=Ubuntu 22.04``). Raises :class:`advisories.facts.FactError` naming the key (or the
    whole text when it is not ``KEY=VALUE``) and, for an OS, the known releases."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise FactError(text, "not KEY=VALUE")
    if key.strip().lower() in ("os", "os-image", "distro"):
        release = parse_os(value)
        if release is None:
            known = ", ".join(r.name for r in OS_RELEASES)
            raise FactError("os", f"unknown OS release {value!r} (known: {known})")
        return Change("os", frozenset(), release.name)
    name = key.strip().lower()
    if name in FEATURES:
        # A feature on or off (rke2=on), as joint fixes may state them.
        flag = value.strip().lower()
        if flag not in ("on", "off"):
            raise FactError(name, f"give on or off, not {value.strip()!r}")
        return Change(name, frozenset({flag == "on"}), flag)
    canonical, domain, _ = parse_fact(key, value)
    return Change(canonical, domain, value.strip())
