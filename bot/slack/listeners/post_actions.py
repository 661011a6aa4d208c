"""The buttons under a match post (:mod:`bot.slack.post_actions`): "Mute…", "Show nodes" and
"Plan a fix".

Every click is acknowledged at once (Slack allows 3 seconds). The clusters a click concerns are
the open matches the post announces: :meth:`jobs.store.Tx.matches_at` with the payload's
``container.channel_id`` / ``container.message_ts`` (one cluster per post, or several when a post
lists a (channel, advisory) group).

- "Mute…" is permission-checked like ``/netadvisor mute`` and opens a modal (clusters, days,
  reason); its submission is checked again, writes the same mutes as the command, all or none
  (:func:`jobs.muting.add_mutes`, by the Slack user id), once per submission (a replayed or
  repeated submission is acknowledged, not carried out again) and says so in the post's thread.
- "Show nodes" replies in the thread with each cluster's affected nodes, split at Slack's limits.
- "Plan a fix" replies in the thread with each cluster's joint fix from its last scan
  (:func:`advisories.fixes.find_fixes`), clusters with the same fix on one line.

A refusal or a failure is said only to the person who clicked (through the response URL).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from slack_bolt import Ack, App, BoltRequest, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from advisories.answers import ClusterData
from advisories.fixes import find_fixes
from bot.slack.answers import plain_blocks
from bot.slack.blocks import Block, SlackMessage, escape, pages, section
from bot.slack.blocks import context as context_blocks
from bot.slack.listeners.context import BotContext
from bot.slack.listeners.replays import Recent, command_key, first_delivery
from bot.slack.post_actions import MUTE_ACTION, MUTE_VIEW, NODES_ACTION, PLAN_ACTION
from jobs.mutes import MAX_MUTE_DAYS, MAX_REASON
from jobs.muting import MuteError, add_mutes
from jobs.notices import MessageRef
from jobs.store import MatchRecord, MatchState, Store, StoreError, Tx, forget

__all__ = [
    "ALL_CLUSTERS",
    "CLUSTERS_BLOCK",
    "DAYS_BLOCK",
    "MUTE_DAYS",
    "PLANNED_LINES",
    "REASON_BLOCK",
    "PostCluster",
    "mute_view",
    "nodes_messages",
    "plan_messages",
    "register",
]

log = logging.getLogger(__name__)

CLUSTERS_BLOCK: Final = "netadvisor_mute_clusters"
DAYS_BLOCK: Final = "netadvisor_mute_days"
REASON_BLOCK: Final = "netadvisor_mute_reason"
_CLUSTERS_ACTION: Final = "clusters"
_DAYS_ACTION: Final = "days"
_REASON_ACTION: Final = "reason"
ALL_CLUSTERS: Final = "*"
"""The cluster choice "every open cluster of this post" (a UID never is ``*``)."""
MUTE_DAYS: Final = tuple(d for d in (1, 3, 7, 14, 30, 90, 180, 365) if d <= MAX_MUTE_DAYS)
"""The durations the modal offers, in days."""
_DEFAULT_DAYS: Final = 7
PLANNED_LINES: Final = 5
"""Distinct fixes spelled out by "Plan a fix"; the other clusters are named with the command."""
_MAX_OPTIONS: Final = 100
"""Options of a static_select, at most (Slack's limit)."""
_USER_ID: Final = re.compile(r"[UW][A-Z0-9]{2,20}")
_NODES_PER_LINE: Final = 150
"""Characters of node names per line (the list is cut between lines, never inside a name)."""


@dataclass(frozen=True, slots=True)
class PostCluster:
    """One cluster a post announces: its match and its current name."""

    match: MatchRecord
    name: str


def register(app: App, context: BotContext) -> None:
    """Register the three buttons and the mute modal's submission."""
    recent = Recent()

    def first_click(request: BoltRequest) -> bool:
        # A replayed click (the same signed request) is acknowledged, not answered again.
        key = command_key(request)
        return key is None or first_delivery(context.store, recent, "action", key, context.now())

    def mute_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, request: BoltRequest
    ) -> None:
        ack()
        click = _Click.of(body)
        if click is None or not first_click(request):
            return
        if not context.may_mute(click.user, click.channel):
            _tell(respond, "Mute: you are not allowed to mute here (ask an admin of netadvisor)")
            return
        clusters = _open_clusters(context, click, respond)
        if clusters is None:
            return
        found = context.catalog.get(click.advisory)
        title = found.title if found is not None else ""
        view = mute_view(click.advisory, title, clusters, click.message)
        try:
            client.views_open(trigger_id=click.trigger_id, view=view)
        except (SlackApiError, SlackClientError) as exc:
            log.warning("Mute…: views.open failed: %s", _slack_error(exc))
            _tell(
                respond,
                "Mute: the form could not be opened; click again (or use `/netadvisor mute`)",
            )

    def nodes_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, request: BoltRequest
    ) -> None:
        ack()
        click = _Click.of(body)
        if click is None or not first_click(request):
            return
        clusters = _open_clusters(context, click, respond)
        if clusters is not None:
            _reply(client, respond, click, nodes_messages(click.advisory, clusters, click.user))

    def plan_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, request: BoltRequest
    ) -> None:
        ack()
        click = _Click.of(body)
        if click is None or not first_click(request):
            return
        clusters = _open_clusters(context, click, respond)
        if clusters is None:
            return
        try:
            messages = plan_messages(context, click.advisory, clusters, click.user)
        except Exception:  # the person gets an answer, the log gets the trace
            log.exception("Plan a fix failed")
            _tell(respond, "Plan a fix: netadvisor could not answer; the error is in its log")
            return
        _reply(client, respond, click, messages)

    def mute_submitted(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        _submit_mute(context, recent, ack, body, client)

    app.action(MUTE_ACTION)(mute_clicked)
    app.action(NODES_ACTION)(nodes_clicked)
    app.action(PLAN_ACTION)(plan_clicked)
    app.view(MUTE_VIEW)(mute_submitted)


# -- the click ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Click:
    """What a ``block_actions`` payload says about a click on a post's button."""

    user: str | None
    advisory: str
    message: MessageRef
    trigger_id: str

    @property
    def channel(self) -> str:
        return self.message.channel

    @staticmethod
    def of(body: Mapping[str, Any]) -> _Click | None:
        container = body.get("container") or {}
        actions = body.get("actions") or [{}]
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        ts = container.get("message_ts")
        if not isinstance(channel, str) or not isinstance(ts, str) or not channel or not ts:
            log.warning(
                "a post's button without its message (container %.40s)", container.get("type")
            )
            return None
        user = (body.get("user") or {}).get("id")
        return _Click(
            user=user if isinstance(user, str) else None,
            advisory=str(actions[0].get("value") or "")[:200],
            message=MessageRef(channel[:40], ts[:40]),
            trigger_id=str(body.get("trigger_id") or ""),
        )


def _tell(respond: Respond, text: str) -> None:
    """Say ``text`` (trusted mrkdwn) to the person who clicked, and only to them."""
    try:
        respond(
            text=text[:3000],
            blocks=plain_blocks(f":warning: {text}"),
            response_type="ephemeral",
            replace_original=False,
        )
    except Exception as exc:  # a response URL that fails leaves nothing else to tell
        log.warning("could not answer a click: %s", type(exc).__name__)


def _slack_error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
    return type(exc).__name__


def _post_clusters(store: Store, message: MessageRef, advisory: str) -> list[PostCluster]:
    """The clusters ``message`` announces about ``advisory`` (every state), by name."""

    def read(tx: Tx) -> list[PostCluster]:
        out = []
        for match in tx.matches_at(message):
            if advisory and match.advisory_id != advisory:
                continue
            record = tx.cluster(match.cluster_uid)
            out.append(PostCluster(match, record.name if record else match.cluster_uid))
        return out

    found: list[PostCluster] = store.run(read)
    return sorted(found, key=lambda c: (c.name, c.match.cluster_uid))


def _open_clusters(
    context: BotContext, click: _Click, respond: Respond
) -> list[PostCluster] | None:
    """The post's open clusters; None (said to the person) when there are none or the store
    cannot say."""
    if context.store is None:
        _tell(
            respond,
            "netadvisor has no state store configured: it cannot tell which clusters "
            "this post is about",
        )
        return None
    try:
        clusters = _post_clusters(context.store, click.message, click.advisory)
    except Exception as exc:  # whatever the database driver raises: say it, keep serving
        log.warning("a post's clusters could not be read: %s", type(exc).__name__)
        _tell(respond, "the state store did not answer; try again in a minute")
        return None
    if not clusters:
        _tell(
            respond,
            "netadvisor has no record of this post (posted by another installation, "
            "or its matches were pruned)",
        )
        return None
    opened = [c for c in clusters if c.match.state is MatchState.OPEN]
    if not opened:
        _tell(respond, f"{escape(click.advisory)}: no cluster of this post is affected any more")
        return None
    return opened


def _reply(
    client: WebClient, respond: Respond, click: _Click, messages: Sequence[SlackMessage]
) -> None:
    """Post ``messages`` in the post's thread, in order; a refusal is said to the clicker."""
    for message in messages:
        try:
            client.chat_postMessage(
                channel=click.channel,
                thread_ts=click.message.ts,
                text=message.text,
                blocks=list(message.blocks),
            )
        except (SlackApiError, SlackClientError) as exc:
            error = _slack_error(exc)
            log.warning("a reply in a post's thread failed: %s", error)
            _tell(respond, f"netadvisor could not reply in the thread ({escape(error)})")
            return


def _asked_by(user: str | None) -> list[Block]:
    return context_blocks(f"Asked by <@{user}>") if user and _USER_ID.fullmatch(user) else []


def _stale(match: MatchRecord) -> str:
    if match.stale_since is None:
        return ""
    why = f": {escape(match.stale_reason)}" if match.stale_reason else ""
    return f"\n_Not confirmed since {match.stale_since:%Y-%m-%d %H:%M} UTC{why}_"


# -- Show nodes --------------------------------------------------------------------------------


def _node_lines(nodes: Sequence[str]) -> list[str]:
    lines: list[str] = []
    current = ""
    for node in nodes:
        item = f"`{escape(node)}`"
        if current and len(current) + len(item) + 2 > _NODES_PER_LINE:
            lines.append(current + ",")
            current = ""
        current = f"{current}, {item}" if current else item
    if current:
        lines.append(current)
    return lines


def _cluster_nodes(cluster: PostCluster) -> str:
    snap = cluster.match.snapshot
    nodes = snap.affected_nodes
    name = f"*{escape(cluster.name)}*"
    if not nodes:
        if snap.node_count:
            head = (
                f"{name}: all {snap.node_count} nodes (the verdict comes from cluster-wide facts)"
            )
        else:
            head = (
                f"{name}: the whole cluster (the verdict comes from cluster-wide facts); "
                "its node list was not read, so which nodes run it is not known"
            )
        return head + _stale(cluster.match)
    total = f" of {snap.node_count}" if snap.node_count else ""
    lines = [
        f"{name}: {len(nodes)}{total} node{'s' if len(nodes) != 1 else ''} affected"
        + _stale(cluster.match)
    ]
    for group in snap.groups:
        os_image = f" ({escape(group.os_image)})" if group.os_image else ""
        kernel = f"kernel `{escape(group.kernel)}`" if group.kernel else "unknown kernel"
        lines.append(f"• {group.count} node{'s' if group.count != 1 else ''}: {kernel}{os_image}")
    return "\n".join(lines + _node_lines(nodes))


def nodes_messages(
    advisory: str, clusters: Sequence[PostCluster], user: str | None = None
) -> list[SlackMessage]:
    """The "Show nodes" reply: each cluster's affected nodes (grouped by kernel and OS image),
    as thread replies split at Slack's limits (several messages when the fleet is large)."""
    count = len(clusters)
    blocks: list[Block] = section(
        f"*Affected nodes* · {escape(advisory)} · {count} cluster{'s' if count != 1 else ''}"
    )
    for cluster in clusters:
        blocks += section(_cluster_nodes(cluster))
    blocks += _asked_by(user)
    names = ", ".join(c.name for c in clusters)
    fallback = f"Affected nodes of {advisory} on {names}"[:3000]
    return [
        SlackMessage(fallback if i == 0 else f"{fallback[:2980]} (continued)", page)
        for i, page in enumerate(pages(blocks))
    ]


# -- Plan a fix --------------------------------------------------------------------------------


def _cluster_fix(
    context: BotContext, advisory: str, cluster: PostCluster, data: Mapping[str, ClusterData] | None
) -> str:
    """The action that clears ``advisory`` on the cluster, or why there is none."""
    snap = cluster.match.snapshot
    if data is None:
        return "cannot be planned now: the state store did not answer"
    facts = data.get(cluster.name)
    if facts is None or not facts.groups:
        return (
            "no facts from a successful scan to plan with; "
            f"`/netadvisor safe {escape(cluster.name)}` after the next scan"
        )
    assert context.engine is not None
    fixes = find_fixes(context.engine, list(facts.groups), [advisory], strict=False)
    if not fixes:
        why = f"; it depends on {escape(snap.depends_text)}" if snap.depends_text else ""
        return f"no fix found in the catalog{why}: see the post's recommendation"
    best = "; or ".join(f.sentence("en", releases=i == 0) for i, f in enumerate(fixes[:2]))
    text = f"{escape(best)} to clear {escape(advisory)}"
    if fixes[0].remaining:
        text += " (it may then stay unknown: it depends on facts the scan does not read)"
    return text


def plan_messages(
    context: BotContext, advisory: str, clusters: Sequence[PostCluster], user: str | None = None
) -> list[SlackMessage]:
    """The "Plan a fix" reply: one line per distinct fix (the clusters that share it first), at
    most :data:`PLANNED_LINES`; the other clusters are named with ``/netadvisor safe``."""
    data, unavailable = context.cluster_data()
    by_fix: dict[str, list[str]] = {}
    for cluster in clusters:
        fix = _cluster_fix(context, advisory, cluster, None if unavailable else data)
        by_fix.setdefault(fix, []).append(cluster.name)
    lines = []
    shown = list(by_fix.items())[:PLANNED_LINES]
    for fix, names in shown:
        who = ", ".join(f"*{escape(n)}*" for n in names)
        lines.append(f"• {who}: {fix[:1].upper() + fix[1:]}")
    rest = [n for _, names in list(by_fix.items())[PLANNED_LINES:] for n in names]
    if rest:
        lines.append(
            f"… {len(rest)} more: `/netadvisor safe <cluster>` "
            f"({escape(', '.join(rest[:10]))}{', …' if len(rest) > 10 else ''})"
        )
    count = len(clusters)
    head = f"*Plan a fix* · {escape(advisory)} · {count} cluster{'s' if count != 1 else ''}"
    blocks = section(head + "\n" + "\n".join(lines)) + _asked_by(user)
    blocks += context_blocks(
        "From each cluster's last successful scan; "
        "`/netadvisor safe <cluster>` gives every component's safe target."
    )
    fallback = f"Plan a fix for {advisory} on {', '.join(c.name for c in clusters)}"[:3000]
    return [SlackMessage(fallback, page) for page in pages(blocks)]


# -- Mute… -------------------------------------------------------------------------------------


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit], "emoji": True}


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": _plain(text), "value": value[:150]}


def mute_view(
    advisory: str, title: str, clusters: Sequence[PostCluster], message: MessageRef
) -> dict[str, Any]:
    """The mute modal: which of the post's clusters (default: all of them), for how many days,
    and why (both required). ``private_metadata`` carries the advisory and the post."""
    if len(clusters) == 1:
        options = [_option(clusters[0].name, clusters[0].match.cluster_uid)]
    else:
        options = [_option(f"All {len(clusters)} clusters in this post", ALL_CLUSTERS)]
        options += [_option(c.name, c.match.cluster_uid) for c in clusters]
        options = options[:_MAX_OPTIONS]
    days = [_option(f"{d} day{'s' if d != 1 else ''}", str(d)) for d in MUTE_DAYS]
    default_days = next((o for o in days if o["value"] == str(_DEFAULT_DAYS)), days[0])
    about = f"*{escape(advisory)}*" + (f": {escape(title)}" if title else "")
    metadata = json.dumps({"advisory": advisory, "channel": message.channel, "ts": message.ts})
    return {
        "type": "modal",
        "callback_id": MUTE_VIEW,
        "private_metadata": metadata[:3000],
        "title": _plain("Mute", 24),
        "submit": _plain("Mute", 24),
        "close": _plain("Cancel", 24),
        "blocks": [
            *section(
                f"Mute {about}.\nWhile it lasts, the clusters' matches are still tracked, and "
                "changes are not posted (a resolution still is); `/netadvisor unmute` lifts it."
            ),
            {
                "type": "input",
                "block_id": CLUSTERS_BLOCK,
                "label": _plain("Clusters", 2000),
                "element": {
                    "type": "static_select",
                    "action_id": _CLUSTERS_ACTION,
                    "options": options,
                    "initial_option": options[0],
                },
            },
            {
                "type": "input",
                "block_id": DAYS_BLOCK,
                "label": _plain("For", 2000),
                "element": {
                    "type": "static_select",
                    "action_id": _DAYS_ACTION,
                    "options": days,
                    "initial_option": default_days,
                },
            },
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": _plain("Reason", 2000),
                "hint": _plain("Kept with the mute and shown wherever mutes are listed.", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": _REASON_ACTION,
                    "max_length": MAX_REASON,
                    "placeholder": _plain("e.g. kernel upgrade planned for next week", 150),
                },
            },
        ],
    }


@dataclass(frozen=True, slots=True)
class _Submission:
    """What the mute modal's ``view_submission`` says."""

    view_id: str
    user: str | None
    advisory: str
    message: MessageRef
    choice: str
    days: str
    reason: str

    @staticmethod
    def of(body: Mapping[str, Any]) -> _Submission | None:
        view = body.get("view") or {}
        try:
            meta = json.loads(str(view.get("private_metadata") or ""))
            advisory, channel, ts = str(meta["advisory"]), str(meta["channel"]), str(meta["ts"])
        except (ValueError, KeyError, TypeError):
            return None
        values = (view.get("state") or {}).get("values") or {}

        def picked(block: str, action: str) -> str:
            element = (values.get(block) or {}).get(action) or {}
            if "selected_option" in element:
                return str((element.get("selected_option") or {}).get("value") or "")
            return str(element.get("value") or "")

        user = (body.get("user") or {}).get("id")
        return _Submission(
            view_id=str(view.get("id") or ""),
            user=user if isinstance(user, str) else None,
            advisory=advisory[:200],
            message=MessageRef(channel[:40], ts[:40]),
            choice=picked(CLUSTERS_BLOCK, _CLUSTERS_ACTION)[:150],
            days=picked(DAYS_BLOCK, _DAYS_ACTION)[:8],
            reason=picked(REASON_BLOCK, _REASON_ACTION)[: 4 * MAX_REASON],
        )

    def key(self) -> str:
        """The same view submitted with the same values is one request, however often sent."""
        values = json.dumps(
            [
                self.advisory,
                self.message.channel,
                self.message.ts,
                self.choice,
                self.days,
                self.reason,
                self.user,
            ]
        )
        return f"{self.view_id}:{hashlib.sha256(values.encode()).hexdigest()[:32]}"


_ARGUMENT_BLOCK: Final = {"cluster": CLUSTERS_BLOCK, "days": DAYS_BLOCK, "reason": REASON_BLOCK}


def _submit_mute(
    context: BotContext, recent: Recent, ack: Ack, body: dict[str, Any], client: WebClient
) -> None:
    """Check the modal, write the mute(s) before acknowledging (so that a refusal is shown in
    the modal), then say it in the post's thread."""
    sub = _Submission.of(body)
    if sub is None:
        ack(
            response_action="errors",
            errors={CLUSTERS_BLOCK: "This form is damaged: close it and click Mute… again"},
        )
        return
    errors: dict[str, str] = {}
    if not context.may_mute(sub.user, sub.message.channel):
        errors[CLUSTERS_BLOCK] = "You are not allowed to mute here (ask an admin of netadvisor)"
    elif context.store is None:
        errors[CLUSTERS_BLOCK] = "No state store is configured: mutes cannot be kept"
    if not sub.reason.strip():
        errors[REASON_BLOCK] = "Give a reason (kept with the mute)"
    days = int(sub.days) if sub.days.isdigit() else 0
    if not 1 <= days <= MAX_MUTE_DAYS:
        errors[DAYS_BLOCK] = f"Choose between 1 and {MAX_MUTE_DAYS} days"
    if errors:
        ack(response_action="errors", errors=errors)
        return
    store = context.store
    assert store is not None
    try:
        clusters = _post_clusters(store, sub.message, sub.advisory)
    except Exception as exc:  # whatever the database driver raises
        log.warning("mute: a post's clusters could not be read: %s", type(exc).__name__)
        ack(
            response_action="errors",
            errors={CLUSTERS_BLOCK: "The state store did not answer; try again"},
        )
        return
    if sub.choice == ALL_CLUSTERS:
        targets = [c for c in clusters if c.match.state is MatchState.OPEN]
    else:
        targets = [c for c in clusters if c.match.cluster_uid == sub.choice]
    if not targets:
        ack(
            response_action="errors",
            errors={CLUSTERS_BLOCK: "No cluster of this post is affected any more"},
        )
        return
    key = sub.key()
    if not first_delivery(store, recent, "mute-view", key, context.now()):
        log.info("mute: a repeated submission of view %.40s, not carried out again", sub.view_id)
        ack()
        return
    now = context.now()
    try:
        ids = add_mutes(
            store,
            now,
            advisory_id=sub.advisory,
            clusters=_mute_arguments(store, targets),
            days=days,
            reason=sub.reason,
            by=sub.user or "slack",
            configured=context.configured,
        )
    except Exception as exc:
        # Nothing was written (one transaction): a repeat of this submission may try again.
        with contextlib.suppress(StoreError):
            forget(store, "mute-view", key)
        if isinstance(exc, MuteError):
            block = _ARGUMENT_BLOCK.get(exc.argument, CLUSTERS_BLOCK)
            ack(response_action="errors", errors={block: str(exc)[:150]})
        else:
            log.warning("mute: not written: %s", type(exc).__name__)
            ack(
                response_action="errors",
                errors={CLUSTERS_BLOCK: "The state store did not answer; try again"},
            )
        return
    ack()
    _say_muted(client, sub, days, list(zip(targets, ids, strict=True)), now + timedelta(days=days))


def _mute_arguments(store: Store, targets: Sequence[PostCluster]) -> list[str]:
    """Each cluster as ``add_mutes`` takes it: its name, as ``/netadvisor mute`` gives it, unless
    another cluster (a replaced one) had that name; then its UID. One transaction."""

    def read(tx: Tx) -> list[str]:
        out = []
        for cluster in targets:
            uid = cluster.match.cluster_uid
            same_name = [c.uid for c in tx.clusters(name=cluster.name)]
            out.append(cluster.name if same_name == [uid] else uid)
        return out

    found: list[str] = store.run(read)
    return found


def _say_muted(
    client: WebClient,
    sub: _Submission,
    days: int,
    made: Sequence[tuple[PostCluster, int]],
    until: datetime,
) -> None:
    """The thread reply: who muted what, on which clusters, until when, why, and the ids."""
    names = ", ".join(escape(c.name) for c, _ in made)
    ids = ", ".join(f"#{i}" for _, i in made)
    who = f"<@{sub.user}>" if sub.user and _USER_ID.fullmatch(sub.user) else "someone"
    text = (
        f":mute: {who} muted {escape(sub.advisory)} on {names} for {days} "
        f"day{'s' if days != 1 else ''} (until {until:%Y-%m-%d}): "
        f"{escape(sub.reason.strip()[:MAX_REASON])} "
        f"(mute{'s' if len(made) != 1 else ''} {ids})"
    )
    fallback = f"{sub.advisory} muted on {', '.join(c.name for c, _ in made)} for {days} days"
    try:
        client.chat_postMessage(
            channel=sub.message.channel,
            thread_ts=sub.message.ts,
            text=fallback[:3000],
            blocks=section(text),
        )
    except (SlackApiError, SlackClientError) as exc:
        # The mute is written; only its announcement is lost (it shows in /netadvisor cluster).
        log.warning("mute: the thread reply failed: %s", _slack_error(exc))
