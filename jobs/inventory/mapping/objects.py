"""The toolkit every component's mapping uses: checking accessors over raw JSON, the search for
workloads and their containers, and the builder that collects one cluster's facts.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import yaml

from advisories.facts import (
    Domain,
    read_cluster_version,
)
from advisories.fleet import Component, FactEvidence
from jobs.inventory.port import KubeObject, ReadProblem

__all__ = [
    "KUBE_SYSTEM",
    "MAX_NAMES",
    "Builder",
    "Found",
    "as_list",
    "as_map",
    "bool_of",
    "find_container",
    "image_tag",
    "name_of",
    "namespace_of",
    "pod_spec_of",
    "reason_of",
    "ref_of",
    "text_of",
    "yaml_mapping",
]

KUBE_SYSTEM: Final = "kube-system"
MAX_NAMES: Final = 3


# ---------------------------------------------------------------------------------------------
# Checking accessors: every value comes from outside


def as_map(value: Any) -> Mapping[str, Any]:
    """The value if it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """The value if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def text_of(value: Any) -> str | None:
    """The value stripped if it is a non-blank string, else None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def name_of(obj: KubeObject) -> str:
    """``metadata.name`` of an object (``?`` when missing)."""
    return text_of(as_map(obj.get("metadata")).get("name")) or "?"


def namespace_of(obj: KubeObject) -> str | None:
    """``metadata.namespace`` of an object, if any."""
    return text_of(as_map(obj.get("metadata")).get("namespace"))


def bool_of(value: Any) -> bool | None:
    """A JSON boolean or ``"true"``/``"false"`` text; None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def image_tag(image: str) -> str | None:
    """The tag of an image reference (``docker.io/calico/node:v3.19.1@sha256:...`` -> v3.19.1)."""
    reference = image.split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    return last.split(":", 1)[1] or None


def ref_of(kind: str, obj: KubeObject) -> str:
    """``namespace/Kind/name`` (``Kind/name`` when cluster-scoped), for evidence."""
    namespace = namespace_of(obj)
    return f"{namespace}/{kind}/{name_of(obj)}" if namespace else f"{kind}/{name_of(obj)}"


def reason_of(problem: ReadProblem | None, what: str) -> str:
    """Why ``what`` is unknown: not found, or the read problem that hides it."""
    if problem is None:
        return f"{what}: not found"
    return f"{what}: {problem.kind.value} ({problem.message})"


# ---------------------------------------------------------------------------------------------
# Finding workloads and their containers


@dataclass(frozen=True, slots=True)
class Found:
    """A container of a DaemonSet, Deployment or Pod."""

    kind: str
    obj: KubeObject
    container: Mapping[str, Any]
    pod_spec: Mapping[str, Any]

    @property
    def namespace(self) -> str:
        return namespace_of(self.obj) or ""

    @property
    def ref(self) -> str:
        return ref_of(self.kind, self.obj)

    def field(self, path: str) -> str:
        prefix = "spec" if self.kind == "Pod" else "spec.template.spec"
        return f"{prefix}.containers[{text_of(self.container.get('name')) or '?'}].{path}"

    @property
    def image(self) -> str | None:
        return text_of(self.container.get("image"))

    def env(self, name: str) -> tuple[str | None, bool]:
        """(value, set): ``set`` is True when the variable exists (even from a reference)."""
        for var in as_list(self.container.get("env")):
            var = as_map(var)
            if var.get("name") == name:
                value = var.get("value")
                return (value if isinstance(value, str) else None), True
        return None, False

    def words(self) -> list[str]:
        """The container's command and args as separate words (``sh -c`` strings split)."""
        out: list[str] = []
        for item in [*as_list(self.container.get("command")), *as_list(self.container.get("args"))]:
            if not isinstance(item, str):
                continue
            if " " in item.strip():
                try:
                    out.extend(shlex.split(item))
                except ValueError:
                    out.extend(item.split())
            else:
                out.append(item)
        return out

    def flag(self, name: str) -> str | None:
        """The value of ``--name=value`` or ``--name value`` in command and args."""
        words = self.words()
        for index, word in enumerate(words):
            key, equals, value = word.partition("=")
            if key != name:
                continue
            if equals:
                return value
            if index + 1 < len(words) and not words[index + 1].startswith("-"):
                return words[index + 1]
            return ""
        return None


def pod_spec_of(kind: str, obj: KubeObject) -> Mapping[str, Any]:
    """The pod spec of a Pod, or of the template of a DaemonSet or Deployment."""
    spec = as_map(obj.get("spec"))
    if kind == "Pod":
        return spec
    return as_map(as_map(spec.get("template")).get("spec"))


def find_container(
    items: Iterable[KubeObject],
    kind: str,
    container: str,
    names: Sequence[str] = (),
    namespaces: Sequence[str] | None = None,
    prefer_namespaces: Sequence[str] = (),
) -> Found | None:
    """The best workload running a container named ``container``.

    Workloads named one of ``names`` win, then those in ``prefer_namespaces``; ``namespaces``
    restricts the search. Ties keep list order.
    """
    best: tuple[int, Found] | None = None
    for obj in items:
        namespace = namespace_of(obj) or ""
        if namespaces is not None and namespace not in namespaces:
            continue
        spec = pod_spec_of(kind, obj)
        for item in as_list(spec.get("containers")):
            item = as_map(item)
            if item.get("name") != container:
                continue
            score = (2 if name_of(obj) in names else 0) + (
                1 if namespace in prefer_namespaces else 0
            )
            if best is None or score > best[0]:
                best = (score, Found(kind, obj, item, spec))
            break
    return best[1] if best else None


# ---------------------------------------------------------------------------------------------
# The mapping


class Builder:
    """Collects values, raw strings and evidence for one cluster."""

    def __init__(self) -> None:
        self.values: dict[str, Domain] = {}
        self.raw: dict[str, str] = {}
        self.evidence: dict[str, FactEvidence] = {}
        self.components: dict[str, Component] = {}

    def known(self, key: str, domain: Domain, evidence: FactEvidence) -> None:
        self.values[key] = domain
        if evidence.value is not None:
            self.raw[key] = evidence.value
        self.evidence[key] = evidence

    def enum(self, key: str, value: str, evidence: FactEvidence) -> None:
        self.known(key, frozenset({value}), evidence)

    def feature(self, key: str, on: bool, evidence: FactEvidence) -> None:
        self.known(key, frozenset({on}), evidence)

    def version(self, key: str, text: str, evidence: FactEvidence) -> bool:
        """Set a version fact from a string read; unparseable -> unknown, raw kept."""
        domain, problem = read_cluster_version(text)
        if problem is not None:
            self.unknown(key, f"unparseable: {problem}", evidence.object, evidence.field, text)
            return False
        self.known(key, domain, evidence)
        return True

    def unknown(
        self, key: str, reason: str, obj: str = "", field: str = "", value: str | None = None
    ) -> None:
        self.values.pop(key, None)
        if value is not None:
            self.raw[key] = value
        self.evidence[key] = FactEvidence(obj, field, value, reason)


def yaml_mapping(text: str) -> Mapping[str, Any] | None:
    """A YAML document that is a mapping, or None (never raises)."""
    try:
        document = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError):
        return None
    return document if isinstance(document, Mapping) else None
