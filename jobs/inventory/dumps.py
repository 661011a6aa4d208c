"""The inventory adapter for offline dumps: bundles and plain ``kubectl get -o json`` Lists.

A *bundle* is one JSON object::

    {"kind": "NetadvisorDump", "dumpVersion": 1, "context": "prod",
     "version": {... the /version answer ...},
     "namespaces": <List or object>, "nodes": <List>, "daemonsets": <List>, ...,
     "configmaps": [<List>, <List>], "ippools": {"error": "the server doesn't have ..."}}

Its keys are those of :data:`jobs.inventory.resources.RESOURCES`, plus ``nodeSelections``
(written from a live read: the nodes each per-pool kube-proxy DaemonSet selects). Each value is
a List (what ``kubectl get -o json`` prints), a single object, ``{"error": "text"}`` when kubectl
could not read it, or an array of such parts. A missing key, or an error, makes the facts it
decides unknown; the error text says why (forbidden, not served, ...). :func:`dump_script` prints
the POSIX shell script that writes a bundle with kubectl.

A plain List (``kubectl get nodes,daemonsets -A -o json``) is accepted too: its items are sorted
by kind, and every resource type it does not hold is unknown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from importlib import resources as package_files
from pathlib import Path
from typing import Any, Final

from jobs.inventory.port import (
    DumpError,
    KubeObject,
    Listing,
    ProblemKind,
    ReadContext,
    ReadProblem,
    Snapshot,
)
from jobs.inventory.resources import BY_KEY, BY_KIND, RESOURCES

__all__ = [
    "DUMP_KIND",
    "DumpReader",
    "bundle_from_snapshot",
    "demo_bundles",
    "dump_script",
    "snapshot_from_document",
]

DUMP_KIND: Final = "NetadvisorDump"
DUMP_VERSION: Final = 1
NODE_SELECTIONS: Final = "nodeSelections"
"""Bundle key: the nodes each per-pool kube-proxy DaemonSet selects (see Snapshot.node_sets)."""
_MAX_BYTES: Final = 2 << 30
_REASONS: Final = {
    ProblemKind.FORBIDDEN: "Forbidden",
    ProblemKind.NOT_SERVED: "NotServed",
    ProblemKind.NOT_FOUND: "NotFound",
    ProblemKind.NOT_COLLECTED: "NotCollected",
    ProblemKind.FAILED: "Failed",
}
_BY_REASON: Final = {v: k for k, v in _REASONS.items()}
_KUBECTL_ERROR: Final = re.compile(r"^(?:Error from server \((\w+)\): |error: )")


class DumpReader:
    """Reads one dump file (implements :class:`~jobs.inventory.port.ClusterReader`)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @property
    def origin(self) -> str:
        """``dump <path>``."""
        return f"dump {self.path}"

    def read(self, context: ReadContext) -> Snapshot:
        """Load the file; raise DumpError when it is not a bundle or List."""
        context.stage = f"reading {self.path}"
        try:
            with self.path.open("rb") as handle:
                data = handle.read(_MAX_BYTES + 1)
        except OSError as exc:
            raise DumpError(f"cannot read dump {self.path}: {exc.strerror or exc}") from None
        if len(data) > _MAX_BYTES:
            raise DumpError(f"dump {self.path} is larger than 2 GiB")
        try:
            document = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise DumpError(f"dump {self.path} is not JSON: {str(exc)[:200]}") from None
        del data
        snapshot = snapshot_from_document(document, self.origin)
        namespace = snapshot.listing("namespaces").find(None, "kube-system")
        metadata = namespace.get("metadata") if namespace is not None else None
        uid = metadata.get("uid") if isinstance(metadata, Mapping) else None
        if isinstance(uid, str) and uid:
            context.claim(uid)
        return snapshot


def snapshot_from_document(document: Any, origin: str) -> Snapshot:
    """A snapshot from a parsed bundle or List; raise DumpError for anything else."""
    if not isinstance(document, dict):
        raise DumpError(f"{origin}: not a JSON object (a netadvisor bundle or a kubectl List)")
    kind = document.get("kind")
    if kind != DUMP_KIND and isinstance(document.get("items"), list):
        return _from_list(document, origin)
    if kind != DUMP_KIND and not any(r.key in document for r in RESOURCES):
        if isinstance(document.get("metadata"), dict) and isinstance(kind, str):
            return _from_list({"kind": "List", "items": [document]}, origin)
        raise DumpError(
            f"{origin}: neither a netadvisor dump bundle (kind {DUMP_KIND}) nor a Kubernetes List"
        )
    version_part = document.get("version")
    version: Mapping[str, Any] | None = None
    version_problem: ReadProblem | None = None
    if isinstance(version_part, dict) and "error" not in version_part:
        version = version_part
    elif isinstance(version_part, dict):
        version_problem = _problem(version_part)
    else:
        version_problem = ReadProblem(ProblemKind.NOT_COLLECTED, "/version not in the dump")
    listings = {}
    for rtype in RESOURCES:
        if rtype.key in document:
            listings[rtype.key] = Listing.merge(_parts(document[rtype.key], rtype.kind))
    if version is None and not any(listing.items for listing in listings.values()):
        first = version_problem or next(
            (p for listing in listings.values() for p in listing.problems), None
        )
        said = f"; kubectl said: {first.message}" if first is not None else ""
        raise DumpError(f"{origin} holds no data{said}")
    return Snapshot(version, version_problem, listings, origin, _node_sets(document))


def _node_sets(document: Mapping[str, Any]) -> dict[str, Listing]:
    """``nodeSelections``: workload reference -> node names (or an error), as the live read
    wrote them; kubectl dumps have none (their nodes carry labels to match instead)."""
    found = document.get(NODE_SELECTIONS)
    if not isinstance(found, dict):
        return {}
    sets = {}
    for ref, value in found.items():
        if isinstance(value, list):
            names = [n for n in value if isinstance(n, str)]
            sets[str(ref)] = Listing(tuple({"metadata": {"name": n}} for n in names))
        elif isinstance(value, dict):
            sets[str(ref)] = Listing((), (_problem(value),))
    return sets


def _parts(value: Any, kind: str) -> Iterator[Listing]:
    if isinstance(value, list):
        for part in value:
            yield from _parts(part, kind) if not isinstance(part, list) else ()
        return
    if not isinstance(value, dict):
        yield Listing((), (ReadProblem(ProblemKind.FAILED, "unreadable part of the dump"),))
        return
    if "error" in value:
        yield Listing((), (_problem(value),))
        return
    items = value.get("items")
    if isinstance(items, list):
        yield Listing(tuple(_with_kind(i, kind) for i in items if isinstance(i, dict)))
        return
    if isinstance(value.get("metadata"), dict):
        yield Listing((_with_kind(value, kind),))
        return
    yield Listing((), (ReadProblem(ProblemKind.FAILED, "unreadable part of the dump"),))


def _with_kind(item: dict[str, Any], kind: str) -> KubeObject:
    if "kind" not in item:
        item["kind"] = kind
    return item


def _problem(part: Mapping[str, Any]) -> ReadProblem:
    text = str(part.get("error") or "unknown error").strip()[:300]
    namespace = part.get("namespace") if isinstance(part.get("namespace"), str) else None
    name = part.get("name") if isinstance(part.get("name"), str) else None
    reason = part.get("reason")
    if isinstance(reason, str) and reason in _BY_REASON:
        return ReadProblem(_BY_REASON[reason], text, namespace, name)
    # kubectl prints the API server's Status message after "Error from server (Reason): ".
    match = _KUBECTL_ERROR.match(text)
    server_reason = match.group(1) if match else ""
    if match:
        text = text[match.end() :]
    lowered = text.lower()
    if server_reason == "Forbidden" or " is forbidden" in lowered:
        kind = ProblemKind.FORBIDDEN
    elif "doesn't have a resource type" in lowered or "could not find the requested" in lowered:
        kind = ProblemKind.NOT_SERVED
    elif server_reason == "NotFound" or " not found" in lowered:
        kind = ProblemKind.NOT_FOUND
    else:
        kind = ProblemKind.FAILED
    return ReadProblem(kind, text, namespace, name)


def _from_list(document: Mapping[str, Any], origin: str) -> Snapshot:
    list_kind = document.get("kind")
    default_kind = (
        list_kind[: -len("List")]
        if isinstance(list_kind, str) and list_kind.endswith("List") and list_kind != "List"
        else None
    )
    grouped: dict[str, list[KubeObject]] = {}
    for item in document.get("items") or ():
        if not isinstance(item, dict):
            continue
        kind = item.get("kind") or default_kind
        rtype = BY_KIND.get(kind) if isinstance(kind, str) else None
        if rtype is not None:
            grouped.setdefault(rtype.key, []).append(_with_kind(item, rtype.kind))
    problem = ReadProblem(ProblemKind.NOT_COLLECTED, "/version not in the dump")
    listings = {key: Listing(tuple(items)) for key, items in grouped.items()}
    return Snapshot(None, problem, listings, origin)


# ---------------------------------------------------------------------------------------------


def bundle_from_snapshot(snapshot: Snapshot, context: str | None = None) -> dict[str, Any]:
    """The bundle holding a snapshot (``snapshot_from_document`` reads it back the same)."""
    bundle: dict[str, Any] = {"kind": DUMP_KIND, "dumpVersion": DUMP_VERSION}
    if context:
        bundle["context"] = context
    if snapshot.version is not None:
        bundle["version"] = dict(snapshot.version)
    elif snapshot.version_problem is not None:
        bundle["version"] = _error(snapshot.version_problem)
    for key, listing in snapshot.resources.items():
        rtype = BY_KEY[key]
        items = [dict(i) for i in listing.items]
        parts: list[dict[str, Any]] = [_error(p) for p in listing.problems]
        api_version = f"{rtype.group}/{rtype.version}" if rtype.group else rtype.version
        whole = {"apiVersion": "v1", "kind": "List", "items": items}
        for item in items:
            item.setdefault("apiVersion", api_version)
        bundle[key] = [whole, *parts] if parts else whole
    if snapshot.node_sets:
        bundle[NODE_SELECTIONS] = {
            ref: _error(listing.problems[0])
            if listing.problems
            else [str(i.get("metadata", {}).get("name")) for i in listing.items]
            for ref, listing in snapshot.node_sets.items()
        }
    return bundle


def _error(problem: ReadProblem) -> dict[str, Any]:
    part: dict[str, Any] = {"error": problem.message, "reason": _REASONS[problem.kind]}
    if problem.namespace is not None:
        part["namespace"] = problem.namespace
    if problem.name is not None:
        part["name"] = problem.name
    return part


def demo_bundles() -> list[Path]:
    """The bundled demo fleet (package data ``jobs/demo/*.json``), sorted by name."""
    directory = Path(str(package_files.files("jobs") / "demo"))
    return sorted(directory.glob("*.json"))


def dump_script() -> str:
    """A POSIX sh script that writes a bundle with kubectl (read-only calls only).

    Every call that fails (forbidden, resource type not served) is written as its error text,
    so the script completes on any cluster.
    """
    crds = " ".join(r.kubectl_name for r in RESOURCES if "." in r.group)
    return f"""#!/bin/sh
# netadvisor dump: read-only kubectl calls written as one JSON bundle for `netadvisor --dump`.
# Usage: sh dump.sh [OUTPUT.json]   (pick the cluster with KUBECTL="kubectl --context NAME")
set -u
out=${{1:-netadvisor-dump.json}}
k=${{KUBECTL:-kubectl}}
t=$(mktemp -d) || exit 1
trap 'rm -rf "$t"' EXIT
q() {{ tr -d '\\000-\\037' | sed 's/\\\\/\\\\\\\\/g; s/"/\\\\"/g; s/[[:space:]]*$//'; }}
j() {{ if $k "$@" >"$t/o" 2>"$t/e"; then cat "$t/o"
  else printf '{{"error":"%s"}}' "$(tail -n 1 "$t/e" | q)"; fi; }}
{{
printf '{{"kind":"{DUMP_KIND}","dumpVersion":{DUMP_VERSION},"context":"%s",\\n"version":' \\
  "$($k config view --minify -o 'jsonpath={{.current-context}}' 2>/dev/null | q)"
j get --raw /version
printf ',\\n"namespaces":'; j get namespace kube-system -o json
printf ',\\n"nodes":'; j get nodes -o json
printf ',\\n"daemonsets":'; j get daemonsets -A -o json
printf ',\\n"pods":'; j get pods -n kube-system -l component=kube-proxy -o json
printf ',\\n"deployments":['
j get deployments -A --field-selector metadata.name=calico-kube-controllers -o json; printf ,
j get deployments -A --field-selector metadata.name=spiderpool-controller -o json
printf '],\\n"configmaps":['; j get configmaps -n kube-system -o json; printf ,
j get configmaps -A --field-selector metadata.name=spiderpool-conf -o json
printf '],\\n"services":'; j get services -A -o json
for r in {crds}; do
  printf ',\\n"%s":' "${{r%%.*}}"; j get "$r" -o json
done
printf '}}\\n'
}} >"$out" && echo "netadvisor: wrote $out" >&2
"""
