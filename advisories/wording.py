"""The words of answers, in English and Chinese: fixed phrases, fact labels, changes as advice.

Pure data and small functions; :mod:`advisories.answers` composes them and renders answers.
Labels replace internal keys wherever a person reads them ("whether kube-system/kubeadm-config
exists", not ``kubeadm-config-absent``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from advisories.facts import FACTS, FEATURES

__all__ = [
    "EXAMPLES",
    "WORDS",
    "change_words",
    "fact_label",
    "feature_words",
    "join_or",
    "words",
]

WORDS: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "safe": "Safe: none of the {} advisories for {} applies.",
        "safe_one": "Safe: {} does not apply.",
        "not_safe": "Not safe: {}.",
        "degraded": "Works, with a known problem: {}.",
        "depends": "It depends on {}: {}.",
        "likely": "Likely {}, if {}.",
        "not_understood": "I could not find anything I know in this question.",
        "use": "Use {}.",
        "or": "or",
        "and": "and",
        "understood": "Understood",
        "nothing": "nothing",
        "safe_if": "Safe if",
        "affected": "affected",
        "unknown": "may hold",
        "recommendation": "Recommendation",
        "workaround": "Workaround",
        "confirmed": "confirmed by what you stated",
        "ruled_out": "ruled out by what you stated",
        "confirm_if": "would be confirmed if {}",
        "uncertain": "upstream uncertain: ",
        "folded": "{} more depend on facts you did not give: {} (--all shows them)",
        "folded_one": "1 more depends on facts you did not give: {} (--all shows it)",
        "folded_slack": "{} more depend on facts you did not give: {}",
        "folded_slack_one": "1 more depends on facts you did not give: {}",
        "not_considered": "Not considered",
        "not_covered": (
            "The catalog has no advisory about this problem. It covers known kube-proxy, "
            "Calico and Spiderpool issues that depend on versions, kernels and modes."
        ),
        "other_projects": "{}: not covered by the catalog",
        "outside": (
            "netadvisor does not track {} issues: its catalog covers kube-proxy, Calico and "
            "Spiderpool."
        ),
        "outside_version": "{} {} is read as {}'s version, not Kubernetes'.",
        "components_out": "{} advisories of {}: the question does not name or imply them",
        "unrelated": "{} advisories of {} that do not depend on what you stated",
        "examples": "Try for example",
        "plan": "If {} changes to {}",
        "resolved": "Resolved",
        "introduced": "Introduced",
        "remaining": "Remaining",
        "changed": "Changed",
        "still": "Still there (not changed by the move): {}",
        "move_breaks": "Not safe: moving to {} introduces {}.",
        "move_uncertain": "Nothing new breaks for certain when moving to {}; {} becomes uncertain.",
        "move_safe": "Safe: moving to {} introduces nothing.",
        "move_resolves": " It resolves {}.",
        "cluster": "Cluster {} (facts read {})",
        "never": "at an unknown time",
        "demo": "demo data",
        "catalog": "catalog",
        "unknown_cluster": "I don't know a cluster {} (known: {}); answering for the facts stated.",
        "no_cluster_facts": "{}: no facts from a successful scan yet",
        "unavailable": "Cluster data is unavailable ({}): answered from the catalog alone.",
        "cluster_unavailable": "{}: cannot be answered now: cluster data is unavailable ({}).",
        "severity_none": "No {} advisory holds{}.",
        "severity_others": "; {} of lower severity hold: {}",
        "upgrade": "{} {} or later",
        "exactly": "{} {}",
        "set_to": "switch the {} to {}",
        "and_more": " (and {} more)",
    },
    "zh": {
        "safe": "安全：{1} 的 {0} 个已知问题都不适用。",
        "safe_one": "安全：{} 不适用。",
        "not_safe": "不安全：{}。",
        "degraded": "可以使用，但有已知问题：{}。",
        "depends": "视情况而定，取决于{}：{}。",
        "likely": "可能是{}，前提是{}。",
        "not_understood": "没有从问题中识别出已知的信息。",
        "use": "建议：{}。",
        "or": "或",
        "and": "且",
        "understood": "已识别",
        "nothing": "无",
        "safe_if": "以下情况下安全",
        "affected": "受影响",
        "unknown": "可能受影响",
        "recommendation": "建议",
        "workaround": "临时解决办法",
        "confirmed": "根据你给出的信息已确认",
        "ruled_out": "根据你给出的信息可以排除",
        "confirm_if": "在以下情况下成立：{}",
        "uncertain": "上游尚不确定：",
        "folded": "另有 {} 个取决于你没有给出的信息：{}（--all 显示全部）",
        "folded_slack": "另有 {} 个取决于你没有给出的信息：{}",
        "folded_one": "另有 1 个取决于你没有给出的信息：{}（--all 显示）",
        "folded_slack_one": "另有 1 个取决于你没有给出的信息：{}",
        "not_considered": "未考虑",
        "not_covered": (
            "目录中没有关于这个问题的已知问题。netadvisor 只覆盖 kube-proxy、Calico 和 Spiderpool "
            "中与版本、内核和模式相关的已知问题。"
        ),
        "other_projects": "{}：不在目录覆盖范围内",
        "outside": "netadvisor 不跟踪 {} 的问题：目录只覆盖 kube-proxy、Calico 和 Spiderpool。",
        "outside_version": "{} {} 是 {} 的版本，不是 Kubernetes 的版本。",
        "components_out": "{} 个 {} 的已知问题：问题中没有提到或暗示这些组件",
        "unrelated": "{} 个 {} 的已知问题与你给出的信息无关",
        "examples": "可以这样问",
        "plan": "如果 {} 变更为 {}",
        "resolved": "解决",
        "introduced": "新增",
        "remaining": "仍然存在",
        "changed": "有变化",
        "still": "仍然存在（与这次变更无关）：{}",
        "move_breaks": "不安全：变更到 {} 会引入{}。",
        "move_uncertain": "变更到 {} 不会确定引入新问题；{}变为不确定。",
        "move_safe": "安全：变更到 {} 不会引入新问题。",
        "move_resolves": "可解决 {}。",
        "cluster": "集群 {}（数据读取于 {}）",
        "never": "未知时间",
        "demo": "演示数据",
        "catalog": "目录版本",
        "unknown_cluster": "没有名为 {} 的集群（已知：{}）；按问题中给出的信息回答。",
        "no_cluster_facts": "{}：还没有成功扫描的数据",
        "unavailable": "集群数据暂不可用（{}）：仅依据目录作答。",
        "cluster_unavailable": "{}：暂时无法回答：集群数据不可用（{}）。",
        "severity_none": "没有{}级别的已知问题{}。",
        "severity_others": "；{} 个较低级别的问题适用：{}",
        "upgrade": "{} {} 或更高",
        "exactly": "{} {}",
        "set_to": "将{}改为 {}",
        "and_more": "（另有 {} 个）",
    },
}

EXAMPLES: Final[Mapping[str, tuple[str, str, str]]] = {
    "en": (
        "is kernel 5.4 safe for IPVS?",
        "why do we see a 1 second delay on CentOS 7 with ipvs?",
        "can we move from Calico 3.26 to 3.28 on kernel 6.1 with VXLAN?",
    ),
    "zh": (
        "内核 5.4 用 IPVS 安全吗？",
        "CentOS 7 上 ipvs 模式访问 Service 有 1 秒延迟，为什么？",
        "Calico 3.26 升级到 3.28 安全吗？内核 6.1，VXLAN 模式",
    ),
}

# Labels of fact keys as people say them (the kube-proxy mode, not proxy-mode).
_FACT_LABELS: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "kubernetes": "Kubernetes",
        "kube-proxy": "kube-proxy",
        "proxy-mode": "the kube-proxy mode",
        "kernel": "the kernel",
        "os": "the OS",
        "iptables-version": "the iptables version in kube-proxy's image",
        "host-iptables-mode": "the host's iptables backend (nft or legacy)",
        "calico": "Calico",
        "calico-encapsulation": "the Calico encapsulation",
        "calico-iptables-backend": "Felix's iptables backend",
        "spiderpool": "Spiderpool",
        "upstream": "upstream (a band upstream leaves uncertain)",
    },
    "zh": {
        "kubernetes": "Kubernetes 版本",
        "kube-proxy": "kube-proxy 版本",
        "proxy-mode": "kube-proxy 模式",
        "kernel": "内核版本",
        "os": "操作系统",
        "iptables-version": "kube-proxy 镜像中的 iptables 版本",
        "host-iptables-mode": "主机的 iptables 后端（nft 或 legacy）",
        "calico": "Calico 版本",
        "calico-encapsulation": "Calico 封装模式",
        "calico-iptables-backend": "Felix 的 iptables 后端",
        "spiderpool": "Spiderpool 版本",
        "upstream": "上游（上游尚不确定的版本段）",
    },
}

_FEATURE_LABELS_ZH: Final[Mapping[str, str]] = {
    "externalips-etp-local": (
        "是否有 Service 同时使用 spec.externalIPs 和 externalTrafficPolicy: Local"
    ),
    "lb-source-ranges": "是否有 LoadBalancer Service 设置了 spec.loadBalancerSourceRanges",
    "rke2": "集群是否为 RKE2",
    "kubeadm-config-absent": "kube-system/kubeadm-config 是否不存在",
    "spiderpool-kubevirt-static-ip-disabled": "Spiderpool 的 KubeVirt 静态 IP 是否关闭",
    "spiderpool-ip-gc-disabled": "Spiderpool 的 IP 回收是否关闭",
    "spiderpool-coordinator-overlay": "SpiderCoordinator 是否为 auto 或 overlay 模式",
    "spiderpool-multus-disabled": "安装 Spiderpool 时是否关闭了 Multus",
    "spiderpool-subnet-enabled": "是否开启了 SpiderSubnet",
    "cilium": "集群是否使用 Cilium",
}

_FEATURE_LABELS_EN: Final[Mapping[str, str]] = {
    "kubeadm-config-absent": "whether kube-system/kubeadm-config exists",
}


_FEATURE_STATES_EN: Final[Mapping[str, tuple[str, str]]] = {
    "kubeadm-config-absent": (
        "kube-system/kubeadm-config does not exist",
        "kube-system/kubeadm-config exists",
    ),
    "rke2": ("the cluster is RKE2", "the cluster is not RKE2"),
    "cilium": ("Cilium is a CNI of the cluster", "Cilium is not used"),
}


def feature_words(name: str, on: bool, language: str = "en") -> str:
    """A feature's state as a condition: "kube-system/kubeadm-config does not exist"."""
    if language == "zh":
        return f"{fact_label(name, language)}：{'是' if on else '否'}"
    if name in _FEATURE_STATES_EN:
        return _FEATURE_STATES_EN[name][0 if on else 1]
    description = FEATURES[name].description if name in FEATURES else name
    return description if on else f"not ({description})"


def words(language: str) -> Mapping[str, str]:
    """The fixed words of one language (English for any other)."""
    return WORDS[language if language in WORDS else "en"]


def fact_label(key: str, language: str = "en") -> str:
    """A fact key or feature as people say it ("the kernel", "whether ... exists")."""
    lang = language if language in _FACT_LABELS else "en"
    if key in FEATURES:
        if lang == "zh":
            return _FEATURE_LABELS_ZH.get(key, key)
        return _FEATURE_LABELS_EN.get(key, f"whether {FEATURES[key].description}")
    if key in _FACT_LABELS[lang]:
        return _FACT_LABELS[lang][key]
    return FACTS[key].key if key in FACTS else key


def join_or(items: Sequence[str], language: str = "en") -> str:
    """``a, b or c`` (或 in Chinese)."""
    items = list(dict.fromkeys(i for i in items if i))
    if len(items) <= 1:
        return "".join(items)
    glue = "或" if language == "zh" else " or "
    sep = "、" if language == "zh" else ", "
    return sep.join(items[:-1]) + glue + items[-1]


_SHORT: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "kubernetes": "Kubernetes",
        "kube-proxy": "kube-proxy",
        "kernel": "kernel",
        "calico": "Calico",
        "spiderpool": "Spiderpool",
        "proxy-mode": "kube-proxy mode",
        "calico-encapsulation": "Calico encapsulation",
        "calico-iptables-backend": "Felix iptables backend",
        "host-iptables-mode": "host's iptables backend",
        "iptables-version": "iptables",
    },
    "zh": {
        "kubernetes": "Kubernetes",
        "kube-proxy": "kube-proxy",
        "kernel": "内核",
        "calico": "Calico",
        "spiderpool": "Spiderpool",
        "proxy-mode": "kube-proxy 模式",
        "calico-encapsulation": "Calico 封装模式",
        "calico-iptables-backend": "Felix iptables 后端",
        "host-iptables-mode": "主机 iptables 后端",
        "iptables-version": "iptables",
    },
}


_FACT_NOUNS_EN: Final[Mapping[str, str]] = {
    "kubeadm-config-absent": "kube-system/kubeadm-config",
    "externalips-etp-local": "externalIPs with externalTrafficPolicy: Local:",
    "lb-source-ranges": "loadBalancerSourceRanges:",
    "calico-kube-controllers": "calico-kube-controllers replicas:",
}


def fact_name(key: str, language: str = "en") -> str:
    """A fact key as a short noun before its value, in evidence ("kube-proxy mode ipvs")."""
    lang = language if language in _SHORT else "en"
    if key in _SHORT[lang]:
        return _SHORT[lang][key]
    return _FACT_NOUNS_EN.get(key, key)


def change_words(
    key: str, value: str, language: str = "en", *, or_later: bool = True, stated: bool = True
) -> str:
    """One change as advice: ``kernel 5.9 or later``, ``kube-proxy mode iptables``, ``not cilium``.

    ``stated`` is False for a fact the question did not give (then the words are a condition,
    which reads the same for versions and modes).
    """
    table = words(language)
    lang = language if language in _SHORT else "en"
    if key in FEATURES:
        return feature_words(key, value == "on", language)
    name = _SHORT[lang].get(key, key)
    shown = _short_version(value)
    spec = FACTS.get(key)
    if spec is not None and spec.kind.value in ("version", "kernel"):
        return table["upgrade" if or_later else "exactly"].format(name, shown)
    del stated
    return table["set_to"].format(name, value)


def _short_version(value: str) -> str:
    """``5.9.0`` -> ``5.9``; ``3.28.2`` stays."""
    parts = value.split(".")
    while len(parts) > 2 and parts[-1] == "0":
        parts.pop()
    return ".".join(parts)
