"""``doctor``'s Slack lines: the token's identity, its scopes against the app manifest's, the
bot's membership of every routed channel, and optionally a test message.

Slack sends the token's granted scopes in the ``x-oauth-scopes`` header of every Web API
answer; ``auth.test`` is the cheapest call that carries it.
See: https://api.slack.com/authentication/oauth-v2#scopes (header) and
https://api.slack.com/methods/conversations.info (``is_member``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.slack.notifier import SlackNotifier
from jobs.checks import CheckResult, CheckStatus
from jobs.notify import NotifyError

__all__ = ["REQUIRED_SCOPES", "check_slack", "granted_scopes"]

REQUIRED_SCOPES: Final = (
    "commands",
    "chat:write",
    "app_mentions:read",
    "im:history",
    "channels:history",
    "groups:history",
    "channels:read",
    "groups:read",
    "files:write",
)
"""The bot scopes of deploy/slack-app-manifest.yaml (a test keeps the two equal)."""

_REINSTALL: Final = (
    'add it under "OAuth & Permissions" -> "Bot Token Scopes" (or paste '
    "deploy/slack-app-manifest.yaml), then reinstall the app to the workspace"
)


def granted_scopes(headers: Mapping[str, Any]) -> set[str] | None:
    """The scopes of an ``x-oauth-scopes`` header (any case); None when there is none."""
    for key, value in headers.items():
        if key.lower() == "x-oauth-scopes":
            text = value[0] if isinstance(value, list) and value else value
            return {s.strip() for s in str(text).split(",") if s.strip()}
    return None


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or "error")


def check_slack(
    client: WebClient,
    channels: Sequence[str],
    *,
    post_test: bool = False,
    now: datetime,
    required: Sequence[str] = REQUIRED_SCOPES,
) -> list[CheckResult]:
    """One result per check: identity, scopes, each channel (and its test post)."""
    out: list[CheckResult] = []
    try:
        answer = client.auth_test()
    except SlackApiError as exc:
        return [
            CheckResult(
                "slack",
                "token",
                CheckStatus.FAIL,
                f"auth.test: {_error(exc)}",
                "set SLACK_BOT_TOKEN to the app's Bot User OAuth Token (xoxb-...) "
                'from "OAuth & Permissions"',
            )
        ]
    except (SlackClientError, OSError) as exc:
        return [
            CheckResult(
                "slack",
                "token",
                CheckStatus.FAIL,
                f"cannot reach Slack: {type(exc).__name__}",
                "check slack_api_url and the network path (proxy, firewall)",
            )
        ]
    out.append(
        CheckResult(
            "slack",
            "token",
            CheckStatus.OK,
            f"bot @{answer.get('user')} ({answer.get('user_id')}) in "
            f"{answer.get('team')} ({answer.get('team_id')})",
        )
    )
    granted = granted_scopes(answer.headers)
    if granted is None:
        out.append(
            CheckResult(
                "slack",
                "scopes",
                CheckStatus.WARN,
                "Slack did not say which scopes the token has",
                "check the scopes by hand against the app manifest",
            )
        )
    else:
        missing = [s for s in required if s not in granted]
        if missing:
            out.append(
                CheckResult(
                    "slack",
                    "scopes",
                    CheckStatus.FAIL,
                    f"missing {', '.join(missing)} (of {len(required)} the manifest asks)",
                    _REINSTALL.replace("it", "them" if len(missing) > 1 else "it", 1),
                )
            )
        else:
            out.append(
                CheckResult(
                    "slack",
                    "scopes",
                    CheckStatus.OK,
                    f"all {len(required)} of the manifest granted",
                )
            )
    notifier = SlackNotifier(client)
    for channel in dict.fromkeys(channels):
        subject = f"channel {channel}"
        try:
            channel_id = notifier.channel_id(channel)
            info = client.conversations_info(channel=channel_id)
        except NotifyError:
            out.append(
                CheckResult(
                    "slack",
                    subject,
                    CheckStatus.FAIL,
                    "not found",
                    "create the channel or fix its name in slack_channel / slack_routes",
                )
            )
            continue
        except SlackApiError as exc:
            out.append(
                CheckResult(
                    "slack",
                    subject,
                    CheckStatus.FAIL,
                    f"conversations.info: {_error(exc)}",
                    "grant channels:read and groups:read",
                )
            )
            continue
        data = info.get("channel") or {}
        if data.get("is_archived"):
            out.append(
                CheckResult(
                    "slack",
                    subject,
                    CheckStatus.FAIL,
                    "archived",
                    "route to a channel that is not archived",
                )
            )
            continue
        if not data.get("is_member"):
            out.append(
                CheckResult(
                    "slack",
                    subject,
                    CheckStatus.FAIL,
                    f"the bot is not a member of {channel_id}",
                    f"invite it: /invite @{answer.get('user')} in {channel}",
                )
            )
            continue
        out.append(CheckResult("slack", subject, CheckStatus.OK, f"bot is a member ({channel_id})"))
        if post_test:
            out.append(_post_test(client, channel, channel_id, now))
    return out


def _post_test(client: WebClient, channel: str, channel_id: str, now: datetime) -> CheckResult:
    text = (
        f"netadvisor doctor: test message ({now:%a} {now.day} {now:%b %H:%M} UTC). "
        "Alerts for this channel's clusters will be posted here."
    )
    try:
        answer = client.chat_postMessage(channel=channel_id, text=text)
    except SlackApiError as exc:
        return CheckResult(
            "slack",
            f"test post {channel}",
            CheckStatus.FAIL,
            f"chat.postMessage: {_error(exc)}",
            "grant chat:write and invite the bot",
        )
    except (SlackClientError, OSError) as exc:
        return CheckResult(
            "slack",
            f"test post {channel}",
            CheckStatus.FAIL,
            f"chat.postMessage: {type(exc).__name__}",
            "rerun doctor --post-test",
        )
    return CheckResult(
        "slack", f"test post {channel}", CheckStatus.OK, f"posted (ts {answer.get('ts')})"
    )
