"""``netadvisor ask``, ``plan`` and the mute commands, run as the command line runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from advisories.facts import FEATURES
from advisories.fleet import ClusterFacts, ClusterStatus, Node
from advisories.questions import Question, parse_question
from jobs.store import ClusterRecord, ClusterState, Store
from tests.advisories.conftest import stated
from tests.runner import run

READ_AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def seed_store(path: Path) -> str:
    """A state database with one scanned cluster, prod-eu (Calico 3.26.1 VXLAN, kernel 5.4)."""
    url = f"sqlite:///{path}"
    cluster = ClusterFacts(
        name="prod-eu",
        uid="uid-prod-eu",
        status=ClusterStatus.OK,
        facts=stated(
            kubernetes="v1.27.3",
            proxy_mode="iptables",
            calico="v3.26.1",
            calico_encapsulation="vxlan",
            spiderpool="none",
        ),
        nodes=(
            Node("node-1", "5.4.0-150-generic", "Ubuntu 20.04.6 LTS"),
            Node("node-2", "5.4.0-150-generic", "Ubuntu 20.04.6 LTS"),
        ),
    )
    with Store.open(url) as store, store.transaction() as tx:
        run_id = tx.begin_run(READ_AT, "test", "test")
        tx.save_cluster(
            ClusterRecord(
                "uid-prod-eu", "prod-eu", {}, False, ClusterState.ACTIVE, READ_AT, READ_AT, READ_AT
            )
        )
        tx.record_scan(run_id, READ_AT, cluster, "uid-prod-eu")
        tx.finish_run(run_id, READ_AT, 1, 1)
    return url


def test_ask_prints_the_verdict_first() -> None:
    code, out, _ = run("ask", "is kernel 5.4 safe for IPVS?", "--state", "sqlite:////nonexistent")
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("Not safe: IPVS mode: 1 s delay or failed requests")
    # The action: the seed's own advice, as alternatives checked by the engine.
    assert first.endswith(
        "Use kernel 5.9 or later and Kubernetes 1.22 or later; "
        "or switch the kube-proxy mode to iptables."
    )


def test_ask_json_has_verdict_understood_advisories_and_text() -> None:
    code, out, _ = run("ask", "内核 5.4 用 IPVS 安全吗？", "--json", "--state", "sqlite:////none")
    data = json.loads(out)
    assert code == 0
    assert data["verdict"] == "not_safe"
    assert data["understood"] == {"kernel": "5.4", "proxy-mode": "ipvs"}
    assert "KP-IPVS-CONN-REUSE" in data["advisories"]
    assert data["text"].startswith("不安全")


def test_ask_not_understood_exits_zero_with_examples() -> None:
    code, out, _ = run("ask", "what's for lunch?", "--json", "--state", "sqlite:////none")
    data = json.loads(out)
    assert (code, data["verdict"], len(data["examples"])) == (0, "not_understood", 3)


def test_ask_about_a_scanned_cluster_uses_the_last_scan(tmp_path: Path) -> None:
    url = seed_store(tmp_path / "state.db")
    code, out, _ = run("ask", "can prod-eu move to Calico 3.28?", "--json", "--state", url)
    data = json.loads(out)
    assert code == 0
    assert data["clusters"] == ["prod-eu"]
    assert data["cluster"]["read_at"] == READ_AT.isoformat()
    assert data["changes"] == [{"key": "calico", "value": "3.28"}]
    # Kernel 5.4 from the nodes: VXLAN throughput stays reduced on every Calico release, so
    # the move introduces nothing and the reduced throughput is "still there".
    assert data["verdict"] == "safe"
    assert data["still"] == ["CALICO-VXLAN-OFFLOAD"]
    assert "CALICO-VXLAN-OFFLOAD" in data["advisories"]
    assert data["text"].startswith("Safe: moving to calico 3.28 introduces nothing.")
    assert "plan" in data


def test_plan_with_stated_facts_prints_the_four_lists() -> None:
    code, out, _ = run(
        "plan", "--kube-proxy", "1.27.3", "--proxy-mode", "iptables",
        "--set", "kube-proxy=1.30", "--json",
    )  # fmt: skip
    data = json.loads(out)
    assert code == 0
    for key in ("resolved", "remaining", "introduced", "changed"):
        assert isinstance(data[key], list)
    resolved = {e["id"]: e for e in data["resolved"]}
    entry = resolved["KP-ENDPOINT-UPDATE-DELAY"]
    assert entry["before"]["verdict"] == "affected"
    assert entry["after"]["verdict"] == "not_affected"


def test_plan_safe_gives_targets_with_version_and_line() -> None:
    # The kube-controllers leak on 3.23 needs calico-kube-controllers to run: say it does.
    code, out, _ = run(
        "plan", "--calico", "3.23.3", "--feature", "calico-kube-controllers", "--safe", "--json"
    )
    data = json.loads(out)
    assert code == 0
    assert data["targets"]["calico"]["version"] == "3.24.6"
    assert data["targets"]["calico"]["line"] == "3.24"
    assert data["targets"]["calico"]["current_line_fixed"] is False


def test_plan_for_a_cluster_reads_the_last_scan(tmp_path: Path) -> None:
    url = seed_store(tmp_path / "state.db")
    code, out, _ = run("plan", "--cluster", "prod-eu", "--set", "k8s=1.30", "--safe",
                       "--json", "--state", url)  # fmt: skip
    data = json.loads(out)
    assert code == 0
    assert data["read_at"] == READ_AT.isoformat()
    assert "KP-ENDPOINT-UPDATE-DELAY" in [e["id"] for e in data["resolved"]]
    assert data["targets"]["kube-proxy"]["version"] == "1.27.11"
    code, text, _ = run("plan", "--cluster", "prod-eu", "--set", "calico=3.28.2", "--state", url)
    assert code == 0
    assert "plan for prod-eu" in text


def test_plan_names_a_bad_argument(tmp_path: Path) -> None:
    code, _, err = run("plan", "--set", "calico=banana")
    assert code == 2
    assert "calico" in err and "banana" in err
    code, _, err = run("plan", "--cluster", "nope", "--set", "k8s=1.30", "--state",
                       seed_store(tmp_path / "s.db"))  # fmt: skip
    assert code == 2
    assert "prod-eu" in err


def test_mute_unmute_and_mutes_share_the_store(tmp_path: Path) -> None:
    url = seed_store(tmp_path / "state.db")
    code, out, _ = run("mute", "CALICO-VXLAN-OFFLOAD", "prod-eu", "7", "known,", "upgrade",
                       "planned", "--state", url)  # fmt: skip
    assert code == 0
    mute_id = int(out.split()[1].rstrip(":"))
    code, out, _ = run("mutes", "--json", "--state", url)
    mutes = json.loads(out)["mutes"]
    assert [(m["advisory"], m["cluster"], m["reason"]) for m in mutes] == [
        ("CALICO-VXLAN-OFFLOAD", "prod-eu", "known, upgrade planned")
    ]
    assert run("unmute", str(mute_id), "--state", url)[0] == 0
    assert json.loads(run("mutes", "--json", "--state", url)[1])["mutes"] == []
    assert run("unmute", str(mute_id), "--state", url)[0] == 2


@pytest.mark.parametrize(
    "argv",
    [
        ("mute", "NOPE-1", "all", "3", "x"),
        ("mute", "SP-3118", "nowhere", "3", "x"),
        ("mute", "SP-3118", "all", "999", "x"),
    ],
)
def test_mute_rejects_unknown_advisories_clusters_and_long_mutes(
    argv: tuple[str, ...], tmp_path: Path
) -> None:
    url = seed_store(tmp_path / "state.db")
    code, _, err = run(*argv, "--state", url)
    assert code == 2
    assert err


# ---------------------------------------------------------------------------------------------
# Alternatives and joint fixes hold when run through check and plan

OPERATOR_QUESTIONS = [
    "is kernel 5.4 safe for IPVS?",
    "calico 3.26 vxlan on centos 7 ok?",
    "we see 63s delays on nodeport with calico vxlan",
    "升级到 calico 3.28 有什么问题",
    "内核 4.19 能用 ipvs 吗",
    "spiderpool 0.9.2 on rke2",
    "is ubuntu 22.04 with ipvs and k8s 1.28 fine?",
    "calico 3.28.1 vxlan kernel 6.8 throughput",
    "pods can't talk across nodes with ipip on centos 7, calico 3.27",
    "k8s 1.27 iptables mode endpoints slow to update",
    "nftables loadBalancerSourceRanges not working on 1.29.3",
    "calico-kube-controllers memory keeps growing, calico 3.25.0",
    "centos 7 上 calico vxlan 访问 nodeport 延迟 63 秒",
    "rke2 集群 spiderpool 0.9.3 创建 pod 失败",
]


def _flags(key: str, value: str) -> list[str]:
    if key in FEATURES:
        return [f"--{'feature' if value == 'on' else 'no-feature'}", key]
    return [f"--{key}", value]


def stated_flags(question: Question, alternative: dict[str, str]) -> list[str]:
    """The check flags that state what the question states, its changes applied, and then the
    alternative (which replaces a stated value: --calico-encapsulation is repeatable)."""
    facts = question.facts
    given: dict[str, str] = {}
    if facts.os_name:
        given["os"] = facts.raw["os"]
    for key, domain in facts.values.items():
        if key in FEATURES:
            given[key] = "on" if domain == frozenset({True}) else "off"
        elif key == "calico-encapsulation":
            [pools] = domain  # type: ignore[misc]
            given[key] = ",".join(sorted(pools))
        else:
            given[key] = facts.raw[key]
    given.update({c.key: c.raw for c in question.changes})
    given.update(alternative)
    return [arg for key, value in given.items() for arg in _flags(key, value)]


@pytest.mark.parametrize("text", OPERATOR_QUESTIONS)
def test_check_agrees_that_every_safe_with_alternative_clears_what_ask_names(text: str) -> None:
    _, out, _ = run("ask", text, "--json", "--state", "sqlite:////nonexistent")
    data = json.loads(out)
    question = parse_question(text)
    assert data["safe_with"], "an answer that names advisories offers a way out"
    for alternative in data["safe_with"]:
        argv = stated_flags(question, alternative["changes"])
        code, checked, err = run("check", *argv, "--json")
        assert code == 0, err
        verdicts = {r["id"]: r["verdict"] for r in json.loads(checked)["results"]}
        for advisory_id in data["lead"]:
            assert verdicts[advisory_id] == "not_affected", (alternative["changes"], advisory_id)


def test_check_json_offers_safe_with_for_what_it_finds() -> None:
    code, out, _ = run("check", "--kernel", "5.4", "--proxy-mode", "ipvs", "--k8s", "1.27",
                       "--no-feature", "externalips-etp-local", "--json")  # fmt: skip
    data = json.loads(out)
    assert code == 0
    changes = [a["changes"] for a in data["safe_with"]]
    assert {"kernel": "5.9.0"} in changes
    assert {"proxy-mode": "iptables"} in changes


def seed_centos(path: Path) -> str:
    """A state database with the demo's kind of CentOS cluster: IPVS, Calico 3.19.1 VXLAN,
    kernel 3.10, Kubernetes 1.23, and the features inventory reads."""
    url = f"sqlite:///{path}"
    cluster = ClusterFacts(
        name="prod-centos",
        uid="uid-prod-centos",
        status=ClusterStatus.OK,
        facts=stated(
            kubernetes="v1.23.17",
            proxy_mode="ipvs",
            calico="v3.19.1",
            calico_encapsulation="vxlan",
            spiderpool="none",
            calico_iptables_backend="auto",
            externalips_etp_local=False,
            lb_source_ranges=False,
        ),
        nodes=(
            Node("node-1", "3.10.0-1160.el7.x86_64", "CentOS Linux 7 (Core)"),
            Node("node-2", "3.10.0-1160.el7.x86_64", "CentOS Linux 7 (Core)"),
        ),
    )
    with Store.open(url) as store, store.transaction() as tx:
        run_id = tx.begin_run(READ_AT, "test", "test")
        tx.save_cluster(
            ClusterRecord("uid-prod-centos", "prod-centos", {}, False, ClusterState.ACTIVE,
                          READ_AT, READ_AT, READ_AT)
        )  # fmt: skip
        tx.record_scan(run_id, READ_AT, cluster, "uid-prod-centos")
        tx.finish_run(run_id, READ_AT, 1, 1)
    return url


def test_plan_safe_finds_joint_fixes_that_plan_set_confirms(tmp_path: Path) -> None:
    url = seed_centos(tmp_path / "state.db")
    code, out, err = run("plan", "--cluster", "prod-centos", "--safe", "--json", "--state", url)
    assert code == 0, err
    fixes = json.loads(out)["fixes"]
    assert fixes, "a kernel and a Calico upgrade together clear the cluster"
    assert fixes[0]["changes"] == {"kernel": "5.9.0", "calico": "3.28.2"}
    for fix in fixes:
        sets = [f"--set={k}={v}" for k, v in fix["changes"].items()]
        code, planned, err = run("plan", "--cluster", "prod-centos", *sets, "--json",
                                 "--state", url)  # fmt: skip
        assert code == 0, err
        data = json.loads(planned)
        after = {e["id"]: e["after"]["verdict"] for k in ("resolved", "introduced", "remaining")
                 for e in data[k]}  # fmt: skip
        assert "affected" not in after.values(), (fix["changes"], after)
        unknown = {i for i, verdict in after.items() if verdict == "unknown"}
        assert unknown <= set(fix["remaining"]), (fix["changes"], unknown)


def test_plan_safe_prints_the_best_fixes_as_a_sentence(tmp_path: Path) -> None:
    url = seed_centos(tmp_path / "state.db")
    code, out, _ = run("plan", "--cluster", "prod-centos", "--safe", "--state", url)
    assert code == 0
    fix = next(line for line in out.splitlines() if line.startswith("Fix: "))
    assert fix.startswith(
        "Fix: Upgrade the kernel to 5.9 or later (RHEL/Rocky/Alma 9, Ubuntu 22.04"
    )
    assert "and Calico to 3.28.2 or later" in fix


def test_plan_set_takes_features_on_or_off() -> None:
    code, out, _ = run("plan", "--k8s", "1.27", "--proxy-mode", "ipvs",
                       "--set", "externalips-etp-local=off", "--json")  # fmt: skip
    assert code == 0
    assert json.loads(out)["changes"] == [{"key": "externalips-etp-local", "value": "off"}]
    code, _, err = run("plan", "--k8s", "1.27", "--set", "rke2=maybe")
    assert code == 2 and "rke2: give on or off" in err
