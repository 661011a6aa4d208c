"""The ``/netadvisor`` slash command.

Every request is acknowledged at once (Slack allows 3 seconds); the answer follows through the
response URL, so a cluster lookup or a slow state store never makes Slack show a timeout.
Unknown subcommands get the help.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final

from slack_bolt import Ack, App, Respond

from advisories.answers import ClusterData
from advisories.fixes import find_fixes
from advisories.models import Verdict
from advisories.planning import Plan, safe_targets, what_if, worst_results
from bot.blocks_answers import (
    advisory_blocks,
    answer_blocks,
    escape,
    plain_blocks,
    plan_blocks,
)
from bot.cli import UsageError
from bot.cli_ask import CONFIG_MUTE, mute_rows, parse_change
from bot.listeners.context import MAX_INPUT, BotContext

__all__ = ["HELP", "SUBCOMMANDS", "register"]

log = logging.getLogger(__name__)

HELP: Final = "\n".join(
    [
        "*netadvisor*: known kube-proxy, Calico and Spiderpool network issues.",
        "• `/netadvisor ask is kernel 5.4 safe for IPVS?` (English or 中文)",
        "• `/netadvisor check kernel=5.4 mode=ipvs k8s=1.27`",
        "• `/netadvisor cluster <name>`: facts and matches from the last scan",
        "• `/netadvisor advisory <id>`",
        "• `/netadvisor plan <cluster> calico=3.28.2 k8s=1.30 kernel=5.15`",
        "• `/netadvisor safe <cluster>`: lowest safe versions",
        "• `/netadvisor mute <advisory|all> <cluster|all> <days> <reason>` · `unmute <id>` "
        "(mutes from the configuration file change only there)",
        "• `/netadvisor digest`",
        "Mention me or send me a direct message to ask a question.",
    ]
)

Reply = tuple[str, list[dict[str, Any]]]


def register(app: App, context: BotContext) -> None:
    """Register ``/netadvisor``."""

    def netadvisor(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        text = str(command.get("text") or "")[:MAX_INPUT].strip()
        sub, _, rest = text.partition(" ")
        handler = _HANDLERS.get(sub.lower())
        if handler is None:
            ack(text="netadvisor help", blocks=plain_blocks(HELP), response_type="ephemeral")
            return
        ack(text=f"netadvisor {sub.lower()}: working on it…", response_type="ephemeral")
        try:
            summary, blocks = handler(context, rest.strip(), command)
        except UsageError as exc:
            summary, blocks = str(exc), plain_blocks(f":warning: {escape(str(exc))}")
        except Exception:  # the user gets an answer, the log gets the trace
            log.exception("/netadvisor %s failed", sub.lower())
            summary = "netadvisor could not answer; the error is in its log"
            blocks = plain_blocks(f":warning: {summary}")
        respond(text=summary[:3000], blocks=blocks, response_type="ephemeral",
                replace_original=False)  # fmt: skip

    app.command("/netadvisor")(netadvisor)


def _ask(context: BotContext, rest: str, _: dict[str, Any]) -> Reply:
    if not rest:
        raise UsageError("ask: give a question, e.g. /netadvisor ask is kernel 5.4 ok?")
    ans = context.ask(rest)
    return ans.headline(), answer_blocks(ans)


def _check(context: BotContext, rest: str, _: dict[str, Any]) -> Reply:
    pairs = rest.split()
    if not pairs or any("=" not in p for p in pairs):
        raise UsageError("check: give KEY=VALUE pairs, e.g. kernel=5.4 mode=ipvs k8s=1.27")
    for pair in pairs:
        parse_change(pair)  # names the bad key or value
    ans = context.ask(" ".join(pairs))
    return ans.headline(), answer_blocks(ans)


def _cluster_of(context: BotContext, name: str) -> ClusterData:
    clusters = context.clusters()
    if name not in clusters:
        known = ", ".join(sorted(clusters)) or "none yet"
        raise UsageError(f"unknown cluster {name!r} (scanned: {known})")
    return clusters[name]


def _cluster(context: BotContext, rest: str, command: dict[str, Any]) -> Reply:
    name = rest.split()[0] if rest else ""
    if not name:
        raise UsageError("cluster: give a cluster name")
    _cluster_of(context, name)
    ans = context.ask(name)
    blocks = answer_blocks(ans)
    mutes = _mutes_text(context, name)
    if mutes:
        blocks.append(plain_blocks(mutes)[0])
    del command
    return ans.headline(), blocks


def _mutes_text(context: BotContext, cluster: str | None) -> str:
    """The active mutes (of one cluster: those that cover it), as ``mutes`` lists them."""
    if context.store is None:
        return ""
    with context.store() as store, store.transaction() as tx:
        uid = next((c.uid for c in tx.clusters() if c.name == cluster), None)
        mutes = [
            m
            for m in tx.mutes(context.now())
            if cluster is None
            or m.every_cluster
            or (m.cluster_uid is not None and m.cluster_uid == uid)
            or (m.cluster_uid is None and m.cluster_name == cluster)
        ]
        rows = mute_rows(tx, mutes)
    lines = [
        f"• #{r['id']} {escape(str(r['advisory']))} on {escape(str(r['cluster']))} until "
        f"{str(r['expires_at'])[:10] if r['expires_at'] else '-'}"
        f"{' (configuration file)' if r['source'] == 'config' else ''}: "
        f"{escape(str(r['reason']))}"
        for r in rows
    ]
    return ("*Mutes*\n" + "\n".join(lines)) if lines else ""


def _advisory(context: BotContext, rest: str, _: dict[str, Any]) -> Reply:
    found = context.catalog.get(rest.split()[0]) if rest else None
    if found is None:
        raise UsageError(f"advisory: unknown id {rest[:60]!r} (see netadvisor catalog list)")
    return f"{found.id}: {found.title}", advisory_blocks(found, context.catalog.version)


def _plan(context: BotContext, rest: str, _: dict[str, Any]) -> Reply:
    words = rest.split()
    if len(words) < 2:
        raise UsageError("plan: give a cluster and changes, e.g. plan prod-eu calico=3.28.2")
    cluster = _cluster_of(context, words[0])
    changes = [parse_change(w) for w in words[1:]]
    assert context.engine is not None
    plan = what_if(context.engine, list(cluster.groups), changes)
    return f"plan for {cluster.name}", plan_blocks(plan, None, title=f"Plan for {cluster.name}")


def _safe(context: BotContext, rest: str, _: dict[str, Any]) -> Reply:
    if not rest:
        raise UsageError("safe: give a cluster name")
    cluster = _cluster_of(context, rest.split()[0])
    assert context.engine is not None
    upstream = context.upstream() if context.upstream is not None else None
    groups = list(cluster.groups)
    targets = safe_targets(context.engine, groups, upstream=upstream)
    at_risk = [
        r.id for r in worst_results(context.engine, groups) if r.verdict is not Verdict.NOT_AFFECTED
    ]
    fixes = find_fixes(context.engine, groups, at_risk, strict=False)
    empty = Plan((), (), ())
    return f"safe targets for {cluster.name}", plan_blocks(
        empty, targets, title=f"Safe targets for {cluster.name}", fixes=fixes
    )


def _mute(context: BotContext, rest: str, command: dict[str, Any]) -> Reply:
    if not context.may_mute(command.get("user_id"), command.get("channel_id")):
        raise UsageError("mute: you are not allowed to mute here (ask an admin of netadvisor)")
    if context.store is None:
        raise UsageError("mute: no state store is configured")
    match = re.fullmatch(r"(\S+)\s+(\S+)\s+(\d{1,3})\s+(.+)", rest, re.S)
    if match is None:
        raise UsageError("mute: give <advisory|all> <cluster|all> <days> <reason>")
    advisory_arg, cluster, days_text, reason = match.groups()
    days = int(days_text)
    if not 1 <= days <= 365:
        raise UsageError("mute: days must be between 1 and 365")
    advisory = None
    if advisory_arg.lower() != "all":
        found = context.catalog.get(advisory_arg)
        if found is None:
            raise UsageError(f"mute: unknown advisory {advisory_arg[:60]!r}")
        advisory = found.id
    now = context.now()
    with context.store() as store, store.transaction() as tx:
        uid = None
        if cluster.lower() != "all":
            uid = next((c.uid for c in tx.clusters() if c.name == cluster), None)
            if uid is None:
                raise UsageError(f"mute: unknown cluster {cluster[:60]!r}")
        mute_id = tx.add_mute(now, reason[:500], str(command.get("user_id") or "slack"),
                              advisory_id=advisory, cluster_uid=uid,
                              cluster_name=None if uid is None else cluster,
                              expires_at=now + timedelta(days=days))  # fmt: skip
    text = (f"Mute #{mute_id}: {escape(advisory or 'all advisories')} on {escape(cluster)} for "
            f"{days} day(s): {escape(reason[:500])}")  # fmt: skip
    return text, plain_blocks(text)


def _unmute(context: BotContext, rest: str, command: dict[str, Any]) -> Reply:
    if not context.may_mute(command.get("user_id"), command.get("channel_id")):
        raise UsageError("unmute: you are not allowed to unmute here")
    if context.store is None:
        raise UsageError("unmute: no state store is configured")
    if not rest.lstrip("#").isdigit():
        raise UsageError("unmute: give the mute's number, e.g. unmute 3")
    mute_id = int(rest.lstrip("#"))
    with context.store() as store, store.transaction() as tx:
        found = tx.mute(mute_id)
        lifted = tx.lift_mute(mute_id, context.now())
    if found is not None and found.from_config and found.lifted_at is None:
        raise UsageError("unmute: " + CONFIG_MUTE.format(id=mute_id))
    if not lifted:
        raise UsageError(f"unmute: no active mute {rest[:20]}")
    return f"Mute {rest} lifted", plain_blocks(f"Mute {escape(rest)} lifted")


def _digest(context: BotContext, rest: str, _: dict[str, Any]) -> Reply:
    if context.digest is None:
        raise UsageError("digest: not configured")
    text = context.digest()
    return "netadvisor digest", plain_blocks(text)


_HANDLERS: Final[dict[str, Callable[[BotContext, str, dict[str, Any]], Reply]]] = {
    "ask": _ask,
    "check": _check,
    "cluster": _cluster,
    "advisory": _advisory,
    "plan": _plan,
    "safe": _safe,
    "mute": _mute,
    "unmute": _unmute,
    "digest": _digest,
}

SUBCOMMANDS: Final = ("help", *_HANDLERS)
"""Every ``/netadvisor`` subcommand (anything else gets the help)."""
