"""deploy/slack-app-manifest.yaml asks for exactly the scopes and events the code uses, and says
why for each scope."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from tests.deploy.manifests import DEPLOY, REPO

MANIFEST: Final = DEPLOY / "slack-app-manifest.yaml"

# The bot scopes each Web API method (as slack_sdk's WebClient names it) needs.
# See: https://api.slack.com/methods
METHOD_SCOPES: Final = {
    "auth_test": set(),
    "chat_postMessage": {"chat:write"},
    "chat_update": {"chat:write"},
    "chat_getPermalink": set(),  # See: https://api.slack.com/methods/chat.getPermalink (none)
    "conversations_history": {"channels:history", "groups:history"},
    "conversations_replies": {"channels:history", "groups:history"},
    "conversations_list": {"channels:read", "groups:read"},
    "conversations_info": {"channels:read", "groups:read"},
    "files_upload_v2": {"files:write"},
    "views_open": set(),  # a modal opened with a click's trigger_id needs no scope
}
# Bolt listeners: the event each needs and its scope; ``say`` posts with chat.postMessage.
EVENT_SCOPES: Final = {
    "app_mention": ("app_mention", "app_mentions:read"),
    "message": ("message.im", "im:history"),  # direct messages only (channel_type im)
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text())
    assert isinstance(data, dict)
    return data


def _product_sources() -> list[Path]:
    return sorted(p for p in (REPO / "bot").rglob("*.py")) + sorted((REPO / "jobs").rglob("*.py"))


def test_the_scopes_are_exactly_those_of_the_methods_and_events_used(
    manifest: dict[str, Any],
) -> None:
    methods: set[str] = set()
    events: set[str] = set()
    commands: set[str] = set()
    says = False
    for path in _product_sources():
        text = path.read_text()
        methods |= set(re.findall(r"\bclient\.([a-z]+_[A-Za-z0-9_]+)\(", text))
        events |= set(re.findall(r"\bapp\.event\(\"([a-z_.]+)\"\)", text))
        commands |= set(re.findall(r"\bapp\.command\(\"(/[a-z-]+)\"\)", text))
        says = says or bool(re.search(r"\bsay\(", text))
    unknown = methods - set(METHOD_SCOPES)
    assert not unknown, f"add the scopes of {sorted(unknown)} to METHOD_SCOPES and the manifest"
    needed = set().union(*(METHOD_SCOPES[m] for m in methods))
    needed |= {EVENT_SCOPES[e][1] for e in events}
    if commands:
        needed.add("commands")
    if says:
        needed.add("chat:write")
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed
    assert "user" not in manifest["oauth_config"]["scopes"]  # no user token
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        EVENT_SCOPES[e][0] for e in events
    }
    assert {c["command"] for c in manifest["features"]["slash_commands"]} == commands


def test_the_history_scopes_are_there_to_look_up_a_message_before_posting_again(
    manifest: dict[str, Any],
) -> None:
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert {"channels:history", "groups:history"} <= set(scopes)


def test_every_scope_is_explained_by_a_comment_above_it() -> None:
    lines = MANIFEST.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "bot:")
    explained_by: dict[str, str] = {}
    comment: list[str] = []
    after_item = False
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if stripped.startswith("#"):
            if after_item:  # a new comment: it explains the scopes that follow it
                comment, after_item = [], False
            comment.append(stripped.lstrip("# "))
        elif stripped.startswith("- "):
            explained_by[stripped[2:]] = " ".join(comment)
            after_item = True
        else:
            break
    assert explained_by
    for scope, why in explained_by.items():
        assert len(why) > 20, f"{scope} has no explanation"


def test_http_mode_points_everything_at_the_one_endpoint(manifest: dict[str, Any]) -> None:
    urls = [c["url"] for c in manifest["features"]["slash_commands"]]
    urls.append(manifest["settings"]["event_subscriptions"]["request_url"])
    urls.append(manifest["settings"]["interactivity"]["request_url"])  # buttons and modals
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert all(url.startswith("https://") and url.endswith("/slack/events") for url in urls)
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert manifest["_metadata"]["major_version"] == 1
    description = manifest["display_information"]["description"]
    assert len(description) <= 140
    assert 175 <= len(manifest["display_information"]["long_description"]) <= 4000


def test_doctor_checks_the_token_against_exactly_the_manifests_scopes(
    manifest: dict[str, Any],
) -> None:
    from bot.slack.doctor import REQUIRED_SCOPES

    assert sorted(REQUIRED_SCOPES) == sorted(manifest["oauth_config"]["scopes"]["bot"])
