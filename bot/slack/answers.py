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

from advisories import wording
from advisories.answers import (
    Answer,
    AnswerVerdict,
    action_in_headline,
    caveat_text,
    condition_text,
    folded_text,
    impact_text,
    severity_word,
)
from advisories.engine import Result
from advisories.fixes import Fix
from advisories.models import Advisory, Verdict
from advisories.planning import Plan, Target

__all__ = [
    "MAX_BLOCKS",
    "MAX_TEXT",
    "SHOW_ALL_ACTION",
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


def _result_section(ans: Answer, result: Result) -> Block:
    """One named advisory in one section: what happens, when, what to do, commands, links."""
    lang = ans.language
    advisory = result.advisory
    words = wording.words(lang)
    state = words["affected"] if result.verdict is Verdict.AFFECTED else words["unknown"]
    severity = (
        f" · {severity_word(result.severity.value, lang)}" if result.severity is not None else ""
    )
    case_ids = ans.cases.get(result.id, ())
    lines = [f"*{escape(advisory.title_in(lang))}* ({escape(advisory.id)} · {state}{severity})"]
    lines.append(escape(impact_text(result, case_ids, lang)))
    condition, uncertain = condition_text(ans, result)
    if condition:
        prefix = "受影响的条件：" if lang == "zh" else "Affected if "
        lines.append(f"_{escape(prefix + condition)}_")
    if uncertain:
        lines.append(f"_{escape(words['uncertain'] + uncertain)}_")
    lines.extend(f":warning: {escape(caveat_text(c, lang))}" for c in result.caveats)
    lines.append(f"*{words['recommendation']}* " + escape(advisory.recommendation.get(lang)))
    for workaround in advisory.workarounds_for(case_ids):
        if workaround.description:
            lines.append(f"{words['workaround']}: {escape(workaround.describe(lang))}")
        lines.append(_code([workaround.command]))
    refs = [_link(r.url, _short_url(r.url)) for r in advisory.references[:3]]
    if refs:
        lines.append(" · ".join(refs))
    return _section("\n".join(lines))


def _short_url(url: str) -> str:
    parts = url.rstrip("/").split("/")
    if len(parts) >= 7 and parts[2] == "github.com":
        return f"{parts[4]}#{parts[6]}"
    return parts[2] if len(parts) > 2 else url


SHOW_ALL_ACTION: Final = "netadvisor_ask_all"
"""``action_id`` of the "Show all" button under an answer with folded advisories; its value is
the question. The interactive handler that re-answers with ``show_all`` is not wired yet."""


def answer_blocks(ans: Answer) -> list[Block]:
    """The answer: the verdict as a consequence and an action, then only what the answer names,
    the alternatives, one line for what is folded (with a "Show all" button), and a footer."""
    lang = ans.language
    words = wording.words(lang)
    blocks: list[Block] = []
    if ans.question.outside and ans.verdict is not AnswerVerdict.NOT_UNDERSTOOD:
        blocks.append(_section(escape(" ".join(ans.notes[:2]))))
    blocks.append(_section(f"{_ICON[ans.verdict]} *{escape(ans.headline())}*"))
    notes = [n for n in ans.notes if n != ans.headline() and not ans.question.outside]
    if notes:
        blocks.append(_context(escape(" · ".join(notes))))
    if ans.verdict is AnswerVerdict.NOT_UNDERSTOOD:
        if ans.not_covered:
            blocks.append(_section(escape(ans.not_covered)))
        title = words["examples"]
        examples = "\n".join(f"• `{escape(e)}`" for e in ans.examples)
        blocks.append(_section(f"*{title}*\n{examples}"))
        blocks.append(_footer(ans))
        return blocks[:MAX_BLOCKS]
    if ans.plan is not None and ans.move:
        blocks.extend(_move_blocks(ans))
    for advisory_id in ans.lead:
        if len(blocks) >= MAX_BLOCKS - 4:
            blocks.append(_context("… `netadvisor ask --all` prints every advisory"))
            break
        blocks.append(_result_section(ans, ans.result(advisory_id)))
    if ans.safe_with and not action_in_headline(ans):
        blocks.append(_section(f"*{words['safe_if']}*: " + escape(ans.safe_if())))
    if ans.not_covered:
        blocks.append(_section(escape(ans.not_covered)))
    folded = folded_text(ans, slack=True)
    if folded:
        blocks.append(_context(escape(folded)))
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": SHOW_ALL_ACTION,
                        "text": {"type": "plain_text", "text": "全部显示" if lang == "zh"
                                 else "Show all"},
                        "value": ans.question.text[:2000],
                    }
                ],
            }
        )  # fmt: skip
    blocks.append(_footer(ans))
    return blocks[:MAX_BLOCKS]


def _footer(ans: Answer) -> Block:
    lang = ans.language
    words = wording.words(lang)
    understood = ", ".join(f"{k}={v}" for k, v in ans.question.understood.items())
    named = [*ans.question.clusters, *ans.question.advisory_ids]
    context = f"{words['understood']}: `{escape(understood or '-')}`"
    if named:
        context += " · " + escape(", ".join(named))
    if ans.cluster is not None:
        read = ans.cluster.read_at.strftime("%Y-%m-%d %H:%M UTC") if ans.cluster.read_at else "?"
        context += f" · {escape(ans.cluster.name)} read {read}"
    context += f" · {words['catalog']} {escape(ans.catalog_version)}"
    return _context(context)


def _move_blocks(ans: Answer) -> list[Block]:
    assert ans.plan is not None
    words = wording.words(ans.language)
    scope = set(ans.scope)
    lines = []
    worse = [e for e in ans.plan.changed if e.after.verdict.rank > e.before.verdict.rank]
    for name, entries in (("introduced", ans.plan.introduced), ("changed", worse)):
        shown = [e for e in entries if e.id in scope]
        if shown:
            items = ", ".join(
                f"{escape(e.id)} ({e.before.verdict.value} → {e.after.verdict.value})"
                for e in shown
            )
            lines.append(f"*{words[name]}*: {items}")
    if ans.still:
        lines.append(escape(words["still"].format(", ".join(ans.still))))
    return [_context("\n".join(lines))] if lines else []


def plan_blocks(
    plan: Plan,
    targets: Mapping[str, Target] | None,
    lang: str = "en",
    *,
    title: str = "",
    scope: Sequence[str] | None = None,
    fixes: Sequence[Fix] = (),
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
    if fixes:
        best = "; or ".join(f.sentence(lang, releases=i == 0) for i, f in enumerate(fixes[:2]))
        blocks.append(_section(f"*Fix*: {escape(best[:1].upper() + best[1:])}"))
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
