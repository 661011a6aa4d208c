"""Realistic clusters for inventory tests, as scenarios of the fake API server.

Each function returns a scenario dict for :class:`tests.servers.kubeapi.KubeAPIServer` whose
objects follow what the real installers create (kubeadm, RKE2, EKS, the Calico manifests and
operator, the Spiderpool chart). ``EXPECTED`` says what inventory must read from each.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from tests.servers.kubeapi import realistic_node

JSON = dict[str, Any]


def uid_of(name: str) -> str:
    """A stable kube-system UID per scenario (the fake server would give all clusters one)."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.kube-system.example"))


def namespace(name: str, uid: str | None = None) -> JSON:
    meta: JSON = {"name": name, "labels": {"kubernetes.io/metadata.name": name}}
    if uid:
        meta["uid"] = uid
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta,
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def container(
    name: str,
    image: str,
    *,
    command: list[str] | None = None,
    args: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    mounts: Iterable[tuple[str, str]] = (),
) -> JSON:
    out: JSON = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent"}
    if command:
        out["command"] = command
    if args:
        out["args"] = args
    if env:
        out["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if mounts:
        out["volumeMounts"] = [{"name": n, "mountPath": p} for n, p in mounts]
    out["resources"] = {"requests": {"cpu": "100m"}}
    out["terminationMessagePath"] = "/dev/termination-log"
    return out


def _pod_template(labels: JSON, containers: list[JSON], volumes: list[JSON]) -> JSON:
    spec: JSON = {
        "containers": containers,
        "hostNetwork": True,
        "priorityClassName": "system-node-critical",
        "serviceAccountName": labels.get("k8s-app", "default"),
        "tolerations": [{"operator": "Exists"}],
    }
    if volumes:
        spec["volumes"] = volumes
    return {"metadata": {"labels": labels}, "spec": spec}


def daemonset(
    name: str, ns: str, containers: list[JSON], volumes: list[JSON] | None = None
) -> JSON:
    labels = {"k8s-app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "generation": 3},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": _pod_template(labels, containers, list(volumes or ())),
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        },
        "status": {
            "currentNumberScheduled": 3,
            "desiredNumberScheduled": 3,
            "numberReady": 3,
            "numberAvailable": 3,
            "updatedNumberScheduled": 3,
        },
    }


def deployment(name: str, ns: str, containers: list[JSON]) -> JSON:
    labels = {"k8s-app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": _pod_template(labels, containers, []),
        },
        "status": {"readyReplicas": 1, "replicas": 1, "availableReplicas": 1},
    }


def static_pod(name: str, node: str, containers: list[JSON], labels: JSON) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-{node}",
            "namespace": "kube-system",
            "labels": labels,
            "annotations": {
                "kubernetes.io/config.mirror": uuid.uuid5(uuid.NAMESPACE_DNS, name + node).hex,
                "kubernetes.io/config.source": "file",
            },
        },
        "spec": {"containers": containers, "hostNetwork": True, "nodeName": node},
        "status": {"phase": "Running"},
    }


def configmap(name: str, ns: str, data: Mapping[str, str]) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": dict(data),
    }


def service(name: str, ns: str = "default", svc_type: str = "ClusterIP", **spec: Any) -> JSON:
    body: JSON = {
        "type": svc_type,
        "clusterIP": "10.96.12.34",
        "selector": {"app": name},
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}],
    }
    body.update(spec)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": body,
    }


def custom(api_version: str, kind: str, name: str, spec: JSON) -> JSON:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": spec}


def ippool(name: str, cidr: str, ipip: str = "Never", vxlan: str = "Never") -> JSON:
    return custom(
        "crd.projectcalico.org/v1",
        "IPPool",
        name,
        {
            "cidr": cidr,
            "ipipMode": ipip,
            "vxlanMode": vxlan,
            "natOutgoing": True,
            "nodeSelector": "all()",
            "blockSize": 26,
        },
    )


def calico_common(version: str, backend: str | None = None) -> list[JSON]:
    felix: JSON = {"bpfLogLevel": "", "logSeverityScreen": "Info", "reportingInterval": "0s"}
    if backend:
        felix["iptablesBackend"] = backend
    return [
        custom("crd.projectcalico.org/v1", "FelixConfiguration", "default", felix),
        custom(
            "crd.projectcalico.org/v1",
            "ClusterInformation",
            "default",
            {
                "calicoVersion": version,
                "clusterGUID": uuid.uuid5(uuid.NAMESPACE_DNS, version).hex,
                "clusterType": "k8s,bgp,kubeadm,kdd",
                "datastoreReady": True,
            },
        ),
    ]


def kube_proxy_kubeadm(version: str, mode: str, extra_config: str = "") -> list[JSON]:
    config = (
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
        "bindAddress: 0.0.0.0\n"
        "clusterCIDR: 10.244.0.0/16\n"
        "conntrack:\n  maxPerCore: null\n  min: null\n"
        'ipvs:\n  scheduler: ""\n  strictARP: false\n'
        "kind: KubeProxyConfiguration\n"
        f'mode: "{mode}"\n' + extra_config
    )
    proxy = container(
        "kube-proxy",
        f"registry.k8s.io/kube-proxy:{version}",
        command=[
            "/usr/local/bin/kube-proxy",
            "--config=/var/lib/kube-proxy/config.conf",
            "--hostname-override=$(NODE_NAME)",
        ],
        mounts=[
            ("kube-proxy", "/var/lib/kube-proxy"),
            ("xtables-lock", "/run/xtables.lock"),
            ("lib-modules", "/lib/modules"),
        ],
    )
    volumes = [
        {"name": "kube-proxy", "configMap": {"name": "kube-proxy", "defaultMode": 420}},
        {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
        {"name": "lib-modules", "hostPath": {"path": "/lib/modules", "type": ""}},
    ]
    kubeconfig = (
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://10.0.0.1:6443\n"
    )
    return [
        daemonset("kube-proxy", "kube-system", [proxy], volumes),
        configmap(
            "kube-proxy", "kube-system", {"config.conf": config, "kubeconfig.conf": kubeconfig}
        ),
        configmap(
            "kubeadm-config",
            "kube-system",
            {"ClusterConfiguration": f"kubernetesVersion: {version}\n"},
        ),
    ]


def calico_node(image: str, ns: str = "kube-system", env: Mapping[str, str] | None = None) -> JSON:
    base = {
        "DATASTORE_TYPE": "kubernetes",
        "WAIT_FOR_DATASTORE": "true",
        "CLUSTER_TYPE": "k8s,bgp",
        "IP": "autodetect",
        "CALICO_DISABLE_FILE_LOGGING": "true",
        "FELIX_DEFAULTENDPOINTTOHOSTACTION": "ACCEPT",
        "FELIX_HEALTHENABLED": "true",
    }
    base.update(env or {})
    return daemonset("calico-node", ns, [container("calico-node", image, env=base)])


def nodes(prefix: str, count: int, control_planes: int = 1, **kwargs: Any) -> list[JSON]:
    out = []
    for i in range(count):
        roles = ["control-plane"] if i < control_planes else []
        name = f"{prefix}-{'cp' if i < control_planes else 'worker'}-{i}"
        out.append(realistic_node(name, roles=roles, images=8, **kwargs))
    return out


# ---------------------------------------------------------------------------------------------


def kubeadm_centos_ipvs_calico() -> JSON:
    """kubeadm 1.23 on CentOS 7.9, kube-proxy in IPVS mode, Calico 3.19 with VXLAN."""
    kernel = "3.10.0-1160.el7.x86_64"
    objects = [
        namespace("kube-system", uid_of("centos")),
        *nodes(
            "centos",
            4,
            kernel=kernel,
            os_image="CentOS Linux 7 (Core)",
            kubelet="v1.23.17",
            runtime="docker://20.10.24",
        ),
        *kube_proxy_kubeadm("v1.23.17", "ipvs"),
        calico_node(
            "docker.io/calico/node:v3.19.1",
            env={"CALICO_IPV4POOL_IPIP": "Never", "CALICO_IPV4POOL_VXLAN": "Always"},
        ),
        deployment(
            "calico-kube-controllers",
            "kube-system",
            [container("calico-kube-controllers", "docker.io/calico/kube-controllers:v3.19.1")],
        ),
        ippool("default-ipv4-ippool", "10.244.0.0/16", vxlan="Always"),
        *calico_common("v3.19.1"),
        service("kubernetes"),
        service("ingress", "web", externalIPs=["192.0.2.10"], externalTrafficPolicy="Local"),
    ]
    return {"version": {"gitVersion": "v1.23.17"}, "objects": objects}


def ubuntu_nftables_lb_ranges() -> JSON:
    """kubeadm 1.29 on Ubuntu 22.04, nftables mode, Calico 3.27 via the operator, LB ranges."""
    objects = [
        namespace("kube-system", uid_of("ubuntu")),
        *nodes(
            "ubuntu",
            3,
            kernel="5.15.0-105-generic",
            os_image="Ubuntu 22.04.4 LTS",
            kubelet="v1.29.4",
            runtime="containerd://1.7.12",
        ),
        *kube_proxy_kubeadm("v1.29.4", "nftables"),
        calico_node("docker.io/calico/node:v3.27.3", "calico-system"),
        deployment(
            "calico-kube-controllers",
            "calico-system",
            [container("calico-kube-controllers", "docker.io/calico/kube-controllers:v3.27.3")],
        ),
        ippool("default-ipv4-ippool", "192.168.0.0/16", vxlan="CrossSubnet"),
        custom(
            "operator.tigera.io/v1",
            "Installation",
            "default",
            {
                "calicoNetwork": {
                    "ipPools": [{"cidr": "192.168.0.0/16", "encapsulation": "VXLANCrossSubnet"}]
                }
            },
        ),
        *calico_common("v3.27.3", backend="NFT"),
        service("kubernetes"),
        service("public-api", "shop", "LoadBalancer", loadBalancerSourceRanges=["203.0.113.0/24"]),
        service("internal-lb", "shop", "LoadBalancer"),
    ]
    return {"version": {"gitVersion": "v1.29.4"}, "objects": objects}


def rke2_spiderpool_openeuler() -> JSON:
    """RKE2 1.28 on openEuler 22.03 with Cilium and Spiderpool 0.9; kube-proxy as static pods."""
    kernel = "5.10.0-136.12.0.86.oe2203sp1.x86_64"
    node_objects = nodes(
        "rke2",
        3,
        kernel=kernel,
        os_image="openEuler 22.03 (LTS-SP1)",
        kubelet="v1.28.10+rke2r1",
        runtime="containerd://1.7.17-k3s1",
    )
    proxy_args = [
        "--cluster-cidr=10.42.0.0/16",
        "--conntrack-max-per-core=0",
        "--healthz-bind-address=127.0.0.1",
        "--proxy-mode=iptables",
        "--kubeconfig=/var/lib/rancher/rke2/agent/kubeproxy.kubeconfig",
    ]
    pods = [
        static_pod(
            "kube-proxy",
            n["metadata"]["name"],
            [
                container(
                    "kube-proxy",
                    "index.docker.io/rancher/hardened-kubernetes:v1.28.10-rke2r1-build20240514",
                    command=["kube-proxy"],
                    args=proxy_args,
                )
            ],
            {"component": "kube-proxy", "tier": "control-plane"},
        )
        for n in node_objects
    ]
    conf = (
        "ipamUnixSocketPath: /var/run/spidernet/spiderpool.sock\n"
        "enableIPv4: true\nenableIPv6: false\n"
        "enableStatefulSet: true\nenableKubevirtStaticIP: false\n"
        "enableSpiderSubnet: false\nclusterSubnetDefaultFlexibleIPNumber: 1\n"
    )
    objects = [
        namespace("kube-system", uid_of("rke2")),
        *node_objects,
        *pods,
        daemonset(
            "cilium",
            "kube-system",
            [
                container(
                    "cilium-agent",
                    "rancher/mirrored-cilium-cilium:v1.15.5",
                    command=["cilium-agent"],
                    args=["--config-dir=/tmp/cilium/config-map"],
                )
            ],
        ),
        configmap(
            "cilium-config",
            "kube-system",
            {"kube-proxy-replacement": "false", "tunnel-protocol": "vxlan"},
        ),
        daemonset(
            "spiderpool-agent",
            "kube-system",
            [
                container(
                    "spiderpool-agent",
                    "ghcr.io/spidernet-io/spiderpool/spiderpool-agent:v0.9.3",
                    command=["/usr/bin/spiderpool-agent", "daemon"],
                )
            ],
        ),
        deployment(
            "spiderpool-controller",
            "kube-system",
            [
                container(
                    "spiderpool-controller",
                    "ghcr.io/spidernet-io/spiderpool/spiderpool-controller:v0.9.3",
                    env={
                        "SPIDERPOOL_GC_IP_ENABLED": "true",
                        "SPIDERPOOL_MULTUS_CONFIG_ENABLED": "true",
                        "SPIDERPOOL_GC_STATELESS_TERMINATING_POD_ON_READY_NODE_ENABLED": "true",
                    },
                )
            ],
        ),
        configmap("spiderpool-conf", "kube-system", {"conf.yml": conf}),
        custom(
            "spiderpool.spidernet.io/v2beta1",
            "SpiderCoordinator",
            "default",
            {"mode": "overlay", "podCIDRType": "cluster", "hostRPFilter": 0},
        ),
        service("kubernetes"),
    ]
    return {"version": {"gitVersion": "v1.28.10+rke2r1"}, "objects": objects}


def eks_kube_proxy_config() -> JSON:
    """EKS 1.29: kube-proxy reads kube-proxy-config (IPVS here), Amazon Linux 2, no Calico."""
    config = (
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nbindAddress: 0.0.0.0\n"
        "clientConnection:\n  kubeconfig: /var/lib/kube-proxy/kubeconfig\n"
        'clusterCIDR: ""\nkind: KubeProxyConfiguration\nmetricsBindAddress: 0.0.0.0:10249\n'
        'mode: "ipvs"\nipvs:\n  scheduler: "rr"\n'
    )
    proxy = container(
        "kube-proxy",
        "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/kube-proxy:v1.29.3-minimal-eksbuild.2",
        command=[
            "kube-proxy",
            "--v=2",
            "--config=/var/lib/kube-proxy-config/config",
            "--hostname-override=$(NODE_NAME)",
        ],
        mounts=[
            ("varlog", "/var/log"),
            ("xtables-lock", "/run/xtables.lock"),
            ("lib-modules", "/lib/modules"),
            ("kubeconfig", "/var/lib/kube-proxy/"),
            ("config", "/var/lib/kube-proxy-config/"),
        ],
    )
    volumes = [
        {"name": "varlog", "hostPath": {"path": "/var/log"}},
        {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock"}},
        {"name": "lib-modules", "hostPath": {"path": "/lib/modules"}},
        {"name": "kubeconfig", "configMap": {"name": "kube-proxy", "defaultMode": 420}},
        {"name": "config", "configMap": {"name": "kube-proxy-config", "defaultMode": 420}},
    ]
    objects = [
        namespace("kube-system", uid_of("eks")),
        *nodes(
            "ip-10-0-1",
            3,
            control_planes=0,
            kernel="5.10.219-208.866.amzn2.x86_64",
            os_image="Amazon Linux 2",
            kubelet="v1.29.3-eks-ae9a62a",
            runtime="containerd://1.7.11",
        ),
        daemonset("kube-proxy", "kube-system", [proxy], volumes),
        configmap("kube-proxy", "kube-system", {"kubeconfig": "apiVersion: v1\nkind: Config\n"}),
        configmap("kube-proxy-config", "kube-system", {"config": config}),
        daemonset(
            "aws-node",
            "kube-system",
            [
                container(
                    "aws-node",
                    "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.18.1-eksbuild.3",
                )
            ],
        ),
        service("kubernetes"),
    ]
    return {"version": {"gitVersion": "v1.29.6-eks-a18cd3a"}, "objects": objects}


def calico_forbidden() -> JSON:
    """kubeadm 1.27, Calico 3.26 from a mirrored image, Calico resources forbidden (403)."""
    objects = [
        namespace("kube-system", uid_of("forbidden")),
        *nodes(
            "locked",
            2,
            kernel="4.18.0-477.27.1.el8_8.x86_64",
            os_image="Rocky Linux 8.8 (Green Obsidian)",
            kubelet="v1.27.16",
        ),
        *kube_proxy_kubeadm("v1.27.16", ""),
        calico_node("docker.io/rancher/mirrored-calico-node:v3.26.1"),
        ippool("default-ipv4-ippool", "10.42.0.0/16", ipip="Always"),
        *calico_common("v3.26.1", backend="Legacy"),
        service("kubernetes"),
    ]
    return {
        "version": {"gitVersion": "v1.27.16"},
        "objects": objects,
        "forbidden": [("crd.projectcalico.org", "*")],
    }


# -- issue 13: real clusters read right -------------------------------------------------------


def eks_calico_policy_only() -> JSON:
    """EKS 1.29 with the Amazon VPC CNI and Calico 3.26 for policy only.

    Shape of projectcalico/calico ``manifests/calico-policy-only.yaml`` (release-v3.26):
    calico-node with ``CALICO_NETWORKING_BACKEND=none`` and ``NO_DEFAULT_POOLS=true``, no
    IPPools, calico-kube-controllers in kube-system; aws-node does the networking.
    """
    base = eks_kube_proxy_config()
    node = calico_node(
        "docker.io/calico/node:v3.26.4",
        env={
            "CALICO_NETWORKING_BACKEND": "none",
            "NO_DEFAULT_POOLS": "true",
            "CLUSTER_TYPE": "k8s",
            "CALICO_MANAGE_CNI": "false",
            "FELIX_INTERFACEPREFIX": "eni",
        },
    )
    objects = [
        o
        for o in base["objects"]
        if o["kind"] != "Namespace" or o["metadata"]["name"] != "kube-system"
    ]
    objects += [
        namespace("kube-system", uid_of("eks-policy")),
        node,
        deployment(
            "calico-kube-controllers",
            "kube-system",
            [container("calico-kube-controllers", "docker.io/calico/kube-controllers:v3.26.4")],
        ),
        *calico_common("v3.26.4"),
    ]
    return {**base, "objects": objects}


def operator_policy_only_amazonvpc() -> JSON:
    """EKS 1.30 with the Tigera operator installing Calico 3.27 as policy only.

    The operator's ``Installation`` with ``spec.cni.type: AmazonVPC`` (tigera/operator
    ``api/v1/installation_types.go``, CNIPluginType): calico-node in calico-system, no
    ``calicoNetwork.ipPools``, no IPPools, calico-kube-controllers in calico-system.
    """
    objects = [
        namespace("kube-system", uid_of("operator-policy")),
        *nodes(
            "ip-10-1-2",
            2,
            control_planes=0,
            kernel="6.1.90-99.173.amzn2023.x86_64",
            os_image="Amazon Linux 2023.4.20240528",
            kubelet="v1.30.0-eks-036c24b",
        ),
        daemonset(
            "kube-proxy",
            "kube-system",
            [
                container(
                    "kube-proxy",
                    "602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/kube-proxy:v1.30.0-minimal-eksbuild.3",
                    command=["kube-proxy", "--v=2", "--proxy-mode=iptables"],
                )
            ],
        ),
        calico_node("quay.io/calico/node:v3.27.3", "calico-system"),
        deployment(
            "calico-kube-controllers",
            "calico-system",
            [container("calico-kube-controllers", "quay.io/calico/kube-controllers:v3.27.3")],
        ),
        custom(
            "operator.tigera.io/v1",
            "Installation",
            "default",
            {"cni": {"type": "AmazonVPC"}, "kubernetesProvider": "EKS"},
        ),
        *calico_common("v3.27.3"),
        service("kubernetes"),
    ]
    return {"version": {"gitVersion": "v1.30.0-eks-036c24b"}, "objects": objects}


def _gardener_pool(pool: str, version: str, mode: str) -> list[JSON]:
    """One worker pool's kube-proxy as Gardener deploys it: DaemonSet
    ``kube-proxy-<pool>-v<version>`` with a nodeSelector on the pool and its Kubernetes
    version, mounting its own ``kube-proxy-config-<hash>`` ConfigMap (key ``config.yaml``)
    (gardener/gardener ``pkg/operation/botanist/component/kubeproxy/resources.go``, v1.80)."""
    configmap_name = "kube-proxy-config-" + uuid.uuid5(uuid.NAMESPACE_DNS, pool).hex[:8]
    proxy = container(
        "kube-proxy",
        f"europe-docker.pkg.dev/gardener-project/releases/hyperkube:v{version}",
        command=[
            "/usr/local/bin/kube-proxy",
            "--config=/var/lib/kube-proxy-config/config.yaml",
            "--v=2",
        ],
        mounts=[
            ("kubeconfig", "/var/lib/kube-proxy-kubeconfig"),
            ("kube-proxy-config", "/var/lib/kube-proxy-config"),
        ],
    )
    volumes = [
        {"name": "kubeconfig", "secret": {"secretName": "kube-proxy"}},
        {"name": "kube-proxy-config", "configMap": {"name": configmap_name}},
    ]
    ds = daemonset(f"kube-proxy-{pool}-v{version}", "kube-system", [proxy], volumes)
    ds["spec"]["template"]["spec"]["nodeSelector"] = {
        "worker.gardener.cloud/pool": pool,
        "worker.gardener.cloud/kubernetes-version": version,
    }
    config = (
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nclientConnection:\n"
        "  kubeconfig: /var/lib/kube-proxy-kubeconfig/kubeconfig\nconntrack:\n"
        "  maxPerCore: 524288\nkind: KubeProxyConfiguration\n"
        f"metricsBindAddress: 0.0.0.0:10249\nmode: {mode}\n"
    )
    return [ds, configmap(configmap_name, "kube-system", {"config.yaml": config})]


def gardener_pools() -> JSON:
    """A Gardener shoot with two worker pools on different Kubernetes versions (a rolling
    upgrade): one kube-proxy DaemonSet per pool; plus one node no pool DaemonSet selects."""
    node_objects = []
    for pool, version, count in (("cpu", "1.28.10", 2), ("gpu", "1.29.4", 2)):
        for i in range(count):
            node_objects.append(
                realistic_node(
                    f"shoot--core--prod-{pool}-z1-{i}",
                    kernel="6.6.30-gardenlinux-amd64",
                    os_image="Garden Linux 1443.7",
                    kubelet=f"v{version}",
                    images=8,
                    labels={
                        "worker.gardener.cloud/pool": pool,
                        "worker.gardener.cloud/kubernetes-version": version,
                    },
                )
            )
    node_objects.append(
        realistic_node(
            "shoot--core--prod-spare-z1-0",
            kernel="6.6.30-gardenlinux-amd64",
            os_image="Garden Linux 1443.7",
            kubelet="v1.29.4",
            images=8,
            labels={"worker.gardener.cloud/pool": "spare"},
        )
    )
    objects = [
        namespace("kube-system", uid_of("gardener")),
        *node_objects,
        *_gardener_pool("cpu", "1.28.10", "IPVS"),
        *_gardener_pool("gpu", "1.29.4", "iptables"),
        service("kubernetes"),
    ]
    return {"version": {"gitVersion": "v1.29.4"}, "objects": objects}


def rke2_canal_without_kube_controllers() -> JSON:
    """RKE2 1.27 with its default CNI, rke2-canal (Calico 3.25 for policy, flannel VXLAN), which
    deploys calico-kube-controllers only when ``calico.calicoKubeControllers`` is set
    (rancher/rke2-charts ``packages/rke2-canal/charts/templates/kube-controllers-deployment.yaml``)
    — not set here; kube-proxy as static pods."""
    node_objects = nodes(
        "canal",
        2,
        kernel="5.14.0-362.8.1.el9_3.x86_64",
        os_image="Rocky Linux 9.3 (Blue Onyx)",
        kubelet="v1.27.13+rke2r1",
        runtime="containerd://1.7.11-k3s2",
    )
    pods = [
        static_pod(
            "kube-proxy",
            n["metadata"]["name"],
            [
                container(
                    "kube-proxy",
                    "index.docker.io/rancher/hardened-kubernetes:v1.27.13-rke2r1-build20240416",
                    command=["kube-proxy"],
                    args=["--cluster-cidr=10.42.0.0/16", "--proxy-mode=iptables"],
                )
            ],
            {"component": "kube-proxy", "tier": "control-plane"},
        )
        for n in node_objects
    ]
    canal = daemonset(
        "rke2-canal",
        "kube-system",
        [
            container(
                "calico-node",
                "rancher/hardened-calico:v3.25.0-build20230406",
                env={
                    "DATASTORE_TYPE": "kubernetes",
                    "CALICO_NETWORKING_BACKEND": "none",
                    "CLUSTER_TYPE": "k8s,canal",
                    "FELIX_IPTABLESBACKEND": "auto",
                },
            ),
            container("kube-flannel", "rancher/hardened-flannel:v0.23.0-build20231109"),
        ],
    )
    objects = [
        namespace("kube-system", uid_of("canal")),
        *node_objects,
        *pods,
        canal,
        configmap("rke2-canal-config", "kube-system", {"canal_iface": "", "masquerade": "true"}),
        *calico_common("v3.25.0"),
        service("kubernetes"),
    ]
    return {"version": {"gitVersion": "v1.27.13+rke2r1"}, "objects": objects}


def kubeadm_1_16_debian_buster() -> JSON:
    """kubeadm 1.16 on Debian 10 with Calico 3.24 from the manifest (the kube-proxy DaemonSet
    of kubernetes/kubernetes ``cmd/kubeadm/app/phases/addons/proxy/manifests.go``, release-1.16).

    Debian 10's iptables defaults to the nft backend; before 1.17 the kube-proxy image always
    uses iptables-legacy, and Felix's Auto detection before 3.25.2 may pick legacy.
    """
    objects = [
        namespace("kube-system", uid_of("buster")),
        *nodes(
            "buster",
            3,
            kernel="4.19.0-26-amd64",
            os_image="Debian GNU/Linux 10 (buster)",
            kubelet="v1.16.15",
            runtime="docker://19.3.15",
        ),
        *kube_proxy_kubeadm("v1.16.15", "iptables"),
        calico_node("docker.io/calico/node:v3.24.5", env={"CALICO_IPV4POOL_IPIP": "Always"}),
        deployment(
            "calico-kube-controllers",
            "kube-system",
            [container("calico-kube-controllers", "docker.io/calico/kube-controllers:v3.24.5")],
        ),
        ippool("default-ipv4-ippool", "192.168.0.0/16", ipip="Always"),
        *calico_common("v3.24.5"),
        service("kubernetes"),
    ]
    return {"version": {"gitVersion": "v1.16.15"}, "objects": objects}


def k3s_ipvs() -> JSON:
    """k3s 1.29: kube-proxy runs inside the k3s binary; the server was started with
    ``--kube-proxy-arg proxy-mode=ipvs`` and the agent with none. k3s records each node's flags
    as a JSON array in the ``k3s.io/node-args`` annotation (k3s-io/k3s
    ``pkg/nodeconfig/nodeconfig.go``, v1.29)."""
    server_args = [
        "server",
        "--disable",
        "traefik",
        "--kube-proxy-arg",
        "proxy-mode=ipvs",
        "--write-kubeconfig-mode",
        "0644",
    ]
    agent_args = ["agent", "--server", "https://10.0.0.10:6443", "--token", "********"]
    objects = [
        namespace("kube-system", uid_of("k3s")),
        realistic_node(
            "k3s-server-0",
            kernel="6.5.0-1020-aws",
            os_image="Ubuntu 22.04.4 LTS",
            kubelet="v1.29.4+k3s1",
            runtime="containerd://1.7.15-k3s1",
            roles=["control-plane", "master"],
            images=8,
            annotations={"k3s.io/node-args": json.dumps(server_args)},
        ),
        realistic_node(
            "k3s-agent-0",
            kernel="6.5.0-1020-aws",
            os_image="Ubuntu 22.04.4 LTS",
            kubelet="v1.29.4+k3s1",
            runtime="containerd://1.7.15-k3s1",
            images=8,
            annotations={"k3s.io/node-args": json.dumps(agent_args)},
        ),
        service("kubernetes"),
    ]
    return {"version": {"gitVersion": "v1.29.4+k3s1"}, "objects": objects}


def kubeadm_1_21_ipvs_hwe() -> JSON:
    """kubeadm 1.21.5 (September 2021) in IPVS mode on Ubuntu 20.04 with the 5.15 HWE kernel:
    the 1.21 backport of #102122 (#107438) was merged in January 2022, so this release cannot
    carry it and kube-proxy sets conn_reuse_mode=0 (KP-IPVS-CONN-REUSE affected, not unknown)."""
    objects = [
        namespace("kube-system", uid_of("hwe")),
        *nodes(
            "hwe",
            2,
            kernel="5.15.0-107-generic",
            os_image="Ubuntu 20.04.6 LTS",
            kubelet="v1.21.5",
            runtime="containerd://1.5.5",
        ),
        *kube_proxy_kubeadm("v1.21.5", "ipvs"),
        service("kubernetes"),
    ]
    return {"version": {"gitVersion": "v1.21.5"}, "objects": objects}


def kind_many_nodes() -> JSON:
    """A large kind-like cluster (1,200 nodes, three Table pages): nodes are read from the Table
    cells with ``includeObject=None``; roles come from the Roles column."""
    objects = [
        namespace("kube-system", uid_of("many")),
        *nodes(
            "many",
            1200,
            control_planes=3,
            kernel="6.8.0-1008-gcp",
            os_image="Debian GNU/Linux 12 (bookworm)",
            kubelet="v1.31.0",
        ),
        *kube_proxy_kubeadm("v1.31.0", "nftables"),
        service("kubernetes"),
    ]
    return {"version": {"gitVersion": "v1.31.0"}, "objects": objects}


EXPECTED: dict[str, dict[str, Any]] = {
    "eks-policy": {
        "calico": "v3.26.4",
        "calico-encapsulation": "none",
        "calico-kube-controllers": True,
        "proxy-mode": "ipvs",
    },
    "operator-policy": {
        "calico": "v3.27.3",
        "calico-encapsulation": "none",
        "calico-kube-controllers": True,
        "host-iptables-mode": None,  # Amazon Linux 2023: not verified
    },
    "gardener": {
        "kube-proxy": "v1.28.10 | v1.29.4",
        "proxy-mode": "iptables+ipvs",
        "calico": "none",
        "calico-kube-controllers": False,  # no Calico, no kube-controllers
    },
    "canal": {
        "calico": "v3.25.0-build20230406",
        "calico-kube-controllers": False,
        "calico-encapsulation": "none",
        "kube-proxy": "v1.27.13-rke2r1-build20240416",
        "host-iptables-mode": "nft",
    },
    "buster": {
        "kube-proxy": "v1.16.15",
        "proxy-mode": "iptables",
        "calico": "v3.24.5",
        "calico-iptables-backend": "auto",
        "calico-kube-controllers": True,
        "host-iptables-mode": "nft",
    },
    "k3s": {
        "kube-proxy": "v1.29.4+k3s1",
        "proxy-mode": "iptables+ipvs",
        "host-iptables-mode": "nft",
    },
    "hwe": {
        "kube-proxy": "v1.21.5",
        "proxy-mode": "ipvs",
        "host-iptables-mode": "legacy",
    },
    "many": {"kubernetes": "v1.31.0", "proxy-mode": "nftables"},
    "centos": {
        "kubernetes": "v1.23.17",
        "kube-proxy": "v1.23.17",
        "proxy-mode": "ipvs",
        "calico": "v3.19.1",
        "calico-encapsulation": "vxlan",
        "calico-iptables-backend": "auto",
        "spiderpool": "none",
        "externalips-etp-local": True,
        "lb-source-ranges": False,
        "rke2": False,
        "kubeadm-config-absent": False,
        "cilium": False,
    },
    "ubuntu": {
        "kubernetes": "v1.29.4",
        "proxy-mode": "nftables",
        "calico": "v3.27.3",
        "calico-encapsulation": "vxlan-crosssubnet",
        "calico-iptables-backend": "nft",
        "lb-source-ranges": True,
        "externalips-etp-local": False,
        "spiderpool": "none",
    },
    "rke2": {
        "kubernetes": "v1.28.10+rke2r1",
        "kube-proxy": "v1.28.10-rke2r1-build20240514",
        "proxy-mode": "iptables",
        "calico": "none",
        "spiderpool": "v0.9.3",
        "rke2": True,
        "kubeadm-config-absent": True,
        "cilium": True,
        "spiderpool-kubevirt-static-ip-disabled": True,
        "spiderpool-ip-gc-disabled": False,
        "spiderpool-coordinator-overlay": True,
        "spiderpool-multus-disabled": False,
        "spiderpool-subnet-enabled": False,
    },
    "eks": {
        "kubernetes": "v1.29.6-eks-a18cd3a",
        "kube-proxy": "v1.29.3-minimal-eksbuild.2",
        "proxy-mode": "ipvs",
        "calico": "none",
        "spiderpool": "none",
        "kubeadm-config-absent": True,
    },
    "forbidden": {
        "kubernetes": "v1.27.16",
        "proxy-mode": "iptables",
        "calico": "v3.26.1",
        "calico-encapsulation": None,
        "calico-iptables-backend": None,
    },
}
"""Per scenario: fact -> raw value read (None: unknown), feature -> on/off."""

SCENARIOS = {
    "centos": kubeadm_centos_ipvs_calico,
    "ubuntu": ubuntu_nftables_lb_ranges,
    "rke2": rke2_spiderpool_openeuler,
    "eks": eks_kube_proxy_config,
    "forbidden": calico_forbidden,
    "eks-policy": eks_calico_policy_only,
    "operator-policy": operator_policy_only_amazonvpc,
    "gardener": gardener_pools,
    "canal": rke2_canal_without_kube_controllers,
    "buster": kubeadm_1_16_debian_buster,
    "k3s": k3s_ipvs,
    "hwe": kubeadm_1_21_ipvs_hwe,
    "many": kind_many_nodes,
}
