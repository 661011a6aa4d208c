"""Attach an image to a thread: the fleet exposure PNG in the daily digest's thread.

Slack's upload flow (``files_upload_v2``): ``files.getUploadURLExternal`` gives an upload URL
and a file id, the bytes are POSTed there, and ``files.completeUploadExternal`` shares the file
into the channel's thread. It needs the bot scope ``files:write`` (the app manifest has it).
See: https://api.slack.com/messaging/files#uploading_files
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.slack.notifier import SlackNotifier
from jobs.notify import NotDelivered

__all__ = ["upload_image"]


def upload_image(
    client: WebClient,
    channel: str,
    thread_ts: str,
    image: bytes,
    *,
    filename: str = "fleet-exposure.png",
    title: str = "Fleet exposure",
    comment: str | None = None,
) -> str:
    """Share ``image`` as a reply in the thread ``thread_ts`` of ``channel`` (an ID or a name);
    returns the file's id. Raises :class:`~jobs.notify.NotDelivered` naming the channel (a
    missing ``files:write`` scope says which scope to add)."""
    channel_id = SlackNotifier(client).channel_id(channel)
    try:
        answer = client.files_upload_v2(
            channel=channel_id,
            thread_ts=thread_ts,
            content=image,
            filename=filename,
            title=title,
            initial_comment=comment,
        )
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "error")
        if error == "missing_scope":
            needed = exc.response.get("needed") or "files:write"
            error = f"missing_scope (add the bot scope {needed} to the Slack app and reinstall it)"
        raise NotDelivered(
            error,
            channel=channel,
            method="files.completeUploadExternal",
            channel_problem=error in ("not_in_channel", "channel_not_found"),
        ) from None
    except (SlackClientError, OSError) as exc:
        raise NotDelivered(
            f"upload failed: {type(exc).__name__}", channel=channel, method="files_upload_v2"
        ) from None
    file = answer.get("file") or {}
    return str(file.get("id") or "")
