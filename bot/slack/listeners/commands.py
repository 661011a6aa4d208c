"""The ``/netadvisor`` slash command.

Every request is acknowledged at once (Slack allows 3 seconds); the answer follows through the
response URL, so a cluster lookup or a slow state store never makes Slack show a timeout.
Unknown subcommands get the help.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any, Final

from slack_bolt import Ack, App, BoltRequest, Respond

from advisories.answers import ClusterData
from advisories.facts import FactError
from advisories.fixes import find_fixes
from advisories.models import Verdict
from advisories.planning import Change, Plan, parse_change, safe_targets, what_if, worst_results
from bot.slack.answers import advisory_blocks, answer_blocks, plain_blocks, plan_blocks
from bot.slack.blocks import escape
from bot.slack.listeners.context import MAX_INPUT, BotContext, ReplyError
from bot.slack.listeners.replays import Recent, command_key, first_delivery
from jobs.mutes import MAX_MUTE_DAYS, MAX_REASON
from jobs.muting import MuteError, add_mute, lift_mute, list_mutes
from jobs.store import StoreError, forget

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

_STATE_CHANGING: Final = frozenset({"mute", "unmute"})
"""Subcommands carried out once per signed request (a replay is answered, not run again)."""


def register(app: App, context: BotContext) -> None:
    """Register ``/netadvisor``."""
    recent = Recent()

    def netadvisor(
        ack: Ack, command: dict[str, Any], respond: Respond, request: BoltRequest
    ) -> None:
        text = str(command.get("text") or "")[:MAX_INPUT].strip()
        sub, _, rest = text.partition(" ")
        handler = _HANDLERS.get(sub.lower())
        if handler is None:
            ack(text="netadvisor help", blocks=plain_blocks(HELP), response_type="ephemeral")
            return
        ack(text=f"netadvisor {sub.lower()}: working on it…", response_type="ephemeral")
        key = command_key(request) if sub.lower() in _STATE_CHANGING else None
        if key is not None and not first_delivery(
            context.store, recent, "command", key, context.now()
        ):
            log.info("/netadvisor %s: a repeated request, not carried out again", sub.lower())
            summary = f"netadvisor {sub.lower()}: this request was already carried out"
            respond(text=summary, blocks=plain_blocks(f":information_source: {summary}"),
                    response_type="ephemeral", replace_original=False)  # fmt: skip
            return
        try:
            summary, blocks = handler(context, rest.strip(), command)
        except ReplyError as exc:
            summary = escape(str(exc))
            blocks = plain_blocks(f":warning: {summary}")
        except Exception:  # the user gets an answer, the log gets the trace
            log.exception("/netadvisor %s failed", sub.lower())
            summary = "netadvisor could not answer; the error is in its log"
            blocks = plain_blocks(f":warning: {summary}")
        else:
            key = None  # carried out: a repeat is answered, not run
        if key is not None and context.store is not None:
            with contextlib.suppress(StoreError):  # not carried out: a repeat may try again
                forget(context.store, "command", key)
        respond(text=summary[:3000], blocks=blocks, response_type="ephemeral",
                replace_original=False)  # fmt: skip

    app.command("/netadvisor")(netadvisor)


def _ask(context: BotContext, rest: str, _: dict[str, Any]) -> Reply:
    if not rest:
        raise ReplyError("ask: give a question, e.g. /netadvisor ask is kernel 5.4 ok?")
    ans = context.ask(rest)
    return ans.headline(), answer_blocks(ans)


def _check(context: BotContext, rest: str, _: dict[str, Any]) -> Reply:
    pairs = rest.split()
    if not pairs or any("=" not in p for p in pairs):
        raise ReplyError("check: give KEY=VALUE pairs, e.g. kernel=5.4 mode=ipvs k8s=1.27")
    for pair in pairs:
        _change("check", pair)  # names the bad key or value
    ans = context.ask(" ".join(pairs))
    return ans.headline(), answer_blocks(ans)


def _change(sub: str, text: str) -> Change:
    try:
        return parse_change(text)
    except FactError as exc:
        raise ReplyError(f"{sub}: {exc}") from None


def _cluster_of(context: BotContext, name: str) -> ClusterData:
    clusters, unavailable = context.cluster_data()
    if unavailable is not None:
        raise ReplyError(f"{name[:60]}: cannot be answered now: cluster data is unavailable "
                         f"({unavailable}); questions that need no cluster still are")  # fmt: skip
    if name not in clusters:
        known = ", ".join(sorted(clusters)) or "none yet"
        raise ReplyError(f"unknown cluster {name!r} (scanned: {known})")
    return clusters[name]


def _cluster(context: BotContext, rest: str, command: dict[str, Any]) -> Reply:
    name = rest.split()[0] if rest else ""
    if not name:
        raise ReplyError("cluster: give a cluster name")
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
    lines = []
    for m in list_mutes(context.store, context.now(), cluster=cluster):
        until = f"{m.expires_at:%Y-%m-%d}" if m.expires_at else "-"
        source = " (configuration file)" if m.from_config else ""
        lines.append(f"• #{m.id} {escape(m.advisory)} on {escape(m.cluster)} until {until}"
                     f"{source}: {escape(m.reason)}")  # fmt: skip
    return ("*Mutes*\n" + "\n".join(lines)) if lines else ""


def _advisory(context: BotContext, rest: str, _: dict[str, Any]) -> Reply:
    found = context.catalog.get(rest.split()[0]) if rest else None
    if found is None:
        raise ReplyError(f"advisory: unknown id {rest[:60]!r} (see netadvisor catalog list)")
    return f"{found.id}: {found.title}", advisory_blocks(found, context.catalog.version)


def _plan(context: BotContext, rest: str, _: dict[str, Any]) -> Reply:
    words = rest.split()
    if len(words) < 2:
        raise ReplyError("plan: give a cluster and changes, e.g. plan prod-eu calico=3.28.2")
    cluster = _cluster_of(context, words[0])
    changes = [_change("plan", w) for w in words[1:]]
    assert context.engine is not None
    plan = what_if(context.engine, list(cluster.groups), changes)
    return f"plan for {cluster.name}", plan_blocks(plan, None, title=f"Plan for {cluster.name}")


def _safe(context: BotContext, rest: str, _: dict[str, Any]) -> Reply:
    if not rest:
        raise ReplyError("safe: give a cluster name")
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
        raise ReplyError("mute: you are not allowed to mute here (ask an admin of netadvisor)")
    if context.store is None:
        raise ReplyError("mute: no state store is configured")
    match = re.fullmatch(r"(\S+)\s+(\S+)\s+(\d{1,3})\s+(.+)", rest, re.S)
    if match is None:
        raise ReplyError("mute: give <advisory|all> <cluster|all> <days> <reason>")
    advisory_arg, cluster, days_text, reason = match.groups()
    days = int(days_text)
    if not 1 <= days <= MAX_MUTE_DAYS:
        raise ReplyError(f"mute: days must be between 1 and {MAX_MUTE_DAYS}")
    advisory = None
    if advisory_arg.lower() != "all":
        found = context.catalog.get(advisory_arg)
        if found is None:
            raise ReplyError(f"mute: unknown advisory {advisory_arg[:60]!r}")
        advisory = found.id
    try:
        mute_id = add_mute(context.store, context.now(), advisory_id=advisory, cluster=cluster,
                           days=days, reason=reason, by=str(command.get("user_id") or "slack"),
                           configured=context.configured)  # fmt: skip
    except MuteError as exc:
        raise ReplyError(f"mute: {exc}") from None
    text = (f"Mute #{mute_id}: {escape(advisory or 'all advisories')} on {escape(cluster)} for "
            f"{days} day(s): {escape(reason.strip()[:MAX_REASON])}")  # fmt: skip
    return text, plain_blocks(text)


def _unmute(context: BotContext, rest: str, command: dict[str, Any]) -> Reply:
    if not context.may_mute(command.get("user_id"), command.get("channel_id")):
        raise ReplyError("unmute: you are not allowed to unmute here")
    if context.store is None:
        raise ReplyError("unmute: no state store is configured")
    if not rest.lstrip("#").isdigit():
        raise ReplyError("unmute: give the mute's number, e.g. unmute 3")
    mute_id = int(rest.lstrip("#"))
    try:
        lift_mute(context.store, mute_id, context.now())
    except MuteError as exc:
        raise ReplyError(f"unmute: {exc}") from None
    return f"Mute {mute_id} lifted", plain_blocks(f"Mute {mute_id} lifted")


def _digest(context: BotContext, rest: str, _: dict[str, Any]) -> Reply:
    if context.digest is None:
        raise ReplyError("digest: not configured")
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
