"""A fake but realistic Kubernetes API server for tests.

It speaks plain HTTP or HTTPS on 127.0.0.1 like a real kube-apiserver, so the real official
``kubernetes`` Python client and the real ``kubectl`` binary can be pointed at it through ordinary
kubeconfig files, with no patching of any client library.

Quick start::

    scenario = {
        "version": {"major": "1", "minor": "30", "gitVersion": "v1.30.4"},
        "objects": [realistic_node("node-1"), {"apiVersion": "v1", "kind": "ConfigMap", ...}],
    }
    with KubeAPIServer(scenario, token="s3cret", tls=True) as server:
        write_kubeconfig(path, [("prod", server, "s3cret")])
        ...
        assert ("", "nodes", "list") in server.rbac_requests()

Everything is read-only except ``coordination.k8s.io/v1`` Leases, which can be created and
replaced with resourceVersion conflicts like on a real server (``server.leases``, see
``tests/servers/leases.py``), for leader election.

Scenario keys (all optional; a plain ``dict``):

``version``
    The ``/version`` document (major, minor, gitVersion, gitCommit, gitTreeState, buildDate,
    goVersion, compiler, platform). Missing keys are filled from ``DEFAULT_VERSION`` and, for
    major/minor, from ``gitVersion``.
``objects``
    Kubernetes objects as dicts (apiVersion, kind, metadata, spec, status...). uid,
    resourceVersion and creationTimestamp are filled in when missing; namespaced objects without a
    namespace go to ``default``. Objects are serialized when the scenario is loaded and partly
    shared with it: do not mutate them while they are served (pass a new scenario to
    ``set_scenario`` instead).
``resources``
    Extra resource types (e.g. CRDs with no objects, or kinds the built-in table does not know):
    dicts with ``group``, ``version``, ``kind`` and optionally ``plural``, ``singular``,
    ``namespaced`` (default False), ``shortNames``, ``categories``.
``implicit_namespaces`` (default True)
    Create Namespace objects for kube-system, kube-public, kube-node-lease, default and every
    namespace an object lives in, unless the scenario defines them.
``implicit_crds`` (default True)
    Serve a CustomResourceDefinition object for every custom resource type present.
``table`` (default True)
    Answer ``as=Table`` Accept headers with a ``meta.k8s.io`` Table. False: ignore them and answer
    the plain JSON object (``Content-Type: application/json``), like a server without Table
    support; a request accepting *only* Table then gets 406. (``as=PartialObjectMetadata`` and
    ``as=PartialObjectMetadataList`` are always served.)
``forbidden``
    Iterable of ``(group, resource)`` or ``(group, resource, verb)`` tuples answering 403
    Forbidden; ``resource`` may be ``"*"``. The core group is ``""``. A SelfSubjectAccessReview
    (``POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews``) of a forbidden
    permission answers ``allowed: false``, of any other ``allowed: true``.
``user`` (default ``system:serviceaccount:netadvisor:netadvisor``)
    The user named in Forbidden messages.
``latency``
    Seconds added to every request.
``hang``
    True (one hour) or a number of seconds: every request waits that long before being answered
    (interrupted by ``stop()``; the connection is then closed without an answer).
``hang_paths``
    Like ``hang`` but only for paths matching one of these ``fnmatch`` globs (one hour).
``errors``
    ``{path glob: HTTP status}``; matching paths answer that status with a real Status object
    (500 InternalError, 503 ServiceUnavailable, 429 TooManyRequests, ...).
``faults``
    ``{path glob: fault}`` answered before the bearer token is looked at, as by a proxy in front
    of the API server or a server that is broken everywhere (glob ``"*"``: every path). A fault
    is ``"redirect URL"`` (302 Found to URL, with the short HTML body and CSRF cookie an
    authenticating proxy such as oauth2-proxy sends), ``"html"`` (200 with an HTML sign-in
    page, ``text/html``), ``500`` (a real InternalError Status) or ``403`` (a real Forbidden
    Status: ``User "system:anonymous" cannot list resource "nodes"...``, or ``cannot get path
    "/version"`` for non-resource paths), or any other status (as ``errors``).
``expire_continue`` (default False)
    Every ``continue`` token is answered 410 Expired (as after an etcd compaction).
``watch_timeout`` (default 5.0)
    How long a watch without ``timeoutSeconds`` stays open (it first sends an ADDED event per
    matching object unless ``resourceVersion`` is given and not "0").

Each request goes through, in order: ``latency``, ``hang``/``hang_paths``, ``faults``, the
bearer token (401), ``errors``, ``forbidden`` (403, checked before the resource is looked up, as
RBAC is), then routing (404 NotFound Status for unknown groups, versions, resources and objects).
Only GET (and HEAD) is served; writes get 405 but are recorded (and map to
create/update/patch/delete).

Lists come sorted by namespace then name (etcd key order), as typed List objects (items of
built-in kinds without kind/apiVersion), honouring ``limit``/``continue`` (opaque tokens,
``remainingItemCount`` when not filtering), ``labelSelector`` and ``fieldSelector``.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import dataclasses
import fnmatch
import hashlib
import hmac
import json
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from tests.servers.leases import GROUP as LEASE_GROUP
from tests.servers.leases import LeaseStore
from tests.servers.loopback import LoopbackHTTPServer, Stoppable

__all__ = [
    "BUILTIN_RESOURCES",
    "DEFAULT_VERSION",
    "KNOWN_CUSTOM_RESOURCES",
    "KubeAPIServer",
    "RBACAttributes",
    "RecordedRequest",
    "ResourceType",
    "exec_plugin",
    "human_duration",
    "rbac_attributes",
    "realistic_node",
    "status_object",
    "write_kubeconfig",
]

JSON = dict[str, Any]

#: The /version document served when the scenario gives none (missing keys are taken from it).
DEFAULT_VERSION: dict[str, str] = {
    "major": "1",
    "minor": "30",
    "gitVersion": "v1.30.4",
    "gitCommit": "a51b3b711150f57ffc1f526a640ec058514ed596",
    "gitTreeState": "clean",
    "buildDate": "2024-08-14T19:04:44Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}

DEFAULT_USER = "system:serviceaccount:netadvisor:netadvisor"
ALL_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)
_BUILTIN_GROUPS = frozenset({"", "apps", "apiextensions.k8s.io", "coordination.k8s.io"})
_STATUS_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
_NOT_FOUND_MESSAGE = "the server could not find the requested resource"
_GONE_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this response "
    "to retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first chunk was returned and now may show up in the list."
)
_HANG_FOREVER = 3600.0


# --------------------------------------------------------------------------------------------
# Resource types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceType:
    """One REST resource as discovery describes it (``/apis/{group}/{version}``)."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``group/version`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def builtin(self) -> bool:
        """True for types compiled into kube-apiserver (typed lists strip items' kind)."""
        return self.group in _BUILTIN_GROUPS

    @property
    def group_resource(self) -> str:
        """``plural.group`` (just ``plural`` for the core group), as in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def with_version(self, version: str) -> ResourceType:
        """The same type served at another version."""
        return dataclasses.replace(self, version=version)


def _rt(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    sub: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(
        group, version, kind, plural, kind.lower(), namespaced, short, categories, verbs, sub
    )


_NS_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")

#: Resource types a real cluster always serves (present in discovery even with no objects).
BUILTIN_RESOURCES: tuple[ResourceType, ...] = (
    _rt("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    _rt("", "v1", "Endpoints", "endpoints", True, ("ep",)),
    _rt("", "v1", "Event", "events", True, ("ev",)),
    _rt("", "v1", "Namespace", "namespaces", False, ("ns",), (), _NS_VERBS, ("finalize", "status")),
    _rt("", "v1", "Node", "nodes", False, ("no",), (), ALL_VERBS, ("proxy", "status")),
    _rt("", "v1", "Pod", "pods", True, ("po",), ("all",), ALL_VERBS, ("log", "status")),
    _rt("", "v1", "Secret", "secrets", True),
    _rt("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    _rt(
        "",
        "v1",
        "Service",
        "services",
        True,
        ("svc",),
        ("all",),
        ALL_VERBS,
        ("proxy", "status"),
    ),
    _rt("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), ("all",), ALL_VERBS, ("status",)),
    _rt(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        True,
        ("deploy",),
        ("all",),
        ALL_VERBS,
        ("scale", "status"),
    ),
    _rt("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), ("all",), ALL_VERBS, ("status",)),
    _rt("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), ("all",), ALL_VERBS),
    # Writable (create, replace): served by tests/servers/leases.py for leader election.
    _rt("coordination.k8s.io", "v1", "Lease", "leases", True),
    _rt(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        ("api-extensions",),
        ALL_VERBS,
        ("status",),
    ),
)

_CALICO = "crd.projectcalico.org"
_TIGERA = "operator.tigera.io"
_SPIDER = "spiderpool.spidernet.io"

#: Custom resource types known by kind, used when a scenario object has one of these kinds; they
#: are served (and appear in discovery) only when the scenario has objects of that type or
#: registers it under ``resources``.
KNOWN_CUSTOM_RESOURCES: tuple[ResourceType, ...] = (
    _rt(_CALICO, "v1", "IPPool", "ippools", False),
    _rt(_CALICO, "v1", "IPAMBlock", "ipamblocks", False),
    _rt(_CALICO, "v1", "BlockAffinity", "blockaffinities", False),
    _rt(_CALICO, "v1", "FelixConfiguration", "felixconfigurations", False),
    _rt(_CALICO, "v1", "ClusterInformation", "clusterinformations", False),
    _rt(_CALICO, "v1", "BGPConfiguration", "bgpconfigurations", False),
    _rt(_CALICO, "v1", "BGPPeer", "bgppeers", False),
    _rt(_CALICO, "v1", "KubeControllersConfiguration", "kubecontrollersconfigurations", False),
    _rt(_CALICO, "v1", "GlobalNetworkPolicy", "globalnetworkpolicies", False),
    _rt(_CALICO, "v1", "NetworkPolicy", "networkpolicies", True),
    _rt(_TIGERA, "v1", "Installation", "installations", False),
    _rt(_TIGERA, "v1", "APIServer", "apiservers", False),
    _rt(_TIGERA, "v1", "TigeraStatus", "tigerastatuses", False),
    _rt(_SPIDER, "v2beta1", "SpiderCoordinator", "spidercoordinators", False, ("scc",)),
    _rt(_SPIDER, "v2beta1", "SpiderIPPool", "spiderippools", False, ("sp",)),
    _rt(_SPIDER, "v2beta1", "SpiderSubnet", "spidersubnets", False, ("ss",)),
    _rt(_SPIDER, "v2beta1", "SpiderReservedIP", "spiderreservedips", False, ("sr",)),
    _rt(_SPIDER, "v2beta1", "SpiderMultusConfig", "spidermultusconfigs", True, ("smc",)),
    _rt(_SPIDER, "v2beta1", "SpiderEndpoint", "spiderendpoints", True, ("se",)),
    _rt("k8s.cni.cncf.io", "v1", "NetworkAttachmentDefinition", "network-attachment-definitions",
        True, ("net-attach-def",)),
    _rt("cilium.io", "v2", "CiliumNode", "ciliumnodes", False, ("cn",)),
)  # fmt: skip


def _guess_plural(kind: str) -> str:
    low = kind.lower()
    if low.endswith("y") and not low.endswith(("ay", "ey", "oy", "uy")):
        return low[:-1] + "ies"
    if low.endswith(("s", "x", "ch", "sh")):
        return low + "es"
    return low + "s"


def _version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key putting versions in Kubernetes priority order (v2, v1, v1beta2, v1beta1, ...)."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0, version)
    stability = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (stability, -int(m.group(1)), -int(m.group(3) or 0), version)


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


# --------------------------------------------------------------------------------------------
# Small helpers: time, statuses, selectors
# --------------------------------------------------------------------------------------------


def _rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """Format an age exactly like Kubernetes' ``duration.HumanDuration`` (``5d``, ``3h10m``)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m" if rem == 0 else f"{minutes}m{rem}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rem = minutes % 60
        return f"{hours}h" if rem == 0 else f"{hours}h{rem}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d" if rem == 0 else f"{hours // 24}d{rem}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rem = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if rem == 0 else f"{hours // 24 // 365}y{rem}d"
    return f"{hours // 24 // 365}y"


def _age(obj: JSON) -> str:
    created = _parse_time(obj.get("metadata", {}).get("creationTimestamp"))
    if created is None:
        return "<unknown>"
    return human_duration((datetime.now(UTC) - created).total_seconds())


def status_object(
    code: int,
    message: str,
    *,
    reason: str | None = None,
    details: JSON | None = None,
    metadata: JSON | None = None,
) -> JSON:
    """A ``v1 Status`` failure object as kube-apiserver writes it."""
    status: JSON = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": metadata or {},
        "status": "Failure",
        "message": message,
        "reason": reason if reason is not None else _STATUS_REASONS.get(code, "Unknown"),
    }
    if details is not None:
        status["details"] = details
    status["code"] = code
    return status


class _SelectorError(ValueError):
    pass


def _split_selector(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


_SET_RE = re.compile(r"^(\S+)\s+(in|notin)\s+\((.*)\)$")
_KEY_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$")

Matcher = Callable[[Mapping[str, str]], bool]


def _label_matcher(key: str, values: frozenset[str] | None, positive: bool) -> Matcher:
    """``key in values`` (``values`` None: the key exists), negated when not ``positive``."""

    def match(labels: Mapping[str, str]) -> bool:
        hit = key in labels if values is None else labels.get(key) in values
        return hit == positive

    return match


def parse_label_selector(text: str) -> list[Matcher]:
    """Parse a label selector (``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a)``,
    ``k``, ``!k``) into matchers; raise ValueError on a malformed one."""
    matchers: list[Matcher] = []
    for req in _split_selector(text):
        m = _SET_RE.match(req)
        if m:
            key, op, raw = m.group(1), m.group(2), m.group(3)
            values = frozenset(v.strip() for v in raw.split(",") if v.strip())
            matchers.append(_label_matcher(key, values, op == "in"))
            continue
        for op in ("!=", "==", "="):
            if op in req:
                key, _, value = (s.strip() for s in req.partition(op))
                if not _KEY_RE.match(key):
                    raise _SelectorError(f"unable to parse requirement: invalid label key {key!r}")
                matchers.append(_label_matcher(key, frozenset({value}), op != "!="))
                break
        else:
            negate = req.startswith("!")
            key = req[1:].strip() if negate else req
            if not _KEY_RE.match(key):
                raise _SelectorError(f"unable to parse requirement: invalid label key {key!r}")
            matchers.append(_label_matcher(key, None, not negate))
    return matchers


_FIELDS_ALL = ("metadata.name", "metadata.namespace")
_FIELDS_EXTRA: dict[str, tuple[str, ...]] = {
    "pods": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "status.phase",
             "status.podIP", "spec.serviceAccountName", "spec.hostNetwork"),
    "nodes": ("spec.unschedulable",),
    "namespaces": ("status.phase",),
    "events": ("involvedObject.kind", "involvedObject.name", "involvedObject.namespace",
               "reason", "type", "source"),
    "secrets": ("type",),
}  # fmt: skip


def _field_value(obj: JSON, path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_field_selector(text: str, plural: str) -> list[Callable[[JSON], bool]]:
    """Parse a field selector (``f=v``, ``f==v``, ``f!=v``) for ``plural``; raise ValueError for
    fields the real server does not support on that resource."""
    supported = _FIELDS_ALL + _FIELDS_EXTRA.get(plural, ())
    matchers: list[Callable[[JSON], bool]] = []
    for req in _split_selector(text):
        for op in ("!=", "==", "="):
            if op in req:
                key, _, value = (s.strip() for s in req.partition(op))
                break
        else:
            raise _SelectorError(f"invalid selector: '{req}'; can't understand '{req}'")
        if key not in supported:
            raise _SelectorError(f"field label not supported: {key}")
        matchers.append(_field_matcher(key, value, op != "!="))
    return matchers


def _field_matcher(key: str, value: str, positive: bool) -> Callable[[JSON], bool]:
    def match(obj: JSON) -> bool:
        return (_field_value(obj, key) == value) == positive

    return match


# --------------------------------------------------------------------------------------------
# The object store built from a scenario
# --------------------------------------------------------------------------------------------


class _Stored:
    """One object with its pre-serialized forms (serialized once, when the scenario loads)."""

    __slots__ = ("_meta", "full", "item", "key", "labels", "name", "namespace", "obj")

    def __init__(self, obj: JSON, rtype: ResourceType) -> None:
        meta = obj["metadata"]
        self.obj = obj
        self.name: str = meta["name"]
        self.namespace: str = meta.get("namespace") or ""
        self.key = f"{self.namespace}/{self.name}" if self.namespace else self.name
        self.labels: Mapping[str, str] = meta.get("labels") or {}
        body = json.dumps(
            {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")},
            separators=(",", ":"),
        ).encode()
        head = json.dumps(
            {"kind": rtype.kind, "apiVersion": rtype.api_version}, separators=(",", ":")
        ).encode()
        #: The object as a GET answers it: kind and apiVersion first, as the real server writes.
        self.full = head[:-1] + b"," + body[1:] if len(body) > 2 else head
        #: The object as a list item: typed (built-in) lists omit the items' kind and apiVersion.
        self.item = body if rtype.builtin else self.full
        self._meta: bytes | None = None

    @property
    def meta(self) -> bytes:
        """The serialized metadata (for Table rows and PartialObjectMetadata), made on demand."""
        if self._meta is None:
            self._meta = json.dumps(self.obj["metadata"], separators=(",", ":")).encode()
        return self._meta


class _Bucket:
    """All objects of one resource type, sorted by storage key like etcd returns them."""

    def __init__(self, rtype: ResourceType) -> None:
        self.rtype = rtype
        self.keys: list[str] = []
        self.items: list[_Stored] = []
        self.by_key: dict[str, _Stored] = {}

    def finish(self, stored: list[_Stored]) -> None:
        stored.sort(key=lambda s: s.key.encode())
        self.items = stored
        self.keys = [s.key for s in stored]
        self.by_key = {s.key: s for s in stored}

    def span(self, namespace: str | None) -> tuple[int, int]:
        """Index range of the objects of ``namespace`` (all objects when None)."""
        if namespace is None:
            return 0, len(self.keys)
        return (
            bisect.bisect_left(self.keys, namespace + "/"),
            bisect.bisect_left(self.keys, namespace + "0"),  # "0" sorts right after "/"
        )


class _Store:
    """The immutable content served for one scenario."""

    def __init__(self, scenario: Mapping[str, Any]) -> None:
        self.scenario = scenario
        version = dict(DEFAULT_VERSION)
        given = dict(scenario.get("version") or {})
        if "gitVersion" in given and ("major" not in given or "minor" not in given):
            m = re.match(r"v?(\d+)\.(\d+)", given["gitVersion"])
            if m:
                given.setdefault("major", m.group(1))
                given.setdefault("minor", m.group(2))
        version.update(given)
        self.version = version
        self.table = bool(scenario.get("table", True))

        known = {(r.group, r.kind): r for r in BUILTIN_RESOURCES + KNOWN_CUSTOM_RESOURCES}
        self.types: dict[tuple[str, str, str], ResourceType] = {}
        for rt in BUILTIN_RESOURCES:
            self.types[(rt.group, rt.version, rt.plural)] = rt
        for spec in scenario.get("resources") or ():
            rt = _resource_from_spec(spec)
            self.types[(rt.group, rt.version, rt.plural)] = rt
            known[(rt.group, rt.kind)] = rt

        objects: list[tuple[ResourceType, JSON]] = []
        revision = 0
        for raw in scenario.get("objects") or ():
            # Copy what the server changes (metadata); the rest is shared with the scenario,
            # which must not be mutated while it is served (pass a new one to set_scenario).
            obj = dict(raw)
            obj["metadata"] = dict(obj.get("metadata") or {})
            group, version_ = _split_api_version(obj.get("apiVersion", ""))
            kind = obj.get("kind", "")
            if not version_ or not kind:
                raise ValueError(f"object without apiVersion/kind: {raw!r:.200}")
            rt = self._type_for(known, group, version_, kind, obj)
            objects.append((rt, obj))
            rv = str(obj.get("metadata", {}).get("resourceVersion", ""))
            if rv.isdigit():
                revision = max(revision, int(rv))

        if scenario.get("implicit_namespaces", True):
            present = {
                o["metadata"].get("name")
                for rt, o in objects
                if (rt.group, rt.kind) == ("", "Namespace")
            }
            wanted = ["default", "kube-node-lease", "kube-public", "kube-system"]
            wanted += [o["metadata"].get("namespace") for rt, o in objects if rt.namespaced]
            ns_rt = self.types[("", "v1", "namespaces")]
            for ns in dict.fromkeys(n for n in wanted if n):
                if ns not in present:
                    present.add(ns)
                    objects.append((ns_rt, _namespace_object(ns)))

        if scenario.get("implicit_crds", True):
            crd_rt = self.types[("apiextensions.k8s.io", "v1", "customresourcedefinitions")]
            present = {o["metadata"].get("name") for rt, o in objects if rt is crd_rt}
            custom: dict[str, list[ResourceType]] = {}
            for rt in self.types.values():
                if not rt.builtin:
                    custom.setdefault(rt.group_resource, []).append(rt)
            for name, rts in sorted(custom.items()):
                if name not in present:
                    objects.append((crd_rt, _crd_object(rts)))

        created_default = _rfc3339(datetime.now(UTC) - timedelta(days=30))
        buckets: dict[tuple[str, str, str], list[_Stored]] = {k: [] for k in self.types}
        for rt, obj in objects:
            meta = obj.setdefault("metadata", {})
            if not meta.get("name"):
                raise ValueError(f"{rt.kind} without metadata.name")
            if rt.namespaced:
                meta.setdefault("namespace", "default")
            else:
                meta.pop("namespace", None)
            meta.setdefault(
                "uid",
                str(
                    uuid.uuid5(
                        uuid.NAMESPACE_URL,
                        f"{rt.group_resource}/{meta.get('namespace', '')}/{meta['name']}",
                    )
                ),
            )
            if not str(meta.get("resourceVersion", "")).isdigit():
                revision += 1
                meta["resourceVersion"] = str(revision)
            meta.setdefault("creationTimestamp", created_default)
            obj["metadata"] = {**_META_ORDER_HINT, **meta}
            for k in list(obj["metadata"]):
                if obj["metadata"][k] is None:
                    del obj["metadata"][k]
            buckets[(rt.group, rt.version, rt.plural)].append(_Stored(obj, rt))

        self.revision = revision + 1
        self.buckets: dict[tuple[str, str, str], _Bucket] = {}
        for key, stored in buckets.items():
            bucket = _Bucket(self.types[key])
            bucket.finish(stored)
            dupes = len(bucket.keys) - len(bucket.by_key)
            if dupes:
                raise ValueError(f"{dupes} duplicate {key[2]} object(s) in the scenario")
            self.buckets[key] = bucket

        self.groups: dict[str, list[str]] = {}
        for g, v, _ in self.types:
            versions = self.groups.setdefault(g, [])
            if v not in versions:
                versions.append(v)
        for versions in self.groups.values():
            versions.sort(key=_version_priority)

        self.forbidden: set[tuple[str, ...]] = {tuple(f) for f in scenario.get("forbidden") or ()}
        self.user: str = scenario.get("user", DEFAULT_USER)
        self.latency = float(scenario.get("latency") or 0.0)
        hang = scenario.get("hang") or 0.0
        self.hang = _HANG_FOREVER if hang is True else float(hang)
        self.hang_paths: tuple[str, ...] = tuple(scenario.get("hang_paths") or ())
        self.errors: dict[str, int] = dict(scenario.get("errors") or {})
        self.faults: dict[str, int | str] = dict(scenario.get("faults") or {})
        for glob, fault in self.faults.items():
            if not isinstance(fault, int) and fault != "html" and not fault.startswith("redirect "):
                raise ValueError(f"faults[{glob!r}]: {fault!r} is not a fault")
        self.expire_continue = bool(scenario.get("expire_continue", False))
        self.watch_timeout = float(scenario.get("watch_timeout", 5.0))

    def _type_for(
        self,
        known: dict[tuple[str, str], ResourceType],
        group: str,
        version: str,
        kind: str,
        obj: JSON,
    ) -> ResourceType:
        for rt in self.types.values():
            if (rt.group, rt.version, rt.kind) == (group, version, kind):
                return rt
        base = known.get((group, kind))
        if base is not None:
            rt = base.with_version(version)
        else:
            namespaced = bool(obj.get("metadata", {}).get("namespace"))
            plural = _guess_plural(kind)
            rt = ResourceType(group, version, kind, plural, kind.lower(), namespaced)
        self.types[(rt.group, rt.version, rt.plural)] = rt
        return rt

    def is_forbidden(self, group: str, resource: str, verb: str) -> bool:
        """Whether the scenario forbids ``verb`` on ``group``/``resource``."""
        f = self.forbidden
        return any(key in f for r in (resource, "*") for key in ((group, r), (group, r, verb)))


_META_ORDER_HINT: JSON = {
    "name": None,
    "generateName": None,
    "namespace": None,
    "uid": None,
    "resourceVersion": None,
    "generation": None,
    "creationTimestamp": None,
}


def _resource_from_spec(spec: Mapping[str, Any]) -> ResourceType:
    kind = spec["kind"]
    return ResourceType(
        group=spec.get("group", ""),
        version=spec.get("version", "v1"),
        kind=kind,
        plural=spec.get("plural") or _guess_plural(kind),
        singular=spec.get("singular") or kind.lower(),
        namespaced=bool(spec.get("namespaced", False)),
        short_names=tuple(spec.get("shortNames") or ()),
        categories=tuple(spec.get("categories") or ()),
        verbs=tuple(spec.get("verbs") or ALL_VERBS),
        subresources=tuple(spec.get("subresources") or ()),
    )


def _namespace_object(name: str) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _crd_object(rts: list[ResourceType]) -> JSON:
    rts = sorted(rts, key=lambda r: _version_priority(r.version))
    rt = rts[0]
    names: JSON = {
        "kind": rt.kind,
        "listKind": rt.kind + "List",
        "plural": rt.plural,
        "singular": rt.singular,
    }
    if rt.short_names:
        names["shortNames"] = list(rt.short_names)
    if rt.categories:
        names["categories"] = list(rt.categories)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": rt.group_resource, "generation": 1},
        "spec": {
            "conversion": {"strategy": "None"},
            "group": rt.group,
            "names": names,
            "scope": "Namespaced" if rt.namespaced else "Cluster",
            "versions": [
                {
                    "name": r.version,
                    "served": True,
                    "storage": i == 0,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
                for i, r in enumerate(rts)
            ],
        },
        "status": {
            "acceptedNames": names,
            "conditions": [
                {
                    "lastTransitionTime": _rfc3339(datetime.now(UTC) - timedelta(days=30)),
                    "message": "no conflicts found",
                    "reason": "NoConflicts",
                    "status": "True",
                    "type": "NamesAccepted",
                },
                {
                    "lastTransitionTime": _rfc3339(datetime.now(UTC) - timedelta(days=30)),
                    "message": "the initial names have been accepted",
                    "reason": "InitialNamesAccepted",
                    "status": "True",
                    "type": "Established",
                },
            ],
            "storedVersions": [rt.version],
        },
    }


# --------------------------------------------------------------------------------------------
# Server-side printing (meta.k8s.io Table)
# --------------------------------------------------------------------------------------------

_NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name automatically. "
    "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
    "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_AGE_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. "
    "It is not guaranteed to be set in happens-before order across separate operations. Clients "
    "may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the "
    "system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)


def _col(
    name: str, description: str = "", *, priority: int = 0, fmt: str = "", type_: str = "string"
) -> JSON:
    return {
        "name": name,
        "type": type_,
        "format": fmt,
        "description": description,
        "priority": priority,
    }


_NAME_COL = _col("Name", _NAME_DOC, fmt="name")
_AGE_COL = _col("Age", _AGE_DOC)


def _none(value: Any) -> Any:
    return "<none>" if value in (None, "", [], {}) else value


def _selector_text(selector: Mapping[str, Any] | None) -> str:
    """``k=v,k2 in (a,b)`` for a LabelSelector or a plain label map (e.g. a nodeSelector)."""
    if not selector:
        return "<none>"
    labels = selector.get("matchLabels", selector)
    parts = [f"{k}={v}" for k, v in sorted(labels.items()) if isinstance(v, str)]
    for expr in selector.get("matchExpressions") or ():
        op = expr.get("operator", "").lower()
        parts.append(f"{expr.get('key')} {op} ({','.join(expr.get('values') or ())})")
    return ",".join(parts) or "<none>"


def _containers_images(spec: JSON) -> tuple[str, str]:
    containers = spec.get("template", {}).get("spec", {}).get("containers") or []
    names = ",".join(c.get("name", "") for c in containers)
    images = ",".join(c.get("image", "") for c in containers)
    return _none(names), _none(images)


def _node_roles(labels: Mapping[str, str]) -> str:
    roles: set[str] = set()
    for k, v in labels.items():
        if k.startswith("node-role.kubernetes.io/"):
            role = k.removeprefix("node-role.kubernetes.io/")
            if role:
                roles.add(role)
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    return ",".join(sorted(roles)) or "<none>"


def _node_address(obj: JSON, kind: str) -> str:
    for addr in obj.get("status", {}).get("addresses") or ():
        if addr.get("type") == kind:
            return str(addr.get("address"))
    return "<none>"


def _node_cells(obj: JSON) -> list[Any]:
    status = obj.get("status", {})
    states: list[str] = []
    for cond in status.get("conditions") or ():
        if cond.get("type") == "Ready":
            states.append("Ready" if cond.get("status") == "True" else "NotReady")
    if not states:
        states.append("Unknown")
    if obj.get("spec", {}).get("unschedulable"):
        states.append("SchedulingDisabled")
    info = status.get("nodeInfo", {})
    return [
        obj["metadata"]["name"],
        ",".join(states),
        _node_roles(obj["metadata"].get("labels") or {}),
        _age(obj),
        info.get("kubeletVersion", ""),
        _node_address(obj, "InternalIP"),
        _node_address(obj, "ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _pod_cells(obj: JSON) -> list[Any]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for c in statuses:
        waiting = (c.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
    if obj["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return [
        obj["metadata"]["name"],
        f"{ready}/{len(spec.get('containers') or [])}",
        reason,
        restarts,
        _age(obj),
        _none(status.get("podIP")),
        _none(spec.get("nodeName")),
        _none(status.get("nominatedNodeName")),
        "<none>",
    ]


def _service_ports(spec: JSON) -> str:
    ports = []
    for p in spec.get("ports") or ():
        text = str(p.get("port"))
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        ports.append(f"{text}/{p.get('protocol', 'TCP')}")
    return ",".join(ports) or "<none>"


def _service_cells(obj: JSON) -> list[Any]:
    spec = obj.get("spec", {})
    svc_type = spec.get("type", "ClusterIP")
    external = list(spec.get("externalIPs") or ())
    if svc_type == "LoadBalancer":
        ingress = obj.get("status", {}).get("loadBalancer", {}).get("ingress") or []
        external += [i.get("ip") or i.get("hostname") for i in ingress]
        external_text = ",".join(external) or "<pending>"
    elif svc_type == "ExternalName":
        external_text = spec.get("externalName", "<none>")
    else:
        external_text = ",".join(external) or "<none>"
    return [
        obj["metadata"]["name"],
        svc_type,
        _none(spec.get("clusterIP")),
        external_text,
        _service_ports(spec),
        _age(obj),
        _selector_text(spec.get("selector")),
    ]


def _daemonset_cells(obj: JSON) -> list[Any]:
    spec, st = obj.get("spec", {}), obj.get("status", {})
    node_selector = spec.get("template", {}).get("spec", {}).get("nodeSelector")
    containers, images = _containers_images(spec)
    return [
        obj["metadata"]["name"],
        int(st.get("desiredNumberScheduled") or 0),
        int(st.get("currentNumberScheduled") or 0),
        int(st.get("numberReady") or 0),
        int(st.get("updatedNumberScheduled") or 0),
        int(st.get("numberAvailable") or 0),
        _selector_text(node_selector),
        _age(obj),
        containers,
        images,
        _selector_text(spec.get("selector")),
    ]


def _deployment_cells(obj: JSON) -> list[Any]:
    spec, st = obj.get("spec", {}), obj.get("status", {})
    containers, images = _containers_images(spec)
    return [
        obj["metadata"]["name"],
        f"{int(st.get('readyReplicas') or 0)}/{int(spec.get('replicas', 1))}",
        int(st.get("updatedReplicas") or 0),
        int(st.get("availableReplicas") or 0),
        _age(obj),
        containers,
        images,
        _selector_text(spec.get("selector")),
    ]


def _cols(*specs: str) -> list[JSON]:
    """Column definitions from ``"Name|description"`` specs; a ``*`` before the name marks a wide
    (priority 1) column, ``#`` an integer one."""
    cols = []
    for spec in specs:
        name, _, doc = spec.partition("|")
        wide, name = name.startswith("*"), name.lstrip("*")
        integer, name = name.startswith("#"), name.lstrip("#")
        if name == "Name":
            cols.append(_NAME_COL)
        elif name == "Age":
            cols.append(_AGE_COL)
        else:
            cols.append(
                _col(name, doc, priority=int(wide), type_="integer" if integer else "string")
            )
    return cols


_TEMPLATE = "*Containers|Names of each container in the template."
_IMAGES = "*Images|Images referenced by each container in the template."

_TABLES: dict[tuple[str, str], tuple[list[JSON], Callable[[JSON], list[Any]]]] = {
    ("", "nodes"): (
        _cols(
            "Name",
            "Status|The status of the node",
            "Roles|The roles of the node",
            "Age",
            "Version|Kubelet Version reported by the node.",
            "*Internal-IP|List of addresses reachable to the node.",
            "*External-IP|List of addresses reachable to the node.",
            "*OS-Image|OS Image reported by the node from /etc/os-release.",
            "*Kernel-Version|Kernel Version reported by the node from 'uname -r'.",
            "*Container-Runtime|ContainerRuntime Version reported by the node through runtime "
            "remote API (e.g. containerd://1.4.2).",
        ),
        _node_cells,
    ),
    ("", "namespaces"): (
        _cols("Name", "Status|The status of the namespace", "Age"),
        lambda o: [o["metadata"]["name"], o.get("status", {}).get("phase", "Active"), _age(o)],
    ),
    ("", "configmaps"): (
        _cols("Name", "#Data|Data contains the configuration data.", "Age"),
        lambda o: [
            o["metadata"]["name"],
            len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            _age(o),
        ],
    ),
    ("", "pods"): (
        _cols(
            "Name",
            "Ready|The aggregate readiness state of this pod for accepting traffic.",
            "Status|The aggregate status of the containers in this pod.",
            "Restarts|The number of times the containers in this pod have been restarted.",
            "Age",
            "*IP|IP address allocated to the pod. Routable at least within the cluster.",
            "*Node|NodeName is a request to schedule this pod onto a specific node.",
            "*Nominated Node|nominatedNodeName is set only when this pod preempts other pods.",
            "*Readiness Gates|If specified, all readiness gates will be evaluated.",
        ),
        _pod_cells,
    ),
    ("", "services"): (
        _cols(
            "Name",
            "Type|type determines how the Service is exposed.",
            "Cluster-IP|clusterIP is the IP address of the service.",
            "External-IP|externalIPs is a list of IP addresses for which nodes in the cluster "
            "will also accept traffic for this service.",
            "Port(s)|The list of ports that are exposed by this service.",
            "Age",
            "*Selector|Route service traffic to pods with labels matching this selector.",
        ),
        _service_cells,
    ),
    ("apps", "daemonsets"): (
        _cols(
            "Name",
            "#Desired|The total number of nodes that should be running the daemon pod.",
            "#Current|The number of nodes that are running at least 1 daemon pod.",
            "#Ready|The number of nodes that should be running the daemon pod and have one or "
            "more of the daemon pod running with a Ready Condition.",
            "#Up-to-date|The total number of nodes that are running updated daemon pod",
            "#Available|The number of nodes that should be running the daemon pod and have one "
            "or more of the daemon pod running and available.",
            "Node Selector|NodeSelector is a selector which must be true for the pod to fit.",
            "Age",
            _TEMPLATE,
            _IMAGES,
            "*Selector|A label query over pods that are managed by the daemon set.",
        ),
        _daemonset_cells,
    ),
    ("apps", "deployments"): (
        _cols(
            "Name",
            "Ready|Number of the pod with ready state",
            "#Up-to-date|Total number of non-terminated pods targeted by this deployment that "
            "have the desired template spec.",
            "#Available|Total number of available pods targeted by this deployment.",
            "Age",
            _TEMPLATE,
            _IMAGES,
            "*Selector|Label selector for pods.",
        ),
        _deployment_cells,
    ),
}

_GENERIC_TABLE: tuple[list[JSON], Callable[[JSON], list[Any]]] = (
    [_NAME_COL, _col("Age", _AGE_DOC, type_="date")],
    lambda o: [o["metadata"]["name"], _age(o)],
)


def _table_for(rt: ResourceType) -> tuple[list[JSON], Callable[[JSON], list[Any]]]:
    return _TABLES.get((rt.group, rt.plural), _GENERIC_TABLE)


# --------------------------------------------------------------------------------------------
# Request paths as kube-apiserver's RequestInfo sees them, and request recording
# --------------------------------------------------------------------------------------------


class _ResourcePath(NamedTuple):
    group: str
    version: str
    resource: str
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_path: bool  # the deprecated /watch/ prefix


def _parse_resource_path(path: str) -> _ResourcePath | None:
    """Split ``/api/v1/...`` or ``/apis/{g}/{v}/...`` into its parts (None: not a resource)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch_path = bool(rest) and rest[0] == "watch"
    if watch_path:
        rest = rest[1:]
    if not rest:
        return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else None
    sub = "/".join(rest[2:]) or None
    return _ResourcePath(group, version, resource, namespace, name, sub, watch_path)


class RBACAttributes(NamedTuple):
    """What RBAC authorizes for a request: API group ("" for core), resource, verb.

    ``resource`` carries the subresource RBAC-style (``pods/log``). Being a NamedTuple it compares
    equal to a plain ``(group, resource, verb)`` tuple.
    """

    group: str
    resource: str
    verb: str


_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def rbac_attributes(
    method: str, path: str, query: Mapping[str, str] | None = None
) -> RBACAttributes | None:
    """Map one HTTP request to RBAC (group, resource, verb); None for non-resource URLs such as
    ``/version``, ``/api``, ``/apis/{group}/{version}`` or ``/healthz``."""
    rp = _parse_resource_path(path)
    if rp is None:
        return None
    query = query or {}
    resource = f"{rp.resource}/{rp.subresource}" if rp.subresource else rp.resource
    method = method.upper()
    if method in ("GET", "HEAD"):
        if rp.watch_path or query.get("watch", "").lower() in ("true", "1"):
            verb = "watch"
        else:
            verb = "get" if rp.name else "list"
    elif method == "DELETE":
        verb = "delete" if rp.name else "deletecollection"
    else:
        verb = _METHOD_VERBS.get(method, method.lower())
    return RBACAttributes(rp.group, resource, verb)


_SSAR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"

_RECORDED_HEADERS = ("Accept", "Authorization", "User-Agent", "Content-Type")


@dataclass
class RecordedRequest:
    """One request the server received (recorded as it arrives; ``status`` once answered)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int | None = None
    time: float = field(default_factory=time.time)
    body: bytes = b""
    """The request body (POST and PUT of Leases carry one)."""

    @property
    def rbac(self) -> RBACAttributes | None:
        """This request as RBAC sees it (None for a non-resource URL)."""
        return rbac_attributes(self.method, self.path, self.query)


# --------------------------------------------------------------------------------------------
# Content negotiation
# --------------------------------------------------------------------------------------------


class _MediaChoice(NamedTuple):
    form: str  # "json", "table" or "partial"
    meta_version: str  # meta.k8s.io version for table/partial forms


_NOT_ACCEPTABLE = (
    "only the following media types are accepted: application/json, application/yaml, "
    "application/vnd.kubernetes.protobuf"
)


def _negotiate(accept: str | None, *, table_ok: bool) -> _MediaChoice | None:
    """Pick the response form for an Accept header the way kube-apiserver does: the first clause
    it can serve wins; None if none can be served (406)."""
    if not accept:
        return _MediaChoice("json", "")
    for clause in accept.split(","):
        pieces = [p.strip() for p in clause.split(";")]
        mime = pieces[0].lower()
        params: dict[str, str] = {}
        for p in pieces[1:]:
            k, _, v = p.partition("=")
            params[k.strip().lower()] = v.strip()
        if mime not in ("application/json", "application/*", "*/*", "*"):
            continue
        as_kind = params.get("as")
        if not as_kind:
            return _MediaChoice("json", "")
        if params.get("g") != "meta.k8s.io" or params.get("v") not in ("v1", "v1beta1"):
            continue
        if as_kind == "Table" and table_ok:
            return _MediaChoice("table", params["v"])
        if as_kind in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            return _MediaChoice("partial", params["v"])
    return None


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None


def _json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> _Response:
    return _Response(status, json.dumps(obj, separators=(",", ":")).encode(), headers=headers or {})


def _status_response(code: int, message: str, **kwargs: Any) -> _Response:
    return _json_response(code, status_object(code, message, **kwargs))


def _encode_continue(rv: int, start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError) as exc:
        raise _SelectorError(f"continue key is not valid: {exc}") from None
    if not isinstance(data, dict) or data.get("v") != "meta.k8s.io/v1":
        raise _SelectorError("continue key is not valid: server does not recognize this encoding")
    rv, start = data.get("rv"), data.get("start")
    if not isinstance(rv, int) or not isinstance(start, str) or rv == 0:
        raise _SelectorError("continue key is not valid: incorrect encoded start resourceVersion")
    return rv, start


_FLOW_SCHEMA_UID = str(uuid.uuid5(uuid.NAMESPACE_URL, "flowschema/service-accounts"))
_PRIORITY_LEVEL_UID = str(uuid.uuid5(uuid.NAMESPACE_URL, "prioritylevel/workload-low"))


class _HTTPServer(LoopbackHTTPServer):
    """The loopback server, doing TLS per connection (in the connection's thread)."""

    def __init__(self, api: KubeAPIServer, ssl_context: ssl.SSLContext | None) -> None:
        self.api = api
        self.ssl_context = ssl_context
        super().__init__(_Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        conn: socket.socket = request
        # Like Go's net/http (kube-apiserver): without TCP_NODELAY the handler's separate header
        # and body writes meet Nagle's algorithm and the client's delayed ACK, 40 ms a request.
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            request.settimeout(10.0)
            try:
                conn = self.ssl_context.wrap_socket(request, server_side=True)
            except (OSError, ValueError):
                return  # failed handshake (e.g. the client did not trust our CA)
            conn.settimeout(None)
        try:
            with self.tracking(conn):
                _Handler(conn, client_address, self)
        finally:
            if conn is not request:
                conn.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""

    def send_response(self, code: int, message: str | None = None) -> None:
        """Like the stdlib's, without a ``Server`` header (kube-apiserver sends none)."""
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True  # we do not read chunked request bodies
        resp = self.server.api._handle(self.command, self.path, self.headers, body)
        if resp is None:
            self.close_connection = True
            return
        self.send_response(resp.status)
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", resp.content_type)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        if resp.stream is None:
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in resp.stream:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


def _make_tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """Generate a CA and a server certificate for 127.0.0.1 with the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("KubeAPIServer(tls=True) needs the openssl command line tool")
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "server.ext"
    ext.write_text(
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature, keyEncipherment\n"
        "extendedKeyUsage = serverAuth\n"
        "subjectAltName = IP:127.0.0.1, DNS:localhost, DNS:kubernetes, "
        "DNS:kubernetes.default, DNS:kubernetes.default.svc\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid, issuer\n"
    )
    ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    steps = [
        [openssl, "genpkey", *ec, "-out", str(ca_key)],
        [openssl, "req", "-x509", "-new", "-key", str(ca_key), "-sha256", "-days", "30",
         "-subj", "/CN=netadvisor-test-kubernetes-ca",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
         "-addext", "subjectKeyIdentifier=hash",
         "-out", str(ca_crt)],
        [openssl, "genpkey", *ec, "-out", str(key)],
        [openssl, "req", "-new", "-key", str(key), "-subj", "/CN=kube-apiserver", "-out", str(csr)],
        [openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
         "-CAcreateserial", "-days", "30", "-sha256", "-extfile", str(ext), "-out", str(crt)],
    ]  # fmt: skip
    for cmd in steps:
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return ca_crt, crt, key


class KubeAPIServer(Stoppable):
    """A fake kube-apiserver serving a scenario on 127.0.0.1 (see the module docstring).

    It starts at construction, in a background thread, on a free port; use it as a context
    manager or call ``stop()``.

    Args:
        scenario: the scenario dict (see the module docstring); None for an empty cluster.
        token: if set, every request must carry ``Authorization: Bearer <token>`` or gets 401.
            Can be changed later through the ``token`` attribute.
        tls: serve HTTPS with a freshly generated CA and server certificate for 127.0.0.1.
    """

    def __init__(
        self,
        scenario: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        tls: bool = False,
    ) -> None:
        self.token = token
        self.tls = tls
        self._scenario: Mapping[str, Any] = dict(scenario or {})
        self._store = _Store(self._scenario)
        #: The writable Leases (seeded from the scenario's Lease objects); they outlive
        #: ``set_scenario``.
        self.leases = LeaseStore(
            namespaces=lambda: self._store.buckets[("", "v1", "namespaces")].by_key,
            first_revision=self._store.revision,
            seed=[s.obj for s in self._store.buckets[(LEASE_GROUP, "v1", "leases")].items],
        )
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._stopped = False
        #: Unexpected exceptions raised while handling requests (answered as 500).
        self.handler_errors: list[BaseException] = []
        self.access_reviews: list[tuple[str, str, str, str | None]] = []
        """(group, resource, verb, namespace) of every SelfSubjectAccessReview, in order."""
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        #: Path of the CA certificate (PEM) when ``tls``; else None.
        self.ca_file: Path | None = None
        #: The CA certificate (PEM text) when ``tls``; else None.
        self.ca_pem: str | None = None
        context: ssl.SSLContext | None = None
        try:
            if tls:
                self._tmpdir = tempfile.TemporaryDirectory(prefix="kubeapi-tls-")
                ca, crt, key = _make_tls_files(Path(self._tmpdir.name))
                self.ca_file, self.ca_pem = ca, ca.read_text()
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                context.load_cert_chain(crt, key)
                context.set_alpn_protocols(["http/1.1"])
            self._httpd = _HTTPServer(self, context)
        except BaseException:
            if self._tmpdir is not None:
                self._tmpdir.cleanup()
            raise
        self.host = "127.0.0.1"
        self.port: int = self._httpd.server_port
        #: Base URL, e.g. ``https://127.0.0.1:41234``.
        self.url = f"{'https' if tls else 'http'}://{self.host}:{self.port}"
        self._httpd.start(f"kubeapi-{self.port}")

    # -- lifecycle ------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop serving, close open connections (ending hanging requests) and clean up."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        self._httpd.stop()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()

    # -- scenario -------------------------------------------------------------------------

    @property
    def scenario(self) -> Mapping[str, Any]:
        """The scenario being served."""
        return self._scenario

    def set_scenario(self, scenario: Mapping[str, Any]) -> None:
        """Serve another scenario from now on (continue tokens of the old one become 410)."""
        store = _Store(scenario)
        with self._lock:
            self._scenario, self._store = dict(scenario), store

    def update_scenario(self, **changes: Any) -> None:
        """Serve the current scenario with some keys replaced, e.g. ``latency=0.5``."""
        self.set_scenario({**self._scenario, **changes})

    # -- recording ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    def rbac_requests(self) -> list[RBACAttributes]:
        """The recorded resource requests as RBAC sees them, in order (non-resource URLs such
        as /version and discovery are left out)."""
        return [a for r in self.requests if (a := r.rbac) is not None]

    # -- request handling -----------------------------------------------------------------

    def _handle(
        self, method: str, raw_path: str, headers: Any, body: bytes = b""
    ) -> _Response | None:
        split = urlsplit(raw_path)
        path = split.path or "/"
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        record = RecordedRequest(
            method=method,
            path=path,
            query=query,
            headers={h: headers[h] for h in _RECORDED_HEADERS if headers.get(h) is not None},
            body=body,
        )
        with self._lock:
            self._requests.append(record)
            store = self._store
        try:
            resp = self._respond(store, method, path, query, headers, body)
        except Exception as exc:  # a bug in the fake: answer 500 and keep it for the tests
            self.handler_errors.append(exc)
            resp = _status_response(500, f"Internal error occurred: {exc!r}")
        record.status = resp.status if resp is not None else None
        return resp

    def _wait(self, seconds: float) -> bool:
        """Sleep, unless the server is stopping; False if it is."""
        return not self._stopping.wait(seconds) if seconds > 0 else not self._stopping.is_set()

    def _respond(
        self,
        store: _Store,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Any,
        body: bytes = b"",
    ) -> _Response | None:
        if store.latency and not self._wait(store.latency):
            return None
        hang = store.hang
        if not hang and any(fnmatch.fnmatchcase(path, g) for g in store.hang_paths):
            hang = _HANG_FOREVER
        if hang and not self._wait(hang):
            return None

        for glob, fault in store.faults.items():
            if fnmatch.fnmatchcase(path, glob):
                return self._fault(fault, method, path, query)

        if self.token is not None:
            # The scheme is case-insensitive, as in kube-apiserver (the in-cluster config of the
            # Python client sends "bearer").
            # See: https://github.com/kubernetes/apiserver/blob/master/pkg/authentication/request/bearertoken/bearertoken.go
            scheme, _, given = (headers.get("Authorization") or "").strip().partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), self.token.encode()
            ):
                return _status_response(401, "Unauthorized")

        for glob, code in store.errors.items():
            if fnmatch.fnmatchcase(path, glob):
                return _injected_error(int(code))

        if path == _SSAR_PATH:
            return self._access_review(store, method, body)
        rp = _parse_resource_path(path)
        if rp is None:
            return self._non_resource(store, method, path)
        if rp.group == LEASE_GROUP and rp.resource == "leases" and rp.subresource is None:
            return self._lease(store, method, rp, query, body)
        return self._resource(store, method, rp, query, headers)

    def _fault(self, fault: int | str, method: str, path: str, query: dict[str, str]) -> _Response:
        """What a proxy in front of the server, or a server broken everywhere, answers."""
        if isinstance(fault, str) and fault.startswith("redirect "):
            return _redirect(fault.removeprefix("redirect ").strip(), path)
        if fault == "html":
            return _Response(200, _SIGN_IN_PAGE, "text/html; charset=utf-8")
        if fault == 403:
            rp = _parse_resource_path(path)
            attrs = rbac_attributes(method, path, query) if rp is not None else None
            if rp is not None and attrs is not None:
                return self._forbidden(_ANONYMOUS, rp, attrs)
            verb = "get" if method in ("GET", "HEAD") else method.lower()
            message = f'forbidden: User "{_ANONYMOUS}" cannot {verb} path "{path}"'
            return _status_response(403, message, details={})
        return _injected_error(int(fault))

    def _lease(
        self, store: _Store, method: str, rp: _ResourcePath, query: dict[str, str], body: bytes
    ) -> _Response:
        """Leases are writable (see tests/servers/leases.py); RBAC faults apply as elsewhere."""
        attrs = rbac_attributes(method, _rebuild_path(rp), query)
        assert attrs is not None
        if store.is_forbidden(rp.group, rp.resource, attrs.verb):
            return self._forbidden(store.user, rp, attrs)
        if attrs.verb == "watch":
            return _status_response(405, "watching Leases is not supported by this fake server")
        status, answer = self.leases.handle(method, rp.namespace, rp.name, body)
        return _json_response(status, answer)

    # -- SelfSubjectAccessReview ----------------------------------------------------------

    def _access_review(self, store: _Store, method: str, body: bytes) -> _Response:
        """``POST .../selfsubjectaccessreviews``: allowed unless ``forbidden`` denies it, in the
        shape kube-apiserver answers (201, the review echoed with its ``status``)."""
        if method != "POST":
            return _status_response(
                405, "the server does not allow this method on the requested resource"
            )
        try:
            review = json.loads(body or b"{}")
            attrs = review["spec"]["resourceAttributes"]
        except (ValueError, KeyError, TypeError):
            return _status_response(
                400,
                "SelfSubjectAccessReview in version v1 cannot be handled: no "
                "spec.resourceAttributes",
                reason="BadRequest",
            )
        group = attrs.get("group") or ""
        resource = attrs.get("resource") or ""
        verb = attrs.get("verb") or ""
        denied = store.is_forbidden(group, resource, verb)
        status: JSON = {"allowed": not denied}
        if not denied:
            status["reason"] = (
                'RBAC: allowed by ClusterRoleBinding "netadvisor-reader" of ClusterRole '
                f'"netadvisor-reader" to ServiceAccount "netadvisor/netadvisor" ({store.user})'
            )
        answer = {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": review["spec"],
            "status": status,
        }
        with self._lock:
            self.access_reviews.append((group, resource, verb, attrs.get("namespace")))
        return _json_response(201, answer)

    # -- non-resource URLs ----------------------------------------------------------------

    def _non_resource(self, store: _Store, method: str, path: str) -> _Response:
        if method not in ("GET", "HEAD"):
            return _status_response(
                405, "the server does not allow this method on the requested resource"
            )
        parts = [p for p in path.split("/") if p]
        if parts == ["version"]:
            return _json_response(200, store.version)
        if parts and parts[0] in ("healthz", "livez", "readyz"):
            return _Response(200, b"ok", content_type="text/plain; charset=utf-8",
                             headers={"X-Content-Type-Options": "nosniff"})  # fmt: skip
        if parts == ["api"]:
            return _json_response(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.host}:{self.port}"}
                    ],
                },
            )
        if parts == ["api", "v1"]:
            return _json_response(200, self._resource_list(store, "", "v1"))
        if parts == ["apis"]:
            groups = [self._api_group(store, g) for g in store.groups if g]
            return _json_response(
                200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
            )
        if len(parts) == 2 and parts[0] == "apis" and parts[1] in store.groups:
            return _json_response(
                200, {"kind": "APIGroup", "apiVersion": "v1", **self._api_group(store, parts[1])}
            )
        if len(parts) == 3 and parts[0] == "apis" and parts[2] in store.groups.get(parts[1], ()):
            return _json_response(200, self._resource_list(store, parts[1], parts[2]))
        return _status_response(404, _NOT_FOUND_MESSAGE, details={})

    @staticmethod
    def _api_group(store: _Store, group: str) -> JSON:
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in store.groups[group]]
        return {"name": group, "versions": versions, "preferredVersion": versions[0]}

    @staticmethod
    def _resource_list(store: _Store, group: str, version: str) -> JSON:
        resources: list[JSON] = []
        for rt in sorted(
            (t for t in store.types.values() if (t.group, t.version) == (group, version)),
            key=lambda t: t.plural,
        ):
            entry: JSON = {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(rt.verbs),
            }
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            digest = hashlib.sha256(f"{rt.group}/{rt.version}/{rt.kind}".encode()).digest()
            entry["storageVersionHash"] = base64.b64encode(digest[:8]).decode()
            resources.append(entry)
            for sub in rt.subresources:
                resources.append(
                    {
                        "name": f"{rt.plural}/{sub}",
                        "singularName": "",
                        "namespaced": rt.namespaced,
                        "kind": rt.kind,
                        "verbs": ["get", "patch", "update"] if sub == "status" else ["get"],
                    }
                )
        body: JSON = {"kind": "APIResourceList"}
        if group:
            body["apiVersion"] = "v1"
        body["groupVersion"] = f"{group}/{version}" if group else version
        body["resources"] = resources
        return body

    # -- resource URLs --------------------------------------------------------------------

    def _resource(
        self,
        store: _Store,
        method: str,
        rp: _ResourcePath,
        query: dict[str, str],
        headers: Any,
    ) -> _Response:
        attrs = rbac_attributes(method, _rebuild_path(rp), query)
        assert attrs is not None
        if store.is_forbidden(rp.group, rp.resource, attrs.verb):
            return self._forbidden(store.user, rp, attrs)

        rt = store.types.get((rp.group, rp.version, rp.resource))
        if (
            rt is None
            or (rp.namespace is not None and not rt.namespaced)
            or (rp.namespace is None and rt.namespaced and rp.name is not None)
            or (rp.subresource is not None and rp.subresource != "status")
        ):
            return _status_response(404, _NOT_FOUND_MESSAGE, details={})
        if method not in ("GET", "HEAD"):
            return _status_response(
                405, "the server does not allow this method on the requested resource"
            )
        choice = _negotiate(headers.get("Accept"), table_ok=store.table)
        if choice is None:
            return _status_response(406, _NOT_ACCEPTABLE)
        include = query.get("includeObject") or "Metadata"
        if include not in ("None", "Metadata", "Object"):
            return _status_response(400, f'invalid includeObject "{include}"')
        bucket = store.buckets[(rt.group, rt.version, rt.plural)]
        if attrs.verb == "watch":
            return self._watch(store, bucket, rp, query, choice, include)
        if rp.name is not None:
            key = f"{rp.namespace}/{rp.name}" if rp.namespace else rp.name
            stored = bucket.by_key.get(key)
            if stored is None:
                return _not_found(rt, rp.name)
            if choice.form == "json":
                return _Response(200, stored.full)
            meta = {"resourceVersion": stored.obj["metadata"].get("resourceVersion", "")}
            return _Response(200, _render(rt, [stored], choice, include, meta, single=True))
        return self._list(store, bucket, rp.namespace, query, choice, include)

    def _forbidden(self, user: str, rp: _ResourcePath, attrs: RBACAttributes) -> _Response:
        gr = f"{rp.resource}.{rp.group}" if rp.group else rp.resource
        subject = f'{gr} "{rp.name}"' if rp.name else gr
        scope = (
            f'in the namespace "{rp.namespace}"'
            if rp.namespace is not None
            else "at the cluster scope"
        )
        message = (
            f'{subject} is forbidden: User "{user}" cannot {attrs.verb} resource '
            f'"{attrs.resource}" in API group "{rp.group}" {scope}'
        )
        details: JSON = {}
        if rp.name:
            details["name"] = rp.name
        if rp.group:
            details["group"] = rp.group
        details["kind"] = rp.resource
        return _status_response(403, message, details=details)

    def _select(
        self, bucket: _Bucket, query: dict[str, str], name: str | None = None
    ) -> tuple[Callable[[_Stored], bool] | None, _Response | None]:
        """Build the selector predicate of a list/watch (None: no filtering) or a 400 answer."""
        try:
            labels = parse_label_selector(query.get("labelSelector", ""))
            fields = parse_field_selector(query.get("fieldSelector", ""), bucket.rtype.plural)
        except _SelectorError as exc:
            return None, _status_response(400, str(exc))
        if name is not None:
            fields.append(lambda o: o["metadata"]["name"] == name)
        if not labels and not fields:
            return None, None

        def predicate(s: _Stored) -> bool:
            return all(m(s.labels) for m in labels) and all(f(s.obj) for f in fields)

        return predicate, None

    def _list(
        self,
        store: _Store,
        bucket: _Bucket,
        namespace: str | None,
        query: dict[str, str],
        choice: _MediaChoice,
        include: str,
    ) -> _Response:
        predicate, error = self._select(bucket, query)
        if error is not None:
            return error
        try:
            limit = max(0, int(query.get("limit") or 0))
        except ValueError:
            return _status_response(400, f"invalid limit: {query.get('limit')!r}")
        lo, hi = bucket.span(namespace)
        start, rv = lo, store.revision
        token = query.get("continue")
        if token:
            try:
                token_rv, start_key = _decode_continue(token)
            except _SelectorError as exc:
                return _status_response(400, str(exc))
            if token_rv != -1 and (store.expire_continue or token_rv != store.revision):
                return _status_response(
                    410,
                    _GONE_MESSAGE,
                    metadata={"continue": _encode_continue(-1, start_key)},
                )
            if token_rv != -1:
                rv = token_rv
            start = max(lo, bisect.bisect_left(bucket.keys, start_key, lo, hi))

        items = bucket.items
        if predicate is None:
            end = min(hi, start + limit) if limit else hi
            page = items[start:end]
            more = end < hi
            last_index = end - 1
        else:
            page, last_index, more = [], start - 1, False
            for i in range(start, hi):
                if predicate(items[i]):
                    if limit and len(page) == limit:
                        more = True
                        break
                    page.append(items[i])
                    last_index = i
        meta: JSON = {"resourceVersion": str(rv)}
        if more and page:
            meta["continue"] = _encode_continue(rv, page[-1].key + "\x00")
            if predicate is None:
                meta["remainingItemCount"] = hi - last_index - 1
        return _Response(200, _render(bucket.rtype, page, choice, include, meta))

    def _watch(
        self,
        store: _Store,
        bucket: _Bucket,
        rp: _ResourcePath,
        query: dict[str, str],
        choice: _MediaChoice,
        include: str,
    ) -> _Response:
        predicate, error = self._select(bucket, query, rp.name)
        if error is not None:
            return error
        try:
            timeout = float(query["timeoutSeconds"]) if "timeoutSeconds" in query else None
        except ValueError:
            return _status_response(400, "invalid timeoutSeconds")
        lo, hi = bucket.span(rp.namespace)
        initial = query.get("resourceVersion", "") in ("", "0")
        objects = [s for s in bucket.items[lo:hi] if predicate is None or predicate(s)]
        rtype = bucket.rtype
        duration = store.watch_timeout if timeout is None else timeout

        def events() -> Iterator[bytes]:
            if initial:
                for s in objects:
                    body = (
                        s.full
                        if choice.form == "json"
                        else _render(rtype, [s], choice, include, {}, single=True)
                    )
                    yield b'{"type":"ADDED","object":' + body + b"}\n"
            self._wait(duration)

        return _Response(200, stream=events())


def _rebuild_path(rp: _ResourcePath) -> str:
    parts = ["api", rp.version] if not rp.group else ["apis", rp.group, rp.version]
    if rp.watch_path:
        parts.append("watch")
    if rp.namespace is not None:
        parts += ["namespaces", rp.namespace]
    parts.append(rp.resource)
    if rp.name is not None:
        parts.append(rp.name)
    if rp.subresource is not None:
        parts.append(rp.subresource)
    return "/" + "/".join(parts)


def _not_found(rt: ResourceType, name: str) -> _Response:
    details: JSON = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    return _status_response(404, f'{rt.group_resource} "{name}" not found', details=details)


_ANONYMOUS = "system:anonymous"

_SIGN_IN_PAGE = b"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Sign in</title>
<link rel="stylesheet" href="/oauth2/static/css/bulma.min.css">
</head>
<body>
<section class="section"><div class="box">
<form method="GET" action="/oauth2/start">
<input type="hidden" name="rd" value="/">
<button type="submit" class="button">Sign in with OpenID Connect</button>
</form>
</div></section>
</body>
</html>
"""


def _redirect(target: str, path: str) -> _Response:
    """A 302 as an authenticating proxy sends it (Go's ``http.Redirect`` body)."""
    location = f"{target}{'&' if '?' in target else '?'}rd={path}"
    escaped = location.replace("&", "&amp;").replace('"', "&quot;")
    return _Response(
        302,
        f'<a href="{escaped}">Found</a>.\n\n'.encode(),
        "text/html; charset=utf-8",
        {
            "Location": location,
            "Set-Cookie": "_oauth2_proxy_csrf=c2lnbmVk; Path=/; Max-Age=900; HttpOnly; Secure",
        },
    )


def _injected_error(code: int) -> _Response:
    if code == 500:
        return _status_response(
            500,
            "Internal error occurred: injected fault",
            details={"causes": [{"message": "injected fault"}]},
        )
    if code == 503:
        return _status_response(503, "the server is currently unable to handle the request")
    if code == 429:
        return _status_response(
            429, "the server has received too many requests and has asked us to try again later"
        )
    if code == 504:
        return _status_response(
            504,
            "the server was unable to return a response in the time allotted, but may still be "
            "processing the request",
        )
    return _status_response(code, f"injected HTTP {code}")


def _render(
    rt: ResourceType,
    objs: Sequence[_Stored],
    choice: _MediaChoice,
    include: str,
    meta: JSON,
    *,
    single: bool = False,
) -> bytes:
    """Serialize objects as a List, a Table or PartialObjectMetadata(List)."""
    meta_json = json.dumps(meta, separators=(",", ":")).encode()
    if choice.form == "json":
        head = json.dumps(
            {"kind": rt.kind + "List", "apiVersion": rt.api_version}, separators=(",", ":")
        ).encode()
        items = b",".join(s.item for s in objs)
        return head[:-1] + b',"metadata":' + meta_json + b',"items":[' + items + b"]}"
    meta_api = f"meta.k8s.io/{choice.meta_version}".encode()
    if choice.form == "partial":
        parts = [
            b'{"kind":"PartialObjectMetadata","apiVersion":"'
            + meta_api
            + b'","metadata":'
            + s.meta
            + b"}"
            for s in objs
        ]
        if single:
            return parts[0]
        return (
            b'{"kind":"PartialObjectMetadataList","apiVersion":"'
            + meta_api
            + b'","metadata":'
            + meta_json
            + b',"items":['
            + b",".join(parts)
            + b"]}"
        )
    columns, cells = _table_for(rt)
    rows = []
    for s in objs:
        row = b'{"cells":' + json.dumps(cells(s.obj), separators=(",", ":")).encode()
        if include == "Metadata":
            row += (
                b',"object":{"kind":"PartialObjectMetadata","apiVersion":"'
                + meta_api
                + b'","metadata":'
                + s.meta
                + b"}"
            )
        elif include == "Object":
            row += b',"object":' + s.full
        rows.append(row + b"}")
    return (
        b'{"kind":"Table","apiVersion":"' + meta_api + b'","metadata":' + meta_json
        + b',"columnDefinitions":' + json.dumps(columns, separators=(",", ":")).encode()
        + b',"rows":[' + b",".join(rows) + b"]}"
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Kubeconfig files and exec credential plugins
# --------------------------------------------------------------------------------------------

UserSpec = str | Mapping[str, Any] | None


def exec_plugin(
    path: str | Path,
    token: str,
    hang_seconds: float = 0,
    *,
    exit_code: int = 0,
    expires_in: float | None = None,
    calls_file: str | Path | None = None,
) -> dict[str, Any]:
    """Write an exec credential plugin script and return the kubeconfig user entry using it.

    The script (run with this interpreter, ``sys.executable``) prints a
    ``client.authentication.k8s.io/v1`` ExecCredential carrying ``token``, after sleeping
    ``hang_seconds`` (to simulate a hanging plugin). With ``exit_code`` != 0 it prints an error to
    stderr and fails instead; ``expires_in`` adds an ``expirationTimestamp`` that many seconds
    ahead; ``calls_file`` gets one line appended per invocation.

    The returned dict (``{"exec": {...}}``) is a ``user_spec`` for ``write_kubeconfig``.
    """
    path = Path(path)
    script = f'''#!{sys.executable}
"""Test exec credential plugin written by tests/servers/kubeapi.py."""
import datetime, json, os, sys, time

calls_file = {str(calls_file) if calls_file is not None else None!r}
if calls_file:
    with open(calls_file, "a") as f:
        f.write(os.environ.get("KUBERNETES_EXEC_INFO", "") + "\\n")
time.sleep({float(hang_seconds)!r})
if {int(exit_code)!r}:
    print("error: the test plugin was told to fail", file=sys.stderr)
    sys.exit({int(exit_code)!r})
status = {{"token": {token!r}}}
expires_in = {expires_in!r}
if expires_in is not None:
    at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=expires_in)
    status["expirationTimestamp"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps({{
    "apiVersion": "client.authentication.k8s.io/v1",
    "kind": "ExecCredential",
    "status": status,
}}))
'''
    path.write_text(script)
    path.chmod(0o755)
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(path)],
            "env": None,
            "interactiveMode": "Never",
            "provideClusterInfo": False,
        }
    }


def write_kubeconfig(
    path: str | Path,
    clusters: Iterable[tuple[str, KubeAPIServer | str, UserSpec]],
    current_context: str | None = None,
    *,
    namespace: str | None = None,
    embed_ca: bool = True,
) -> Path:
    """Write a real kubeconfig YAML file with one cluster, user and context per entry.

    Args:
        path: where to write it.
        clusters: ``(context_name, server, user_spec)`` triples. ``server`` is a KubeAPIServer
            (HTTPS ones get ``certificate-authority-data``) or a plain URL string (e.g. a closed
            port for an unreachable cluster). ``user_spec`` is a bearer token string, a kubeconfig
            user dict such as the one ``exec_plugin`` returns (``{"exec": {...}}``,
            ``{"token": ...}``, ``{"tokenFile": ...}``), or None for no credentials.
        current_context: the current context; defaults to the first one.
        namespace: a namespace set on every context.
        embed_ca: False leaves the CA out (to test a client refusing an unknown CA).

    Returns the path written.
    """
    import yaml  # PyYAML is a project dependency; imported here to keep the module light

    path = Path(path)
    entries = list(clusters)
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [],
        "users": [],
        "contexts": [],
        "current-context": current_context or (entries[0][0] if entries else ""),
    }
    for name, server, user in entries:
        cluster: dict[str, Any]
        if isinstance(server, KubeAPIServer):
            cluster = {"server": server.url}
            if server.ca_pem is not None and embed_ca:
                cluster["certificate-authority-data"] = base64.b64encode(
                    server.ca_pem.encode()
                ).decode()
        else:
            cluster = {"server": str(server)}
        if isinstance(user, str):
            user_entry: dict[str, Any] = {"token": user}
        elif user is None:
            user_entry = {}
        else:
            user_entry = json.loads(json.dumps(user))
            if "exec" in user_entry:
                user_entry["exec"] = {k: v for k, v in user_entry["exec"].items() if v is not None}
        context: dict[str, Any] = {"cluster": name, "user": name}
        if namespace:
            context["namespace"] = namespace
        config["clusters"].append({"name": name, "cluster": cluster})
        config["users"].append({"name": name, "user": user_entry})
        config["contexts"].append({"name": name, "context": context})
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


# --------------------------------------------------------------------------------------------
# Realistic objects
# --------------------------------------------------------------------------------------------

_NODE_IMAGES: tuple[tuple[str, str, int], ...] = (
    ("docker.io/calico/node", "v3.27.3", 118_462_158),
    ("docker.io/calico/cni", "v3.27.3", 94_541_340),
    ("docker.io/calico/pod2daemon-flexvol", "v3.27.3", 7_545_132),
    ("docker.io/calico/kube-controllers", "v3.27.3", 33_391_231),
    ("docker.io/calico/typha", "v3.27.3", 30_101_004),
    ("docker.io/calico/csi", "v3.27.3", 9_066_012),
    ("docker.io/calico/node-driver-registrar", "v3.27.3", 11_208_843),
    ("quay.io/tigera/operator", "v1.32.7", 28_417_902),
    ("registry.k8s.io/kube-proxy", "v1.30.4", 29_034_457),
    ("registry.k8s.io/coredns/coredns", "v1.11.1", 18_182_961),
    ("registry.k8s.io/pause", "3.9", 321_520),
    ("registry.k8s.io/pause", "3.8", 311_286),
    ("registry.k8s.io/metrics-server/metrics-server", "v0.7.1", 19_495_640),
    ("registry.k8s.io/ingress-nginx/controller", "v1.10.1", 105_418_218),
    ("registry.k8s.io/sig-storage/csi-node-driver-registrar", "v2.10.1", 10_755_082),
    ("registry.k8s.io/sig-storage/livenessprobe", "v2.12.0", 9_117_463),
    ("registry.k8s.io/sig-storage/csi-provisioner", "v4.0.1", 28_676_364),
    ("registry.k8s.io/sig-storage/csi-attacher", "v4.5.1", 27_465_283),
    ("registry.k8s.io/sig-storage/csi-resizer", "v1.10.1", 27_130_119),
    ("registry.k8s.io/sig-storage/csi-snapshotter", "v7.0.2", 26_391_102),
    ("registry.k8s.io/kube-state-metrics/kube-state-metrics", "v2.12.0", 22_172_434),
    ("registry.k8s.io/cluster-proportional-autoscaler", "v1.8.9", 16_098_521),
    ("ghcr.io/spidernet-io/spiderpool/spiderpool-agent", "v0.9.3", 84_912_345),
    ("ghcr.io/spidernet-io/spiderpool/spiderpool-controller", "v0.9.3", 72_103_996),
    ("ghcr.io/spidernet-io/spiderpool/spiderpool-plugins", "v0.9.3", 41_332_875),
    ("ghcr.io/k8snetworkplumbingwg/multus-cni", "v4.0.2-thick", 60_412_007),
    ("quay.io/prometheus/node-exporter", "v1.8.1", 11_645_732),
    ("quay.io/prometheus-operator/prometheus-config-reloader", "v0.74.0", 14_290_516),
    ("docker.io/grafana/promtail", "2.9.3", 79_511_245),
    ("docker.io/fluent/fluent-bit", "3.0.7", 36_711_902),
    ("public.ecr.aws/aws-ec2/aws-node-termination-handler", "v1.22.0", 26_110_457),
    ("public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver", "v1.31.0", 95_411_780),
    ("docker.io/library/nginx", "1.27.0", 71_007_512),
    ("docker.io/library/busybox", "1.36.1", 2_160_406),
    ("docker.io/library/redis", "7.2.5", 45_884_009),
    ("docker.io/library/postgres", "16.3", 153_779_001),
    ("quay.io/jetstack/cert-manager-controller", "v1.15.1", 21_112_094),
    ("quay.io/jetstack/cert-manager-cainjector", "v1.15.1", 15_667_120),
    ("quay.io/jetstack/cert-manager-webhook", "v1.15.1", 18_002_311),
    ("ghcr.io/external-secrets/external-secrets", "v0.9.19", 31_553_870),
    ("docker.io/bitnami/kubectl", "1.30.2", 88_013_245),
    ("ghcr.io/kyverno/kyverno", "v1.12.4", 40_113_572),
    ("ghcr.io/kyverno/kyvernopre", "v1.12.4", 37_190_005),
    ("docker.io/istio/proxyv2", "1.22.2", 93_550_331),
    ("docker.io/istio/pilot", "1.22.2", 75_441_002),
    ("ghcr.io/fluxcd/source-controller", "v1.3.0", 39_902_417),
    ("ghcr.io/fluxcd/kustomize-controller", "v1.3.0", 35_221_698),
    ("ghcr.io/fluxcd/helm-controller", "v1.0.1", 41_875_520),
)


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def realistic_node(
    name: str,
    kernel: str = "5.15.0-1064-aws",
    os_image: str = "Ubuntu 22.04.4 LTS",
    kubelet: str = "v1.30.4",
    runtime: str = "containerd://1.7.13",
    arch: str = "amd64",
    roles: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
    *,
    annotations: Mapping[str, str] | None = None,
    kube_proxy: str | None = None,
    internal_ip: str | None = None,
    external_ip: str | None = None,
    zone: str = "us-east-1a",
    region: str = "us-east-1",
    instance_type: str = "m5.xlarge",
    ready: bool = True,
    unschedulable: bool = False,
    images: int = 40,
    created: str | None = None,
    operating_system: str = "linux",
    pod_cidr: str | None = None,
) -> JSON:
    """A full Node object the size of a real one (about 12 KB of JSON with the default 40
    images, managedFields included), with the labels, addresses, capacity, five conditions,
    daemonEndpoints, image list and nodeInfo (incl. kubeProxyVersion) a kubelet reports.

    ``roles`` become ``node-role.kubernetes.io/<role>`` labels (control-plane nodes also get the
    control-plane taint); ``labels`` are added last and win. Addresses are derived from the name
    unless given.
    """
    h = hashlib.sha256(name.encode()).digest()
    internal_ip = internal_ip or f"10.{h[0]}.{h[1]}.{max(h[2], 1)}"
    pod_cidr = pod_cidr or f"192.168.{h[3]}.0/24"
    roles = list(roles)
    now = datetime.now(UTC)
    created = created or _rfc3339(now - timedelta(days=20 + h[4] % 200))
    heartbeat = _rfc3339(now - timedelta(seconds=h[5] % 50))
    transition = _rfc3339(now - timedelta(days=h[6] % 20, hours=1))
    instance = "i-0" + h[7:15].hex()[:16]

    node_labels: dict[str, str] = {
        "beta.kubernetes.io/arch": arch,
        "beta.kubernetes.io/instance-type": instance_type,
        "beta.kubernetes.io/os": operating_system,
        "failure-domain.beta.kubernetes.io/region": region,
        "failure-domain.beta.kubernetes.io/zone": zone,
        "kubernetes.io/arch": arch,
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": operating_system,
        "node.kubernetes.io/instance-type": instance_type,
        "topology.kubernetes.io/region": region,
        "topology.kubernetes.io/zone": zone,
    }
    for role in roles:
        node_labels[f"node-role.kubernetes.io/{role}"] = ""
    if "control-plane" in roles:
        node_labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
    node_labels.update(labels or {})
    node_annotations = {
        "csi.volume.kubernetes.io/nodeid": json.dumps({"ebs.csi.aws.com": instance}),
        "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
        "node.alpha.kubernetes.io/ttl": "0",
        "projectcalico.org/IPv4Address": f"{internal_ip}/20",
        "projectcalico.org/IPv4IPIPTunnelAddr": pod_cidr.replace(".0/24", ".1"),
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
        **(annotations or {}),
    }
    addresses = [{"address": internal_ip, "type": "InternalIP"}]
    if external_ip:
        addresses.append({"address": external_ip, "type": "ExternalIP"})
    addresses += [
        {"address": name, "type": "Hostname"},
        {"address": f"ip-{internal_ip.replace('.', '-')}.ec2.internal", "type": "InternalDNS"},
    ]
    taints = (
        [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]
        if "control-plane" in roles
        else []
    )
    if unschedulable:
        taints.append(
            {
                "effect": "NoSchedule",
                "key": "node.kubernetes.io/unschedulable",
                "timeAdded": heartbeat,
            }
        )
    if not ready:
        taints.append(
            {"effect": "NoSchedule", "key": "node.kubernetes.io/not-ready", "timeAdded": heartbeat}
        )

    def condition(ctype: str, status: bool, reason: str, message: str) -> JSON:
        return {
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": transition,
            "message": message,
            "reason": reason,
            "status": "True" if status else "False",
            "type": ctype,
        }

    conditions = [
        condition("MemoryPressure", False, "KubeletHasSufficientMemory",
                  "kubelet has sufficient memory available"),
        condition("DiskPressure", False, "KubeletHasNoDiskPressure",
                  "kubelet has no disk pressure"),
        condition("PIDPressure", False, "KubeletHasSufficientPID",
                  "kubelet has sufficient PID available"),
        condition("Ready", ready, "KubeletReady" if ready else "KubeletNotReady",
                  "kubelet is posting ready status" if ready
                  else "container runtime network not ready: NetworkReady=false "
                  "reason:NetworkPluginNotReady message:Network plugin returns error: "
                  "cni plugin not initialized"),
    ]  # fmt: skip
    conditions.insert(
        0,
        {
            **condition(
                "NetworkUnavailable", False, "CalicoIsUp", "Calico is running on this node"
            ),
            "lastHeartbeatTime": transition,
        },
    )
    node_images = []
    for repo, tag, size in (_NODE_IMAGES * (images // len(_NODE_IMAGES) + 1))[:images]:
        node_images.append(
            {
                "names": [f"{repo}@sha256:{_digest(repo, tag)}", f"{repo}:{tag}"],
                "sizeBytes": size,
            }
        )
    capacity = {
        "cpu": "4",
        "ephemeral-storage": "104845292Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "16069396Ki",
        "pods": "110",
    }
    allocatable = {
        "cpu": "3920m",
        "ephemeral-storage": "95551679124",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "15052564Ki",
        "pods": "110",
    }
    managed_fields = [
        {
            "apiVersion": "v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {
                    "f:annotations": {".": {}, "f:node.alpha.kubernetes.io/ttl": {}},
                    "f:labels": {".": {}, **{f"f:{k}": {} for k in node_labels}},
                },
                "f:spec": {"f:podCIDR": {}, "f:podCIDRs": {".": {}, f'v:"{pod_cidr}"': {}}},
            },
            "manager": "kube-controller-manager",
            "operation": "Update",
            "time": created,
        },
        {
            "apiVersion": "v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:status": {
                    "f:conditions": {
                        f'k:{{"type":"{c["type"]}"}}': {
                            "f:lastHeartbeatTime": {},
                            "f:lastTransitionTime": {},
                            "f:message": {},
                            "f:reason": {},
                            "f:status": {},
                        }
                        for c in conditions
                    },
                    "f:images": {},
                    "f:nodeInfo": {"f:bootID": {}, "f:kernelVersion": {}, "f:osImage": {}},
                }
            },
            "manager": "kubelet",
            "operation": "Update",
            "subresource": "status",
            "time": heartbeat,
        },
    ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "annotations": node_annotations,
            "creationTimestamp": created,
            "labels": node_labels,
            "managedFields": managed_fields,
            "name": name,
            "resourceVersion": str(100_000 + int.from_bytes(h[8:11], "big")),
            "uid": str(uuid.UUID(bytes=h[:16], version=4)),
        },
        "spec": {
            "podCIDR": pod_cidr,
            "podCIDRs": [pod_cidr],
            "providerID": f"aws:///{zone}/{instance}",
            **({"taints": taints} if taints else {}),
            **({"unschedulable": True} if unschedulable else {}),
        },
        "status": {
            "addresses": addresses,
            "allocatable": allocatable,
            "capacity": capacity,
            "conditions": conditions,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": node_images,
            "nodeInfo": {
                "architecture": arch,
                "bootID": str(uuid.UUID(bytes=h[16:32], version=4)),
                "containerRuntimeVersion": runtime,
                "kernelVersion": kernel,
                "kubeProxyVersion": kube_proxy or kubelet,
                "kubeletVersion": kubelet,
                "machineID": h[:16].hex(),
                "operatingSystem": operating_system,
                "osImage": os_image,
                "systemUUID": str(uuid.UUID(bytes=h[4:20])).upper(),
            },
            "runtimeHandlers": [
                {"features": {"recursiveReadOnlyMounts": True}, "name": ""},
                {"features": {"recursiveReadOnlyMounts": True}, "name": "runc"},
            ],
        },
    }
