"""The inventory adapter for the Kubernetes API, with the official ``kubernetes`` client.

The only module that imports ``kubernetes``. It reads raw JSON through the client's
``ApiClient`` (``param_serialize`` + ``call_api``: authentication, TLS, proxies and exec
credential plugins as the client does them) instead of the typed API classes: those build and
validate a model per object (seconds for 5,000 nodes) and their import alone costs half a second.

Requests per cluster (see :mod:`jobs.inventory.resources`): ``/version``, the kube-system
namespace, Nodes as a server-side Table with ``includeObject=None`` (``kubectl get``'s cells:
name, roles, versions, kernel and OS; no row metadata, a thirtieth of the bytes) processed page
by page, with a fallback to plain JSON when the server does not offer Tables, then DaemonSets,
Deployments, ConfigMaps, Services and the Calico and Spiderpool custom resources. Follow-ups:
with one kube-proxy DaemonSet per worker pool, the nodes each selects (a ``labelSelector`` list,
names only); on k3s, the nodes' metadata for the ``k3s.io/node-args`` annotation. Lists are
paginated (``limit``/``continue``); a 410 on a ``continue`` token restarts the list once.

Time: the client is built with urllib3 retries off (the default retries multiply a read timeout
several times over) and every request gets the time left of the cluster's budget. Building the
client may run an exec credential plugin that never returns: the client runs it through
:mod:`jobs.inventory.plugin_guard`, in a process group of its own that is killed just before the
cluster's deadline (nothing is left running after a scan); the runner
(:mod:`jobs.inventory.run`) abandons the reading thread at the deadline in any case.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, NamedTuple, Protocol
from urllib.parse import urlsplit, urlunsplit

import urllib3
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException
from kubernetes.config import ConfigException
from kubernetes.config.incluster_config import InClusterConfigLoader
from kubernetes.config.kube_config import ConfigNode, KubeConfigLoader, KubeConfigMerger

from jobs.inventory import plugin_guard
from jobs.inventory.mapping import NODE_ARGS, follow_ups, looks_built_in, slim_node, slim_service
from jobs.inventory.port import (
    ClusterAccessError,
    ClusterTimeout,
    ClusterUnreachable,
    InventoryError,
    KubeObject,
    Listing,
    ProblemKind,
    ReadContext,
    ReadProblem,
    Snapshot,
)
from jobs.inventory.resources import BY_KEY, ResourceType

__all__ = [
    "JSON_ACCEPT",
    "METADATA_ACCEPT",
    "TABLE_ACCEPT",
    "KubeReader",
    "in_cluster_reader",
    "kubeconfig_reader",
    "list_contexts",
]

TABLE_ACCEPT: Final = "application/json;as=Table;v=v1;g=meta.k8s.io, application/json"
"""Ask for a Table, accept plain JSON from servers that do not offer one."""
METADATA_ACCEPT: Final = (
    "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io, application/json"
)
"""Ask for objects' metadata only (node annotations), accept plain JSON too."""
JSON_ACCEPT: Final = "application/json"
PAGE_SIZE: Final = 500
"""Items per list page (what kubectl uses)."""
USER_AGENT: Final = "netadvisor-inventory"
_CONNECT_TIMEOUT: Final = 10.0
_MESSAGE_LIMIT: Final = 300

_PLUGIN_TIMEOUT: Final = 60.0
"""How long an exec credential plugin may run when no cluster deadline bounds it (doctor)."""
_PLUGIN_MARGIN: Final = 0.2
"""Plugins are killed this long before the cluster's deadline, so that the read reports it."""
_GUARD: Final = str(Path(plugin_guard.__file__).resolve())


class Connect(Protocol):
    """Builds an ``ApiClient`` (may run an exec credential plugin, killed at ``deadline``)."""

    def __call__(self, deadline: float | None = None) -> Any:
        """``deadline``: seconds since the epoch (None: :data:`_PLUGIN_TIMEOUT` from now)."""
        ...


def _configuration() -> Configuration:
    configuration = Configuration()
    # A retried read multiplies the read timeout; the cluster's deadline decides instead.
    configuration.retries = False
    return configuration


def kubeconfig_reader(path: str, context: str | None) -> KubeReader:
    """A reader for one context of a kubeconfig (``path`` may list files joined by ``:``)."""

    def connect(deadline: float | None = None) -> Any:
        # What new_client_from_config does, with the parsed file shared by every context: a
        # 200-context kubeconfig takes 140 ms to parse, once per cluster otherwise.
        if deadline is None:
            deadline = time.time() + _PLUGIN_TIMEOUT
        loader = KubeConfigLoader(  # type: ignore[no-untyped-call]
            config_dict=_guarded(_parsed_kubeconfig(path), deadline - _PLUGIN_MARGIN),
            active_context=context,
            config_base_path=None,
        )  # no config_persister: refreshed tokens are never written back into the user's file
        configuration = _configuration()
        loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
        return ApiClient(configuration)

    origin = f"kubeconfig {path}" + (f", context {context}" if context else "")
    return KubeReader(connect, origin)


def in_cluster_reader(service_account: Path) -> KubeReader:
    """A reader for the cluster netadvisor runs in, with its pod's service account.

    ``service_account`` is the mounted directory with ``token`` and ``ca.crt`` (in a pod,
    ``/var/run/secrets/kubernetes.io/serviceaccount``); the composition root chooses it.
    """

    def connect(deadline: float | None = None) -> Any:
        configuration = _configuration()
        loader = InClusterConfigLoader(  # type: ignore[no-untyped-call]
            token_filename=str(service_account / "token"),
            cert_filename=str(service_account / "ca.crt"),
        )
        loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
        return ApiClient(configuration)

    return KubeReader(connect, "in-cluster service account")


_PARSED: dict[str, tuple[tuple[float, ...], Any]] = {}
_PARSED_LOCK: Final = threading.Lock()


def _parsed_kubeconfig(path: str) -> Any:
    """The merged kubeconfig (the client's own merger), parsed once per change of its files."""
    files = [Path(p).expanduser() for p in path.split(os.pathsep) if p]
    stamps = tuple(float(f.stat().st_mtime_ns) if f.exists() else -1.0 for f in files)
    with _PARSED_LOCK:
        cached = _PARSED.get(path)
        if cached is not None and cached[0] == stamps:
            return cached[1]
        merged = KubeConfigMerger(path).config  # type: ignore[no-untyped-call]
        if merged is None:
            raise ConfigException(f"no kubeconfig found at {path}")
        _PARSED[path] = (stamps, merged)
        return merged


def _guarded(config: Any, deadline: float) -> Any:
    """The parsed kubeconfig with every exec credential plugin run through the guard
    (:mod:`jobs.inventory.plugin_guard`: its own process group, killed at ``deadline``).

    The parsed file is shared between clusters and never changed: the entries are copied.
    """
    users = config.value.get("users")
    if not isinstance(users, list) or not any(_exec_of(u) is not None for u in users):
        return config
    patched = []
    for entry in users:
        plugin = _exec_of(entry)
        if plugin is None:
            patched.append(entry)
            continue
        command = plugin.get("command")
        args = plugin.get("args") or []
        guarded = {
            **plugin,
            "command": sys.executable,
            "args": ["-I", "-S", _GUARD, repr(deadline), command, *args],
        }
        if isinstance(entry, ConfigNode):
            copy = {**entry.value, "user": {**entry.value["user"], "exec": guarded}}
            patched.append(ConfigNode(entry.name, copy, entry.path))  # type: ignore[no-untyped-call]
        else:
            patched.append({**entry, "user": {**entry["user"], "exec": guarded}})
    return ConfigNode(config.name, {**config.value, "users": patched}, config.path)  # type: ignore[no-untyped-call]


def _exec_of(entry: Any) -> dict[str, Any] | None:
    """The ``user.exec`` mapping of one ``users[]`` entry (a dict or a ConfigNode), if any."""
    value = entry.value if isinstance(entry, ConfigNode) else entry
    user = value.get("user") if isinstance(value, dict) else None
    plugin = user.get("exec") if isinstance(user, dict) else None
    if isinstance(plugin, dict) and isinstance(plugin.get("command"), str):
        return plugin
    return None


def list_contexts(path: str) -> tuple[list[str], str | None]:
    """The context names of a kubeconfig and its current context; raise ClusterAccessError."""
    try:
        merged = _parsed_kubeconfig(path)
        contexts = merged.value.get("contexts") or []
        names = [str(c.value.get("name")) for c in contexts if c.value.get("name")]
        current = merged.value.get("current-context")
    except (ConfigException, OSError, ValueError) as exc:
        raise ClusterAccessError(f"cannot read kubeconfig {path}: {_first_line(exc)}") from None
    except Exception as exc:  # yaml errors and malformed entries surface as many types
        raise ClusterAccessError(
            f"cannot read kubeconfig {path}: {type(exc).__name__}: {_first_line(exc)}"
        ) from None
    return names, str(current) if current else None


class KubeReader:
    """Reads one cluster through the API (implements :class:`~jobs.inventory.port.ClusterReader`).

    ``connect`` builds the ``ApiClient``; it is called inside :meth:`read` because building it
    may run a credential plugin, which must count against the cluster's time.
    """

    def __init__(self, connect: Connect, origin: str, *, page_size: int = PAGE_SIZE) -> None:
        self._connect = connect
        self._origin = origin
        self.page_size = page_size

    @property
    def connect(self) -> Connect:
        """What builds this reader's ``ApiClient`` (``doctor`` checks access with it)."""
        return self._connect

    @property
    def origin(self) -> str:
        """Where it reads (kubeconfig and context, or in-cluster); no credentials."""
        return self._origin

    def read(self, context: ReadContext) -> Snapshot:
        """Read the cluster; raise an InventoryError when it cannot be read at all."""
        context.stage = "loading credentials (kubeconfig, exec plugin)"
        context.check()
        try:
            with _plugin_errors() as errors:
                api = self._connect(time.time() + context.remaining())
            if errors:
                api.close()
                raise _plugin_failure(errors[0], context)
        except ConfigException as exc:
            raise ClusterAccessError(f"credentials: {_first_line(exc)}") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ClusterAccessError(
                f"kubeconfig: {type(exc).__name__}: {_first_line(exc)}"
            ) from None
        try:
            api.user_agent = USER_AGENT
            return _Session(api, context, self.page_size).snapshot(self._origin)
        finally:
            api.close()


def _plugin_failure(message: str, context: ReadContext) -> InventoryError:
    """The error of a failed exec credential plugin (its guard's word when it has one)."""
    _, marked, said = message.partition(plugin_guard.MARK)
    if marked and f"process returned {plugin_guard.DEADLINE_EXIT}" in message:
        return ClusterTimeout(context.timeout_message())
    if marked and f"process returned {plugin_guard.NOT_FOUND_EXIT}" in message:
        return ClusterAccessError(
            f"exec credential plugin: {said.strip()}: install it or correct "
            "users[].user.exec.command in the kubeconfig"
        )
    return ClusterAccessError(f"exec credential plugin failed: {message}")


class _PluginErrors(logging.Filter):
    """Catches the kubeconfig loader's ``exec:`` errors, per reading thread.

    The loader logs a failing exec credential plugin on the root logger (with the plugin's
    stderr) and goes on without credentials; this turns that into the cluster's error instead.
    """

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.by_thread: dict[int, list[str]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        errors = self.by_thread.get(record.thread or 0)
        message = record.getMessage()
        if errors is None or not message.startswith("exec:"):
            return True
        errors.append(_first_line(message))
        return False


_FILTER: Final = _PluginErrors()


@contextlib.contextmanager
def _plugin_errors() -> Iterator[list[str]]:
    errors: list[str] = []
    ident = threading.get_ident()
    with _FILTER.lock:
        if not _FILTER.by_thread:
            logging.getLogger().addFilter(_FILTER)
        _FILTER.by_thread[ident] = errors
    try:
        yield errors
    finally:
        with _FILTER.lock:
            _FILTER.by_thread.pop(ident, None)
            if not _FILTER.by_thread:
                logging.getLogger().removeFilter(_FILTER)


# ---------------------------------------------------------------------------------------------


class _Session:
    """The requests of one cluster's read."""

    def __init__(self, api: Any, context: ReadContext, page_size: int) -> None:
        self.api = api
        self.context = context
        self.page_size = page_size
        keys = getattr(api.configuration, "api_key", None) or {}
        self.secrets = tuple(
            part for value in keys.values() if isinstance(value, str) for part in value.split()
        )

    # -- the plan ---------------------------------------------------------------------------

    def snapshot(self, origin: str) -> Snapshot:
        version, version_problem = self.version()
        resources: dict[str, Listing] = {}
        self.context.stage = "reading the kube-system namespace"
        namespaces = self.get(BY_KEY["namespaces"], None, "kube-system")
        resources["namespaces"] = namespaces
        uid = _uid(namespaces)
        if uid is None:
            raise ClusterAccessError(_no_identity(namespaces))
        self.context.claim(uid)
        resources["nodes"] = self.list(BY_KEY["nodes"], accept=TABLE_ACCEPT, slim=slim_node)
        daemonsets = self.list(BY_KEY["daemonsets"])
        resources["daemonsets"] = daemonsets
        follow = follow_ups(daemonsets)
        if not follow.kube_proxy_daemonset:
            resources["pods"] = self.list(
                BY_KEY["pods"],
                "kube-system",
                label_selector="component=kube-proxy",
                limit=1,
                pages=1,
            )
            if not resources["pods"].items and looks_built_in(resources["nodes"], version):
                resources["nodes"] = self.node_args(resources["nodes"])
        node_sets = {
            ref: self.selected_nodes(selectors, resources["nodes"])
            for ref, selectors in follow.node_selections
        }
        resources["deployments"] = Listing.merge(
            self.list(BY_KEY["deployments"], namespace)
            for namespace in follow.deployment_namespaces
        )
        configmaps = [self.list(BY_KEY["configmaps"], "kube-system")]
        if follow.spiderpool_namespace not in (None, "kube-system"):
            assert follow.spiderpool_namespace is not None
            configmaps.append(
                self.get(BY_KEY["configmaps"], follow.spiderpool_namespace, "spiderpool-conf")
            )
        resources["configmaps"] = Listing.merge(configmaps)
        resources["services"] = self.list(BY_KEY["services"], slim=slim_service)
        for key in (
            "ippools",
            "felixconfigurations",
            "clusterinformations",
            "installations",
            "spidercoordinators",
        ):
            resources[key] = self.list(BY_KEY[key])
        return Snapshot(version, version_problem, resources, origin, node_sets)

    def selected_nodes(self, selectors: tuple[str, ...] | None, nodes: Listing) -> Listing:
        """The nodes a workload's placement selects, as the server answers (names only)."""
        if selectors is None:
            why = "its placement cannot be written as a label selector (matchFields, Gt, Lt)"
            return Listing((), (ReadProblem(ProblemKind.FAILED, why),))
        if "" in selectors:
            return nodes
        return Listing.merge(
            self.list(BY_KEY["nodes"], accept=TABLE_ACCEPT, label_selector=selector)
            for selector in selectors
        )

    def node_args(self, nodes: Listing) -> Listing:
        """The nodes with the flags k3s records in their annotations (metadata only is read)."""
        annotations: dict[str, dict[str, str]] = {}
        listing = self.list(BY_KEY["nodes"], accept=METADATA_ACCEPT, slim=_node_args_only)
        for item in listing.items:
            metadata = item.get("metadata")
            if isinstance(metadata, dict) and isinstance(metadata.get("name"), str):
                annotations[metadata["name"]] = metadata.get("annotations") or {}
        items = []
        for node in nodes.items:
            name = node.get("metadata", {}).get("name")
            found = annotations.get(name) if isinstance(name, str) else None
            if found:
                node = {**node, "metadata": {**node["metadata"], "annotations": found}}
            items.append(node)
        return Listing(tuple(items), nodes.problems + listing.problems)

    # -- requests ---------------------------------------------------------------------------

    def version(self) -> tuple[Mapping[str, Any] | None, ReadProblem | None]:
        self.context.stage = "GET /version"
        answer = self.request("/version", [], JSON_ACCEPT)
        if not answer.usable:
            return None, self.problem(answer, "/version")
        document = _json(answer.body)
        if not isinstance(document, dict):
            return None, ReadProblem(ProblemKind.FAILED, "/version: not a JSON object")
        return document, None

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> Listing:
        """One object as a listing (empty when it does not exist)."""
        self.context.stage = f"reading {rtype.kind} {name}"
        answer = self.request(rtype.path(namespace, name), [], JSON_ACCEPT)
        if answer.status == 404 and answer.foreign() is None:
            return Listing()
        if not answer.usable:
            return Listing((), (self.problem(answer, rtype.kind, namespace, name),))
        document = _json(answer.body)
        if not isinstance(document, dict):
            return Listing((), (ReadProblem(ProblemKind.FAILED, "not a JSON object"),))
        return Listing((document,))

    def list(
        self,
        rtype: ResourceType,
        namespace: str | None = None,
        *,
        accept: str = JSON_ACCEPT,
        label_selector: str | None = None,
        slim: Callable[[Any], Any] | None = None,
        limit: int | None = None,
        pages: int | None = None,
    ) -> Listing:
        """Every object of a type (in a namespace), page by page; problems as ReadProblems."""
        where = f" in {namespace}" if namespace else ""
        self.context.stage = f"listing {rtype.plural}{where}"
        items: list[KubeObject] = []
        token: str | None = None
        restarted = False
        page = 0
        while True:
            query = [("limit", str(limit or self.page_size))]
            if accept == TABLE_ACCEPT:
                # Cells only: the Roles column gives the roles, and no advisory needs the labels
                # (28.6 MB of row metadata for 5,000 nodes against 0.84 MB without).
                query.append(("includeObject", "None"))
            if label_selector:
                query.append(("labelSelector", label_selector))
            if token:
                query.append(("continue", token))
            answer = self.request(rtype.path(namespace), query, accept)
            if answer.status == 410 and token and not restarted:
                # See: https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks
                items, token, restarted = [], None, True
                continue
            if not answer.usable:
                problem = self.problem(answer, rtype.plural, namespace)
                return Listing((), (problem,))
            document = _json(answer.body)
            del answer
            if not isinstance(document, dict):
                failure = ReadProblem(ProblemKind.FAILED, f"{rtype.plural}: not a JSON object")
                return Listing((), (failure,))
            if document.get("kind") == "Table":
                rows = _table_nodes(document)
                if rows is None:  # a Table without the columns we need: ask for plain JSON
                    return self.list(
                        rtype, namespace, label_selector=label_selector, slim=slim, limit=limit
                    )
                items.extend(rows)
            else:
                for item in document.get("items") or ():
                    if isinstance(item, dict):
                        items.append(slim(item) if slim is not None else item)
            page += 1
            metadata = document.get("metadata")
            token = metadata.get("continue") if isinstance(metadata, dict) else None
            if not token or (pages is not None and page >= pages):
                return Listing(tuple(items))

    def request(self, path: str, query: Sequence[tuple[str, str]], accept: str) -> _Answer:
        """One GET within the time left; transport failures become InventoryErrors."""
        left = self.context.check()
        method, url, headers, _, _ = self.api.param_serialize(
            "GET",
            path,
            query_params=list(query),
            header_params={"Accept": accept},
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api.call_api(
                method,
                url,
                header_params=headers,
                _request_timeout=(min(left, _CONNECT_TIMEOUT), left),
            )
        except ApiException as exc:  # the client wraps TLS failures as status 0
            raise self.transport_error(exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.transport_error(exc) from None
        raw = response.response
        try:
            body: bytes = raw.data
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.transport_error(exc) from None
        finally:
            raw.release_conn()
        status = int(response.status)
        if status == 401:
            raise ClusterAccessError(
                "the API server rejected the credentials (401 Unauthorized): the token or "
                "certificate is wrong or expired"
            )
        headers = raw.headers
        return _Answer(
            status,
            body,
            str(headers.get("Content-Type") or ""),
            str(headers.get("Location") or ""),
        )

    # -- errors -----------------------------------------------------------------------------

    def transport_error(self, exc: BaseException) -> InventoryError:
        stage = self.context.stage
        if isinstance(exc, ApiException):
            text = str(exc.reason or "")
            if "SSLError" in text or "CERTIFICATE" in text.upper():
                detail = text.replace("SSLError\n", "").strip()
                match = re.search(r"certificate verify failed: [^(')\]]*", detail)
                shown = match.group(0).strip() if match else _first_line(detail)
                return ClusterAccessError(self.redact(f"TLS failure: {shown}"))
            return ClusterAccessError(self.redact(f"request failed: {_first_line(text)}"))
        if isinstance(exc, urllib3.exceptions.NameResolutionError):
            return ClusterUnreachable(
                self.redact(f"cannot resolve the API server's host name ({_after_colon(exc)})")
            )
        if isinstance(exc, urllib3.exceptions.NewConnectionError):
            return ClusterUnreachable(
                self.redact(f"cannot connect to the API server: {_after_colon(exc)}")
            )
        if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
            return ClusterUnreachable("the API server did not accept the connection in time")
        if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
            return ClusterTimeout(self.context.timeout_message())
        if isinstance(exc, urllib3.exceptions.SSLError):
            return ClusterAccessError(self.redact(f"TLS failure: {_first_line(exc)}"))
        if isinstance(exc, urllib3.exceptions.ProxyError):
            return ClusterUnreachable(self.redact(f"proxy failure: {_first_line(exc)}"))
        if isinstance(exc, urllib3.exceptions.ProtocolError | ConnectionError):
            return ClusterUnreachable(
                self.redact(f"the connection broke while {stage}: {_first_line(exc)}")
            )
        if self.context.remaining() <= 0:
            return ClusterTimeout(self.context.timeout_message())
        return ClusterAccessError(
            self.redact(f"request failed while {stage}: {type(exc).__name__}: {_first_line(exc)}")
        )

    def problem(
        self,
        answer: _Answer,
        what: str,
        namespace: str | None = None,
        name: str | None = None,
    ) -> ReadProblem:
        status = answer.status
        foreign = answer.foreign()
        if foreign is not None:
            return ReadProblem(ProblemKind.FAILED, self.redact(foreign), namespace, name)
        document = _json(answer.body)
        message = ""
        if isinstance(document, dict) and isinstance(document.get("message"), str):
            message = document["message"]
        message = self.redact(message[:_MESSAGE_LIMIT]) or f"HTTP {status}"
        if status == 403:
            kind = ProblemKind.FORBIDDEN
        elif status == 404:
            kind = ProblemKind.NOT_SERVED if name is None else ProblemKind.NOT_FOUND
        else:
            kind = ProblemKind.FAILED
            message = f"HTTP {status}: {message}"
        return ReadProblem(kind, message, namespace, name)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if len(secret) >= 6 and secret.lower() != "bearer":
                text = text.replace(secret, "***")
        return text


# ---------------------------------------------------------------------------------------------


class _Answer(NamedTuple):
    """One HTTP answer: what inventory needs of it."""

    status: int
    body: bytes
    content_type: str
    location: str

    @property
    def json(self) -> bool:
        """Whether the body claims to be JSON (the API server's answers, Status objects too)."""
        media = self.content_type.split(";", 1)[0].strip().lower()
        return media == "application/json" or media.endswith("+json")

    @property
    def usable(self) -> bool:
        """A successful answer of the Kubernetes API (2xx, JSON)."""
        return 200 <= self.status < 300 and self.foreign() is None

    def foreign(self) -> str | None:
        """Why the answer does not come from the Kubernetes API, or None when it may.

        An error in plain text is the API server's own (``404 page not found`` for a group it
        does not serve); HTML and redirects are not.
        """
        if 300 <= self.status < 400:
            if not self.location:
                return f"HTTP {self.status} redirect without a Location: not the Kubernetes API"
            # Scheme, host and path only: a sign-in URL's query may carry state or tokens.
            place = urlsplit(self.location)
            target = urlunsplit((place.scheme, place.netloc, place.path, "", ""))
            return f"redirected to {target or self.location[:80]}: an authenticating proxy?"
        if self.json:
            return None
        media = self.content_type.split(";", 1)[0].strip().lower()
        if media in ("text/html", "application/xhtml+xml") or self.body.lstrip()[:1] == b"<":
            return (
                f"answered HTML (HTTP {self.status}), not the Kubernetes API: a sign-in page "
                "or a proxy in front of it?"
            )
        if 200 <= self.status < 300:
            shown = media or "no Content-Type"
            return f"answered {shown} (HTTP {self.status}), not the Kubernetes API's JSON"
        return None


def _no_identity(namespaces: Listing) -> str:
    """Why a cluster whose kube-system namespace was not read cannot be read."""
    where = "reading namespace kube-system, the cluster's identity"
    if namespaces.problems:
        problem = namespaces.problems[0]
        fix = ""
        if problem.kind is ProblemKind.FORBIDDEN:
            fix = "; grant get on namespaces/kube-system (deploy/overlays/watched-cluster)"
        return f"{problem.message} ({where}){fix}"
    if namespaces.items:
        return f"the kube-system namespace has no metadata.uid ({where})"
    return f"no namespace kube-system: not a Kubernetes API server? ({where})"


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _uid(namespaces: Listing) -> str | None:
    for item in namespaces.items:
        metadata = item.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("uid"), str):
            return str(metadata["uid"])
    return None


def _node_args_only(item: Any) -> KubeObject:
    """A node's name and the k3s/RKE2 node-args annotations, nothing else."""
    metadata = item.get("metadata") if isinstance(item, dict) else None
    metadata = metadata if isinstance(metadata, dict) else {}
    annotations = metadata.get("annotations")
    annotations = annotations if isinstance(annotations, dict) else {}
    kept = {k: v for k, v in annotations.items() if k in NODE_ARGS and isinstance(v, str)}
    return {"metadata": {"name": metadata.get("name"), "annotations": kept}}


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0][:_MESSAGE_LIMIT] if text else type(value).__name__


def _after_colon(exc: BaseException) -> str:
    """``[Errno 111] Connection refused`` out of urllib3's ``<object at 0x..>: Failed...: ...``."""
    text = _first_line(exc)
    return text.rsplit(": ", 1)[-1] if ": " in text else text


_UNSET: Final = frozenset({"", "<unknown>", "<none>"})


def _table_nodes(table: Mapping[str, Any]) -> list[KubeObject] | None:
    """Nodes of a ``meta.k8s.io`` Table as slim Node objects; None without the needed columns."""
    definitions = table.get("columnDefinitions")
    if not isinstance(definitions, list):
        return None
    index = {
        str(c.get("name", "")).lower(): i for i, c in enumerate(definitions) if isinstance(c, dict)
    }
    wanted = {
        "kernelVersion": "kernel-version",
        "osImage": "os-image",
        "kubeletVersion": "version",
        "containerRuntimeVersion": "container-runtime",
    }
    if not all(column in index for column in wanted.values()):
        return None
    name_at = index.get("name")
    roles_at = index.get("roles")
    nodes: list[KubeObject] = []
    for row in table.get("rows") or ():
        if not isinstance(row, dict):
            continue
        cells = row.get("cells")
        cells = cells if isinstance(cells, list) else []
        info: dict[str, str] = {}
        for key, column in wanted.items():
            position = index[column]
            value = cells[position] if position < len(cells) else None
            if isinstance(value, str) and value not in _UNSET:
                info[key] = value
        obj = row.get("object")
        metadata = obj.get("metadata") if isinstance(obj, dict) else None
        if isinstance(metadata, dict):  # a server that sends row metadata anyway
            name = metadata.get("name")
            labels = metadata.get("labels")
        else:
            name = cells[name_at] if name_at is not None and name_at < len(cells) else None
            labels = None
        if roles_at is not None and roles_at < len(cells) and isinstance(cells[roles_at], str):
            labels = dict(labels) if isinstance(labels, dict) else {}
            for role in cells[roles_at].split(","):
                if role.strip() and role.strip() not in _UNSET:
                    labels[f"node-role.kubernetes.io/{role.strip()}"] = ""
        nodes.append(
            slim_node({"metadata": {"name": name, "labels": labels}, "status": {"nodeInfo": info}})
        )
    return nodes
