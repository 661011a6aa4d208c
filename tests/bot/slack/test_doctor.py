"""doctor's Slack lines and the digest image upload, against the fake Slack Web API through
slack_sdk's real WebClient."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from PIL import Image

from bot.slack.doctor import REQUIRED_SCOPES, check_slack
from bot.slack.files import upload_image
from bot.slack.notifier import make_client
from jobs.checks import CheckStatus
from jobs.notify import NotDelivered
from tests.servers.slack import DEFAULT_SCOPES, SlackServer

NOW = datetime(2026, 12, 17, 14, 0, tzinfo=UTC)


def _lines(results: list) -> list[tuple[str, CheckStatus]]:
    return [(r.subject, r.status) for r in results]


def test_the_fake_grants_the_manifests_scopes_by_default() -> None:
    assert sorted(DEFAULT_SCOPES) == sorted(REQUIRED_SCOPES)


def test_a_token_with_every_scope_in_its_channels_passes() -> None:
    with SlackServer(channels={"C0NET": "net", "C0PROD": "net-prod"}) as slack:
        client = make_client(slack.token, slack.url)
        results = check_slack(client, ["#net", "C0PROD"], now=NOW)
        assert slack.requests("chat.postMessage") == []
    assert _lines(results) == [
        ("token", CheckStatus.OK),
        ("scopes", CheckStatus.OK),
        ("channel #net", CheckStatus.OK),
        ("channel C0PROD", CheckStatus.OK),
    ]
    assert results[0].message == "bot @netadvisor (U0BOT) in Test (T0TEST)"


def test_a_token_missing_one_scope_names_it_and_how_to_add_it() -> None:
    scopes = tuple(s for s in DEFAULT_SCOPES if s != "files:write")
    with SlackServer(scopes=scopes) as slack:
        results = check_slack(make_client(slack.token, slack.url), ["#net"], now=NOW)
    scope_line = results[1]
    assert (scope_line.subject, scope_line.status) == ("scopes", CheckStatus.FAIL)
    assert (
        scope_line.message == f"missing files:write (of {len(REQUIRED_SCOPES)} the manifest asks)"
    )
    assert "reinstall" in scope_line.fix


def test_a_channel_the_bot_is_not_in_and_an_unknown_one_fail_with_a_fix() -> None:
    with SlackServer(channels={"C0NET": "net", "C0PROD": "net-prod"}) as slack:
        slack.leave("C0PROD")
        results = check_slack(make_client(slack.token, slack.url), ["#net-prod", "#nope"], now=NOW)
        info = slack.requests("conversations.info")
    assert _lines(results)[2:] == [
        ("channel #net-prod", CheckStatus.FAIL),
        ("channel #nope", CheckStatus.FAIL),
    ]
    assert results[2].fix == "invite it: /invite @netadvisor in #net-prod"
    assert [r.params["channel"] for r in info] == ["C0PROD"]


def test_post_test_posts_one_message_per_channel_it_is_in() -> None:
    with SlackServer() as slack:
        results = check_slack(
            make_client(slack.token, slack.url), ["#net"], post_test=True, now=NOW
        )
        posted = slack.messages("C0NET")
    assert _lines(results)[-1] == ("test post #net", CheckStatus.OK)
    assert len(posted) == 1
    assert posted[0]["text"].startswith("netadvisor doctor: test message (Thu 17 Dec 14:00 UTC)")


def test_a_refused_token_is_one_failing_line_without_the_token() -> None:
    with SlackServer() as slack:
        results = check_slack(make_client("xoxb-wrong", slack.url), ["#net"], now=NOW)
    assert _lines(results) == [("token", CheckStatus.FAIL)]
    assert results[0].message == "auth.test: invalid_auth"
    assert "xoxb-wrong" not in results[0].message + results[0].fix


def _png(width: int = 40, height: int = 20) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "#dc2626").save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_image_is_shared_in_the_digest_thread_in_three_steps() -> None:
    image = _png()
    with SlackServer() as slack:
        client = make_client(slack.token, slack.url)
        digest = client.chat_postMessage(channel="#net", text="Daily digest")["ts"]
        file_id = upload_image(client, "#net", digest, image, comment="Fleet exposure today")
        steps = [r.method for r in slack.requests() if r.method.startswith(("files.", "upload"))]
        shared = slack.files()
        replies = slack.replies("C0NET", digest)
    assert steps == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    assert len(shared) == 1
    assert shared[0]["id"] == file_id
    assert shared[0]["content"] == image
    assert shared[0]["mimetype"] == "image/png"
    assert (shared[0]["channel"], shared[0]["thread_ts"]) == ("C0NET", digest)
    assert [r["text"] for r in replies] == ["Fleet exposure today"]


def test_without_files_write_the_upload_says_which_scope_to_add() -> None:
    scopes = tuple(s for s in DEFAULT_SCOPES if s != "files:write")
    with SlackServer(scopes=scopes) as slack:
        client = make_client(slack.token, slack.url)
        digest = client.chat_postMessage(channel="#net", text="Daily digest")["ts"]
        with pytest.raises(NotDelivered, match="add the bot scope files:write"):
            upload_image(client, "#net", digest, _png())
        assert slack.files() == []
