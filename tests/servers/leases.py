"""Writable ``coordination.k8s.io/v1`` Leases for the fake Kubernetes API server.

Everything else the fake server serves is read-only; leader election needs to write. This module
keeps the Leases of one :class:`~tests.servers.kubeapi.KubeAPIServer` and answers GET (one or a
list), POST (create) and PUT (replace) on them the way kube-apiserver does:

- every write gets a new ``metadata.resourceVersion``;
- a PUT must carry the ``resourceVersion`` it read (Leases do not allow unconditional updates:
  422 Invalid without it) and is refused with 409 Conflict when it is not the current one, which
  is what makes two candidates unable to both win one election;
- a POST of a Lease that exists is 409 AlreadyExists; a missing one is 404 NotFound;
- ``spec.acquireTime`` / ``spec.renewTime`` are MicroTime, written back in UTC with microseconds.

See: https://github.com/kubernetes/kubernetes/blob/master/pkg/registry/coordination/lease/strategy.go
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

__all__ = ["GROUP", "LeaseStore"]

JSON = dict[str, Any]
GROUP = "coordination.k8s.io"
VERSION = "v1"
_GROUP_RESOURCE = f"leases.{GROUP}"
_SPEC_FIELDS = {
    "holderIdentity": str,
    "leaseDurationSeconds": int,
    "acquireTime": str,
    "renewTime": str,
    "leaseTransitions": int,
    "strategy": str,
    "preferredHolder": str,
}

#: (status code, body) as the fake server's helpers build them.
Answer = tuple[int, JSON]

_NOT_ALLOWED = "the server does not allow this method on the requested resource"


def _status(code: int, reason: str, message: str, details: JSON | None = None) -> Answer:
    body: JSON = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return code, body


def _details(name: str) -> JSON:
    return {"name": name, "group": GROUP, "kind": "leases"}


def _micro_time(value: Any, field: str) -> str:
    """Normalise a MicroTime the way the server writes it (``2006-01-02T15:04:05.000000Z``)."""
    if not isinstance(value, str):
        raise ValueError(f"{field}: must be a string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f'{field}: parsing time "{value}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse'
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"{field}: missing time zone in {value!r}")
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _clean_spec(spec: Any) -> JSON:
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise ValueError("spec: must be an object")
    out: JSON = {}
    for key, value in spec.items():
        if value is None:
            continue
        kind = _SPEC_FIELDS.get(key)
        if kind is None:
            continue  # the real decoder drops unknown fields (with a warning)
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"spec.{key}: must be an integer")
        if kind is str and not isinstance(value, str):
            raise ValueError(f"spec.{key}: must be a string")
        if key in ("acquireTime", "renewTime"):
            value = _micro_time(value, f"spec.{key}")
        out[key] = value
    duration = out.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        raise ValueError(
            f"spec.leaseDurationSeconds: Invalid value: {duration}: must be greater than 0"
        )
    return out


class LeaseStore:
    """The Leases of one fake API server, safe to use from its request threads.

    Args:
        namespaces: a callable naming the namespaces that exist (a write into another one is
            404, like on a real server).
        first_revision: where resource versions start.
        seed: Lease objects present from the start (e.g. from the scenario).
    """

    def __init__(
        self,
        namespaces: Callable[[], Iterable[str]],
        first_revision: int = 1,
        seed: Iterable[JSON] = (),
    ) -> None:
        self._namespaces = namespaces
        self._lock = threading.Lock()
        self._revision = first_revision
        self._leases: dict[tuple[str, str], JSON] = {}
        for obj in seed:
            meta = obj.get("metadata") or {}
            namespace = meta.get("namespace") or "default"
            self._store(namespace, meta["name"], _clean_spec(obj.get("spec")), meta, created=None)
        #: How many writes (POST and PUT) were refused with 409, for tests.
        self.conflicts = 0

    # -- reading ----------------------------------------------------------------------------

    def get(self, namespace: str, name: str) -> JSON | None:
        """A copy of one Lease, or None."""
        with self._lock:
            obj = self._leases.get((namespace, name))
            return json.loads(json.dumps(obj)) if obj is not None else None

    def holder(self, namespace: str, name: str) -> str | None:
        """The current ``spec.holderIdentity`` of a Lease (None if absent or released)."""
        obj = self.get(namespace, name)
        return (obj or {}).get("spec", {}).get("holderIdentity") or None

    # -- HTTP -------------------------------------------------------------------------------

    def handle(self, method: str, namespace: str | None, name: str | None, body: bytes) -> Answer:
        """Answer one request on ``/apis/coordination.k8s.io/v1[/namespaces/NS]/leases[/NAME]``."""
        if method in ("GET", "HEAD"):
            if name is None:
                return 200, self._list(namespace)
            if namespace is None:
                return _status(404, "NotFound", "the server could not find the requested resource")
            found = self.get(namespace, name)
            if found is None:
                return _status(
                    404, "NotFound", f'{_GROUP_RESOURCE} "{name}" not found', _details(name)
                )
            return 200, found
        allowed = (method == "POST" and name is None) or (method == "PUT" and name is not None)
        if not allowed or namespace is None:
            return _status(405, "MethodNotAllowed", _NOT_ALLOWED)
        try:
            obj = json.loads(body or b"null")
        except ValueError as exc:
            return _status(400, "BadRequest", f"error decoding request body: {exc}")
        if not isinstance(obj, dict):
            return _status(400, "BadRequest", "the body of the request was in an unknown format")
        if obj.get("kind", "Lease") != "Lease" or obj.get("apiVersion", f"{GROUP}/{VERSION}") != (
            f"{GROUP}/{VERSION}"
        ):
            return _status(
                400,
                "BadRequest",
                "the API version in the data does not match the expected API version",
            )
        meta = obj.get("metadata") or {}
        if not isinstance(meta, dict):
            return _status(400, "BadRequest", "metadata: must be an object")
        if meta.get("namespace") not in (None, "", namespace):
            return _status(
                400,
                "BadRequest",
                "the namespace of the provided object does not "
                "match the namespace sent on the request",
            )
        if namespace not in set(self._namespaces()):
            return _status(
                404,
                "NotFound",
                f'namespaces "{namespace}" not found',
                {"name": namespace, "kind": "namespaces"},
            )
        try:
            spec = _clean_spec(obj.get("spec"))
        except ValueError as exc:
            obj_name = meta.get("name") or name or ""
            return _status(
                422, "Invalid", f'Lease.{GROUP} "{obj_name}" is invalid: {exc}', _details(obj_name)
            )
        if method == "POST":
            return self._create(namespace, meta, spec)
        assert name is not None
        return self._replace(namespace, name, meta, spec)

    # -- writes -----------------------------------------------------------------------------

    def _create(self, namespace: str, meta: JSON, spec: JSON) -> Answer:
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            return _status(
                422,
                "Invalid",
                f'Lease.{GROUP} "" is invalid: metadata.name: '
                "Required value: name or generateName is required",
            )
        with self._lock:
            if (namespace, name) in self._leases:
                self.conflicts += 1
                return _status(
                    409,
                    "AlreadyExists",
                    f'{_GROUP_RESOURCE} "{name}" already exists',
                    _details(name),
                )
            created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return 201, self._store(namespace, name, spec, meta, created=created)

    def _replace(self, namespace: str, name: str, meta: JSON, spec: JSON) -> Answer:
        if meta.get("name") not in (None, name):
            return _status(
                400,
                "BadRequest",
                f"the name of the object ({meta.get('name')}) does "
                f"not match the name on the URL ({name})",
            )
        with self._lock:
            current = self._leases.get((namespace, name))
            if current is None:
                return _status(
                    404, "NotFound", f'{_GROUP_RESOURCE} "{name}" not found', _details(name)
                )
            given = str(meta.get("resourceVersion") or "")
            if not given:
                return _status(
                    422,
                    "Invalid",
                    f'Lease.{GROUP} "{name}" is invalid: '
                    "metadata.resourceVersion: Invalid value: 0x0: must be specified "
                    "for an update",
                    _details(name),
                )
            if given != current["metadata"]["resourceVersion"]:
                self.conflicts += 1
                return _status(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {_GROUP_RESOURCE} "{name}": the object '
                    "has been modified; please apply your changes to the latest version and try "
                    "again",
                    _details(name),
                )
            old = current["metadata"]
            return 200, self._store(namespace, name, spec, meta, created=None, previous=old)

    def _store(
        self,
        namespace: str,
        name: str,
        spec: JSON,
        meta: JSON,
        *,
        created: str | None,
        previous: JSON | None = None,
    ) -> JSON:
        """Write one Lease under the lock (or at construction) and return a copy."""
        self._revision += 1
        metadata: JSON = {
            "name": name,
            "namespace": namespace,
            "uid": (previous or {}).get("uid")
            or meta.get("uid")
            or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{_GROUP_RESOURCE}/{namespace}/{name}")),
            "resourceVersion": str(self._revision),
            "creationTimestamp": (previous or {}).get("creationTimestamp")
            or meta.get("creationTimestamp")
            or created
            or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for key in ("labels", "annotations"):
            if meta.get(key):
                metadata[key] = dict(meta[key])
        obj = {
            "kind": "Lease",
            "apiVersion": f"{GROUP}/{VERSION}",
            "metadata": metadata,
            "spec": spec,
        }
        self._leases[(namespace, name)] = obj
        return json.loads(json.dumps(obj))

    def _list(self, namespace: str | None) -> JSON:
        with self._lock:
            # Typed lists of built-in types leave the items' kind and apiVersion out.
            items = [
                {"metadata": obj["metadata"], "spec": obj["spec"]}
                for (ns, _), obj in sorted(self._leases.items())
                if namespace is None or ns == namespace
            ]
            items = json.loads(json.dumps(items))
            revision = self._revision
        return {
            "kind": "LeaseList",
            "apiVersion": f"{GROUP}/{VERSION}",
            "metadata": {"resourceVersion": str(revision)},
            "items": items,
        }
