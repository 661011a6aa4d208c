"""The fake API server's Leases, through the real client: create, read, replace, conflicts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.servers.kubeapi import KubeAPIServer

NS = "netadvisor"


@pytest.fixture
def api() -> Iterator[tuple[KubeAPIServer, client.CoordinationV1Api]]:
    scenario = {"objects": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}]}
    with KubeAPIServer(scenario) as server:
        configuration = client.Configuration()
        configuration.host = server.url
        with client.ApiClient(configuration) as api_client:
            yield server, client.CoordinationV1Api(api_client)
        assert server.handler_errors == []


def _lease(name: str, holder: str) -> client.V1Lease:
    now = datetime.now(UTC)
    return client.V1Lease(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1LeaseSpec(
            holder_identity=holder, lease_duration_seconds=15, acquire_time=now, renew_time=now
        ),
    )


def _error(exc: pytest.ExceptionInfo[ApiException]) -> tuple[int, str]:
    body = json.loads(exc.value.body)
    return int(exc.value.status), str(body["reason"])


def test_a_lease_is_created_once_and_read_back(
    api: tuple[KubeAPIServer, client.CoordinationV1Api],
) -> None:
    server, leases = api
    with pytest.raises(ApiException) as missing:
        leases.read_namespaced_lease("lock", NS)
    assert _error(missing) == (404, "NotFound")
    created = leases.create_namespaced_lease(NS, _lease("lock", "a"))
    assert created.metadata.resource_version and created.metadata.uid
    assert created.metadata.namespace == NS
    with pytest.raises(ApiException) as again:
        leases.create_namespaced_lease(NS, _lease("lock", "b"))
    assert _error(again) == (409, "AlreadyExists")
    read = leases.read_namespaced_lease("lock", NS)
    assert read.spec.holder_identity == "a"
    assert read.metadata.resource_version == created.metadata.resource_version
    assert server.leases.holder(NS, "lock") == "a"
    listed = leases.list_namespaced_lease(NS)
    assert [item.metadata.name for item in listed.items] == ["lock"]


def test_a_replace_needs_the_current_resource_version(
    api: tuple[KubeAPIServer, client.CoordinationV1Api],
) -> None:
    server, leases = api
    first = leases.create_namespaced_lease(NS, _lease("lock", "a"))
    second_view = leases.read_namespaced_lease("lock", NS)
    first.spec.holder_identity = "a"
    renewed = leases.replace_namespaced_lease("lock", NS, first)
    assert int(renewed.metadata.resource_version) > int(first.metadata.resource_version)
    second_view.spec.holder_identity = "b"  # a stale read: b must not win
    with pytest.raises(ApiException) as conflict:
        leases.replace_namespaced_lease("lock", NS, second_view)
    assert _error(conflict) == (409, "Conflict")
    assert server.leases.holder(NS, "lock") == "a"
    assert server.leases.conflicts == 1
    unconditional = _lease("lock", "b")
    with pytest.raises(ApiException) as invalid:
        leases.replace_namespaced_lease("lock", NS, unconditional)
    assert _error(invalid) == (422, "Invalid")


def test_writes_into_a_missing_namespace_or_forbidden_leases_fail_like_a_real_server(
    api: tuple[KubeAPIServer, client.CoordinationV1Api],
) -> None:
    server, leases = api
    with pytest.raises(ApiException) as missing_ns:
        leases.create_namespaced_lease("nowhere", _lease("lock", "a"))
    assert _error(missing_ns) == (404, "NotFound")
    server.update_scenario(forbidden=[("coordination.k8s.io", "leases", "create")])
    with pytest.raises(ApiException) as forbidden:
        leases.create_namespaced_lease(NS, _lease("lock", "a"))
    assert _error(forbidden) == (403, "Forbidden")
    methods = [(r.method, r.rbac) for r in server.requests]
    assert ("POST", ("coordination.k8s.io", "leases", "create")) in methods
    assert b'"holderIdentity":"a"' in server.requests[-1].body.replace(b" ", b"")


def test_times_are_stored_as_utc_micro_time(
    api: tuple[KubeAPIServer, client.CoordinationV1Api],
) -> None:
    server, leases = api
    leases.create_namespaced_lease(NS, _lease("lock", "a"))
    stored = server.leases.get(NS, "lock")
    assert stored is not None
    renew = stored["spec"]["renewTime"]
    assert renew.endswith("Z") and len(renew.split(".")[1]) == 7  # six digits and the Z
