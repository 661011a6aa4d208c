"""Block Kit for the bot's answers: verdict first, reasons, commands in code blocks, links.

Readable on a phone: one header, short sections, at most :data:`MAX_BLOCKS` blocks and
:data:`MAX_TEXT` characters per section. Every piece of user text echoed back goes through
:func:`escape`, so that nobody can make the bot ping ``@channel`` / ``@here`` / ``<!everyone>``
or forge a link (Slack reads ``<...>`` as mentions and links; ``&``, ``<`` and ``>`` are the
only characters it asks to escape).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from advisories.answers import Answer, AnswerVerdict
from advisories.engine import Result
from advisories.models import Advisory, Verdict
from advisories.planning import Plan, Target

__all__ = [
    "MAX_BLOCKS",
    "MAX_TEXT",
    "advisory_blocks",
    "answer_blocks",
    "escape",
    "plain_blocks",
    "plan_blocks",
]

Block = dict[str, Any]

MAX_BLOCKS: Final = 50
MAX_TEXT: Final = 2900
"""Section text limit, a little under Slack's 3,000 characters."""

_ICON: Final = {
    AnswerVerdict.SAFE: ":white_check_mark:",
    AnswerVerdict.NOT_SAFE: ":rotating_light:",
    AnswerVerdict.DEPENDS: ":grey_question:",
    AnswerVerdict.NOT_UNDERSTOOD: ":thinking_face:",
}


def escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` so that Slack shows the text as typed (no mentions, links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(text, 2000)}]}


def _code(commands: Sequence[str]) -> str:
    body = "\n".join(c.replace("```", "` ` `") for c in commands)
    return f"```{escape(body)}```"


def _link(url: str, label: str) -> str:
    # Catalog URLs are https:// (validated); "|" and ">" would end the link early.
    return f"<{url.replace('>', '%3E').replace('|', '%7C')}|{escape(label)}>"


def _result_blocks(result: Result, lang: str) -> list[Block]:
    advisory = result.advisory
    state = "affected" if result.verdict is Verdict.AFFECTED else "may hold"
    if lang == "zh":
        state = "受影响" if result.verdict is Verdict.AFFECTED else "可能受影响"
    severity = f" · {result.severity.value}" if result.severity else ""
    lines = [f"*{escape(advisory.id)}* ({state}{severity}): {escape(advisory.title)}"]
    lines.append(escape(result.impact(lang)))
    if result.verdict is Verdict.UNKNOWN and result.depends_text():
        lines.append(f"_{escape(result.depends_text())}_")
    if result.verdict is Verdict.UNKNOWN and result.safe_when:
        safe = " or ".join(t.describe() for t in result.safe_when)
        lines.append(("以下情况下安全: " if lang == "zh" else "Safe if ") + escape(safe))
    lines.extend(f":warning: {escape(c)}" for c in result.caveats)
    lines.append(("*建议* " if lang == "zh" else "*Recommendation* ") +
                 escape(advisory.recommendation.get(lang)))  # fmt: skip
    blocks = [_section("\n".join(lines))]
    commands = [w.command for w in advisory.workaround]
    if commands:
        blocks.append(_section(_code(commands)))
    refs = [_link(r.url, f"{r.type.lower()} {_short_url(r.url)}") for r in advisory.references[:4]]
    if refs:
        blocks.append(_context(" · ".join(refs)))
    return blocks


def _short_url(url: str) -> str:
    parts = url.rstrip("/").split("/")
    if len(parts) >= 7 and parts[2] == "github.com":
        return f"{parts[4]}#{parts[6]}"
    return parts[2] if len(parts) > 2 else url


def answer_blocks(ans: Answer) -> list[Block]:
    """The answer: verdict, what was understood, symptoms, reasons, not considered."""
    lang = ans.language
    head = f"{_ICON[ans.verdict]} *{escape(ans.headline())}*"
    if ans.verdict is AnswerVerdict.DEPENDS and ans.safe_if():
        head += "\n" + ("以下情况下安全: " if lang == "zh" else "Safe if ") + escape(ans.safe_if())
    blocks: list[Block] = [_section(head)]
    understood = ", ".join(f"{k}={v}" for k, v in ans.question.understood.items())
    named = [*ans.question.clusters, *ans.question.advisory_ids]
    label = "已识别" if lang == "zh" else "Understood"
    context = f"{label}: `{escape(understood or '-')}`"
    if named:
        context += " · " + escape(", ".join(named))
    if ans.cluster is not None:
        read = ans.cluster.read_at.isoformat(timespec="minutes") if ans.cluster.read_at else "?"
        context += f" · {escape(ans.cluster.name)} read {read}"
    context += f" · catalog {escape(ans.catalog_version)}"
    blocks.append(_context(context))
    for note in ans.notes:
        blocks.append(_context(escape(note)))
    if ans.verdict is AnswerVerdict.NOT_UNDERSTOOD:
        if ans.not_covered:
            blocks.append(_section(escape(ans.not_covered)))
        title = "可以这样问" if lang == "zh" else "Try for example"
        examples = "\n".join(f"• `{escape(e)}`" for e in ans.examples)
        blocks.append(_section(f"*{title}*\n{examples}"))
        if ans.not_considered:
            blocks.append(_context(escape("; ".join(ans.not_considered))))
        return blocks[:MAX_BLOCKS]
    if ans.plan is not None:
        blocks.extend(plan_blocks(ans.plan, None, lang, scope=ans.scope)[1:])
    if ans.symptoms:
        title = "症状匹配" if lang == "zh" else "Symptoms match"
        lines = [
            f"• *{escape(m.advisory.id)}* — {escape(m.confirm(lang))}" for m in ans.symptoms[:5]
        ]
        blocks.append(_section(f"*{title}*\n" + "\n".join(lines)))
    if ans.not_covered:
        blocks.append(_section(escape(ans.not_covered)))
    problems = [r for r in ans.results if r.verdict is not Verdict.NOT_AFFECTED]
    for result in problems:
        more = _result_blocks(result, lang)
        if len(blocks) + len(more) > MAX_BLOCKS - 2:
            rest = len(problems) - problems.index(result)
            blocks.append(_context(f"… {rest} more: `netadvisor ask` prints everything"))
            break
        blocks.append({"type": "divider"})
        blocks.extend(more)
    if ans.not_considered:
        title = "未考虑" if lang == "zh" else "Not considered"
        blocks.append(_context(f"{title}: " + escape("; ".join(ans.not_considered))))
    return blocks[:MAX_BLOCKS]


def plan_blocks(
    plan: Plan,
    targets: Mapping[str, Target] | None,
    lang: str = "en",
    *,
    title: str = "",
    scope: Sequence[str] | None = None,
) -> list[Block]:
    """What changes (resolved, introduced, changed, remaining) and safe targets."""
    changes = ", ".join(f"{c.key}={c.raw}" for c in plan.changes) or "-"
    blocks: list[Block] = [_section(f"*{escape(title or 'Plan')}*: `{escape(changes)}`")]

    def keep(entry_id: str) -> bool:
        return scope is None or entry_id in scope

    sections = (
        (":white_check_mark: Resolved", plan.resolved),
        (":new: Introduced", plan.introduced),
        (":arrows_counterclockwise: Changed", plan.changed),
    )
    for name, entries in sections:
        lines = [
            f"• *{escape(e.id)}*: {e.before.verdict.value} → {e.after.verdict.value}"
            + (
                f"\n   {escape(e.before.impact(lang))} → {escape(e.after.impact(lang))}"
                if e in plan.changed
                else ""
            )
            for e in entries
            if keep(e.id)
        ]
        if lines:
            blocks.append(_section(f"*{name}*\n" + "\n".join(lines)))
    remaining = [e.id for e in plan.remaining if not e.differs and keep(e.id)]
    if remaining:
        blocks.append(_context("Remaining: " + escape(", ".join(remaining))))
    if targets:
        lines = []
        for key, target in targets.items():
            if target.version is None:
                lines.append(f"• {escape(key)}: no version in the catalog clears "
                             f"{escape(', '.join(target.blocking))}")  # fmt: skip
                continue
            later = " (current line has no fix)" if target.current_line_fixed is False else ""
            line = f"• {escape(key)}: *{escape(target.version)}* (line {target.line}){later}"
            if target.label:
                line += f" _{escape(target.label)}_"
            if target.os_releases:
                line += " — " + escape(", ".join(target.os_releases[:4]))
            for advisory_id, how in target.upstream.items():
                line += f"\n   {escape(advisory_id)}: upstream reports the fix in {escape(how)}"
            lines.append(line)
        blocks.append(_section("*Safe targets*\n" + "\n".join(lines)))
    return blocks[:MAX_BLOCKS]


def advisory_blocks(advisory: Advisory, catalog_version: str) -> list[Block]:
    """One advisory from the catalog: title, summary, recommendation, commands, references."""
    severity = advisory.worst_severity.value if advisory.worst_severity else "-"
    blocks: list[Block] = [
        _section(f"*{escape(advisory.id)}*: {escape(advisory.title)}\n"
                 f"{escape(advisory.component)} · {severity} · catalog {escape(catalog_version)}"),
        _section(escape(advisory.summary)),
        _section("*Recommendation* " + escape(advisory.recommendation.en)),
    ]  # fmt: skip
    commands = [w.command for w in advisory.workaround]
    if commands:
        blocks.append(_section(_code(commands)))
    refs = [_link(r.url, f"{r.type.lower()} {_short_url(r.url)}") for r in advisory.references]
    if refs:
        blocks.append(_context(" · ".join(refs[:10])))
    return blocks


def plain_blocks(text: str) -> list[Block]:
    """A short message (help, errors) as one section; ``text`` is trusted mrkdwn."""
    return [_section(text)]
