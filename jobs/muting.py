"""Mutes made by people, once for every surface: ``netadvisor mute|unmute|mutes`` and
``/netadvisor mute|unmute`` call these use cases with the same store.

A mute covers an advisory (or all) on a cluster (or all) until it expires or is lifted; while it
lasts, new matches it covers are recorded but not posted. Mutes from the configuration file's
``mutes:`` are shown with the others but can only be changed in the file.

Errors are :class:`MuteError`, whose ``argument`` names what was wrong (``advisory``,
``cluster``, ``reason``, ``id``) so that each surface can say it in its own words.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from jobs.mutes import MAX_MUTE_DAYS, MAX_REASON
from jobs.store import MuteRecord, Store, Tx

__all__ = [
    "CONFIG_MUTE",
    "MAX_MUTE_DAYS",
    "MAX_REASON",
    "MuteError",
    "MuteView",
    "add_mute",
    "add_mutes",
    "lift_mute",
    "list_mutes",
]

CONFIG_MUTE: Final = (
    "mute {id} comes from the configuration file's mutes: section; it cannot be lifted from "
    "Slack or the command line: remove or change the entry in the file"
)
"""Why ``unmute`` (and ``/netadvisor unmute``) refuses a mute from the configuration file."""


class MuteError(Exception):
    """A mute cannot be made or lifted as asked; ``argument`` names what was wrong."""

    def __init__(self, argument: str, message: str) -> None:
        self.argument = argument
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class MuteView:
    """A mute as people read it: the cluster by name, and where the mute comes from."""

    id: int
    advisory: str
    """An advisory id, or ``all``."""
    cluster: str
    """The cluster's current name, or ``all``."""
    cluster_uid: str | None
    reason: str
    by: str
    """Who made it: the OS user, the Slack user id, or ``configuration file``."""
    from_config: bool
    created_at: datetime
    expires_at: datetime | None
    lifted_at: datetime | None


def views(tx: Tx, records: Sequence[MuteRecord]) -> list[MuteView]:
    """Mutes as people read them, clusters by their current name."""
    names = {c.uid: c.name for c in tx.clusters()}
    return [
        MuteView(
            id=r.id,
            advisory=r.advisory_id or "all",
            cluster=(
                names.get(r.cluster_uid, r.cluster_name or r.cluster_uid)
                if r.cluster_uid
                else r.cluster_name or "all"
            ),
            cluster_uid=r.cluster_uid,
            reason=r.reason,
            by=r.created_by,
            from_config=r.from_config,
            created_at=r.created_at,
            expires_at=r.expires_at,
            lifted_at=r.lifted_at,
        )
        for r in records
    ]


def list_mutes(
    store: Store, now: datetime, *, ended: bool = False, cluster: str | None = None
) -> list[MuteView]:
    """The active mutes (``ended``: also expired and lifted ones); with ``cluster``, those
    that cover that cluster."""
    with store.transaction() as tx:
        records = tx.mutes(None if ended else now)
        if cluster is not None:
            uid = next((c.uid for c in tx.clusters() if c.name == cluster), None)
            records = [
                m
                for m in records
                if m.every_cluster
                or (m.cluster_uid is not None and m.cluster_uid == uid)
                or (m.cluster_uid is None and m.cluster_name == cluster)
            ]
        return views(tx, records)


def add_mute(
    store: Store,
    now: datetime,
    *,
    advisory_id: str | None,
    cluster: str,
    days: int,
    reason: str,
    by: str,
    configured: Collection[str] = (),
) -> int:
    """Mute ``advisory_id`` (None: all) on ``cluster`` (a scanned or configured name, its UID,
    or ``all``) for ``days`` days; returns the mute's id.

    The advisory id must already be checked against the catalog (the core's job). A cluster
    that was configured but never scanned is muted by name.
    """
    [mute_id] = add_mutes(store, now, advisory_id=advisory_id, clusters=[cluster], days=days,
                          reason=reason, by=by, configured=configured)  # fmt: skip
    return mute_id


def add_mutes(
    store: Store,
    now: datetime,
    *,
    advisory_id: str | None,
    clusters: Sequence[str],
    days: int,
    reason: str,
    by: str,
    configured: Collection[str] = (),
) -> list[int]:
    """:func:`add_mute` for each of ``clusters``, all or none in one transaction (the clusters
    of one Slack post); returns the mutes' ids in the order of ``clusters``."""
    reason = reason.strip()[:MAX_REASON]
    if not reason:
        raise MuteError("reason", "give a reason (kept with the mute)")
    if not 1 <= days <= MAX_MUTE_DAYS:
        raise MuteError("days", f"days must be between 1 and {MAX_MUTE_DAYS}")
    with store.transaction() as tx:
        scanned = tx.clusters()
        ids = []
        for cluster in clusters:
            uid: str | None = None
            name: str | None = None
            if cluster.lower() != "all":
                uid = next((c.uid for c in scanned if cluster in (c.name, c.uid)), None)
                name = cluster
                if uid is None and cluster not in configured:
                    known = ", ".join(sorted({c.name for c in scanned} | set(configured)))
                    raise MuteError(
                        "cluster",
                        f"unknown cluster {cluster[:60]!r} in {store.display_url} "
                        f"(scanned or configured: {known or 'none yet'})",
                    )
            ids.append(
                tx.add_mute(
                    now,
                    reason,
                    by,
                    advisory_id=advisory_id,
                    cluster_uid=uid,
                    cluster_name=name,
                    expires_at=now + timedelta(days=days),
                )
            )
        return ids


def lift_mute(store: Store, mute_id: int, now: datetime) -> None:
    """Lift a mute now; a mute from the configuration file, or none active with that id, is a
    :class:`MuteError` (``id``)."""
    with store.transaction() as tx:
        found = tx.mute(mute_id)
        if found is not None and found.from_config and found.lifted_at is None:
            raise MuteError("id", CONFIG_MUTE.format(id=mute_id))
        if not tx.lift_mute(mute_id, now):
            raise MuteError("id", f"no active mute {mute_id}")
