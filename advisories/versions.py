"""The only place where a string becomes a version.

Real clusters report versions in many dialects (``v1.28.3-eks-e71965b``, ``v1.26.6+k3s1``,
``3.10.0-1160.el7.x86_64``, ``5.15.133+``). Each is normalised once into a :class:`Version`
(components) or a :class:`KernelVersion` (Linux), keeping the raw string and the vendor suffix
as data. Versions compare by a total order on :class:`VersionKey`; pre-releases sort before
their final release (``0.9.0-rc0 < 0.9.0``) and belong to the line of their base version.

``packaging`` is deliberately not used for ranges: it rejects half of these strings as they come
and ``SpecifierSet`` silently excludes pre-releases.

Sets of versions are :class:`VersionSet` values: unions of half-open intervals over keys. A
version written with fewer parts (``3.28``, ``kernel 5.4``) stands for its whole series.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "MAX_KEY",
    "MIN_KEY",
    "KernelVersion",
    "Version",
    "VersionError",
    "VersionKey",
    "VersionSet",
    "parse_kernel",
    "parse_kernel_spec",
    "parse_version",
    "parse_version_spec",
]

#: Number of release parts every key is padded to, so that 1.28 == 1.28.0 in comparisons.
_PARTS: Final = 4

# Pre-release marker ranks; the final release ranks above every pre-release of the same base.
_PRE_RANK: Final = {"dev": 0, "alpha": 1, "a": 1, "beta": 2, "b": 2, "pre": 3, "rc": 3, "c": 3}
_FINAL: Final = (1,)
_LOWEST_PRE: Final = (0,)
_JUST_AFTER: Final = (2,)


class VersionError(ValueError):
    """A string could not be read as a version; ``text`` is what was given."""

    def __init__(self, text: str, what: str = "version") -> None:
        super().__init__(f"cannot read {text!r} as a {what}")
        self.text = text
        self.what = what


@dataclass(frozen=True, order=True, slots=True)
class VersionKey:
    """A point on the total order of versions.

    ``release`` is padded to four parts; ``pre`` is ``(0,)`` for "before every pre-release of
    this release", ``(0, rank, number)`` for a pre-release, ``(1,)`` for the final release and
    ``(2,)`` for "just after the final release" (used for inclusive upper bounds).
    """

    release: tuple[int, ...]
    pre: tuple[int, ...] = _FINAL

    def __str__(self) -> str:
        if self is MIN_KEY or self.release == MIN_KEY.release:
            return "-inf"
        if self.release == MAX_KEY.release:
            return "+inf"
        parts = list(self.release)
        while len(parts) > 3 and parts[-1] == 0:
            parts.pop()
        text = ".".join(str(p) for p in parts)
        if len(self.pre) == 3:
            names = {0: "dev", 1: "alpha", 2: "beta", 3: "rc"}
            text += f"-{names[self.pre[1]]}.{self.pre[2]}"
        return text

    @property
    def is_final(self) -> bool:
        """True for the key of a released (non pre-release) version."""
        return self.pre == _FINAL

    def line(self, depth: int = 2) -> tuple[int, ...]:
        """The release line this key belongs to (``3.28.2`` -> ``(3, 28)``)."""
        return self.release[:depth]

    def just_after(self) -> VersionKey:
        """The smallest key greater than this version and smaller than the next release."""
        return VersionKey(self.release, _JUST_AFTER)


MIN_KEY: Final = VersionKey((-1,) * _PARTS, _LOWEST_PRE)
MAX_KEY: Final = VersionKey((1 << 30,) * _PARTS, _LOWEST_PRE)


def _pad(parts: tuple[int, ...]) -> tuple[int, ...]:
    return (parts + (0,) * _PARTS)[:_PARTS]


@dataclass(frozen=True, slots=True)
class Version:
    """A component version read from the real world, e.g. ``v1.28.3-eks-e71965b``.

    ``release`` holds the numeric parts as written (``(1, 28, 3)``); ``pre`` the pre-release
    tag if any (``("rc", 1)``); ``vendor`` the build or distribution suffix kept as data
    (``eks-e71965b``, ``k3s1``, ``gke.1067004``); ``raw`` the original string.
    """

    release: tuple[int, ...]
    pre: tuple[str, int] | None = None
    vendor: str = ""
    raw: str = field(default="", compare=False)

    @property
    def key(self) -> VersionKey:
        """The point of this version on the total order."""
        if self.pre is None:
            return VersionKey(_pad(self.release), _FINAL)
        return VersionKey(_pad(self.release), (0, _PRE_RANK[self.pre[0]], self.pre[1]))

    @property
    def base(self) -> str:
        """The normalised version without vendor suffix, e.g. ``1.28.3`` or ``0.9.0-rc1``."""
        text = ".".join(str(p) for p in self.release)
        if self.pre is not None:
            text += f"-{self.pre[0]}.{self.pre[1]}" if self.pre[0] != "rc" else f"-rc{self.pre[1]}"
        return text

    def __str__(self) -> str:
        return self.base


_VERSION_RE: Final = re.compile(
    r"""^\s*[vV]?
    (?P<release>\d{1,9}(?:\.\d{1,9}){0,3})
    (?:[-.]?(?P<pre>alpha|beta|rc|dev|pre|a|b|c)[.-]?(?P<prenum>\d{1,9})?(?![a-zA-Z]))?
    (?P<rest>(?:[-+_~]|\.(?![\d.])).*)?\s*$""",
    re.VERBOSE,
)


def parse_version(text: str) -> Version:
    """Read a component version such as ``v1.29.2+rke2r1`` or ``v0.9.0-rc1``.

    Raises :class:`VersionError` for anything that is not a version; never another exception.
    """
    match = _VERSION_RE.match(text) if isinstance(text, str) and len(text) <= 200 else None
    if match is None:
        raise VersionError(str(text)[:200])
    release = tuple(int(p) for p in match["release"].split("."))
    pre: tuple[str, int] | None = None
    if match["pre"]:
        name = match["pre"]
        canonical = {"a": "alpha", "b": "beta", "c": "rc", "pre": "rc"}.get(name, name)
        pre = (canonical, int(match["prenum"] or 0))
    vendor = (match["rest"] or "").lstrip("-+_.~")
    return Version(release=release, pre=pre, vendor=vendor, raw=text)


@dataclass(frozen=True, slots=True)
class KernelVersion:
    """A Linux kernel version as ``uname -r`` prints it.

    Components that check the kernel (kube-proxy, Felix) compare only the base
    ``major.minor.patch``; the rest (``-1160.el7.x86_64``, ``-1019-aws``) is the vendor suffix.
    ``vendor`` names the distribution family recognised from the suffix (``rhel``, ``ubuntu``,
    ``debian``, ``kylin``, ``openeuler``, ``amazon``, ``wsl``, ``gke``...) or ``""``;
    ``may_backport`` is true when that vendor is known to carry fixes back into old base versions.
    """

    base: tuple[int, int, int]
    suffix: str = ""
    vendor: str = ""
    raw: str = field(default="", compare=False)

    @property
    def key(self) -> VersionKey:
        """The point of the base version on the total order."""
        return VersionKey(_pad(self.base), _FINAL)

    @property
    def may_backport(self) -> bool:
        """Whether a distribution kernel may carry backports not visible in the base version."""
        return self.vendor in _BACKPORTING_VENDORS

    def __str__(self) -> str:
        return ".".join(str(p) for p in self.base)


_BACKPORTING_VENDORS: Final = frozenset(
    {"rhel", "ubuntu", "kylin", "openeuler", "amazon", "suse", "oracle"}
)

_KERNEL_RE: Final = re.compile(
    r"^\s*(?P<major>\d{1,4})\.(?P<minor>\d{1,4})(?:\.(?P<patch>\d{1,6}))?(?P<rest>\S*)\s*$"
)

# Recognised distribution markers in the suffix, most specific first.
_KERNEL_VENDORS: Final = (
    (re.compile(r"\.el\d+|\.rhel"), "rhel"),
    (re.compile(r"\.ky\d+|kylin", re.I), "kylin"),
    (re.compile(r"\.oe\d+|openeuler", re.I), "openeuler"),
    (re.compile(r"\.amzn\d*"), "amazon"),
    (re.compile(r"\.uek|\.el\d+uek"), "oracle"),
    (re.compile(r"microsoft|wsl", re.I), "wsl"),
    (re.compile(r"-(?:generic|aws|azure|gcp|gke|kvm|lowlatency|oracle|ibm)\b"), "ubuntu"),
    (re.compile(r"-(?:amd64|arm64|cloud-amd64|cloud-arm64|rt-amd64)\b"), "debian"),
    (re.compile(r"-default\b|\.suse"), "suse"),
    (re.compile(r"^\+$"), "cos"),
)


def parse_kernel(text: str) -> KernelVersion:
    """Read a kernel version such as ``4.18.0-477.27.1.el8_8.x86_64`` or ``5.15.133+``.

    Raises :class:`VersionError` for anything that is not a kernel version.
    """
    match = _KERNEL_RE.match(text) if isinstance(text, str) and len(text) <= 200 else None
    if match is None:
        raise VersionError(str(text)[:200], "kernel version")
    rest = match["rest"]
    # A fourth numeric part (5.10.102.1-microsoft...) is part of the vendor suffix for kernel
    # checks: kube-proxy and Felix compare major.minor.patch only.
    if rest and not re.match(r"^[-+._~]", rest):
        raise VersionError(text[:200], "kernel version")
    vendor = ""
    for pattern, name in _KERNEL_VENDORS:
        if pattern.search(rest):
            vendor = name
            break
    base = (int(match["major"]), int(match["minor"]), int(match["patch"] or 0))
    return KernelVersion(base=base, suffix=rest, vendor=vendor, raw=text)


@dataclass(frozen=True, slots=True)
class VersionSet:
    """A set of versions: a union of half-open intervals ``[lo, hi)`` over :class:`VersionKey`.

    Intervals are kept sorted, non-empty and non-overlapping. ``VersionSet.everything()`` is the
    unknown version; a single released version is the interval ``[v, v+)``.
    """

    intervals: tuple[tuple[VersionKey, VersionKey], ...]

    @staticmethod
    def everything() -> VersionSet:
        """Every possible version."""
        return VersionSet(((MIN_KEY, MAX_KEY),))

    @staticmethod
    def empty() -> VersionSet:
        """No version at all."""
        return VersionSet(())

    @staticmethod
    def of(*intervals: tuple[VersionKey, VersionKey]) -> VersionSet:
        """Build a normalised set from any intervals (merging overlaps, dropping empties)."""
        items = sorted((lo, hi) for lo, hi in intervals if lo < hi)
        merged: list[tuple[VersionKey, VersionKey]] = []
        for lo, hi in items:
            if merged and lo <= merged[-1][1]:
                if hi > merged[-1][1]:
                    merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        return VersionSet(tuple(merged))

    @staticmethod
    def point(key: VersionKey) -> VersionSet:
        """The set holding exactly one version."""
        return VersionSet(((key, VersionKey(key.release, (*key.pre, 0))),))

    @staticmethod
    def series(release: tuple[int, ...]) -> VersionSet:
        """Every released version of a series written with fewer parts (``(3, 28)`` = 3.28.x).

        Pre-releases of the series' first release (``3.28.0-rc1``) are not included: a person who
        says "Calico 3.28" means the released 3.28 line.
        """
        lo = VersionKey(_pad(release), _FINAL)
        bumped = (*release[:-1], release[-1] + 1)
        return VersionSet(((lo, VersionKey(_pad(bumped), _LOWEST_PRE)),))

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, VersionKey):
            return False
        return any(lo <= key < hi for lo, hi in self.intervals)

    def intersect(self, other: VersionSet) -> VersionSet:
        """The versions in both sets."""
        out = []
        for alo, ahi in self.intervals:
            for blo, bhi in other.intervals:
                lo, hi = max(alo, blo), min(ahi, bhi)
                if lo < hi:
                    out.append((lo, hi))
        return VersionSet.of(*out)

    def union(self, other: VersionSet) -> VersionSet:
        """The versions in either set."""
        return VersionSet.of(*self.intervals, *other.intervals)

    def complement(self) -> VersionSet:
        """Every version not in this set."""
        out = []
        cursor = MIN_KEY
        for lo, hi in self.intervals:
            out.append((cursor, lo))
            cursor = hi
        out.append((cursor, MAX_KEY))
        return VersionSet.of(*out)

    def is_everything(self) -> bool:
        """True when the set holds every version (nothing is known)."""
        return self.intervals == ((MIN_KEY, MAX_KEY),)

    def is_point(self) -> bool:
        """True when the set holds exactly one version."""
        return (
            len(self.intervals) == 1
            and self.intervals[0][1].release == self.intervals[0][0].release
            and self.intervals[0][1].pre == (*self.intervals[0][0].pre, 0)
        )

    def lowest(self) -> VersionKey | None:
        """The smallest key in the set, or None when empty."""
        return self.intervals[0][0] if self.intervals else None

    def describe(self, name: str = "") -> str:
        """A readable form: ``>= 1.22``, ``< 5.9``, ``1.19 to before 1.22``, ``= 3.10.0``."""
        prefix = f"{name} " if name else ""
        if not self.intervals:
            return f"no {name}".strip()
        if self.is_everything():
            return f"any {name}".strip()
        parts = []
        for lo, hi in self.intervals:
            if hi.pre == (*lo.pre, 0) and hi.release == lo.release:
                parts.append(f"{prefix}= {lo}")
            elif lo == MIN_KEY:
                parts.append(_upper(prefix, hi))
            elif hi == MAX_KEY:
                parts.append(f"{prefix}>= {lo}")
            else:
                parts.append(f"{prefix}>= {lo} and {_upper('', hi)}")
        return " or ".join(parts)


def _upper(prefix: str, hi: VersionKey) -> str:
    if hi.pre == _JUST_AFTER:
        return f"{prefix}<= {hi}"
    return f"{prefix}< {hi}"


_SPEC_RE: Final = re.compile(r"^\s*[vV]?(\d{1,9})(?:\.(\d{1,9}))?\s*$")


def parse_version_spec(text: str) -> VersionSet:
    """Read a version as a person states it: ``3.28`` is the 3.28 series, ``3.28.2`` one release.

    Raises :class:`VersionError` when the text is not a version.
    """
    short = _SPEC_RE.match(text) if isinstance(text, str) else None
    if short is not None:
        parts = tuple(int(p) for p in short.groups() if p is not None)
        return VersionSet.series(parts)
    return VersionSet.point(parse_version(text).key)


def parse_kernel_spec(text: str) -> tuple[VersionSet, KernelVersion | None]:
    """Read a kernel as a person states it: ``5.4`` is every 5.4.x; ``5.4.0-150-generic`` one.

    Returns the set of base versions and, for a full ``uname -r`` string, the parsed kernel (so
    that its vendor is known). Raises :class:`VersionError` when it is not a kernel version.
    """
    short = _SPEC_RE.match(text) if isinstance(text, str) else None
    if short is not None and short.group(2) is not None:
        return VersionSet.series((int(short.group(1)), int(short.group(2)))), None
    kernel = parse_kernel(text)
    return VersionSet.point(kernel.key), kernel
