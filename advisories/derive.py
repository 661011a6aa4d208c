"""Implications between facts: OS -> kernels, Kubernetes -> kube-proxy, kube-proxy -> iptables.

The OS table follows ``shared/reference/upstream-facts.md`` section 13 (default kernels of each
release, with the HWE kernels Ubuntu offers). The iptables table says which iptables binary the
official kube-proxy image carries, so that ``iptables-version`` is unknown only when the
kube-proxy version is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from advisories.facts import Domain, Facts, KernelDomain, VersionDomain
from advisories.os_defaults import OS_DEFAULT, iptables_default
from advisories.versions import VersionKey, VersionSet

__all__ = ["OS_RELEASES", "OsRelease", "ResolvedFacts", "kernels_of_os", "parse_os", "resolve"]


@dataclass(frozen=True, slots=True)
class OsRelease:
    """An OS release and the kernel series it ships."""

    name: str
    """Display name, e.g. ``Ubuntu 20.04``."""
    pattern: str
    """Regular expression matched case-insensitively against an OS name or osImage."""
    kernels: tuple[tuple[int, int, int], ...]
    """Kernel base versions or series (patch -1 = the whole minor series) it may run."""
    note: str
    """Where the kernels come from, shown with answers."""
    family: str
    """Vendor family, for backport caveats."""


def _s(major: int, minor: int) -> tuple[int, int, int]:
    return (major, minor, -1)


OS_RELEASES: Final = (
    OsRelease(
        "CentOS/RHEL 7",
        r"\b(centos|red hat enterprise linux|rhel|oracle linux)\b.*\b7(\.\d+)?\b",
        ((3, 10, 0),),
        "3.10.0-957 (7.6) to 3.10.0-1160 (7.9)",
        "rhel",
    ),
    OsRelease(
        "CentOS/RHEL/Rocky/Alma 8",
        r"\b(centos|red hat enterprise linux|rhel|rocky|alma(linux)?|oracle linux)\b"
        r".*\b8(\.\d+)?\b",
        ((4, 18, 0),),
        "4.18.0-xxx on all of 8.x (CentOS 8 / RHEL 8.0: 4.18.0-80.el8)",
        "rhel",
    ),
    OsRelease(
        "RHEL/Rocky/Alma 9",
        r"\b(centos stream|red hat enterprise linux|rhel|rocky|alma(linux)?|oracle linux)\b"
        r".*\b9(\.\d+)?\b",
        ((5, 14, 0),),
        "5.14.0-xxx on all of 9.x",
        "rhel",
    ),
    OsRelease(
        "Ubuntu 18.04", r"\bubuntu\b.*\b18\.04", (_s(4, 15), _s(5, 4)), "4.15 GA, 5.4 HWE", "ubuntu"
    ),
    OsRelease(
        "Ubuntu 20.04", r"\bubuntu\b.*\b20\.04", (_s(5, 4), _s(5, 15)), "5.4 GA, 5.15 HWE", "ubuntu"
    ),
    OsRelease(
        "Ubuntu 22.04", r"\bubuntu\b.*\b22\.04", (_s(5, 15), _s(6, 8)), "5.15 GA, 6.8 HWE", "ubuntu"
    ),
    OsRelease("Ubuntu 24.04", r"\bubuntu\b.*\b24\.04", (_s(6, 8),), "6.8 GA", "ubuntu"),
    OsRelease("Debian 10", r"\bdebian\b.*(\b10\b|buster)", (_s(4, 19),), "4.19", "debian"),
    OsRelease("Debian 11", r"\bdebian\b.*(\b11\b|bullseye)", (_s(5, 10),), "5.10", "debian"),
    OsRelease("Debian 12", r"\bdebian\b.*(\b12\b|bookworm)", (_s(6, 1),), "6.1", "debian"),
    OsRelease(
        "Amazon Linux 2023",
        r"\bamazon linux\b.*\b2023\b",
        (_s(6, 1),),
        "6.1 default kernel",
        "amazon",
    ),
    OsRelease(
        "Amazon Linux 2",
        r"\bamazon linux\b\s*2\b(?!0)",
        (_s(4, 14), _s(5, 10)),
        "4.14 originally, 5.10 on the current default AMI",
        "amazon",
    ),
    OsRelease(
        "openEuler 22.03",
        r"\bopeneuler\b.*\b22\.03",
        ((5, 10, 0),),
        "5.10.0-60.18.0.50.oe2203",
        "openeuler",
    ),
    OsRelease(
        "Kylin V10",
        r"\bkylin\b.*\bv10\b",
        ((4, 19, 90),),
        "4.19.90-xx.ky10 (SP2: 4.19.90-24.4.v2101; SP3: 4.19.90-52.x.v2207)",
        "kylin",
    ),
)
"""Known OS releases, most specific first."""

_COMPILED: Final = tuple((re.compile(r.pattern, re.I), r) for r in OS_RELEASES)
_BACKPORT_FAMILIES: Final = frozenset({"rhel", "ubuntu", "kylin", "openeuler", "amazon"})


def parse_os(text: str) -> OsRelease | None:
    """The OS release named by a person or an osImage (``CentOS 7.9``, ``Ubuntu 22.04.3 LTS``)."""
    if not isinstance(text, str) or len(text) > 300:
        return None
    for pattern, release in _COMPILED:
        if pattern.search(text):
            return release
    return None


def kernels_of_os(release: OsRelease) -> KernelDomain:
    """The kernels an OS release may run, as a domain (vendor kernels, may carry backports)."""
    sets = []
    for major, minor, patch in release.kernels:
        if patch < 0:
            sets.append(VersionSet.series((major, minor)))
        else:
            sets.append(VersionSet.point(VersionKey((major, minor, patch, 0))))
    versions = VersionSet.empty()
    for item in sets:
        versions = versions.union(item)
    return KernelDomain(versions, frozenset({release.family in _BACKPORT_FAMILIES}))


# The iptables binary in the official kube-proxy image, by kube-proxy version: (from, to) of
# kube-proxy and the lowest and highest iptables of that band. Built FROM debian-iptables v10/v11
# (stretch, 1.6.0) up to 1.16; buster-backports from 1.17 (1.8.3 or 1.8.4, unpinned), pinned
# 1.8.5 in 1.20-1.21 (kubernetes#94733), unpinned again in 1.22; bullseye 1.8.7 from 1.23 and
# in distroless-iptables from 1.25; bookworm 1.8.9 from 1.29 (1.28 patches may be either).
# See: https://github.com/kubernetes/kubernetes/pull/82966 (1.17: Debian buster, iptables 1.8)
KUBE_PROXY_IPTABLES: Final = (
    ((0, 0), (1, 17), (1, 6, 0), (1, 6, 0)),
    ((1, 17), (1, 20), (1, 8, 3), (1, 8, 4)),
    ((1, 20), (1, 22), (1, 8, 5), (1, 8, 5)),
    ((1, 22), (1, 23), (1, 8, 5), (1, 8, 7)),
    ((1, 23), (1, 28), (1, 8, 7), (1, 8, 7)),
    ((1, 28), (1, 29), (1, 8, 7), (1, 8, 9)),
    ((1, 29), (99, 0), (1, 8, 9), (1, 8, 9)),
)


def iptables_of_kube_proxy(versions: VersionSet) -> VersionSet:
    """The iptables versions that the official kube-proxy images of these versions carry."""
    out = VersionSet.empty()
    for lo, hi, low, high in KUBE_PROXY_IPTABLES:
        band = VersionSet.of((VersionKey((*lo, 0, 0), (0,)), VersionKey((*hi, 0, 0), (0,))))
        if versions.intersect(band):
            low_key = VersionKey((*low, 0))
            out = out.union(VersionSet.of((low_key, VersionKey((*high, 0)).just_after())))
    return out


@dataclass(frozen=True, slots=True)
class ResolvedFacts:
    """Facts with the vocabulary's implications applied; only :func:`resolve` makes them.

    The engine evaluates these and nothing else, so that no caller can forget (or repeat) the
    implications; planning applies changes to the unresolved :class:`Facts` and resolves after.
    """

    facts: Facts
    """The facts after resolution (what the engine reads)."""

    @property
    def values(self) -> Mapping[str, Domain]:
        """Fact key -> domain, after resolution."""
        return self.facts.values

    @property
    def raw(self) -> Mapping[str, str]:
        """The strings values were read from (evidence)."""
        return self.facts.raw

    @property
    def os_name(self) -> str | None:
        """The recognised OS release, if any."""
        return self.facts.os_name

    def known(self, key: str) -> bool:
        """True when the key was stated, read or implied."""
        return self.facts.known(key)

    def domain(self, key: str) -> Domain:
        """The possible values of a fact or feature (the whole domain when unknown)."""
        return self.facts.domain(key)


def resolve(facts: Facts) -> ResolvedFacts:
    """Apply the vocabulary's implications to stated or collected facts.

    - ``kubernetes`` sets ``kube-proxy`` unless that is known;
    - ``os`` sets the kernel (vendor kernels) unless that is known;
    - ``proxy-mode none`` means kube-proxy is absent;
    - ``iptables-version`` follows from kube-proxy's version unless that is known;
    - ``os`` sets ``host-iptables-mode`` to the release's verified default unless known.
    """
    out = facts
    if not out.known("kube-proxy") and out.known("kubernetes"):
        k8s = out.domain("kubernetes")
        if isinstance(k8s, VersionDomain):
            out = out.set("kube-proxy", VersionDomain(k8s.versions), out.raw.get("kubernetes"))
    if not out.known("kernel") and out.os_name is not None:
        release = next((r for r in OS_RELEASES if r.name == out.os_name), None)
        if release is not None:
            out = out.set("kernel", kernels_of_os(release))
    if not out.known("host-iptables-mode"):
        default = iptables_default(out.os_name)
        if default is not None:
            shown = f"{default.mode} ({OS_DEFAULT}: {default.os_name})"
            out = out.set("host-iptables-mode", frozenset({default.mode}), shown)
    if not out.known("iptables-version") and out.known("kube-proxy"):
        proxy = out.domain("kube-proxy")
        if isinstance(proxy, VersionDomain) and not proxy.versions.is_everything():
            derived = iptables_of_kube_proxy(proxy.versions)
            if derived:
                out = out.set("iptables-version", VersionDomain(derived))
    return ResolvedFacts(out)
