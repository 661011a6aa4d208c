"""Block Kit for the bot's answers: verdict first, reasons, commands in code blocks, links.

Readable on a phone: short sections, at most :data:`~bot.slack.blocks.MAX_BLOCKS` blocks; long
text is split into several sections by :mod:`bot.slack.blocks` (never cut). Every piece of user
text echoed back goes through :func:`~bot.slack.blocks.escape`, so that nobody can make the bot
ping ``@channel`` / ``@here`` / ``<!everyone>`` or forge a link (Slack reads ``<...>`` as mentions
and links; ``&``, ``<`` and ``>`` are the only characters it asks to escape).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

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
from bot.slack.blocks import MAX_BLOCKS, Block, context, escape, section

__all__ = [
    "SHOW_ALL_ACTION",
    "advisory_blocks",
    "answer_blocks",
    "plain_blocks",
    "plan_blocks",
]

_ICON: Final = {
    AnswerVerdict.SAFE: ":white_check_mark:",
    AnswerVerdict.NOT_SAFE: ":rotating_light:",
    AnswerVerdict.DEPENDS: ":grey_question:",
    AnswerVerdict.NOT_UNDERSTOOD: ":thinking_face:",
}


def _code(commands: Sequence[str]) -> str:
    body = "\n".join(c.replace("```", "` ` `") for c in commands)
    return f"```{escape(body)}```"


def _link(url: str, label: str) -> str:
    # Catalog URLs are https:// (validated); "|" and ">" would end the link early.
    return f"<{url.replace('>', '%3E').replace('|', '%7C')}|{escape(label)}>"


def _result_section(ans: Answer, result: Result) -> list[Block]:
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
    return section("\n".join(lines))


def _short_url(url: str) -> str:
    parts = url.rstrip("/").split("/")
    if len(parts) >= 7 and parts[2] == "github.com":
        return f"{parts[4]}#{parts[6]}"
    return parts[2] if len(parts) > 2 else url


SHOW_ALL_ACTION: Final = "netadvisor_ask_all"
"""``action_id`` of the "Show all" button under an answer with folded advisories; its value is
the question, which :mod:`bot.slack.listeners.actions` answers again with every advisory."""


def answer_blocks(ans: Answer) -> list[Block]:
    """The answer: the verdict as a consequence and an action, then only what the answer names,
    the alternatives, one line for what is folded (with a "Show all" button), and a footer."""
    lang = ans.language
    words = wording.words(lang)
    blocks: list[Block] = []
    if ans.question.outside and ans.verdict is not AnswerVerdict.NOT_UNDERSTOOD:
        blocks.extend(section(escape(" ".join(ans.notes[:2]))))
    blocks.extend(section(f"{_ICON[ans.verdict]} *{escape(ans.headline())}*"))
    notes = [n for n in ans.notes if n != ans.headline() and not ans.question.outside]
    if notes:
        blocks.extend(context(escape(" · ".join(notes))))
    if ans.verdict is AnswerVerdict.NOT_UNDERSTOOD:
        if ans.not_covered:
            blocks.extend(section(escape(ans.not_covered)))
        title = words["examples"]
        examples = "\n".join(f"• `{escape(e)}`" for e in ans.examples)
        blocks.extend(section(f"*{title}*\n{examples}"))
        blocks.extend(_footer(ans))
        return blocks[:MAX_BLOCKS]
    if ans.plan is not None and ans.move:
        blocks.extend(_move_blocks(ans))
    for advisory_id in ans.lead:
        if len(blocks) >= MAX_BLOCKS - 4:
            blocks.extend(context("… `netadvisor ask --all` prints every advisory"))
            break
        blocks.extend(_result_section(ans, ans.result(advisory_id)))
    if ans.safe_with and not action_in_headline(ans):
        blocks.extend(section(f"*{words['safe_if']}*: " + escape(ans.safe_if())))
    if ans.not_covered:
        blocks.extend(section(escape(ans.not_covered)))
    folded = folded_text(ans, slack=True)
    if folded:
        blocks.extend(context(escape(folded)))
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
    blocks.extend(_footer(ans))
    return blocks[:MAX_BLOCKS]


def _footer(ans: Answer) -> list[Block]:
    lang = ans.language
    words = wording.words(lang)
    understood = ", ".join(f"{k}={v}" for k, v in ans.question.understood.items())
    named = [*ans.question.clusters, *ans.question.advisory_ids]
    note = f"{words['understood']}: `{escape(understood or '-')}`"
    if named:
        note += " · " + escape(", ".join(named))
    if ans.cluster is not None:
        read = ans.cluster.read_at.strftime("%Y-%m-%d %H:%M UTC") if ans.cluster.read_at else "?"
        note += f" · {escape(ans.cluster.name)} read {read}"
    note += f" · {words['catalog']} {escape(ans.catalog_version)}"
    return context(note)


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
    return context("\n".join(lines)) if lines else []


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
    blocks: list[Block] = section(f"*{escape(title or 'Plan')}*: `{escape(changes)}`")

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
            blocks.extend(section(f"*{name}*\n" + "\n".join(lines)))
    remaining = [e.id for e in plan.remaining if not e.differs and keep(e.id)]
    if remaining:
        blocks.extend(context("Remaining: " + escape(", ".join(remaining))))
    if fixes:
        best = "; or ".join(f.sentence(lang, releases=i == 0) for i, f in enumerate(fixes[:2]))
        blocks.extend(section(f"*Fix*: {escape(best[:1].upper() + best[1:])}"))
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
        blocks.extend(section("*Safe targets*\n" + "\n".join(lines)))
    return blocks[:MAX_BLOCKS]


def advisory_blocks(advisory: Advisory, catalog_version: str) -> list[Block]:
    """One advisory from the catalog: title, summary, recommendation, commands, references."""
    severity = advisory.worst_severity.value if advisory.worst_severity else "-"
    blocks: list[Block] = [
        *section(f"*{escape(advisory.id)}*: {escape(advisory.title)}\n"
                 f"{escape(advisory.component)} · {severity} · catalog {escape(catalog_version)}"),
        *section(escape(advisory.summary)),
        *section("*Recommendation* " + escape(advisory.recommendation.en)),
    ]  # fmt: skip
    commands = [w.command for w in advisory.workaround]
    if commands:
        blocks.extend(section(_code(commands)))
    refs = [_link(r.url, f"{r.type.lower()} {_short_url(r.url)}") for r in advisory.references]
    if refs:
        blocks.extend(context(" · ".join(refs[:10])))
    return blocks


def plain_blocks(text: str) -> list[Block]:
    """A short message (help, errors) as sections (split, never cut); ``text`` is trusted
    mrkdwn."""
    return section(text)
