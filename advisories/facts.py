"""One vocabulary for facts, shared by the catalog, ``check``, inventory, Slack and planning.

A *fact* is something about a cluster or node that an advisory depends on: a version, a kernel,
a mode, a set of encapsulations, or a *feature* (an observable setting that is on or off). Every
fact has a :class:`FactSpec` here; every other part of netadvisor uses these keys and aliases.

A fact's value is a *domain*: the set of values it may have. Unknown is the whole domain; a
version stated with fewer parts is its series; an OS is the set of kernels it ships. The engine
evaluates every value in a domain, so an answer is exact over what is not known.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Final, NewType

from advisories.versions import (
    KernelVersion,
    VersionError,
    VersionSet,
    parse_kernel_spec,
    parse_version,
    parse_version_spec,
)

__all__ = [
    "ALIASES",
    "COMPONENTS",
    "FACTS",
    "FEATURES",
    "FactError",
    "FactKey",
    "FactKind",
    "FactSpec",
    "Facts",
    "FeatureSpec",
    "canonical_key",
]

FactKey = NewType("FactKey", str)


class FactKind(Enum):
    """How a fact's values are written and compared."""

    VERSION = "version"
    """A component version; may also be ``none`` (not installed) for components."""
    KERNEL = "kernel"
    """A Linux kernel version; compared on its base ``major.minor.patch``."""
    ENUM = "enum"
    """One value out of a fixed list."""
    SET = "set"
    """A set of values out of a fixed list (for example one encapsulation per IP pool)."""
    TEXT = "text"
    """Free text that implies other facts (the OS image implies a kernel)."""
    FEATURE = "feature"
    """An observable setting that is on or off."""


class FactError(ValueError):
    """A fact was named or valued wrongly; ``key`` names it, ``valid`` lists what is allowed."""

    def __init__(self, key: str, message: str, valid: Iterable[str] = ()) -> None:
        self.key = key
        self.valid = tuple(valid)
        text = f"{key}: {message}"
        if self.valid:
            text += f" (valid: {', '.join(self.valid)})"
        super().__init__(text)


@dataclass(frozen=True, slots=True)
class FactSpec:
    """The definition of one fact key."""

    key: FactKey
    """Canonical kebab-case name, used everywhere."""
    kind: FactKind
    """How values are written and compared."""
    description: str
    """One line for help texts."""
    aliases: tuple[str, ...] = ()
    """Other names accepted on input (``k8s`` for ``kubernetes``)."""
    values: tuple[str, ...] = ()
    """Allowed values of an ENUM or SET fact."""
    component: str | None = None
    """The component whose presence this fact decides (``none`` = not installed)."""
    source: str = ""
    """Where inventory reads it."""


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """An observable setting that an advisory depends on; on, off or unknown."""

    name: FactKey
    """kebab-case name, used in the catalog, ``--feature`` and slash commands."""
    description: str
    """What it means when it is on."""
    source: str
    """Where inventory reads it."""
    component: str
    """The component it belongs to."""


COMPONENTS: Final = ("kube-proxy", "calico", "spiderpool")
"""The components the catalog covers, in display order."""

ENCAPSULATIONS: Final = ("ipip", "ipip-crosssubnet", "vxlan", "vxlan-crosssubnet", "none")
PROXY_MODES: Final = ("iptables", "ipvs", "nftables", "none")

_FACTS: Final = (
    FactSpec(
        FactKey("kubernetes"),
        FactKind.VERSION,
        "Kubernetes control-plane version; sets kube-proxy's version too unless that is given",
        aliases=("k8s", "kube", "kubernetes-version"),
        source="GET /version",
    ),
    FactSpec(
        FactKey("kube-proxy"),
        FactKind.VERSION,
        "kube-proxy version (defaults to the Kubernetes version)",
        aliases=("kubeproxy", "kube-proxy-version"),
        source="image tag of the kube-proxy DaemonSet or static pods in kube-system",
    ),
    FactSpec(
        FactKey("proxy-mode"),
        FactKind.ENUM,
        "kube-proxy mode; none when kube-proxy is replaced (for example by Cilium)",
        aliases=("mode", "kube-proxy-mode"),
        values=PROXY_MODES,
        component="kube-proxy",
        source="mode in the kube-proxy ConfigMap (empty = iptables) or --proxy-mode",
    ),
    FactSpec(
        FactKey("kernel"),
        FactKind.KERNEL,
        "Linux kernel of the nodes (uname -r); 5.4 stands for every 5.4.x",
        aliases=("kernel-version", "uname"),
        source="Node status.nodeInfo.kernelVersion",
    ),
    FactSpec(
        FactKey("os"),
        FactKind.TEXT,
        "OS release of the nodes; implies the kernels it ships when the kernel is not given",
        aliases=("os-image", "distro"),
        source="Node status.nodeInfo.osImage",
    ),
    FactSpec(
        FactKey("iptables-version"),
        FactKind.VERSION,
        "iptables binary in kube-proxy's image; follows from the kube-proxy version if not given",
        aliases=("iptables",),
        source="configuration override (the API does not show it); else kube-proxy's image",
    ),
    FactSpec(
        FactKey("host-iptables-mode"),
        FactKind.ENUM,
        "iptables backend the host's own tools use",
        aliases=("host-iptables",),
        values=("nft", "legacy"),
        source="the node OS release's verified default (labelled OS default); configuration",
    ),
    FactSpec(
        FactKey("calico"),
        FactKind.VERSION,
        "Calico version, or none when Calico is not installed",
        aliases=("calico-version", "calico-node"),
        component="calico",
        source="calico-node image tag; ClusterInformation spec.calicoVersion",
    ),
    FactSpec(
        FactKey("calico-encapsulation"),
        FactKind.SET,
        "Calico encapsulation, one value per IP pool",
        aliases=("encapsulation", "encap"),
        values=ENCAPSULATIONS,
        source="IPPool spec.ipipMode / spec.vxlanMode; Installation; CALICO_IPV4POOL_* env",
    ),
    FactSpec(
        FactKey("calico-iptables-backend"),
        FactKind.ENUM,
        "Felix iptables backend setting",
        aliases=("felix-iptables-backend", "iptables-backend"),
        values=("auto", "nft", "legacy"),
        source="FelixConfiguration spec.iptablesBackend; FELIX_IPTABLESBACKEND env (default auto)",
    ),
    FactSpec(
        FactKey("spiderpool"),
        FactKind.VERSION,
        "Spiderpool version, or none when Spiderpool is not installed",
        aliases=("spiderpool-version",),
        component="spiderpool",
        source="spiderpool-agent / spiderpool-controller image tags",
    ),
)

FACTS: Final[Mapping[str, FactSpec]] = {spec.key: spec for spec in _FACTS}
"""Every fact key, by canonical name."""

_FEATURES: Final = (
    FeatureSpec(
        FactKey("externalips-etp-local"),
        "a Service combines spec.externalIPs with externalTrafficPolicy: Local",
        "Services in all namespaces: spec.externalIPs and spec.externalTrafficPolicy",
        "kube-proxy",
    ),
    FeatureSpec(
        FactKey("lb-source-ranges"),
        "a LoadBalancer Service sets spec.loadBalancerSourceRanges",
        "Services in all namespaces: type LoadBalancer with loadBalancerSourceRanges",
        "kube-proxy",
    ),
    FeatureSpec(
        FactKey("rke2"),
        "the cluster is RKE2 (kube-controller-manager flags are in Args, not Command)",
        "Kubernetes version suffix +rke2 (control plane or kubelets)",
        "spiderpool",
    ),
    FeatureSpec(
        FactKey("kubeadm-config-absent"),
        "the kube-system/kubeadm-config ConfigMap does not exist (cluster not made by kubeadm)",
        "GET ConfigMap kube-system/kubeadm-config (404 = on)",
        "spiderpool",
    ),
    FeatureSpec(
        FactKey("spiderpool-kubevirt-static-ip-disabled"),
        "Spiderpool's KubeVirt static IP function is turned off",
        "spiderpool-conf ConfigMap: enableKubevirtStaticIP",
        "spiderpool",
    ),
    FeatureSpec(
        FactKey("spiderpool-ip-gc-disabled"),
        "Spiderpool's IP garbage collection is turned off",
        "spiderpool-controller env SPIDERPOOL_GC_IP_ENABLED",
        "spiderpool",
    ),
    FeatureSpec(
        FactKey("spiderpool-coordinator-overlay"),
        "SpiderCoordinator runs in auto or overlay mode (it reads the cluster's Pod/Service CIDRs)",
        "SpiderCoordinator 'default' spec.mode",
        "spiderpool",
    ),
    FeatureSpec(
        FactKey("spiderpool-multus-disabled"),
        "Spiderpool was installed with its Multus feature disabled",
        "spiderpool-controller env SPIDERPOOL_MULTUS_CONFIG_ENABLED (false = on)",
        "spiderpool",
    ),
    FeatureSpec(
        FactKey("spiderpool-subnet-enabled"),
        "Spiderpool's SpiderSubnet feature is on",
        "spiderpool-conf ConfigMap: enableSpiderSubnet",
        "spiderpool",
    ),
    FeatureSpec(
        FactKey("calico-kube-controllers"),
        "calico-kube-controllers runs (some installs, such as rke2-canal by default, leave it out)",
        "calico-kube-controllers Deployment in kube-system or calico-system (replicas above 0)",
        "calico",
    ),
    FeatureSpec(
        FactKey("cilium"),
        "Cilium is a CNI of the cluster (alone or with Spiderpool)",
        "cilium DaemonSet in kube-system",
        "spiderpool",
    ),
)

FEATURES: Final[Mapping[str, FeatureSpec]] = {spec.name: spec for spec in _FEATURES}
"""Every feature, by name."""


def _alias_table() -> dict[str, FactKey]:
    table: dict[str, FactKey] = {}
    for spec in _FACTS:
        for name in (spec.key, *spec.aliases):
            table[name] = spec.key
    return table


ALIASES: Final[Mapping[str, FactKey]] = _alias_table()
"""Every accepted name (canonical or alias) -> canonical fact key."""


def canonical_key(name: str) -> FactKey:
    """The canonical key for a name or alias (``k8s`` -> ``kubernetes``); raises FactError."""
    normalised = name.strip().lower().replace("_", "-")
    if normalised in ALIASES:
        return ALIASES[normalised]
    raise FactError(name, "unknown fact", sorted(FACTS))


# ---------------------------------------------------------------------------------------------
# Domains


@dataclass(frozen=True, slots=True)
class VersionDomain:
    """Possible values of a version fact: versions and, for components, "not installed"."""

    versions: VersionSet
    absent: bool = False
    """True when "not installed" is possible."""


@dataclass(frozen=True, slots=True)
class KernelDomain:
    """Possible kernels: base versions, and whether the kernel may carry vendor backports."""

    versions: VersionSet
    vendor: frozenset[bool] = frozenset({False})
    """Possible values of "a distribution kernel that may carry backports"."""


Domain = VersionDomain | KernelDomain | frozenset[str] | frozenset[frozenset[str]] | frozenset[bool]
"""The possible values of a fact, by kind."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What is known about one cluster, one node group, or a stated setup.

    ``values`` maps fact keys and feature names to domains; a key that is missing is unknown.
    ``raw`` keeps the strings the values were read from (evidence); ``kernels`` keeps parsed
    kernels for caveats. The engine reads :class:`advisories.derive.ResolvedFacts`, which
    :func:`advisories.derive.resolve` makes by applying the vocabulary's implications
    (Kubernetes -> kube-proxy, OS -> kernel, kube-proxy -> iptables version).
    """

    values: Mapping[str, Domain] = field(default_factory=dict)
    raw: Mapping[str, str] = field(default_factory=dict)
    os_name: str | None = None
    """The recognised OS release (``Ubuntu 20.04``), if any."""

    def known(self, key: str) -> bool:
        """True when the key was stated or read (it may still be a set of values)."""
        return key in self.values

    def domain(self, key: str) -> Domain:
        """The possible values of a fact or feature (the whole domain when unknown)."""
        if key in self.values:
            return self.values[key]
        return unknown_domain(key)

    def set(self, key: str, value: Domain, raw: str | None = None) -> Facts:
        """A copy with one domain replaced, and its evidence string if given."""
        values = dict(self.values)
        values[key] = value
        raws = dict(self.raw)
        if raw is not None:
            raws[key] = raw
        return replace(self, values=values, raw=raws)

    def without(self, key: str) -> Facts:
        """A copy in which the key is unknown again."""
        values = {k: v for k, v in self.values.items() if k != key}
        raws = {k: v for k, v in self.raw.items() if k != key}
        return replace(self, values=values, raw=raws)


def unknown_domain(key: str) -> Domain:
    """The domain of a fact or feature about which nothing is known."""
    spec = FACTS.get(FactKey(key))
    if spec is None:
        if key in FEATURES:
            return frozenset({True, False})
        raise FactError(key, "unknown fact or feature", [*sorted(FACTS), *sorted(FEATURES)])
    if spec.kind is FactKind.VERSION:
        return VersionDomain(VersionSet.everything(), absent=spec.component is not None)
    if spec.kind is FactKind.KERNEL:
        return KernelDomain(VersionSet.everything(), frozenset({True, False}))
    if spec.kind is FactKind.ENUM:
        return frozenset(spec.values)
    if spec.kind is FactKind.SET:
        return frozenset(_nonempty_subsets(spec.values))
    return frozenset()


def _nonempty_subsets(values: tuple[str, ...]) -> list[frozenset[str]]:
    out = []
    for mask in range(1, 1 << len(values)):
        out.append(frozenset(v for i, v in enumerate(values) if mask >> i & 1))
    return out


# ---------------------------------------------------------------------------------------------
# Reading values as people and clusters write them

NONE_WORDS: Final = frozenset({"none", "absent", "not-installed", "no", "false", "off"})


def parse_fact(key: str, text: str) -> tuple[FactKey, Domain, KernelVersion | None]:
    """Read ``text`` as a value of fact ``key`` (a canonical key or alias).

    Returns the canonical key, the domain and, for kernels, the parsed full kernel string.
    Raises :class:`FactError` naming the key and the valid values when the text is wrong.
    """
    canonical = canonical_key(key)
    spec = FACTS[canonical]
    value = text.strip()
    lowered = value.lower()
    if spec.kind is FactKind.VERSION:
        if spec.component is not None and lowered in NONE_WORDS:
            return canonical, VersionDomain(VersionSet.empty(), absent=True), None
        try:
            return canonical, VersionDomain(parse_version_spec(value)), None
        except VersionError:
            hint = "a version such as 3.28 or v3.28.2"
            if spec.component is not None:
                hint += ", or none"
            raise FactError(spec.key, f"cannot read {value!r} as a version; give {hint}") from None
    if spec.kind is FactKind.KERNEL:
        try:
            versions, kernel = parse_kernel_spec(value)
        except VersionError:
            raise FactError(
                spec.key,
                f"cannot read {value!r} as a kernel; give 5.4 or 4.18.0-477.27.1.el8_8.x86_64",
            ) from None
        vendor = kernel.may_backport if kernel is not None else False
        return canonical, KernelDomain(versions, frozenset({vendor})), kernel
    if spec.kind is FactKind.ENUM:
        if lowered not in spec.values:
            raise FactError(spec.key, f"unknown value {value!r}", spec.values)
        return canonical, frozenset({lowered}), None
    if spec.kind is FactKind.SET:
        items = [v.strip().lower() for v in value.replace("+", ",").split(",") if v.strip()]
        bad = [v for v in items if v not in spec.values]
        if bad or not items:
            raise FactError(spec.key, f"unknown value {value!r}", spec.values)
        return canonical, frozenset({frozenset(items)}), None
    raise FactError(spec.key, "is read with parse_os", ())


def read_cluster_version(text: str | None) -> tuple[VersionDomain, str | None]:
    """Read a version reported by a cluster; unparseable -> unknown, with the reason."""
    if text is None:
        return VersionDomain(VersionSet.everything()), "not reported"
    try:
        return VersionDomain(VersionSet.point(parse_version(text).key)), None
    except VersionError as exc:
        return VersionDomain(VersionSet.everything()), str(exc)
