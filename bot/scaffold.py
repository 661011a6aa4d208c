"""``netadvisor init``: a commented ``config.yaml`` from a kubeconfig's contexts.

The file names every context as a cluster (with a labels placeholder), and shows the Slack and
schedule settings commented out with their defaults. It is written only where no file is:
an existing configuration is never overwritten.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

__all__ = ["ScaffoldError", "render_config", "write_config"]

_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/@:-]*$")


class ScaffoldError(Exception):
    """The configuration cannot be written; the message names the file."""


def _yaml_text(value: str) -> str:
    # A context name as YAML: plain when it is safe, else a JSON string (valid YAML too).
    if _PLAIN.match(value) and not value.endswith(":") and ": " not in value:
        return value
    return json.dumps(value)


def _cluster_name(context: str) -> str:
    # EKS contexts are ARNs (arn:aws:eks:REGION:ACCOUNT:cluster/NAME): keep NAME.
    return context.rsplit("/", 1)[-1] if context.startswith("arn:") else context


def render_config(kubeconfig: str, contexts: Sequence[str], current: str | None = None) -> str:
    """The text of the configuration: one cluster per context, in the kubeconfig's order."""
    lines = [
        "# netadvisor configuration, written by `netadvisor init`.",
        f"# One cluster per context of {kubeconfig}. Check it with `netadvisor doctor`, then",
        "# `netadvisor scan`. Every key is described in docs (README: Settings); secrets",
        "# (SLACK_BOT_TOKEN, GITHUB_TOKEN, database passwords) belong in the environment.",
        "",
        "clusters:",
    ]
    if not contexts:
        lines.append("  []  # the kubeconfig has no contexts: add clusters here")
    names: set[str] = set()
    for context in contexts:
        name = _cluster_name(context)
        while name in names:  # two contexts ending alike still get distinct names
            name += "-2"
        names.add(name)
        marker = "  # the current context" if context == current else ""
        lines += [
            f"  - name: {_yaml_text(name)}{marker}",
            f"    kubeconfig: {_yaml_text(kubeconfig)}",
            f"    context: {_yaml_text(context)}",
            "    # Labels choose Slack channels (slack-routes) and filter the HTML report.",
            "    labels: {}  # e.g. {env: prod, team: payments}",
        ]
    lines += [
        "",
        "# Clusters read at the same time, and the seconds one cluster may take.",
        "# concurrency: 16",
        "# cluster-timeout: 30",
        "",
        "# Slack: the bot token comes from SLACK_BOT_TOKEN. Without a channel, messages are",
        "# printed instead of posted. A channel ID (C0123ABCD) is best; invite the bot there.",
        "# slack-channel: '#net-alerts'",
        "# Channels by cluster labels, first match wins:",
        "# slack-routes:",
        "#   - labels: {env: prod}",
        "#     channel: '#net-prod'",
        "",
        "# Schedule of `netadvisor serve`: scans every scan-interval seconds, and the daily",
        "# digest at digest-time in timezone.",
        "# scan-interval: 3600",
        "# digest-time: '09:00'",
        "# timezone: UTC",
        "",
        "# State database (default: SQLite under $XDG_STATE_HOME/netadvisor); the password",
        "# goes in NETADVISOR_DATABASE_URL rather than here.",
        "# database: postgresql://netadvisor@db.example.com/netadvisor",
    ]
    return "\n".join(lines) + "\n"


def write_config(path: Path, text: str) -> None:
    """Create ``path`` with ``text``; raise :class:`ScaffoldError` when it exists."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise ScaffoldError(
            f"{path} exists; netadvisor init never overwrites a configuration "
            "(move it away, or pass --config OTHER)"
        ) from None
    except OSError as exc:
        raise ScaffoldError(f"{path}: cannot write: {exc.strerror}") from None
