"""The values the jobs say survive the outbox: each notice's JSON reads back to the same value."""

from __future__ import annotations

from datetime import UTC, datetime

from jobs.notices import (
    ClusterRef,
    Digest,
    DigestMatch,
    MatchNotice,
    MatchSnapshot,
    NewsNotice,
    NodeGroupSummary,
    NoticeKind,
    notice_from_json,
    notice_to_json,
)

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_a_news_notice_survives_the_outbox_as_json() -> None:
    notice = NewsNotice(
        kind="catalog-disagrees",
        text="SP-3211: upstream reports v0.9.2 on the 0.9 line; the catalog says 0.9.8",
        advisories=("SP-3211",),
        reference="https://github.com/spidernet-io/spiderpool/pull/3211",
        at=NOW,
        clusters=("edge-7",),
        line="0.9",
        tag="v0.9.2",
    )
    assert notice_from_json(notice.to_json()) == notice


def test_every_kind_of_notice_reads_back_by_its_type() -> None:
    snap = MatchSnapshot(
        advisory_id="KP-IPVS-1",
        title="IPVS drops packets",
        component="kube-proxy",
        verdict="affected",
        severity="high",
        impact="Connections time out.",
        recommendation="Upgrade the kernel.",
        cases=("ipvs-old-kernel",),
        affected_nodes=("node-1", "node-2"),
        node_count=3,
        triggers=(("kernel", "3.10.0-1160.el7.x86_64"),),
        groups=(NodeGroupSummary("3.10.0-1160.el7.x86_64", "CentOS 7", 2),),
    )
    match = MatchNotice(
        NoticeKind.UPDATED,
        ClusterRef("prod", "uid-1", {"env": "prod"}),
        snap,
        NOW,
        previous=snap,
        changes=("impact is now: Connections time out.",),
        opened_at=NOW,
    )
    digest = Digest(
        channel="#netadvisor",
        at=NOW,
        since=None,
        open=(DigestMatch("prod", "uid-1", "KP-IPVS-1", "IPVS drops packets", "high", 2),),
        clusters=1,
    )
    for notice in (match, digest):
        assert notice_from_json(notice_to_json(notice)) == notice
        assert type(notice_from_json(notice_to_json(notice))) is type(notice)
