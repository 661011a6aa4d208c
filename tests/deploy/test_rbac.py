"""RBAC cannot drift from the code: what inventory and leader election request against a
Kubernetes API server on 127.0.0.1 is exactly what the rendered roles grant, in both directions,
and every request is allowed where it is made (namespace and object name included)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jobs.inventory.kube import kubeconfig_reader
from jobs.inventory.resources import PERMISSIONS
from jobs.inventory.run import ClusterTarget, read_fleet
from jobs.leader import ElectionSettings, LeaseElector, api_client
from tests.deploy.manifests import find, render
from tests.jobs.inventory.scenarios import SCENARIOS, rke2_spiderpool_openeuler
from tests.servers.kubeapi import KubeAPIServer, RecordedRequest, write_kubeconfig

JSON = dict[str, Any]
SUBJECT = {"kind": "ServiceAccount", "name": "netadvisor", "namespace": "netadvisor"}
Triple = tuple[str, str, str]


@dataclass(frozen=True)
class Request:
    """A resource request as an RBAC authorizer sees it."""

    group: str
    resource: str
    verb: str
    namespace: str | None
    name: str | None

    @property
    def triple(self) -> Triple:
        return (self.group, self.resource, self.verb)


def as_request(recorded: RecordedRequest) -> Request | None:
    """Group, resource, verb, namespace and object name of a recorded request."""
    attributes = recorded.rbac
    if attributes is None:
        return None
    parts = [p for p in recorded.path.split("/") if p]
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    if rest and rest[0] == "watch":
        rest = rest[1:]
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    name = rest[1] if len(rest) >= 2 else None
    return Request(attributes.group, attributes.resource, attributes.verb, namespace, name)


def _rule_allows(rule: JSON, request: Request) -> bool:
    if request.group not in rule.get("apiGroups", ()):
        return False
    if request.resource not in rule.get("resources", ()) or request.verb not in rule["verbs"]:
        return False
    names = rule.get("resourceNames")
    # See: https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources
    return not names or (request.name in names and request.verb not in ("list", "watch"))


def allowed(docs: list[JSON], request: Request) -> bool:
    """Whether the rendered bindings let netadvisor's ServiceAccount make ``request``."""
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d for d in docs}
    for binding in find(docs, "ClusterRoleBinding") + find(docs, "RoleBinding"):
        if SUBJECT not in binding["subjects"]:
            continue
        scope = binding["metadata"].get("namespace")
        if scope is not None and scope != request.namespace:
            continue
        ref = binding["roleRef"]
        role = roles.get(
            (ref["kind"], None if ref["kind"] == "ClusterRole" else scope, ref["name"])
        )
        assert role is not None, f"{binding['metadata']['name']} refers to a missing role"
        if any(_rule_allows(rule, request) for rule in role["rules"]):
            return True
    return False


def granted(docs: list[JSON], kinds: tuple[str, ...]) -> set[Triple]:
    """Every (group, resource, verb) the roles of ``kinds`` grant."""
    out: set[Triple] = set()
    for kind in kinds:
        for role in find(docs, kind):
            for rule in role["rules"]:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        out |= {(group, resource, verb) for verb in rule["verbs"]}
    return out


def spiderpool_in_its_own_namespace() -> JSON:
    """The RKE2 scenario with Spiderpool installed in namespace ``spiderpool`` (its Helm chart's
    usual choice), where inventory reads the ConfigMap spiderpool-conf by name."""
    scenario = rke2_spiderpool_openeuler()
    for obj in scenario["objects"]:
        meta = obj["metadata"]
        if meta.get("namespace") == "kube-system" and "spiderpool" in meta["name"]:
            meta["namespace"] = "spiderpool"
        if obj["kind"] == "Namespace" and meta["name"] == "kube-system":
            meta["uid"] = "5b1d0c6e-0000-4000-8000-000000000001"  # another cluster than rke2
    return scenario


INVENTORY_SCENARIOS = {**SCENARIOS, "spiderpool-namespace": spiderpool_in_its_own_namespace}


@pytest.fixture(scope="module")
def inventory_requests(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Request]]:
    """Every request inventory makes over all the inventory scenarios (one server each)."""
    directory = tmp_path_factory.mktemp("rbac")
    servers = {name: KubeAPIServer(build(), token=f"t-{name}", tls=True)
               for name, build in INVENTORY_SCENARIOS.items()}  # fmt: skip
    try:
        kubeconfig = write_kubeconfig(
            directory / "kubeconfig", [(n, s, f"t-{n}") for n, s in servers.items()]
        )
        targets = [ClusterTarget(n, kubeconfig_reader(str(kubeconfig), n)) for n in servers]
        clusters = read_fleet(targets, concurrency=4, timeout=30)
        assert {c.name: c.status.value for c in clusters} == dict.fromkeys(servers, "ok")
        requests = [
            request
            for server in servers.values()
            for recorded in server.requests
            if (request := as_request(recorded)) is not None
        ]
        yield requests
    finally:
        for server in servers.values():
            server.stop()


def test_inventory_requests_exactly_what_the_cluster_roles_grant(
    inventory_requests: list[Request],
) -> None:
    used = {r.triple for r in inventory_requests}
    grants = granted(render("reader"), ("ClusterRole",))
    assert sorted(used - grants) == [], "requested but not granted: add them to deploy/reader"
    assert sorted(grants - used) == [], "granted but never requested: remove them"


def test_every_inventory_request_is_allowed_where_it_is_made(
    inventory_requests: list[Request],
) -> None:
    for overlay in ("reader", "overlays/watched-cluster", "overlays/single-sqlite"):
        docs = render(overlay)
        refused = sorted({r for r in inventory_requests if not allowed(docs, r)}, key=str)
        assert refused == [], f"{overlay} refuses {refused}"


def test_the_readme_permission_table_says_what_the_roles_grant() -> None:
    documented = {(p.group, p.resource, verb) for p in PERMISSIONS for verb in p.verbs}
    assert documented == granted(render("reader"), ("ClusterRole",))


def test_the_authorizer_here_refuses_what_rbac_refuses() -> None:
    docs = render("reader")
    secrets = Request("", "secrets", "list", None, None)
    other_configmaps = Request("", "configmaps", "list", "default", None)
    other_namespace = Request("", "namespaces", "get", None, "default")
    listed_by_name = Request("", "namespaces", "list", None, None)
    pods_elsewhere = Request("", "pods", "list", "payments", None)
    writes = Request("apps", "daemonsets", "update", "kube-system", "kube-proxy")
    for request in (
        secrets,
        other_configmaps,
        other_namespace,
        listed_by_name,
        pods_elsewhere,
        writes,
    ):
        assert not allowed(docs, request), request
    assert allowed(docs, Request("", "configmaps", "list", "kube-system", None))
    assert allowed(docs, Request("", "configmaps", "get", "spiderpool", "spiderpool-conf"))


def test_leader_election_requests_exactly_what_the_lease_role_grants(tmp_path: Path) -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "netadvisor"}}
    with KubeAPIServer({"objects": [namespace]}, token="t", tls=True) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", [("hub", server, "t")])
        clients = [api_client(kubeconfig), api_client(kubeconfig)]
        electors = [
            LeaseElector(
                client,
                ElectionSettings(
                    namespace="netadvisor",
                    identity=f"pod-{i}",
                    lease_duration=3,
                    renew_deadline=2,
                    retry_period=1,
                ),
            )
            for i, client in enumerate(clients)
        ]
        try:
            for elector in electors:
                elector.start()
            assert electors[0].wait_until_leader(5) or electors[1].wait_until_leader(5)
            time.sleep(1.5)  # renewals, and the follower's reads
        finally:
            for elector in electors:
                elector.stop()  # the leader releases the Lease (an update)
            for client in clients:
                client.close()
        requests = [r for rec in server.requests if (r := as_request(rec)) is not None]
    docs = render("base")
    used = {r.triple for r in requests}
    assert used == granted(docs, ("Role",))
    assert [r for r in requests if not allowed(docs, r)] == []
