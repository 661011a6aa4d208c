"""Shared pieces of the upstream tests: a fake clock, upstream worlds, small catalogs, a runner.

The worlds mirror real upstream history (kubernetes/kubernetes #122204 and its cherry-picks,
spidernet-io/spiderpool #3211) on the GitHub API server of :mod:`tests.servers.github`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, create_engine

from advisories.catalog import CatalogIssue, parse_advisory
from advisories.models import Advisory
from jobs.store import UpstreamStore
from jobs.upstream.github import GitHubSource, build_client
from jobs.upstream.sync import SyncReport, sync
from tests.servers.github import FakeRepo, GitHubAPIServer

TOKEN = "ghp_TESTTOKEN0123456789abcdefSECRET"


class FakeClock:
    """A clock that only moves when told to or when something sleeps on it."""

    def __init__(self, start: datetime = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def time(self) -> float:
        return self.now().timestamp()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += timedelta(seconds=seconds)

    def advance(self, **delta: float) -> None:
        with self._lock:
            self._now += timedelta(**delta)


# --------------------------------------------------------------------------------------------
# Worlds


def build_kubernetes(server: GitHubAPIServer) -> FakeRepo:
    """kubernetes/kubernetes around #122204: lines 1.27-1.30, three cherry-picks, two decoys.

    First released tags containing the fix: v1.27.11 (#122815), v1.28.7 (#122757),
    v1.29.2 (#122756), v1.30.0 (#122204 itself, merged into master before release-1.30).
    """
    k8s = server.repo("kubernetes/kubernetes")
    k8s.issue(
        121362,
        "kube-proxy: endpoints not updated after a partial sync",
        labels=["kind/bug", "sig/network"],
    )
    for minor in (27, 28, 29):
        k8s.commit("master", f"work toward 1.{minor}")
        k8s.branch(f"release-1.{minor}", "master")
        k8s.tag(f"v1.{minor}.0-rc.1", f"release-1.{minor}")
        k8s.commit(f"release-1.{minor}", f"Release commit for Kubernetes v1.{minor}.0")
        k8s.tag(f"v1.{minor}.0", f"release-1.{minor}")
    for minor, last in ((27, 10), (28, 6), (29, 1)):
        for patch in range(1, last + 1):
            k8s.commit(f"release-1.{minor}", f"Release commit for Kubernetes v1.{minor}.{patch}")
            k8s.tag(f"v1.{minor}.{patch}", f"release-1.{minor}")
    k8s.pull(
        122204,
        "Fix race condition in iptables partial sync handling",
        base="master",
        body="#### What type of PR is this?\n/kind bug\n\nFixes #121362\n",
        labels=["kind/bug", "area/kube-proxy", "sig/network", "release-note", "lgtm"],
        milestone="v1.30",
    )
    for minor, number in ((27, 122815), (28, 122757), (29, 122756)):
        k8s.pull(
            number,
            "Automated cherry pick of #122204: Fix race condition in iptables partial sync "
            "handling",
            base=f"release-1.{minor}",
            body=f"Cherry pick of #122204 on release-1.{minor}.\n\n#122204: Fix race condition",
            labels=["kind/bug", "cherry-pick-approved", "release-note"],
        )
    # Decoys: a PR that only mentions #122204, and a revert of a pick that was never merged.
    k8s.pull(
        122300, "Update CHANGELOG for v1.29.2", base="master", body="Mentions #122204 among others"
    )
    k8s.pull(
        122301,
        'Revert "Automated cherry pick of #122204"',
        base="release-1.29",
        merged=False,
        state="closed",
    )
    for minor, patch in ((27, 11), (28, 7), (29, 2)):
        k8s.commit(f"release-1.{minor}", f"Release commit for Kubernetes v1.{minor}.{patch}")
        k8s.tag(f"v1.{minor}.{patch}", f"release-1.{minor}")
    k8s.commit("master", "work toward 1.30")
    k8s.branch("release-1.30", "master")
    k8s.commit("release-1.30", "Release commit for Kubernetes v1.30.0")
    k8s.tag("v1.30.0", "release-1.30")
    return k8s


def build_spiderpool(server: GitHubAPIServer) -> FakeRepo:
    """spidernet-io/spiderpool around #3211: merged into release-v0.9 between v0.9.1 and v0.9.2.

    By ancestry v0.9.2 contains it; the catalog (rightly) says 0.9.8, because a later merge
    dropped the change.
    """
    sp = server.repo("spidernet-io/spiderpool", default_branch="main")
    sp.commit("main", "work toward 0.9")
    sp.branch("release-v0.9", "main")
    sp.tag("v0.9.0-rc0", "release-v0.9")
    for patch in (0, 1):
        sp.commit("release-v0.9", f"release v0.9.{patch}")
        sp.tag(f"v0.9.{patch}", "release-v0.9")
    sp.pull(
        3211,
        "fix the logic of obtaining kubeadm-config",
        base="release-v0.9",
        labels=["release/bug", "cherrypick-release-v0.8"],
    )
    for patch in range(2, 9):
        sp.commit("release-v0.9", f"release v0.9.{patch}")
        sp.tag(f"v0.9.{patch}", "release-v0.9")
    return sp


# --------------------------------------------------------------------------------------------
# Catalogs

KP_RACE = """
id: TEST-KP-RACE
title: "iptables mode: Service endpoint rule updates delayed"
component: kube-proxy
decided_by: component-bug
summary: A race in the iptables proxier's partial sync.
recommendation: Upgrade kube-proxy to 1.27.11, 1.28.7, 1.29.2, 1.30.0 or later.
references:
  - {type: REPORT, url: "https://github.com/kubernetes/kubernetes/issues/121362"}
  - {type: FIX, url: "https://github.com/kubernetes/kubernetes/pull/122204"}
cases:
  - id: race
    affected: true
    severity: high
    when:
      proxy-mode: [iptables]
      kube-proxy:
        - introduced: "1.27.0"
        - fixed: "1.27.11"
        - introduced: "1.28.0"
        - fixed: "1.28.7"
        - introduced: "1.29.0"
        - fixed: "1.29.2"
    impact: Service rules stay stale.
"""

SP_RKE2 = """
id: TEST-SP-RKE2
title: "RKE2: serviceCIDR not read from kube-controller-manager args"
component: spiderpool
decided_by: component-bug
summary: The Args parsing of #3211 was dropped before v0.9.2.
recommendation: Upgrade Spiderpool to 0.9.8 or later.
references:
  - {type: FIX, url: "https://github.com/spidernet-io/spiderpool/pull/3211"}
cases:
  - id: args-not-read
    affected: true
    severity: medium
    when:
      spiderpool:
        - introduced: "0.9.0"
        - fixed: "0.9.8"
    impact: The serviceCIDR is not found on RKE2.
"""


def advisory(text: str) -> Advisory:
    """One advisory from YAML text, validated like the catalog's files."""
    issues: list[CatalogIssue] = []
    parsed = parse_advisory(yaml.safe_load(text), "<test>", issues)
    assert parsed is not None, issues
    return parsed


# --------------------------------------------------------------------------------------------
# Running syncs


@dataclass
class Harness:
    """A server, a store and a clock; :meth:`sync` runs one sync through the real client."""

    server: GitHubAPIServer
    engine: Engine
    store: UpstreamStore
    clock: FakeClock
    advisories: Sequence[Advisory]
    token: str | None = TOKEN
    budget: int | None = None
    max_wait: float = 60.0
    sources: list[GitHubSource] = field(default_factory=list)

    def sync(self, **options: Any) -> SyncReport:
        offline = bool(options.get("offline", False))
        client = build_client(self.server.url, self.token, timeout=5.0)
        try:

            def make_source(fresh_since: datetime | None) -> GitHubSource:
                source = GitHubSource(
                    client,
                    self.store,
                    fresh_since=fresh_since,
                    budget=options.get("budget", self.budget),
                    max_wait=self.max_wait,
                    offline=offline,
                    sleep=self.clock.sleep,
                    clock=self.clock.now,
                )
                self.sources.append(source)
                return source

            return sync(
                self.advisories,
                self.store,
                make_source,
                clock=self.clock.now,
                only=options.get("only"),
                offline=offline,
                concurrency=options.get("concurrency", 4),
            )
        finally:
            client.close()


@contextmanager
def harness(
    tmp_path: Path, advisories: Sequence[Advisory], *, per_page_max: int = 100, **options: Any
) -> Iterator[Harness]:
    """A harness with a fresh SQLite database under ``tmp_path``; everything closed after."""
    clock = FakeClock()
    engine = create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        with GitHubAPIServer(token=TOKEN, per_page_max=per_page_max, now=clock.time) as server:
            yield Harness(server, engine, UpstreamStore(engine), clock, advisories, **options)
    finally:
        engine.dispose()
