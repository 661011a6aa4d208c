"""deploy/'s kustomizations render, validate against the Kubernetes schemas, and say what they
promise: least privilege, a locked-down pod, probes, and the shape of each overlay."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bot.settings import load_settings
from jobs.leader import DEFAULT_LEASE_NAME
from tests.deploy.manifests import (
    DEPLOY,
    KUSTOMIZATIONS,
    REPO,
    containers,
    env,
    find,
    pod_specs,
    render,
)

JSON = dict[str, Any]

# The oldest Kubernetes the manifests support (CronJob timeZone is GA in 1.27) and the newest
# the schemas know.
SCHEMA_VERSIONS = ("1.27.0", kubernetes_validate.utils.latest_version() + ".0")
OVERLAYS = ("single-sqlite", "replicas-postgres", "scan-cronjob", "watched-cluster")
WORKLOADS = ("base", *(f"overlays/{name}" for name in OVERLAYS if name != "watched-cluster"))
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def test_every_overlay_the_issue_asks_for_exists() -> None:
    assert {f"overlays/{name}" for name in OVERLAYS} <= set(KUSTOMIZATIONS)
    assert "base" in KUSTOMIZATIONS


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_every_kustomization_renders_and_validates_against_the_kubernetes_schemas(
    directory: str, version: str
) -> None:
    docs = render(directory)
    assert docs
    for doc in docs:
        where = f"{directory}: {doc['kind']}/{doc['metadata']['name']}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{where} is not valid for Kubernetes {version}: {exc.message}")


def test_the_validation_catches_a_misspelt_field() -> None:
    deployment = copy.deepcopy(find(render("overlays/single-sqlite"), "Deployment")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContexts"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, SCHEMA_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("directory", WORKLOADS)
def test_pods_run_locked_down_with_resources(directory: str) -> None:
    specs = list(pod_specs(render(directory)))
    assert specs
    for workload, spec in specs:
        name = f"{directory}: {workload['kind']}/{workload['metadata']['name']}"
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] > 0 and pod["runAsGroup"] > 0, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["serviceAccountName"] == "netadvisor", name
        assert spec.get("hostNetwork") is not True and spec.get("hostPID") is not True, name
        for container in containers(spec):
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc.get("privileged", False) is False, name
            assert sc["capabilities"] == {"drop": ["ALL"]}, name
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), name
            assert "memory" in resources["limits"], name
            assert container["image"] == f"netadvisor:{VERSION}", name


@pytest.mark.parametrize("directory", WORKLOADS)
def test_only_the_state_and_temporary_directories_are_writable(directory: str) -> None:
    for _, spec in pod_specs(render(directory)):
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in containers(spec):
            variables = env(container)
            writable = {
                m["mountPath"]: volumes[m["name"]]
                for m in container["volumeMounts"]
                if not m.get("readOnly")
            }
            assert set(writable) == {"/var/lib/netadvisor", "/tmp"}
            assert variables["XDG_STATE_HOME"]["value"] == "/var/lib/netadvisor"
            assert variables["TMPDIR"]["value"] == "/tmp"
            assert variables["XDG_CACHE_HOME"]["value"].startswith("/tmp/")
            for mount in container["volumeMounts"]:
                if mount["name"] in ("config", "kubeconfigs"):
                    assert mount["readOnly"] is True


@pytest.mark.parametrize("directory", WORKLOADS)
def test_secrets_are_referenced_never_written_down(directory: str) -> None:
    docs = render(directory)
    assert find(docs, "Secret") == []
    for _, spec in pod_specs(docs):
        for container in containers(spec):
            for name, variable in env(container).items():
                if any(word in name for word in ("TOKEN", "SECRET", "PASSWORD", "DATABASE_URL")):
                    assert "value" not in variable, f"{name} has a literal value"
                    assert "secretKeyRef" in variable["valueFrom"], name
        kubeconfigs = next(v for v in spec["volumes"] if v["name"] == "kubeconfigs")
        assert kubeconfigs["secret"]["secretName"] == "netadvisor-kubeconfigs"


@pytest.mark.parametrize("directory", WORKLOADS)
def test_the_configuration_is_a_valid_config_file_mounted_where_the_variable_says(
    directory: str, tmp_path: Path
) -> None:
    docs = render(directory)
    (configmap,) = find(docs, "ConfigMap")
    assert configmap["metadata"]["name"].startswith("netadvisor-config-")  # hashed: pods roll
    path = tmp_path / "config.yaml"
    path.write_text(configmap["data"]["config.yaml"])
    settings = load_settings(str(path), environ={})
    assert [c.name for c in settings.fleet.clusters] == ["hub"]
    assert settings.fleet.clusters[0].in_cluster
    for _, spec in pod_specs(docs):
        volume = next(v for v in spec["volumes"] if v["name"] == "config")
        assert volume["configMap"]["name"] == configmap["metadata"]["name"]
        (container,) = spec["containers"]
        mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
        config = env(container)["NETADVISOR_CONFIG"]["value"]
        assert config == f"{mount['mountPath']}/config.yaml"


@pytest.mark.parametrize("directory", ["overlays/single-sqlite", "overlays/replicas-postgres"])
def test_the_bot_has_probes_on_its_port(directory: str) -> None:
    (deployment,) = find(render(directory), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["serve"]
    (port,) = container["ports"]
    assert port["name"] == "http"
    assert str(port["containerPort"]) == env(container)["NETADVISOR_PORT"]["value"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert env(container)["NETADVISOR_LOG_FORMAT"]["value"] == "json"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == str(port["containerPort"])
    (service,) = find(render(directory), "Service")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_single_sqlite_is_one_replica_on_a_claim_that_is_never_shared() -> None:
    docs = render("overlays/single-sqlite")
    (deployment,) = find(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    spec = deployment["spec"]["template"]["spec"]
    state = next(v for v in spec["volumes"] if v["name"] == "state")
    assert state == {"name": "state", "persistentVolumeClaim": {"claimName": "netadvisor-state"}}
    (claim,) = find(docs, "PersistentVolumeClaim", "netadvisor-state")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "NETADVISOR_DATABASE_URL" not in env(spec["containers"][0])


def test_replicas_postgres_runs_several_replicas_on_one_database() -> None:
    docs = render("overlays/replicas-postgres")
    (deployment,) = find(docs, "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    url = env(container)["NETADVISOR_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert url == {"name": "netadvisor-database", "key": "url"}
    (budget,) = find(docs, "PodDisruptionBudget")
    assert (
        budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    )
    assert find(docs, "PersistentVolumeClaim") == []


def test_the_scan_cronjob_runs_scan_alone_without_the_bot_or_the_election() -> None:
    docs = render("overlays/scan-cronjob")
    assert find(docs, "Deployment") == [] and find(docs, "Service") == []
    assert find(docs, "Role") == []  # no Lease: one run at a time is the CronJob's job
    (cronjob,) = find(docs, "CronJob")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    spec = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    assert container["args"] == ["scan"]
    assert "SLACK_APP_TOKEN" not in env(container)  # no bot, no Socket Mode
    state = next(v for v in spec["volumes"] if v["name"] == "state")
    claim = state["persistentVolumeClaim"]["claimName"]
    assert find(docs, "PersistentVolumeClaim", claim)


def test_the_watched_cluster_gets_the_reader_and_a_token_and_nothing_that_runs() -> None:
    docs = render("overlays/watched-cluster")
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == [
        "ClusterRole",
        "ClusterRole",
        "ClusterRoleBinding",
        "Namespace",
        "RoleBinding",
        "Secret",
        "ServiceAccount",
    ]
    (secret,) = find(docs, "Secret")
    assert secret["type"] == "kubernetes.io/service-account-token"
    assert secret["metadata"]["annotations"] == {"kubernetes.io/service-account.name": "netadvisor"}
    assert "data" not in secret and "stringData" not in secret
    (account,) = find(docs, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False


def test_the_lease_role_grants_the_one_lease_the_replicas_elect_with() -> None:
    docs = render("base")
    (role,) = find(docs, "Role", "netadvisor-leader-election")
    assert role["metadata"]["namespace"] == "netadvisor"
    by_verb = {}
    for rule in role["rules"]:
        assert rule["apiGroups"] == ["coordination.k8s.io"] and rule["resources"] == ["leases"]
        for verb in rule["verbs"]:
            by_verb[verb] = rule.get("resourceNames")
    assert by_verb == {
        "create": None,  # create cannot be limited by name
        "get": [DEFAULT_LEASE_NAME],
        "update": [DEFAULT_LEASE_NAME],
    }
    (binding,) = find(docs, "RoleBinding", "netadvisor-leader-election")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "netadvisor", "namespace": "netadvisor"}
    ]


def test_the_namespace_enforces_the_restricted_pod_security_standard() -> None:
    (namespace,) = find(render("reader"), "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_no_kustomization_uses_a_namespace_transformer() -> None:
    # It would move the kube-system RoleBinding into netadvisor's namespace.
    for path in DEPLOY.rglob("kustomization.yaml"):
        assert "namespace" not in yaml.safe_load(path.read_text()), path
