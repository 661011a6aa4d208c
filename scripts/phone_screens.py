"""Screenshots of netadvisor's Slack messages at phone width (an HTML approximation of Slack).

Runs the command line against the Slack Web API fake of the tests (a 40-cluster fleet of the four
bundled shapes), then renders what Slack stored: the channel's baseline, a grouped post, the
same post after a cluster was fixed (and its thread), a post whose clusters were all fixed, and
the digest. Headless Chromium takes the pictures.

Usage: python scripts/phone_screens.py OUTPUT_DIR [--width 390]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli import main  # noqa: E402
from tests.bot.slack.test_fleet_posts import fleet, write_cluster  # noqa: E402
from tests.servers.slack import SlackServer  # noqa: E402

_EMOJI = {
    ":red_circle:": "🔴",
    ":large_orange_circle:": "🟠",
    ":large_yellow_circle:": "🟡",
    ":white_circle:": "⚪",
    ":white_check_mark:": "✅",
    ":warning:": "⚠️",
    ":pencil2:": "✏️",
}


def mrkdwn(text: str) -> str:
    """Slack mrkdwn as HTML (close enough to judge a layout). The text is already escaped for
    Slack (&amp; &lt; &gt;), which is what HTML needs too."""
    for code, emoji in _EMOJI.items():
        text = text.replace(code, emoji)
    blocks: list[str] = []

    def keep(match: re.Match[str]) -> str:
        blocks.append(f"<pre>{match.group(1).strip(chr(10))}</pre>")
        return f"\0{len(blocks) - 1}\0"

    text = re.sub(r"```(.*?)```", keep, text, flags=re.S)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r'<a href="\1">\2</a>', text)
    text = re.sub(r"<(https?://[^>]+)>", r'<a href="\1">\1</a>', text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"<b>\1</b>", text)
    text = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"<i>\1</i>", text)
    text = re.sub(r"(?<![\w~])~([^~\n]+)~(?![\w~])", r"<s>\1</s>", text)
    text = text.replace("\n", "<br>")
    return re.sub(r"\0(\d+)\0", lambda m: blocks[int(m.group(1))], text)


def render_blocks(blocks: Iterable[dict[str, Any]]) -> str:
    out = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            out.append(f"<div class=h>{html.escape(block['text']['text'])}</div>")
        elif kind == "section":
            out.append(f"<div class=s>{mrkdwn(block['text']['text'])}</div>")
        elif kind == "context":
            parts = " ".join(f"<span>{mrkdwn(e.get('text', ''))}</span>" for e in block["elements"])
            out.append(f"<div class=c>{parts}</div>")
        elif kind == "divider":
            out.append("<hr>")
        elif kind == "actions":
            buttons = "".join(
                f"<button>{html.escape(e['text']['text'])}</button>" for e in block["elements"]
            )
            out.append(f"<div class=a>{buttons}</div>")
    return "\n".join(out)


STYLE = """
body{font:15px/1.45 -apple-system,'Segoe UI',Roboto,'Noto Sans','DejaVu Sans',
'Liberation Sans',sans-serif,'Noto Color Emoji';margin:0;background:#fff;color:#1d1c1d}
.msg{display:flex;gap:8px;padding:10px 12px;border-bottom:1px solid #eee}
.av{width:36px;height:36px;border-radius:6px;background:#2d6cdf;color:#fff;font-weight:700;
display:flex;align-items:center;justify-content:center;flex:none}
.who{font-weight:700}.who span{font-weight:400;color:#616061;font-size:12px;margin-left:6px}
.h{font-weight:900;font-size:17px;margin:4px 0}
.s{margin:6px 0;word-wrap:break-word}
.c{color:#616061;font-size:12px;margin:6px 0}.c span{margin-right:6px}
pre{background:#f8f8f8;border:1px solid #ddd;border-radius:4px;padding:6px;white-space:pre-wrap;
font-size:12px}
code{background:#f2f2f2;border:1px solid #e0e0e0;border-radius:3px;color:#c01343;font-size:12px;
padding:0 2px}
a{color:#1264a3;text-decoration:none}
button{border:1px solid #bbb;background:#fff;border-radius:4px;padding:4px 10px;margin:4px 6px 0 0;
font-weight:700;font-size:13px}
.thread{margin-left:44px;border-left:3px solid #ddd}
.title{background:#3f0e40;color:#fff;padding:10px 12px;font-weight:700}
"""


def page(title: str, messages: Iterable[tuple[dict[str, Any], bool]]) -> str:
    body = []
    for message, reply in messages:
        blocks = message.get("blocks") or []
        content = render_blocks(blocks) if blocks else mrkdwn(html.escape(message["text"]))
        cls = "msg thread" if reply else "msg"
        body.append(
            f"<div class='{cls}'><div class=av>NA</div><div><div class=who>netadvisor"
            f"<span>APP 9:00</span></div>{content}</div></div>"
        )
    return (
        f"<!doctype html><meta charset=utf-8><style>{STYLE}</style>"
        f"<div class=title># {html.escape(title)}</div>" + "".join(body)
    )


def shoot(chromium: str, source: Path, target: Path, width: int) -> None:
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={width},6000", "--force-device-scale-factor=1",
         f"--screenshot={target}", source.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    # The window is taller than the messages: cut the white space below them.
    from PIL import Image, ImageChops

    with Image.open(target) as image:
        rgb = image.convert("RGB")
        box = ImageChops.difference(rgb, Image.new("RGB", rgb.size, "white")).getbbox()
        if box is not None:
            rgb.crop((0, 0, rgb.width, min(rgb.height, box[3] + 12))).save(target)


def _run(*argv: str) -> None:
    import io

    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    if code not in (0, 3):
        raise SystemExit(f"netadvisor {' '.join(argv)} exited {code}: {err.getvalue()}")


def _configure(work: Path, clusters: dict[str, str], fixed: set[str]) -> None:
    dumps = work / "dumps"
    dumps.mkdir(exist_ok=True)
    lines = ["clusters:"]
    for name, shape in clusters.items():
        path = write_cluster(dumps, shape, name, proxy_mode="iptables" if name in fixed else None)
        lines.append(f"  - name: {name}\n    dump: {path}\n    labels: {{env: prod}}")
    (work / "config.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main_(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--width", type=int, default=390)
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed", file=sys.stderr)
        return 1
    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, SlackServer(channels={"C0NET": "net"}) as slack:
        work = Path(tmp)
        os.environ.update(
            NETADVISOR_CONFIG=str(work / "config.yaml"),
            XDG_STATE_HOME=str(work / "state"),
            SLACK_BOT_TOKEN=slack.token,
            NETADVISOR_SLACK_API_URL=slack.url,
            NETADVISOR_SLACK_CHANNEL="C0NET",
        )
        clusters = fleet(work)
        _configure(work, clusters, set())
        _run("scan")
        first_posts = len(slack.top_level("C0NET", baseline=True))
        ipvs = next(
            m for m in slack.top_level("C0NET") if "KP-IPVS-CONN-REUSE" in json.dumps(m["blocks"])
        )
        shots: dict[str, list[tuple[dict[str, Any], bool]]] = {
            "01-baseline-and-grouped-post": [(slack.baselines("C0NET")[0], False), (ipvs, False)]
        }
        _configure(work, clusters, {"prod-centos-01"})
        _run("scan")
        updated = next(m for m in slack.messages("C0NET") if m["ts"] == ipvs["ts"])
        thread = [(r, True) for r in slack.replies("C0NET", ipvs["ts"])]
        shots["02-cluster-fixed-update-and-thread"] = [(updated, False), *thread]
        everyone = {n for n, s in clusters.items() if s == "demo-prod-centos"}
        _configure(work, clusters, everyone)
        _run("scan")
        resolved = next(m for m in slack.messages("C0NET") if m["ts"] == ipvs["ts"])
        thread = [(r, True) for r in slack.replies("C0NET", ipvs["ts"])][-1:]
        shots["03-resolution"] = [(resolved, False), *thread]
        _run("digest")
        digest = [m for m in slack.top_level("C0NET") if "digest" in m["text"]][-1]
        shots["04-digest"] = [(digest, False)]
        for name, messages in shots.items():
            source = work / f"{name}.html"
            source.write_text(page("net", messages), encoding="utf-8")
            shutil.copy(source, args.output / f"{name}.html")
            shoot(chromium, source, args.output / f"{name}.png", args.width)
        print(f"a first scan of {len(clusters)} clusters made {first_posts} top-level posts")
        print(f"screenshots in {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main_(sys.argv[1:]))
