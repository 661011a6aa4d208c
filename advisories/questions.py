"""Plain-language questions -> facts in the shared vocabulary (English and Chinese).

Deterministic and offline. The words it reads come from the vocabulary, not from sample
sentences: fact keys and their aliases (:data:`advisories.facts.FACTS`), enum and set values,
feature names, the OS releases of :data:`advisories.derive.OS_RELEASES`, the catalog's advisory
ids, and the cluster names of the last scan. A short glossary maps the Chinese words people use
for the same keys (内核 = kernel) and the verbs of an upgrade (升级, move to).

Rules, applied in this order; each consumes the span it reads so that a later rule cannot read
it again (``KP-IPVS-CONN-REUSE`` is an advisory id, not IPVS mode):

1. cluster names and advisory ids;
2. ``KEY=VALUE`` / ``KEY: VALUE`` with any key or alias (what ``check`` and the slash command
   accept), and feature names with on/off values;
3. OS releases (``CentOS 7.9``, ``Ubuntu 22.04``, ``Kylin V10``) through :func:`parse_os`;
4. a key or alias followed by a value (``kernel 5.4``, ``calico v3.26.1``, ``k8s1.27``,
   ``内核 5.4``, ``calico from 3.19 to 3.24``), and "without calico" (absent);
5. mode words (``IPVS``, ``iptables``, ``nftables`` -> proxy-mode; ``VXLAN``, ``IPIP``,
   ``CrossSubnet`` -> calico-encapsulation; ``iptables-nft`` -> host-iptables-mode);
6. features by name (``cilium``, ``rke2``) or by the API field they stand for
   (``loadBalancerSourceRanges``), "without cilium" = off;
7. bare versions: a ``uname -r`` string or ``4.19`` is a kernel; ``v1.29.2`` is Kubernetes.

An upgrade question ("can prod-eu move to Calico 3.28?", "升级到 3.28") states *changes*: the
values after the upgrade verb (or after ``to`` in ``from X to Y``) become :class:`Change` values
for :func:`advisories.planning.what_if`; the rest are the current facts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from advisories.derive import OS_RELEASES, OsRelease, kernels_of_os, parse_os
from advisories.facts import (
    COMPONENTS,
    FACTS,
    FEATURES,
    NONE_WORDS,
    Domain,
    FactError,
    FactKind,
    Facts,
    KernelDomain,
    VersionDomain,
    parse_fact,
)
from advisories.planning import Change
from advisories.versions import VersionSet

__all__ = [
    "MAX_QUESTION_CHARS",
    "Mention",
    "Question",
    "detect_language",
    "normalise",
    "parse_question",
]

MAX_QUESTION_CHARS: Final = 2000
"""Longer input is cut to this many characters before it is read (inputs are bounded)."""


@dataclass(frozen=True, slots=True)
class Mention:
    """One thing read from the question: a fact, feature, cluster, advisory id or component."""

    key: str
    """A fact key, a feature name, or ``cluster`` / ``advisory`` / ``component``."""
    value: str
    """The value as read (``5.4``, ``ipvs``, ``on``); for ``component`` the component name."""
    raw: str
    """The words of the question it was read from."""
    start: int
    """Offset in the normalised text."""
    end: int
    change: bool = False
    """True when the value is the target of an upgrade rather than the current state."""


@dataclass(frozen=True, slots=True)
class Question:
    """What a question states, in the shared vocabulary."""

    text: str
    """The question as asked (bounded to :data:`MAX_QUESTION_CHARS`)."""
    language: str
    """``zh`` when the question contains Chinese, else ``en``."""
    normalised: str
    """Lower-cased, NFKC-normalised text the rules read (symptom matching reads it too)."""
    facts: Facts
    """The current facts stated (unresolved)."""
    changes: tuple[Change, ...] = ()
    """Upgrade targets (``calico=3.28``) when the question asks about a change."""
    components: tuple[str, ...] = ()
    """Components named or implied (IPVS implies kube-proxy, VXLAN implies Calico)."""
    advisory_ids: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    upgrade: bool = False
    """The question asks about moving to other versions or modes."""
    problem: bool = False
    """The question describes a problem (delay, failure, leak, 不通...)."""
    other_projects: tuple[str, ...] = ()
    """Projects the question names that the catalog does not cover (flannel, coredns...)."""
    mentions: tuple[Mention, ...] = field(default=(), repr=False)
    outside: tuple[tuple[str, str], ...] = ()
    """(project, version) for a version written after a project outside the catalog
    ("cilium 1.14"): the version is that project's, not Kubernetes'."""
    unknown_clusters: tuple[str, ...] = ()
    """Words that look like cluster names ("prod-1") but are not clusters of the last scan."""
    severity: str | None = None
    """The lowest severity asked about ("anything critical" -> ``critical``), if any."""
    implied: tuple[str, ...] = ()
    """Facts the reading implied rather than read ("rke2 -> kubeadm-config-absent")."""

    @property
    def understood(self) -> dict[str, str]:
        """Fact keys and feature names read from the question -> the value as read.

        Upgrade targets appear as ``KEY -> VALUE`` after the current value, e.g.
        ``{"calico": "3.26 -> 3.28"}``; a target alone is ``-> 3.28``.
        """
        current: dict[str, list[str]] = {}
        targets: dict[str, list[str]] = {}
        for m in self.mentions:
            if m.key in ("cluster", "advisory", "component"):
                continue
            bucket = targets if m.change else current
            values = bucket.setdefault(m.key, [])
            if m.value not in values:
                values.append(m.value)
        out: dict[str, str] = {}
        for key in [*current, *(k for k in targets if k not in current)]:
            text = ", ".join(current.get(key, []))
            if key in targets:
                text = f"{text} -> {', '.join(targets[key])}".strip()
            out[key] = text
        return out

    @property
    def states_anything(self) -> bool:
        """True when any fact, change, component, cluster or advisory id was read."""
        return bool(
            self.facts.values
            or self.facts.os_name
            or self.changes
            or self.components
            or self.advisory_ids
            or self.clusters
        )


# ---------------------------------------------------------------------------------------------
# Vocabulary

_CJK: Final = r"\u3400-\u9fff\uf900-\ufaff"
_CJK_RE: Final = re.compile(f"[{_CJK}]")

# Chinese (and common English) words for fact keys that the vocabulary's aliases do not spell.
# The left side is what people write; the right side is a key of FACTS.
_GLOSSARY: Final[Mapping[str, str]] = {
    "内核": "kernel",
    "内核版本": "kernel",
    "linux kernel": "kernel",
    "kubernetes version": "kubernetes",
    "k8s版本": "kubernetes",
    "集群版本": "kubernetes",
    "proxy mode": "proxy-mode",
    "代理模式": "proxy-mode",
    "kube-proxy 模式": "proxy-mode",
    "封装模式": "calico-encapsulation",
    "封装": "calico-encapsulation",
    "felix": "calico-iptables-backend",
}

# Verbs of an upgrade question.
_UPGRADE_RE: Final = re.compile(
    r"(?<![a-z])(upgrad\w*|updat(?:e|ing) to|mov(?:e|es|ed|ing)(?![a-z])|migrat\w*|switch\w*"
    r"|bump\w*|go(?:es|ing)? to|roll(?:ing)? out|what if|what changes|change to|升级|迁移|切换|"
    r"换成|改成|更新到|迁到)"
)
# Words that introduce a target after an upgrade verb ("to 3.28", "到 3.28").
_TO_WORDS: Final = frozenset({"to", "->", "→", "到", "至", "成", "为"})
# Filler allowed between a key and its value.
_FILLER: Final = frozenset(
    {"version", "versions", "v", "is", "at", "on", "of", "=", ":", "from", "running", "mode",
     "版本", "是", "为", "用", "使用", "的", "从", "node", "nodes", "backend"}
)  # fmt: skip

# Words that describe a problem; a problem no advisory's symptoms match is "not covered".
_PROBLEM_RE: Final = re.compile(
    r"(?<![a-z])(slow\w*|delay\w*|latenc\w*|lag\w*|fail\w*|timeout\w*|time[sd]? out|timing out|"
    r"error\w*|leak\w*|crash\w*|broken|break\w*|not work\w*|doesn'?t work|don'?t work|cannot|"
    r"can'?t|unable|drop\w*|loss|lost|stuck|hang\w*|panic\w*|oom\w*|refus\w*|unreachable|"
    r"intermittent\w*|flak\w*|restart\w*|wrong|missing|stale|problem\w*|issue\w*|bug\w*|"
    r"not \w+ed|isn'?t \w+ed)"
    r"|慢|延迟|卡顿|失败|超时|报错|错误|泄漏|泄露|崩溃|不通|无法|异常|丢包|重启|问题|故障|不生效"
)

# Projects people ask about that the catalog does not cover (answers say so plainly).
_OTHER_PROJECTS: Final = (
    "cilium", "flannel", "weave", "antrea", "kube-ovn", "canal", "coredns", "kube-dns", "istio",
    "linkerd",
    "envoy", "metallb", "ingress-nginx", "traefik", "containerd", "cri-o", "docker", "etcd",
    "multus", "macvlan", "sriov", "openvswitch", "ovs",
)  # fmt: skip

_NEGATION_RE: Final = (
    r"(?:without|no|not using|not use|don'?t use|doesn'?t use|disabled?|没有|不用|未安装|没装|"
    r"不使用|禁用|关闭)"
)

_ON_WORDS: Final = frozenset({"on", "true", "yes", "enabled", "enable", "1", "开", "开启", "启用"})
_OFF_WORDS: Final = frozenset(
    {"off", "false", "no", "disabled", "disable", "0", "关", "关闭", "禁用"}
)


def _phrase_re(name: str) -> str:
    """A key or value as a regex that accepts ``-``, ``_`` or a space between its words."""
    parts = [re.escape(p) for p in re.split(r"[-_ ]", name) if p]
    return r"[-_ ]?".join(parts)


def _key_names() -> dict[str, str]:
    """Every spelling of a fact key (canonical, alias, glossary) -> canonical key."""
    names: dict[str, str] = {}
    for spec in FACTS.values():
        for name in (spec.key, *spec.aliases):
            names[name] = spec.key
        # Environment variables named where inventory reads the fact (FELIX_IPTABLESBACKEND).
        for env in re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9]\b", spec.source):
            names[env.lower()] = spec.key
    names.update(_GLOSSARY)
    return names


_KEY_NAMES: Final = _key_names()
_VERSION_KEYS: Final = frozenset(
    k for k, s in FACTS.items() if s.kind in (FactKind.VERSION, FactKind.KERNEL)
)
_ENUM_KEYS: Final = tuple(k for k, s in FACTS.items() if s.kind in (FactKind.ENUM, FactKind.SET))


def _alternation(names: Iterable[str]) -> str:
    return "|".join(_phrase_re(n) for n in sorted(names, key=len, reverse=True))


_BOUND_L: Final = r"(?<![a-z0-9_.-])"
_BOUND_R: Final = r"(?![a-z_-])"
_KEY_RE: Final = re.compile(f"{_BOUND_L}({_alternation(_KEY_NAMES)}){_BOUND_R}")

# A value token: a version, kernel string, or word (ends before spaces and punctuation).
_VALUE_RE: Final = re.compile(rf"\s*(v?\d[\w.+~-]*[\w+]|v?\d|[a-z][\w-]*|[{_CJK}]+)")
_VERSION_TOKEN_RE: Final = re.compile(r"v?\d{1,9}(\.\d{1,9}){1,3}([-+~][\w.+~-]*[\w+])?")
_UNAME_RE: Final = re.compile(rf"{_BOUND_L}([2-6]\.\d{{1,3}}\.\d{{1,4}}-[\w.+~-]*[\w+])(?![\w.-])")
_BARE_VERSION_RE: Final = re.compile(
    rf"{_BOUND_L}(v?\d{{1,3}}\.\d{{1,3}}(?:\.\d{{1,4}})?(?:[-+][\w.+-]*[\w+])?)(?![\w.-]*\w)"
)


def _os_words() -> frozenset[str]:
    """Words that name OS families, taken from the patterns of OS_RELEASES."""
    words: set[str] = set()
    for release in OS_RELEASES:
        plain = re.sub(r"\\[a-zA-Z]", " ", release.pattern)
        words.update(w for w in re.findall(r"[a-z]{4,}", plain) if w != "linux")
    return frozenset(words)


_OS_WORDS: Final = _os_words()


def _feature_names() -> dict[str, str]:
    """Spellings of every feature: its name and the API fields its description names."""
    names: dict[str, str] = {}
    for spec in FEATURES.values():
        names[spec.name] = spec.name
    return names


def _feature_fields() -> dict[str, tuple[str, ...]]:
    """Feature -> the ``spec.`` field names in its description (all must appear)."""
    out: dict[str, tuple[str, ...]] = {}
    for spec in FEATURES.values():
        fields = re.findall(r"spec\.([a-z]+[A-Z]\w*)", spec.description)
        camel = re.findall(r"\b([a-z]+[A-Z]\w*)\b", spec.description)
        wanted = tuple(dict.fromkeys(f.lower() for f in (*fields, *camel)))
        if fields:
            out[spec.name] = wanted
    return out


_FEATURE_NAMES: Final = _feature_names()
_FEATURE_FIELDS: Final = _feature_fields()
_FEATURE_RE: Final = re.compile(f"{_BOUND_L}({_alternation(_FEATURE_NAMES)}){_BOUND_R}")


# ---------------------------------------------------------------------------------------------
# Normalisation


def detect_language(text: str) -> str:
    """``zh`` when the text contains Chinese characters, else ``en``."""
    return "zh" if _CJK_RE.search(text) else "en"


def normalise(text: str) -> str:
    """NFKC, lower case, spacing between Chinese and Latin, ``cross-subnet`` as one word.

    Full-width digits and punctuation (``５.４``, ``？``) become ASCII; ``CentOS7`` becomes
    ``centos 7`` so that the OS table reads it.
    """
    out = unicodedata.normalize("NFKC", text).lower()
    out = out.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    out = re.sub(r"cross[-_ ]?subnet", "crosssubnet", out)
    out = re.sub(f"([{_CJK}])([a-z0-9])", r"\1 \2", out)
    out = re.sub(f"([a-z0-9%])([{_CJK}])", r"\1 \2", out)
    os_words = "|".join(sorted(_OS_WORDS, key=len, reverse=True))
    out = re.sub(rf"\b({os_words})(v?\d)", r"\1 \2", out)
    return re.sub(r"[ \t\r\n]+", " ", out)


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass
class _Reader:
    """Mutable state while the rules read one question: the text and the consumed spans."""

    text: str
    taken: list[tuple[int, int]] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)

    def free(self, start: int, end: int) -> bool:
        return not any(start < e and s < end for s, e in self.taken)

    def add(self, mention: Mention) -> None:
        self.mentions.append(mention)
        self.taken.append((mention.start, mention.end))


# Severity words ("anything critical", "严重"): the lowest severity asked about.
_SEVERITY_RE: Final = re.compile(
    r"(?<![a-z])(critical|high(?:[- ]severity)?|severe|严重|致命|高危)(?![a-z])"
)
_SEVERITY_WORDS: Final[Mapping[str, str]] = {
    "critical": "critical", "severe": "critical", "严重": "critical", "致命": "critical",
    "高危": "high",
}  # fmt: skip
# A word that names a cluster: "prod-1", "staging-eu-2" (a dash and a digit or a stage word).
_CLUSTER_WORD_RE: Final = re.compile(r"(?<![\w./-])([a-z][a-z0-9]*(?:-[a-z0-9]+)+)(?![\w./-])")
_CLUSTER_HINT_RE: Final = re.compile(r"\d|^(prod|stag|dev|test|qa|demo|cluster|k8s-)")
# Distributions not built by kubeadm: no kube-system/kubeadm-config.
_NOT_KUBEADM_RE: Final = re.compile(r"(?<![a-z0-9])(rke2|k3s)(?![a-z0-9])")


def read_outside_versions(reader: _Reader) -> list[tuple[str, str]]:
    """Rule 0: a version right after a project outside the catalog is that project's
    ("cilium 1.14" is not Kubernetes 1.14); the span is consumed."""
    out: list[tuple[str, str]] = []
    names = "|".join(re.escape(p) for p in _OTHER_PROJECTS)
    pattern = re.compile(rf"{_BOUND_L}({names})\s*(?:version\s*|v(?=\d)|版本\s*)?(\d+(?:\.\d+)+)")
    for match in pattern.finditer(reader.text):
        out.append((match.group(1), match.group(2)))
        reader.taken.append(match.span())
    return out


def parse_question(
    text: str,
    *,
    clusters: Sequence[str] = (),
    advisory_ids: Sequence[str] = (),
) -> Question:
    """Read a question. ``clusters`` are the names known from the last scan.

    Never raises for any string; an input longer than :data:`MAX_QUESTION_CHARS` is cut.
    """
    bounded = text[:MAX_QUESTION_CHARS] if isinstance(text, str) else ""
    norm = normalise(bounded)
    reader = _Reader(norm)
    outside = read_outside_versions(reader)
    read_names(reader, clusters, "cluster")
    read_names(reader, advisory_ids, "advisory")
    read_assignments(reader)
    read_os(reader)
    read_keyed_values(reader)
    read_modes(reader)
    read_features(reader)
    read_bare_versions(reader)
    upgrade_at = _upgrade_position(norm)
    implied = _implied(reader, norm)
    mentions = _mark_changes(reader.mentions, norm, upgrade_at)
    facts, changes = _facts(mentions)
    components = _components(mentions, facts, changes)
    others = tuple(
        p for p in _OTHER_PROJECTS if re.search(rf"{_BOUND_L}{re.escape(p)}{_BOUND_R}", norm)
    )
    return Question(
        text=bounded,
        language=detect_language(bounded),
        normalised=norm,
        facts=facts,
        changes=changes,
        components=components,
        advisory_ids=tuple(dict.fromkeys(m.value for m in mentions if m.key == "advisory")),
        clusters=tuple(dict.fromkeys(m.value for m in mentions if m.key == "cluster")),
        upgrade=bool(changes),
        problem=_PROBLEM_RE.search(norm) is not None,
        other_projects=others,
        mentions=tuple(sorted(mentions, key=lambda m: m.start)),
        outside=tuple(outside),
        unknown_clusters=_unknown_clusters(reader, clusters, advisory_ids),
        severity=_severity(norm),
        implied=tuple(implied),
    )


def _severity(text: str) -> str | None:
    match = _SEVERITY_RE.search(text)
    if match is None:
        return None
    word = match.group(1)
    return _SEVERITY_WORDS.get(word, "high" if word.startswith("high") else word)


def _implied(reader: _Reader, text: str) -> list[str]:
    """Facts that follow from what was read: RKE2 and k3s clusters have no kubeadm-config."""
    out = []
    stated = {m.key for m in reader.mentions}
    match = _NOT_KUBEADM_RE.search(text)
    if match is not None and "kubeadm-config-absent" not in stated:
        reader.mentions.append(
            Mention("kubeadm-config-absent", "on", match.group(0), match.start(), match.start())
        )
        out.append(f"{match.group(0)} -> kubeadm-config-absent")
        if match.group(1) == "k3s" and "rke2" not in stated:
            reader.mentions.append(Mention("rke2", "off", "k3s", match.start(), match.start()))
    return out


def _unknown_clusters(
    reader: _Reader, clusters: Sequence[str], advisory_ids: Sequence[str]
) -> tuple[str, ...]:
    """Cluster-like words that are not known clusters and that nothing else read."""
    vocabulary = {n.lower() for n in (*clusters, *advisory_ids, *_KEY_NAMES, *_FEATURE_NAMES)}
    vocabulary.update(_OTHER_PROJECTS)
    vocabulary.update(("calico-kube-controllers", "calico-node", "kube-system", "kubeadm-config",
                       "iptables-nft", "iptables-legacy", "spiderpool-agent",
                       "spiderpool-controller", "kube-controller-manager"))  # fmt: skip
    out: dict[str, None] = {}
    for match in _CLUSTER_WORD_RE.finditer(reader.text):
        word = match.group(1)
        if word in vocabulary or not reader.free(*match.span()):
            continue
        if _CLUSTER_HINT_RE.search(word) is None:
            continue
        out[word] = None
    return tuple(out)


def read_names(reader: _Reader, names: Iterable[str], key: str) -> None:
    """Rule 1: known names (clusters, advisory ids), whole words, case-insensitive."""
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        # "calico-iptables-backend=nft" is a fact, not the advisory CALICO-IPTABLES-BACKEND.
        pattern = re.compile(rf"(?<![\w-]){re.escape(name.lower())}(?![\w-]|\s*[=:])")
        for match in pattern.finditer(reader.text):
            if reader.free(*match.span()):
                reader.add(Mention(key, name, match.group(0), *match.span()))


_ASSIGN_RE: Final = re.compile(
    rf"{_BOUND_L}({_alternation([*_KEY_NAMES, *_FEATURE_NAMES])})\s*(?:=|:)\s*"
    r"([^\s,;，；。?？!！]+)"
)


def read_assignments(reader: _Reader) -> None:
    """Rule 2: ``KEY=VALUE`` with any key, alias or feature name (``mode=ipvs``, ``rke2=on``)."""
    for match in _ASSIGN_RE.finditer(reader.text):
        if not reader.free(*match.span()):
            continue
        name = re.sub(r"[_ ]", "-", match.group(1))
        value = match.group(2).strip("'\"`")
        if name in _FEATURE_NAMES:
            flag = _flag(value)
            if flag is not None:
                reader.add(Mention(name, flag, match.group(0), *match.span()))
            continue
        key = _KEY_NAMES.get(name) or _KEY_NAMES.get(match.group(1))
        if key is None:
            continue
        if key == "os":
            release = parse_os(value.replace("-", " "))
            if release is not None:
                reader.add(Mention("os", release.name, match.group(0), *match.span()))
            continue
        values = value.replace("+", ",").split(",") if key == "calico-encapsulation" else [value]
        good = [v for v in values if _valid(key, v)]
        if good and len(good) == len(values):
            for item in good:
                reader.add(Mention(key, item, match.group(0), *match.span()))


def _flag(value: str) -> str | None:
    lowered = value.lower()
    if lowered in _ON_WORDS:
        return "on"
    if lowered in _OFF_WORDS:
        return "off"
    return None


def _valid(key: str, value: str) -> bool:
    try:
        parse_fact(key, value)
    except FactError:
        return False
    return True


def read_os(reader: _Reader) -> None:
    """Rule 3: OS releases, read by :func:`parse_os` over short windows of words."""
    words = list(re.finditer(r"[^\s,;，；。?？!！()]+", reader.text))
    for i, word in enumerate(words):
        if not any(word.group(0).startswith(w) for w in _OS_WORDS):
            continue
        for n in range(2, 6):
            window = words[i : i + n]
            if len(window) < n:
                break
            start, end = window[0].start(), window[-1].end()
            phrase = reader.text[start:end]
            release = parse_os(phrase)
            if release is None or not reader.free(start, end):
                continue
            # The last word must matter (not "centos 7 with k8s 1.27.7" read as RHEL 8).
            shorter = reader.text[start : window[-2].end()]
            if parse_os(shorter) is release:
                continue
            reader.add(Mention("os", release.name, phrase, start, end))
            break


def _values_after(reader: _Reader, pos: int) -> Iterator[tuple[str, int, int]]:
    """Value tokens after a key: skips filler, reads ``A to B`` pairs, stops at other words."""
    text = reader.text
    skipped = 0
    while pos < len(text) and skipped < 3:
        match = _VALUE_RE.match(text, pos)
        if match is None:
            # Punctuation such as "=" or ":" between key and value.
            stripped = re.match(r"\s*([=:@]|->|→)\s*", text[pos:])
            if stripped is None:
                return
            pos += stripped.end()
            skipped += 1
            continue
        token = match.group(1)
        start, end = match.start(1), match.end(1)
        if not reader.free(start, end):
            return
        if token in _FILLER or token in _TO_WORDS:
            pos = end
            skipped += 1
            continue
        yield token, start, end
        skipped = 0
        pos = end
        # Only "A to B" continues after a value; "A and B" does not (avoid reading B's key).
        follow = re.match(r"\s*(to|->|→|到|至)\s", text[pos:] + " ")
        if follow is None:
            return


def read_keyed_values(reader: _Reader) -> None:
    """Rule 4: a key (alias, glossary word) followed by a value; "without calico"."""
    for match in _KEY_RE.finditer(reader.text):
        start, end = match.span()
        if not reader.free(start, end):
            continue
        name = match.group(1)
        key = _KEY_NAMES.get(name) or _KEY_NAMES.get(re.sub(r"[_ ]", "-", name))
        if key is None:
            continue
        negated = re.search(rf"{_NEGATION_RE}\s*$", reader.text[max(0, start - 16) : start])
        spec = FACTS[key]
        if negated and spec.component is not None and spec.kind is FactKind.VERSION:
            reader.add(Mention(key, "none", reader.text[negated.start() + max(0, start - 16) :
                                                         end], start, end))  # fmt: skip
            continue
        if key == "kube-proxy" and negated:
            reader.add(Mention("proxy-mode", "none", name, start, end))
            continue
        found = False
        for token, _, vend in _values_after(reader, end):
            value = token
            not_version = key in _VERSION_KEYS and _VERSION_TOKEN_RE.fullmatch(token) is None
            if not_version and (token not in NONE_WORDS or spec.component is None):
                break
            if not _valid(key, value):
                break
            reader.add(Mention(key, value, reader.text[start:vend], start, vend))
            found = True
        if not found and spec.component is not None and key in _VERSION_KEYS:
            # A component named without a version still puts it in scope.
            reader.add(Mention("component", spec.component, name, start, end))


def read_modes(reader: _Reader) -> None:
    """Rule 5: mode words. IPVS/iptables/nftables -> proxy-mode; VXLAN/IPIP -> encapsulation."""
    text = reader.text
    # iptables-nft / iptables legacy: the host's iptables backend.
    for match in re.finditer(rf"{_BOUND_L}iptables[-_ ]?(nft|legacy){_BOUND_R}", text):
        if reader.free(*match.span()):
            reader.add(Mention("host-iptables-mode", match.group(1), match.group(0),
                               *match.span()))  # fmt: skip
    for key in _ENUM_KEYS:
        spec = FACTS[key]
        for value in sorted(spec.values, key=len, reverse=True):
            if value in NONE_WORDS or value in ("auto", "nft", "legacy"):
                continue
            if _unique_value(value) is None:
                continue
            pattern = re.compile(rf"{_BOUND_L}{_phrase_re(value)}(?![a-z_-]|\s*v?\d)")
            for match in pattern.finditer(text):
                if reader.free(*match.span()):
                    reader.add(Mention(key, value, match.group(0), *match.span()))
    # CrossSubnet without the encapsulation: either VXLAN or IPIP cross-subnet.
    for match in re.finditer(rf"{_BOUND_L}crosssubnet{_BOUND_R}", text):
        if reader.free(*match.span()):
            reader.add(Mention("calico-encapsulation", "crosssubnet", match.group(0),
                               *match.span()))  # fmt: skip


def _unique_value(value: str) -> str | None:
    """The one enum/set fact that has this value, or None when several do."""
    keys = [k for k in _ENUM_KEYS if value in FACTS[k].values]
    return keys[0] if len(keys) == 1 else None


def read_features(reader: _Reader) -> None:
    """Rule 6: features by name or by the API fields they stand for; "without X" is off."""
    text = reader.text
    for match in _FEATURE_RE.finditer(text):
        start, end = match.span()
        if not reader.free(start, end):
            continue
        name = re.sub(r"[_ ]", "-", match.group(1))
        negated = re.search(rf"{_NEGATION_RE}\s*$", text[max(0, start - 16) : start])
        reader.add(Mention(name, "off" if negated else "on", match.group(0), start, end))
    for name in FEATURES:
        base = re.sub(r"-(absent|disabled)$", "", name)
        if base == name:
            continue
        # "without kubeadm-config", "multus disabled": the feature named X-absent/X-disabled.
        pattern = re.compile(
            rf"{_NEGATION_RE}\s*{_phrase_re(base)}{_BOUND_R}|{_BOUND_L}{_phrase_re(base)}\s*"
            r"(?:is\s+|was\s+)?(?:absent|disabled|missing|off|not found|turned off|关闭|禁用)"
        )
        for match in pattern.finditer(text):
            if reader.free(*match.span()):
                reader.add(Mention(name, "on", match.group(0), *match.span()))
    for name, fields in _FEATURE_FIELDS.items():
        spans = [re.search(re.escape(f), text) for f in fields]
        if all(spans) and not any(m.key == name for m in reader.mentions):
            first = min(s.start() for s in spans if s is not None)
            last = max(s.end() for s in spans if s is not None)
            reader.mentions.append(Mention(name, "on", text[first:last], first, last))


def read_bare_versions(reader: _Reader) -> None:
    """Rule 7: versions without a key: ``uname -r`` strings and 4.x-6.x are kernels; v1.x is
    Kubernetes. Other bare versions are left unread (they could belong to any component)."""
    for match in _UNAME_RE.finditer(reader.text):
        if reader.free(*match.span(1)) and _valid("kernel", match.group(1)):
            reader.add(Mention("kernel", match.group(1), match.group(1), *match.span(1)))
    for match in _BARE_VERSION_RE.finditer(reader.text):
        token = match.group(1)
        if not reader.free(*match.span(1)):
            continue
        major = int(token.lstrip("v").split(".")[0])
        minor = int(re.split(r"[.+-]", token.lstrip("v"))[1])
        key = None
        if major == 1 and 10 <= minor < 100:
            key = "kubernetes"
        elif 4 <= major <= 6 and not token.startswith("v"):
            key = "kernel"
        if key is None:
            key = _same_major_key(reader, token) or _component_before(reader, match.start(1))
        if key is not None and _valid(key, token):
            reader.add(Mention(key, token, token, *match.span(1)))


def _component_before(reader: _Reader, start: int) -> str | None:
    """The version key of a component named just before a bare version ("calico ipip 3.27")."""
    near = [
        m
        for m in reader.mentions
        if m.key == "component" and 0 <= start - m.end <= 24 and m.value in _VERSION_KEYS
    ]
    return near[-1].value if near else None


def _same_major_key(reader: _Reader, token: str) -> str | None:
    """The one version fact already stated with the same major version ("calico 3.26 ... to
    3.28.2"), else None."""
    major = token.lstrip("v").split(".")[0]
    keys = {
        m.key
        for m in reader.mentions
        if m.key in _VERSION_KEYS
        and m.key != "kernel"
        and m.value.lstrip("v").split(".")[0] == major
    }
    return keys.pop() if len(keys) == 1 else None


# ---------------------------------------------------------------------------------------------
# From mentions to facts


def _upgrade_position(text: str) -> int | None:
    match = _UPGRADE_RE.search(text)
    return match.end() if match else None


def _mark_changes(mentions: list[Mention], text: str, upgrade_at: int | None) -> list[Mention]:
    """Mark upgrade targets.

    A value is a target when it is the ``B`` of ``A to B`` / ``A -> B`` for one key (with or
    without a verb), or when it follows an upgrade verb and is introduced by ``to`` (到, 成) or
    comes right after the verb ("upgrade calico 3.28"). Other values after the verb ("on kernel
    5.4") stay current facts.
    """
    by_key: dict[str, list[Mention]] = {}
    for m in sorted(mentions, key=lambda m: m.start):
        by_key.setdefault(m.key, []).append(m)
    out: list[Mention] = []
    for m in mentions:
        if m.key in ("cluster", "advisory", "component") or m.key in FEATURES:
            out.append(m)
            continue
        same = by_key[m.key]
        pair = len(same) > 1 and _joined_by_to(same, text)
        if pair:
            out.append(_with_change(m, m is same[-1]))
            continue
        change = False
        if upgrade_at is not None and m.start >= upgrade_at:
            before = text[upgrade_at : m.start]
            inside = text[m.start : m.end]
            introduced = re.search(r"(?<![a-z])(to|到|至|成|为)(\s*[^\s\d]+){0,2}\s*$", before)
            right_after = re.fullmatch(r"\s*(\S+\s*){0,1}", before)
            keyed_to = re.search(r"(?<![a-z])(to|到|至)(?![a-z])", inside)
            change = bool(introduced or right_after or keyed_to)
        out.append(_with_change(m, change))
    return out


def _joined_by_to(same: Sequence[Mention], text: str) -> bool:
    gap = text[same[-2].end : same[-1].end]
    return re.search(r"(?<![a-z])(to|到|至)(?![a-z])|->|→", gap) is not None


def _with_change(m: Mention, change: bool) -> Mention:
    return Mention(m.key, m.value, m.raw, m.start, m.end, change)


def _facts(mentions: Sequence[Mention]) -> tuple[Facts, tuple[Change, ...]]:
    values: dict[str, Domain] = {}
    raw: dict[str, str] = {}
    changes: dict[str, Change] = {}
    oses: list[Mention] = []
    encaps: dict[bool, list[str]] = {False: [], True: []}
    for m in mentions:
        if m.key in ("cluster", "advisory", "component"):
            continue
        if m.key in FEATURES:
            values[m.key] = frozenset({m.value == "on"})
            raw[m.key] = m.value
            continue
        if m.key == "os":
            if m.change:
                changes["os"] = Change("os", frozenset(), m.value)
            elif m.value not in [o.value for o in oses]:
                oses.append(m)
            continue
        if m.key == "calico-encapsulation":
            encaps[m.change].append(m.value)
            continue
        _, domain, _ = parse_fact(m.key, m.value)
        if m.change:
            changes[m.key] = Change(m.key, domain, m.value)
            continue
        previous = values.get(m.key)
        values[m.key] = _union(previous, domain) if previous is not None else domain
        raw[m.key] = f"{raw[m.key]}, {m.value}" if m.key in raw else m.value
    for change, items in encaps.items():
        if not items:
            continue
        domain = _encapsulation(items)
        text = ",".join(dict.fromkeys(items))
        if change:
            changes["calico-encapsulation"] = Change("calico-encapsulation", domain, text)
        else:
            values["calico-encapsulation"] = domain
            raw["calico-encapsulation"] = text
    os_name: str | None = None
    if len(oses) == 1:
        os_name = oses[0].value
        raw["os"] = oses[0].raw
    elif oses and "kernel" not in values:
        # Nodes on several releases: the kernel is any kernel of any of them.
        kernels = [kernels_of_os(r) for o in oses if (r := release_of(o.value)) is not None]
        vendor: frozenset[bool] = frozenset().union(*(k.vendor for k in kernels))
        values["kernel"] = KernelDomain(_union_all([k.versions for k in kernels]), vendor)
        raw["os"] = ", ".join(o.raw for o in oses)
    return Facts(values=values, raw=raw, os_name=os_name), tuple(changes.values())


def _union_all(sets: Sequence[VersionSet]) -> VersionSet:
    out = VersionSet.empty()
    for item in sets:
        out = out.union(item)
    return out


def _union(a: Domain, b: Domain) -> Domain:
    """Two stated values of one fact ("kernel 5.4 and 5.10 nodes"): either may hold."""
    if isinstance(a, VersionDomain) and isinstance(b, VersionDomain):
        return VersionDomain(a.versions.union(b.versions), a.absent or b.absent)
    if isinstance(a, KernelDomain) and isinstance(b, KernelDomain):
        return KernelDomain(a.versions.union(b.versions), a.vendor | b.vendor)
    if isinstance(a, frozenset) and isinstance(b, frozenset):
        merged: Domain = frozenset(a | b)  # type: ignore[assignment]
        return merged
    return b


def _encapsulation(items: Sequence[str]) -> Domain:
    """The IP pools use every encapsulation named; bare CrossSubnet is VXLAN or IPIP."""
    named = {i for i in items if i != "crosssubnet"}
    if "crosssubnet" not in items:
        return frozenset({frozenset(named)})
    options: list[frozenset[str]] = []
    for base in ("vxlan", "ipip"):
        if base in named or not named & {"vxlan", "ipip"}:
            options.append(frozenset((named - {base}) | {f"{base}-crosssubnet"}))
    return frozenset(options)


def _components(
    mentions: Sequence[Mention], facts: Facts, changes: Sequence[Change]
) -> tuple[str, ...]:
    """Components named or implied: a component fact, a mode, a feature, a version of it."""
    named: set[str] = set()
    implied = {
        "kubernetes": "kube-proxy",
        "kube-proxy": "kube-proxy",
        "proxy-mode": "kube-proxy",
        "iptables-version": "kube-proxy",
        "calico": "calico",
        "calico-encapsulation": "calico",
        "calico-iptables-backend": "calico",
        "spiderpool": "spiderpool",
    }
    for m in mentions:
        if m.key == "component":
            named.add(m.value)
        elif m.key in implied:
            named.add(implied[m.key])
        elif m.key in FEATURES:
            named.add(FEATURES[m.key].component)
    for change in changes:
        if change.key in implied:
            named.add(implied[change.key])
    del facts
    return tuple(c for c in COMPONENTS if c in named)


def release_of(name: str) -> OsRelease | None:
    """The OS release with this display name (``Ubuntu 22.04``)."""
    return next((r for r in OS_RELEASES if r.name == name), None)
