"""/healthz, /readyz and /metrics through real HTTP requests to the bot's server on 127.0.0.1."""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from advisories.catalog import Catalog
from bot.http import (
    HttpServer,
    Limits,
    NotReady,
    Readiness,
    catalog_check,
    operations,
    slack_connection_check,
    store_check,
)
from bot.slack.app import wsgi_app
from bot.slack.notifier import SlackNotifier, make_client
from bot.terminal.notifier import TerminalNotifier
from jobs import metrics
from jobs.inventory.kube import kubeconfig_reader
from jobs.inventory.run import ClusterTarget, read_fleet
from jobs.notify import Routing
from jobs.store import Store, UpstreamStore, store_figures
from jobs.tracker import Tracker
from jobs.upstream.github import GitHubSource, build_client
from jobs.upstream.models import RepoName
from tests.jobs.inventory.scenarios import kubeadm_centos_ipvs_calico
from tests.jobs.notifiers import MemoryChat, MemoryTerminal
from tests.jobs.upstream_support import TOKEN as GITHUB_TOKEN
from tests.jobs.upstream_support import FakeClock
from tests.servers.github import GitHubAPIServer
from tests.servers.kubeapi import KubeAPIServer, write_kubeconfig
from tests.servers.slack import SlackServer
from tests.tracked_fleet import IPVS, catalog, cluster, scan, unreadable

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _get(url: str, method: str = "GET") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers["Content-Type"], exc.read()


def _samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'state' / 'state.db'}") as opened:
        yield opened


@pytest.fixture
def loaded() -> Catalog:
    return catalog()


def _serve(readiness: Readiness, with_slack_app: bool = False) -> HttpServer:
    inner = wsgi_app(None) if with_slack_app else None
    return HttpServer(operations(inner, readiness), port=0)


def test_healthz_answers_while_the_process_runs() -> None:
    with _serve(Readiness({})) as server:
        status, kind, body = _get(f"http://127.0.0.1:{server.port}/healthz")
        assert (status, body) == (200, b"ok\n")
        assert kind.startswith("text/plain")
        assert _get(f"http://127.0.0.1:{server.port}/healthz", "HEAD")[0] == 200


def test_ready_when_the_store_answers_and_the_catalog_is_loaded(
    store: Store, loaded: Catalog
) -> None:
    readiness = Readiness({"store": store_check(store), "catalog": catalog_check(lambda: loaded)})
    with _serve(readiness) as server:
        status, kind, body = _get(f"http://127.0.0.1:{server.port}/readyz")
    assert status == 200 and kind == "application/json"
    document = json.loads(body)
    assert document["ready"] is True
    assert document["checks"]["store"]["detail"].startswith("sqlite schema version ")
    assert document["checks"]["catalog"]["detail"] == (
        f"{len(loaded.advisories)} advisories, catalog {loaded.version}"
    )


def test_not_ready_names_what_is_wrong_without_secrets(tmp_path: Path) -> None:
    password_url = "postgresql+psycopg://netadvisor:s3cret-pw@127.0.0.1:1/nowhere"

    def unreachable_store() -> str:
        raise NotReady(
            "the state store does not answer: " + password_url.replace("s3cret-pw", "***")
        )

    connected = threading.Event()
    readiness = Readiness(
        {
            "store": unreachable_store,
            "catalog": catalog_check(lambda: None),
            "slack": slack_connection_check(connected.is_set),
        }
    )
    with _serve(readiness) as server:
        status, _, body = _get(f"http://127.0.0.1:{server.port}/readyz")
        assert status == 503
        checks = json.loads(body)["checks"]
        assert {name: check["ok"] for name, check in checks.items()} == {
            "store": False,
            "catalog": False,
            "slack": False,
        }
        assert checks["slack"]["detail"] == "not connected to Slack (Socket Mode)"
        assert checks["catalog"]["detail"] == "the advisory catalog is not loaded"
        assert b"s3cret-pw" not in body
        # Liveness does not depend on readiness: the pod is not restarted for a down database.
        assert _get(f"http://127.0.0.1:{server.port}/healthz")[0] == 200


def test_a_store_that_hangs_fails_the_check_in_time_and_is_not_piled_up() -> None:
    release = threading.Event()
    calls: list[int] = []

    def hangs() -> str:
        calls.append(1)
        release.wait(10)
        return "late"

    readiness = Readiness({"store": hangs}, timeout=0.3)
    try:
        with _serve(readiness) as server:
            url = f"http://127.0.0.1:{server.port}/readyz"
            status, _, body = _get(url)
            assert status == 503
            assert json.loads(body)["checks"]["store"]["detail"] == "timed out after 0.3 s"
            status, _, body = _get(url)
            assert json.loads(body)["checks"]["store"]["detail"] == "still running from before"
            assert len(calls) == 1
    finally:
        release.set()


def test_socket_mode_is_ready_once_connected() -> None:
    connected = threading.Event()
    readiness = Readiness({"slack": slack_connection_check(connected.is_set)})
    with _serve(readiness) as server:
        url = f"http://127.0.0.1:{server.port}/readyz"
        assert _get(url)[0] == 503
        connected.set()
        assert _get(url)[0] == 200


def test_other_paths_reach_the_slack_app_and_unknown_methods_are_refused() -> None:
    with _serve(Readiness({}), with_slack_app=True) as server:
        base = f"http://127.0.0.1:{server.port}"
        assert _get(f"{base}/slack/nothing")[0] == 404
        assert _get(f"{base}/metrics", "POST")[0] == 405
    with _serve(Readiness({})) as bare:
        assert _get(f"http://127.0.0.1:{bare.port}/slack/events")[0] == 404


def test_metrics_show_the_store_figures_and_what_the_process_recorded(store: Store) -> None:
    tracker = Tracker(store, MemoryChat(), MemoryTerminal(), Routing("#net"))
    fleet = scan(
        cluster("prod-eu", kernels=("5.4.0-150-generic",) * 2),
        cluster("prod-us", kernels=("5.4.0-150-generic",)),
        cluster("prod-new", kernels=("6.8.0-45-generic",)),
    )
    tracker.record(fleet, NOW, source="test", catalog_version=catalog().version)
    later = NOW + timedelta(hours=1)
    tracker.record(
        scan(unreadable("prod-us", uid="uid-prod-us")),
        later,
        source="test",
        catalog_version=catalog().version,
    )
    metrics.observe_cluster("prod-eu", 1.25, ok=True)
    metrics.observe_cluster("prod-us", 30.0, ok=False)
    before = metrics.REGISTRY.get_sample_value(
        "netadvisor_slack_requests_total", {"method": "chat.postMessage"}
    )
    metrics.SLACK_REQUESTS.labels(method="chat.postMessage").inc()
    metrics.SLACK_FAILURES.labels(method="chat.postMessage", error="ratelimited").inc()
    metrics.GITHUB_RATE_LIMIT_REMAINING.labels(resource="core").set(4321)
    metrics.LEADER.set(1)

    collector = metrics.StoreCollector(lambda: store_figures(store))
    metrics.REGISTRY.register(collector)
    try:
        with _serve(Readiness({})) as server:
            status, kind, body = _get(f"http://127.0.0.1:{server.port}/metrics")
    finally:
        metrics.REGISTRY.unregister(collector)
    assert status == 200 and kind.startswith("text/plain; version=")
    samples = _samples(body)
    ipvs = {
        dict(labels)["severity"]: value
        for (name, labels), value in samples.items()
        if name == "netadvisor_open_matches" and dict(labels)["advisory"] == IPVS
    }
    (open_ipvs,) = ipvs.values()  # one severity per advisory
    assert open_ipvs == 2  # prod-eu and prod-us (stale, still open); not prod-new on 6.8
    assert samples[("netadvisor_store_up", ())] == 1
    assert samples[("netadvisor_clusters", ())] == 3
    assert samples[("netadvisor_clusters_unreachable", ())] == 1
    assert (
        samples[
            ("netadvisor_cluster_unreachable_since_timestamp_seconds", (("cluster", "prod-us"),))
        ]
        == later.timestamp()
    )
    assert (
        samples[
            ("netadvisor_cluster_last_successful_scan_timestamp_seconds", (("cluster", "prod-eu"),))
        ]
        == NOW.timestamp()
    )
    assert samples[("netadvisor_last_successful_scan_timestamp_seconds", ())] == NOW.timestamp()
    assert samples[("netadvisor_cluster_scan_duration_seconds", (("cluster", "prod-eu"),))] == 1.25
    assert samples[("netadvisor_cluster_up", (("cluster", "prod-us"),))] == 0
    assert (
        samples[("netadvisor_slack_requests_total", (("method", "chat.postMessage"),))]
        == (before or 0) + 1
    )
    assert (
        samples[
            (
                "netadvisor_slack_failures_total",
                (("error", "ratelimited"), ("method", "chat.postMessage")),
            )
        ]
        >= 1
    )
    assert samples[("netadvisor_github_rate_limit_remaining", (("resource", "core"),))] == 4321
    assert samples[("netadvisor_leader", ())] == 1
    assert ("process_resident_memory_bytes", ()) in samples


def test_a_store_that_fails_at_scrape_time_still_gives_metrics() -> None:
    def broken() -> metrics.StoreFigures:
        raise ConnectionError("database is down")

    collector = metrics.StoreCollector(broken)
    metrics.REGISTRY.register(collector)
    try:
        with _serve(Readiness({})) as server:
            status, _, body = _get(f"http://127.0.0.1:{server.port}/metrics")
    finally:
        metrics.REGISTRY.unregister(collector)
    assert status == 200
    samples = _samples(body)
    assert samples[("netadvisor_store_up", ())] == 0
    assert not any(name == "netadvisor_open_matches" for name, _ in samples)


def test_slack_posts_and_failures_are_counted_by_the_notifier(store: Store) -> None:
    def value(name: str, **labels: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, labels) or 0.0

    posts = value("netadvisor_slack_requests_total", method="chat.postMessage")
    failures = value("netadvisor_slack_failures_total", method="chat.postMessage",
                     error="channel_not_found")  # fmt: skip
    with SlackServer(channels={"C0NET": "net"}) as slack:
        chat = SlackNotifier(make_client(slack.token, base_url=slack.url))
        tracker = Tracker(store, chat, TerminalNotifier(io.StringIO()), Routing("C0NET"))
        slack.fail("chat.postMessage", error="channel_not_found")
        tracker.record(scan(cluster("prod-eu")), NOW, source="test",
                       catalog_version=catalog().version)  # fmt: skip
        tracker.record(scan(cluster("prod-eu")), NOW + timedelta(hours=1), source="test",
                       catalog_version=catalog().version)  # fmt: skip
        posted = len(slack.requests("chat.postMessage"))
    assert posted >= 2  # the failed one, then the retry at the next scan
    assert value("netadvisor_slack_requests_total", method="chat.postMessage") == posts + posted
    assert value("netadvisor_slack_failures_total", method="chat.postMessage",
                 error="channel_not_found") == failures + 1  # fmt: skip


def test_githubs_remaining_rate_limit_is_what_the_adapter_last_saw(tmp_path: Path) -> None:
    clock = FakeClock()
    engine = create_engine(f"sqlite:///{tmp_path / 'upstream.db'}")
    try:
        with GitHubAPIServer(token=GITHUB_TOKEN, now=clock.time) as server:
            server.repo("kubernetes/kubernetes").pull(1, "A fix", base="master")
            server.set_remaining(1234)
            with build_client(server.url, GITHUB_TOKEN) as client:
                github = GitHubSource(client, UpstreamStore(engine), sleep=clock.sleep,
                                      clock=clock.now)  # fmt: skip
                github.pull(RepoName("kubernetes/kubernetes"), 1)
    finally:
        engine.dispose()
    seen = metrics.REGISTRY.get_sample_value(
        "netadvisor_github_rate_limit_remaining", {"resource": "core"}
    )
    assert seen == 1233  # 1234 were left before this request


def test_reading_the_fleet_records_each_clusters_time_and_reachability(tmp_path: Path) -> None:
    with KubeAPIServer(kubeadm_centos_ipvs_calico(), token="t", tls=True) as server:
        kubeconfig = write_kubeconfig(
            tmp_path / "kubeconfig",
            [("metrics-ok", server, "t"), ("metrics-down", "https://127.0.0.1:9", "t")],
        )
        targets = [
            ClusterTarget(name, kubeconfig_reader(str(kubeconfig), name))
            for name in ("metrics-ok", "metrics-down")
        ]
        read_fleet(targets, concurrency=2, timeout=10)

    def sample(name: str, cluster: str) -> float | None:
        return metrics.REGISTRY.get_sample_value(name, {"cluster": cluster})

    assert sample("netadvisor_cluster_up", "metrics-ok") == 1
    assert sample("netadvisor_cluster_up", "metrics-down") == 0
    seconds = sample("netadvisor_cluster_scan_duration_seconds", "metrics-ok")
    assert seconds is not None and 0 < seconds < 10


def test_every_metric_the_readme_names_is_exposed() -> None:
    readme = (Path(__file__).resolve().parents[2] / "docs" / "deploying.md").read_text(
        encoding="utf-8"
    )
    section = readme[readme.index("## Deploying to a cluster") :]
    named = set(re.findall(r"\b(netadvisor_[a-z_]+)", section))
    assert len(named) >= 12
    collector = metrics.StoreCollector(
        lambda: metrics.StoreFigures(
            open_matches={("high", IPVS): 1},
            clusters=1,
            unreachable={"x": NOW},
            last_success={"y": NOW},
        )
    )
    metrics.REGISTRY.register(collector)
    try:
        exposed = metrics.exposition().decode()
    finally:
        metrics.REGISTRY.unregister(collector)
    missing = sorted(n for n in named if f"# TYPE {n} " not in exposed and f"\n{n}" not in exposed)
    assert missing == []


def test_half_sent_requests_hold_no_thread_and_idle_connections_are_closed() -> None:
    limits = Limits(threads=2, timeout=1.0)
    with HttpServer(operations(None, Readiness({})), port=0, limits=limits) as server:
        # More half-sent requests than request threads: the server still answers.
        stalled = []
        for _ in range(10):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Le")
            stalled.append(sock)
        status, _, body = _get(f"http://127.0.0.1:{server.port}/healthz")
        assert (status, body) == (200, b"ok\n")
        # Past the idle timeout, the server closes them (recv answers b"" rather than hanging).
        for sock in stalled:
            with sock:
                assert sock.recv(1024) == b""


def test_a_body_over_the_limit_is_refused_before_it_is_read() -> None:
    with HttpServer(
        operations(None, Readiness({})), port=0, limits=Limits(max_body=1000)
    ) as server:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/slack/events", data=b"x" * 1001, method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        refused.value.close()
        assert refused.value.code == 413
        accepted = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/slack/events", data=b"x" * 1000, method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as not_found:
            urllib.request.urlopen(accepted, timeout=10)
        not_found.value.close()
        assert not_found.value.code == 404  # read and passed on: no Slack app here
