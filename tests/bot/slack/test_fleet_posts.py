"""Slack at fleet scale: 40 clusters of four real shapes, scanned by the command line and posted
through the real slack_sdk client to the Slack Web API server on 127.0.0.1.

The fleet is the four bundled dumps (kubeadm on CentOS 7 with IPVS and Calico VXLAN, Ubuntu
with nftables and Calico VXLAN CrossSubnet, RKE2 on openEuler with Spiderpool, EKS) ten times
each, every copy a cluster of its own (its own kube-system UID and node names). Its 60 matches
make one post per advisory, after the channel's baseline; a cluster fixed later is struck from
its posts, a cluster added later joins them.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.slack.posts import FALLBACK_LIMIT, HEADER_LIMIT
from jobs.inventory.dumps import demo_bundles
from tests.runner import run
from tests.servers.slack import SlackServer

SHAPES = ("demo-prod-centos", "demo-web-ubuntu", "demo-edge-rke2", "demo-eks")
COPIES = 10
CHANNEL = "C0NET"


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer(channels={CHANNEL: "net-advisories", "C0ONCALL": "net-oncall"}) as server:
        yield server


def _bundle(shape: str) -> dict[str, Any]:
    path = {p.stem: p for p in demo_bundles()}[shape]
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def write_cluster(directory: Path, shape: str, name: str, *, proxy_mode: str | None = None) -> Path:
    """A dump of ``shape`` as the cluster ``name``: its own kube-system UID and node names;
    ``proxy_mode`` rewrites kube-proxy's configured mode (a cluster that was fixed)."""
    data = copy.deepcopy(_bundle(shape))
    data["context"] = name
    data["demo"] = False
    for namespace in data["namespaces"]["items"]:
        if namespace["metadata"]["name"] == "kube-system":
            namespace["metadata"]["uid"] = f"uid-{name}"
    for node in data["nodes"]["items"]:
        node["metadata"]["name"] = f"{name}-{node['metadata']['name']}"
    if proxy_mode is not None:
        for item in data["configmaps"]["items"]:
            conf = item.get("data", {}).get("config.conf")
            if item["metadata"]["name"] == "kube-proxy" and conf:
                item["data"]["config.conf"] = conf.replace('mode: "ipvs"', f'mode: "{proxy_mode}"')
    path = directory / f"{name}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def fleet(directory: Path, count: int = COPIES) -> dict[str, str]:
    """Cluster name -> shape, ``count`` copies of each shape."""
    return {
        f"{shape.removeprefix('demo-')}-{i:02d}": shape for i in range(count) for shape in SHAPES
    }


def configure(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    slack: SlackServer,
    clusters: dict[str, str],
    *,
    routes: str | None = None,
    fixed: frozenset[str] = frozenset(),
) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir(exist_ok=True)
    lines = ["clusters:"]
    for name, shape in clusters.items():
        mode = "iptables" if name in fixed else None
        path = write_cluster(dumps, shape, name, proxy_mode=mode)
        lines.append(f"  - name: {name}\n    dump: {path}\n    labels: {{env: prod}}")
    config = tmp_path / "config.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("NETADVISOR_CONFIG", str(config))
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.token)
    monkeypatch.setenv("NETADVISOR_SLACK_API_URL", slack.url)
    monkeypatch.setenv("NETADVISOR_SLACK_CHANNEL", CHANNEL)
    if routes is not None:
        monkeypatch.setenv("NETADVISOR_SLACK_ROUTES", routes)


def scan() -> dict[str, Any]:
    code, out, err = run("scan", "--json")
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def affected(data: dict[str, Any]) -> dict[str, set[str]]:
    """Advisory id -> the clusters it affects, as the scan's JSON says."""
    found: dict[str, set[str]] = defaultdict(set)
    for cluster in data["clusters"]:
        for result in cluster["results"]:
            if result["verdict"] == "affected":
                found[result["id"]].add(cluster["name"])
    return dict(found)


def writes(slack: SlackServer) -> int:
    return len(slack.requests("chat.postMessage")) + len(slack.requests("chat.update"))


def post_about(slack: SlackServer, advisory_id: str, channel: str = CHANNEL) -> dict[str, Any]:
    (post,) = [m for m in slack.top_level(channel) if advisory_id in json.dumps(m["blocks"])]
    return post


def check_payload(params: dict[str, Any]) -> None:
    """What Slack would accept, and what a phone shows first."""
    blocks = params.get("blocks") or []
    assert 0 < len(blocks) <= 50
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
    headers = [b["text"]["text"] for b in blocks if b["type"] == "header"]
    assert all(len(h) <= 150 for h in headers)
    assert 0 < len(params["text"]) <= 4000


def test_a_first_scan_of_40_clusters_makes_one_post_per_advisory_after_a_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer
) -> None:
    clusters = fleet(tmp_path)
    assert len(clusters) == 40
    configure(tmp_path, monkeypatch, slack, clusters)
    first = scan()
    expected = affected(first)
    matches = sum(len(names) for names in expected.values())
    assert matches == 60 and len(expected) == 5  # what used to be 60 posts

    # The baseline first, then one post per advisory: 6 top-level messages, no more.
    everything = slack.top_level(CHANNEL, baseline=True)
    assert len(everything) == 1 + len(expected)
    baseline = everything[0]
    assert baseline["text"].startswith("netadvisor baseline")
    said = json.dumps(baseline["blocks"])
    assert "40 clusters" in said and "30 clusters" in said  # 10 EKS clusters are fine
    assert "5 known issues" in said and "60 matches" in said
    assert "1 critical" not in said and "10 critical" in said  # SP-3211 on 10 RKE2 clusters

    for advisory_id, names in expected.items():
        post = post_about(slack, advisory_id)
        text = json.dumps(post["blocks"], ensure_ascii=False)
        for name in names:
            assert f"*{name}*" in text, (advisory_id, name)
        (heading,) = [b["text"]["text"] for b in post["blocks"] if b["type"] == "header"]
        assert len(heading) <= HEADER_LIMIT and heading.endswith(f"· {len(names)} clusters")
        # What a lock screen shows starts with the clusters.
        assert post["text"].split(",")[0] in names and len(post["text"]) <= FALLBACK_LIMIT
        # Impact, then what to do, then the clusters, then why.
        order = [text.index(w) for w in ("*Impact:*", "*Do this:*", "*Clusters (", "*Why:*")]
        assert order == sorted(order), advisory_id
    for request in slack.requests("chat.postMessage"):
        check_payload(request.params)

    # The scan's JSON says every match was posted; the store knows each one's post.
    posted = [
        r["notified"] for c in first["clusters"] for r in c["results"] if r["verdict"] == "affected"
    ]
    assert posted == ["posted"] * 60

    # A second scan says nothing new: no post, no edit.
    before = writes(slack)
    second = scan()
    assert writes(slack) == before
    assert {r["change"] for c in second["clusters"] for r in c["results"] if r["change"]} == {
        "open"
    }


def test_a_fixed_cluster_is_struck_from_its_posts_and_a_new_one_joins_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer
) -> None:
    clusters = fleet(tmp_path, count=3)
    configure(tmp_path, monkeypatch, slack, clusters)
    scan()
    ipvs = post_about(slack, "KP-IPVS-CONN-REUSE")
    top_level = len(slack.top_level(CHANNEL))

    # prod-centos-01 moves kube-proxy to iptables mode: struck from the IPVS post, told why.
    configure(tmp_path, monkeypatch, slack, clusters, fixed=frozenset({"prod-centos-01"}))
    scan()
    assert len(slack.top_level(CHANNEL)) == top_level  # edited, not posted again
    (edit,) = [r.params for r in slack.requests("chat.update") if r.params["ts"] == ipvs["ts"]]
    check_payload(edit)
    now = json.dumps(edit["blocks"], ensure_ascii=False)
    assert "~prod-centos-01~" in now and "*prod-centos-00*" in now and "*prod-centos-02*" in now
    assert "ipvs → iptables" in now
    header = next(b["text"]["text"] for b in edit["blocks"] if b["type"] == "header")
    assert header.endswith("· 2 clusters")
    (reply,) = slack.replies(CHANNEL, ipvs["ts"])
    said = json.dumps(reply["blocks"], ensure_ascii=False)
    assert "prod-centos-01" in said and "resolved" in said and "ipvs → iptables" in said
    assert reply["text"].startswith("prod-centos-01")

    # A new cluster of the same shape joins the posts of its advisories: edits and replies.
    grown = {**clusters, "prod-centos-99": "demo-prod-centos"}
    before = len(slack.requests("chat.update"))
    configure(tmp_path, monkeypatch, slack, grown, fixed=frozenset({"prod-centos-01"}))
    scan()
    assert len(slack.top_level(CHANNEL)) == top_level
    edits = slack.requests("chat.update")[before:]
    assert len(edits) == 2  # the IPVS and the VXLAN offload posts
    for request in edits:
        assert "*prod-centos-99*" in json.dumps(request.params["blocks"])
    replies = slack.replies(CHANNEL, ipvs["ts"])
    assert "prod-centos-99" in json.dumps(replies[-1]["blocks"]) and "affected too" in str(
        replies[-1]["blocks"]
    )

    # Every IPVS cluster fixed: the post says RESOLVED, collapsed to what changed.
    everyone = frozenset(n for n, s in grown.items() if s == "demo-prod-centos")
    configure(tmp_path, monkeypatch, slack, grown, fixed=everyone)
    scan()
    final = [r.params for r in slack.requests("chat.update") if r.params["ts"] == ipvs["ts"]][-1]
    check_payload(final)
    heading = next(b["text"]["text"] for b in final["blocks"] if b["type"] == "header")
    assert heading.startswith("✅ RESOLVED")
    body = json.dumps(final["blocks"], ensure_ascii=False)
    assert "*Do this:*" not in body and '"actions"' not in body  # no buttons, no advice left
    # Every cluster struck, those fixed alike on one line with the fact that changed.
    assert all(f"~{name}~" in body for name in everyone)
    assert 1 <= body.count("ipvs → iptables") <= 2  # prod-centos-01 first, the others later
    assert "No cluster remains affected" in str(slack.replies(CHANNEL, ipvs["ts"])[-1]["blocks"])


def test_a_route_with_a_minimum_severity_takes_only_severe_posts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer
) -> None:
    clusters = fleet(tmp_path, count=2)
    configure(tmp_path, monkeypatch, slack, clusters,
              routes="[{severity: high, channel: C0ONCALL}]")  # fmt: skip
    data = scan()
    by_channel: dict[str, set[str]] = defaultdict(set)
    for cluster in data["clusters"]:
        for result in cluster["results"]:
            if result["verdict"] == "affected":
                severe = result["severity"] in ("critical", "high")
                by_channel["C0ONCALL" if severe else CHANNEL].add(result["id"])
    for channel, advisories in by_channel.items():
        posts = slack.top_level(channel)
        assert len(posts) == len(advisories), channel
        for advisory_id in advisories:
            post_about(slack, advisory_id, channel)
        # Each channel had nothing before: each gets its own baseline, first.
        assert slack.top_level(channel, baseline=True)[0]["text"].startswith("netadvisor baseline")
    oncall = json.dumps([m["blocks"] for m in slack.top_level("C0ONCALL")], ensure_ascii=False)
    assert "🔴" in oncall and "🟡" not in oncall
    # Each channel's digest lists what was routed there, and only that.
    code, _, err = run("digest")
    assert code == 0, err
    for channel, advisories in by_channel.items():
        (digest,) = [m for m in slack.top_level(channel) if "digest" in m["text"]]
        said = json.dumps(digest["blocks"])
        others = set().union(*by_channel.values()) - advisories
        assert all(a in said for a in advisories) and not any(a in said for a in others)


def test_a_route_with_an_unknown_severity_is_refused_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer
) -> None:
    configure(tmp_path, monkeypatch, slack, fleet(tmp_path, count=1),
              routes="[{severity: urgent, channel: C0ONCALL}]")  # fmt: skip
    code, _, err = run("scan")
    assert code == 2
    assert "routes[0].severity" in err and "urgent" in err and "critical, high" in err
    assert slack.requests("chat.postMessage") == []


def test_a_grouped_post_whose_answer_was_lost_is_found_and_never_posted_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer
) -> None:
    clusters = fleet(tmp_path, count=2)
    configure(tmp_path, monkeypatch, slack, clusters)
    # The baseline goes through; the first grouped post is stored, then Slack answers 500;
    # the next one is rate limited once (retried after Retry-After by the client).
    slack.fail("chat.postMessage", status=500, store=True, after=1)
    slack.fail("chat.postMessage", status=429, retry_after=1)
    first = run("scan", "--json")
    assert first[0] in (0, 3)
    scan()  # the next scan looks the lost answer up in the history, then finishes
    expected = affected(scan())
    assert len(slack.top_level(CHANNEL)) == len(expected)
    assert len(slack.baselines(CHANNEL)) == 1
    for advisory_id in expected:
        post_about(slack, advisory_id)  # exactly one each
    assert slack.requests("conversations.history")  # looked up, not posted blind
