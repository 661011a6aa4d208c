"""Answers to plain-language questions: a verdict with reasons, in the language asked.

Pure: a :class:`~advisories.questions.Question`, the catalog and (for questions that name a
cluster) the facts of the last scan go in; an :class:`Answer` comes out, which the command line
prints as text or JSON and the Slack bot renders as Block Kit.

Verdicts, over the advisories *in scope*:

- ``safe``: every advisory in scope is ``not_affected``;
- ``not_safe``: at least one is ``affected``;
- ``depends``: none is affected and some are ``unknown``; the answer names what they depend on
  and the values that would make them safe (from :attr:`Result.safe_when`);
- ``not_understood``: the question stated nothing the vocabulary knows; the answer says what it
  understood and gives three example questions.

Scope: the advisories a question names; else those of the components it names or implies
(IPVS implies kube-proxy, VXLAN implies Calico); else, for a question that names no component
("is kernel 5.4 ok?"), the advisories that depend on what it states; else, for a question that
only describes a symptom, the advisories whose symptoms match. A question about a cluster
covers the whole catalog. Everything else is listed under "not considered".

Symptoms are matched against every advisory's symptom keywords (English and Chinese, whatever
the language of the question), best first, each with the facts that would confirm it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Final

from advisories.catalog import Catalog
from advisories.engine import Engine, Result
from advisories.facts import COMPONENTS, Facts
from advisories.fleet import ClusterFacts, node_facts, node_groups
from advisories.models import Advisory, Verdict
from advisories.planning import Change, Plan, PlanEntry, Target, apply_changes, what_if
from advisories.planning import worst_results as _worst
from advisories.questions import Question, normalise
from advisories.serialize import result_to_json

__all__ = [
    "Answer",
    "AnswerVerdict",
    "ClusterData",
    "SymptomMatch",
    "answer",
    "cluster_data",
    "match_symptoms",
    "plan_to_json",
    "targets_to_json",
]


class AnswerVerdict(Enum):
    """The answer to "is this safe?"."""

    SAFE = "safe"
    NOT_SAFE = "not_safe"
    DEPENDS = "depends"
    NOT_UNDERSTOOD = "not_understood"


@dataclass(frozen=True, slots=True)
class ClusterData:
    """What the last scan knows about one cluster: one fact group per distinct node group."""

    name: str
    groups: tuple[Facts, ...]
    read_at: datetime | None = None
    """When the facts were read (shown with every answer about the cluster)."""
    demo: bool = False


def cluster_data(cluster: ClusterFacts, read_at: datetime | None = None) -> ClusterData:
    """The fact groups of a scanned cluster (cluster facts plus each node group's kernel/OS)."""
    groups = node_groups(cluster.nodes)
    facts = tuple(node_facts(cluster.facts, g) for g in groups) or (cluster.facts.resolved(),)
    return ClusterData(cluster.name, facts, read_at, cluster.demo)


@dataclass(frozen=True, slots=True)
class SymptomMatch:
    """An advisory whose symptom keywords match the question, and its verdict at the facts."""

    advisory: Advisory
    score: float
    keywords: tuple[str, ...]
    """The advisory's keywords that matched."""
    result: Result
    """The advisory's verdict at what the question states."""

    def confirm(self, language: str = "en") -> str:
        """The facts that would confirm it, or why it is confirmed or ruled out."""
        words = _WORDS[language if language in _WORDS else "en"]
        if self.result.verdict is Verdict.AFFECTED:
            return words["confirmed"]
        if self.result.verdict is Verdict.NOT_AFFECTED:
            return words["ruled_out"]
        terms = " or ".join(t.describe() for t in self.result.affected_when)
        if terms:
            return words["confirm_if"].format(terms)
        return words["uncertain"] + "; ".join(self.result.uncertain)


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to one question."""

    question: Question
    verdict: AnswerVerdict
    catalog_version: str
    results: tuple[Result, ...] = ()
    """The results of the advisories in scope, worst first."""
    symptoms: tuple[SymptomMatch, ...] = ()
    not_considered: tuple[str, ...] = ()
    not_covered: str | None = None
    """Set when the question describes a problem no advisory's symptoms match."""
    plan: Plan | None = None
    """For upgrade questions: what changes."""
    cluster: ClusterData | None = None
    examples: tuple[str, ...] = ()
    """For questions that were not understood: three example questions."""
    notes: tuple[str, ...] = field(default=())
    unavailable: str | None = None
    """Why cluster data could not be read for this answer (None: it could, or none was needed)."""

    @property
    def language(self) -> str:
        """The language of the question (``en`` or ``zh``)."""
        return self.question.language

    @property
    def advisories(self) -> tuple[str, ...]:
        """Ids of the advisories in scope that hold or may hold."""
        return tuple(r.id for r in self.results if r.verdict is not Verdict.NOT_AFFECTED)

    @property
    def scope(self) -> tuple[str, ...]:
        """Ids of every advisory the verdict covers."""
        return tuple(r.id for r in self.results)

    def headline(self) -> str:
        """The verdict in one sentence, in the language asked."""
        words = _WORDS[self.language]
        if self.unavailable is not None and self.question.clusters:
            names = ", ".join(self.question.clusters)
            return words["cluster_unavailable"].format(names, self.unavailable)
        if self.verdict is AnswerVerdict.NOT_UNDERSTOOD:
            return words["not_understood"]
        if self.verdict is AnswerVerdict.SAFE:
            return words["safe"]
        if self.verdict is AnswerVerdict.NOT_SAFE:
            ids = [r.id for r in self.results if r.verdict is Verdict.AFFECTED]
            return words["not_safe"].format(", ".join(ids))
        return words["depends"].format(", ".join(self.depends_on()))

    def depends_on(self) -> tuple[str, ...]:
        """The facts the unknown advisories in scope depend on."""
        keys: dict[str, None] = {}
        for result in self.results:
            if result.verdict is Verdict.UNKNOWN:
                keys.update(dict.fromkeys(result.depends_on))
                if result.uncertain and not result.depends_on:
                    keys["upstream"] = None
        return tuple(keys)

    def safe_if(self) -> str:
        """Values that would make every unknown advisory in scope safe, in words."""
        parts: dict[str, None] = {}
        for result in self.results:
            if result.verdict is not Verdict.UNKNOWN or not result.safe_when:
                continue
            terms = [t for t in result.safe_when if "not installed" not in t.describe()]
            chosen = (terms or list(result.safe_when))[0]
            text = chosen.describe()
            parts[f"({text})" if " or " in text and len(self.results) > 1 else text] = None
        return " and ".join(parts)

    def text(self) -> str:
        """The answer as shown to a person (plain text)."""
        return render_text(self)

    def to_json(self) -> dict[str, Any]:
        """The JSON of ``netadvisor ask --json``."""
        q = self.question
        out: dict[str, Any] = {
            "verdict": self.verdict.value,
            "language": self.language,
            "understood": q.understood,
            "advisories": list(self.advisories),
            "text": self.text(),
            "headline": self.headline(),
            "catalog_version": self.catalog_version,
            "scope": list(self.scope),
            "components": list(q.components),
            "clusters": list(q.clusters),
            "advisory_ids": list(q.advisory_ids),
            "changes": [{"key": c.key, "value": c.raw} for c in q.changes],
            "depends_on": list(self.depends_on()),
            "safe_if": self.safe_if() or None,
            "results": [result_to_json(r, self.language) for r in self.results],
            "symptoms": [
                {
                    "id": m.advisory.id,
                    "score": round(m.score, 3),
                    "keywords": list(m.keywords),
                    "verdict": m.result.verdict.value,
                    "confirm": m.confirm(self.language),
                }
                for m in self.symptoms
            ],
            "not_considered": list(self.not_considered),
            "not_covered": self.not_covered,
            "examples": list(self.examples),
        }
        if self.plan is not None:
            out["plan"] = plan_to_json(self.plan, self.language)
        if self.cluster is not None:
            read = self.cluster.read_at
            out["cluster"] = {
                "name": self.cluster.name,
                "read_at": read.isoformat() if read else None,
                "demo": self.cluster.demo,
            }
        if self.unavailable is not None:
            out["cluster_data_unavailable"] = self.unavailable
        return out


# ---------------------------------------------------------------------------------------------
# Fixed words, by language

_WORDS: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "safe": "Safe: no advisory in scope holds.",
        "not_safe": "Not safe: {} holds.",
        "depends": "It depends on {}.",
        "not_understood": "I could not find anything I know in this question.",
        "understood": "Understood",
        "nothing": "nothing",
        "safe_if": "Safe if",
        "reasons": "Reasons",
        "affected": "affected",
        "unknown": "may hold",
        "recommendation": "Recommendation",
        "workaround": "Workaround",
        "references": "References",
        "symptoms": "Advisories whose symptoms match, best first",
        "confirmed": "confirmed by what you stated",
        "ruled_out": "ruled out by what you stated",
        "confirm_if": "would be confirmed if {}",
        "uncertain": "upstream uncertain: ",
        "not_considered": "Not considered",
        "not_covered": (
            "The catalog has no advisory about this problem. It covers known kube-proxy, "
            "Calico and Spiderpool issues that depend on versions, kernels and modes."
        ),
        "other_projects": "{}: not covered by the catalog",
        "components_out": "{} advisories of {}: the question does not name or imply them",
        "unrelated": "{} advisories of {} that do not depend on what you stated",
        "examples": "Try for example",
        "plan": "If {} changes to {}",
        "resolved": "Resolved",
        "introduced": "Introduced",
        "remaining": "Remaining",
        "changed": "Changed",
        "cluster": "Cluster {} (facts read {})",
        "never": "at an unknown time",
        "unavailable": "Cluster data is unavailable ({}): answered from the catalog alone.",
        "cluster_unavailable": "{}: cannot be answered now: cluster data is unavailable ({}).",
        "demo": "demo data",
        "catalog": "catalog",
        "depends_on": "depends on",
    },
    "zh": {
        "safe": "安全：范围内没有适用的已知问题。",
        "not_safe": "不安全：{} 适用。",
        "depends": "视情况而定，取决于 {}。",
        "not_understood": "没有从问题中识别出已知的信息。",
        "understood": "已识别",
        "nothing": "无",
        "safe_if": "以下情况下安全",
        "reasons": "原因",
        "affected": "受影响",
        "unknown": "可能受影响",
        "recommendation": "建议",
        "workaround": "临时解决办法",
        "references": "参考链接",
        "symptoms": "症状匹配的已知问题（按匹配度排序）",
        "confirmed": "根据你给出的信息已确认",
        "ruled_out": "根据你给出的信息可以排除",
        "confirm_if": "在以下情况下成立：{}",
        "uncertain": "上游尚不确定：",
        "not_considered": "未考虑",
        "not_covered": (
            "目录中没有关于这个问题的已知问题。netadvisor 只覆盖 kube-proxy、Calico 和 Spiderpool "
            "中与版本、内核和模式相关的已知问题。"
        ),
        "other_projects": "{}：不在目录覆盖范围内",
        "components_out": "{} 个 {} 的已知问题：问题中没有提到或暗示这些组件",
        "unrelated": "{} 个 {} 的已知问题与你给出的信息无关",
        "examples": "可以这样问",
        "plan": "如果 {} 变更为 {}",
        "resolved": "解决",
        "introduced": "新增",
        "remaining": "仍然存在",
        "changed": "有变化",
        "cluster": "集群 {}（数据读取于 {}）",
        "never": "未知时间",
        "unavailable": "集群数据暂不可用（{}）：仅依据目录作答。",
        "cluster_unavailable": "{}：暂时无法回答：集群数据不可用（{}）。",
        "demo": "演示数据",
        "catalog": "目录版本",
        "depends_on": "取决于",
    },
}

EXAMPLES: Final[Mapping[str, tuple[str, str, str]]] = {
    "en": (
        "is kernel 5.4 safe for IPVS?",
        "why do we see a 1 second delay on CentOS 7 with ipvs?",
        "can we move from Calico 3.26 to 3.28 on kernel 6.1 with VXLAN?",
    ),
    "zh": (
        "内核 5.4 用 IPVS 安全吗？",
        "CentOS 7 上 ipvs 模式访问 Service 有 1 秒延迟，为什么？",
        "Calico 3.26 升级到 3.28 安全吗？内核 6.1，VXLAN 模式",
    ),
}


# ---------------------------------------------------------------------------------------------
# Symptoms

_STOP: Final = frozenset(
    re.findall(
        r"\S+",
        "a an the of to in on at for with is are be was were we our my i it its and or from when "
        "after during why do does did see seeing what how this that there some any very too "
        "us they them get gets getting got have has had can could should would will mode",
    )
)
_SUFFIXES: Final = ("ures", "ure", "ing", "ed", "es", "e", "s")
_TOKEN_RE: Final = re.compile(r"[\u3400-\u9fff]+|[a-z0-9]+(?:[._][a-z0-9]+)*")


def _units(text: str) -> str:
    """``1 second``, ``1-sec``, ``1 秒`` -> ``1s``; ``63 seconds`` -> ``63s``."""
    return re.sub(r"(\d+)\s*-?\s*(?:seconds?|secs?|s|秒钟?)(?![a-z])", r"\1s", text)


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def _units_of(text: str) -> list[str]:
    """Comparable units: stems of Latin words (stop words dropped) and bigrams of Chinese."""
    out: list[str] = []
    for token in _TOKEN_RE.findall(_units(normalise(text))):
        if "\u3400" <= token[0] <= "\u9fff":
            if len(token) == 1:
                out.append(token)
            else:
                out.extend(token[i : i + 2] for i in range(len(token) - 1))
        elif token not in _STOP:
            out.append(_stem(token))
    return out


@dataclass(frozen=True, slots=True)
class _Keyword:
    advisory: Advisory
    text: str
    units: frozenset[str]


def _keywords(advisories: Sequence[Advisory]) -> list[_Keyword]:
    out = []
    for advisory in advisories:
        for words in advisory.symptoms.values():
            for word in words:
                units = frozenset(_units_of(word))
                if units:
                    out.append(_Keyword(advisory, word, units))
    return out


_KEYWORD_CACHE: dict[tuple[str, ...], list[_Keyword]] = {}


SymptomHit = tuple[Advisory, float, tuple[str, ...]]


def match_symptoms(text: str, advisories: Sequence[Advisory]) -> list[SymptomHit]:
    """Advisories whose symptom keywords match ``text``, best first, with the keywords.

    A keyword matches when the question holds all its units (Latin stems, Chinese bigrams), or
    at least three quarters of them for keywords of four units or more. Each matching keyword
    scores its number of units, divided by the number of advisories sharing that keyword (a
    word every advisory lists, such as 延迟, tells little).
    """
    key = tuple(a.id for a in advisories)
    keywords = _KEYWORD_CACHE.get(key)
    if keywords is None:
        keywords = _keywords(advisories)
        _KEYWORD_CACHE[key] = keywords
    units = set(_units_of(text))
    if not units:
        return []
    sharing: dict[frozenset[str], set[str]] = {}
    for kw in keywords:
        sharing.setdefault(kw.units, set()).add(kw.advisory.id)
    scores: dict[str, float] = {}
    matched: dict[str, dict[str, None]] = {}
    by_id: dict[str, Advisory] = {a.id: a for a in advisories}
    for kw in keywords:
        hits = len(kw.units & units)
        need = len(kw.units) if len(kw.units) < 4 else math.ceil(0.75 * len(kw.units))
        if hits < need:
            continue
        weight = hits / len(sharing[kw.units])
        scores[kw.advisory.id] = scores.get(kw.advisory.id, 0.0) + weight
        matched.setdefault(kw.advisory.id, {})[kw.text] = None
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return [(by_id[i], score, tuple(matched[i])) for i, score in ranked]


# ---------------------------------------------------------------------------------------------
# Answering


def answer(
    question: Question,
    catalog: Catalog,
    *,
    engine: Engine | None = None,
    clusters: Mapping[str, ClusterData] | None = None,
    unavailable: str | None = None,
) -> Answer:
    """Answer a question from the catalog and, for named clusters, the last scan's facts.

    ``unavailable``: why the last scan's facts cannot be read now (the state store does not
    answer); the answer then comes from the catalog alone and says so, and a named cluster is
    said to be unanswerable now rather than unscanned.
    """
    engine = engine or Engine(catalog.advisories)
    clusters = {} if unavailable is not None else (clusters or {})
    advisories = catalog.advisories
    cluster = next((clusters[c] for c in question.clusters if c in clusters), None)
    notes: list[str] = []
    if unavailable is not None:
        words = _WORDS[question.language if question.language in _WORDS else "en"]
        notes.append(words["unavailable"].format(unavailable))
    for name in question.clusters:
        if name not in clusters and unavailable is None:
            notes.append(f"{name}: no facts from a successful scan yet")
    groups: list[Facts]
    if cluster is not None:
        stated = _stated_changes(question.facts)
        groups = (
            [apply_changes(g, stated) for g in cluster.groups] if stated else list(cluster.groups)
        )
    else:
        groups = [question.facts]
    plan: Plan | None = None
    if question.changes:
        plan = what_if(engine, groups, question.changes)
        results = _worst(engine, [apply_changes(g, question.changes) for g in groups])
    else:
        results = _worst(engine, groups)

    raw_matches = match_symptoms(question.normalised, advisories)
    show_symptoms = question.problem or not question.states_anything
    by_id = {r.id: r for r in results}
    symptoms = tuple(
        SymptomMatch(a, score, kws, by_id[a.id]) for a, score, kws in raw_matches
    ) if show_symptoms else ()  # fmt: skip
    symptoms = tuple(sorted(symptoms, key=lambda m: m.result.verdict is Verdict.NOT_AFFECTED))

    scope, not_considered = _scope(question, advisories, results, symptoms, cluster is not None)
    language = question.language
    words = _WORDS[language]
    not_considered.extend(
        words["other_projects"].format(p) for p in question.other_projects
    )  # fmt: skip
    not_covered = None
    if question.problem and not raw_matches:
        not_covered = words["not_covered"]

    if not scope:
        return Answer(
            question=question,
            verdict=AnswerVerdict.NOT_UNDERSTOOD,
            catalog_version=catalog.version,
            not_considered=tuple(not_considered),
            not_covered=not_covered,
            examples=EXAMPLES[language],
            cluster=cluster,
            notes=tuple(notes),
            unavailable=unavailable,
        )
    in_scope = [r for r in results if r.id in scope]
    in_scope.sort(key=lambda r: (-r.verdict.rank, -(r.severity.rank if r.severity else 0)))
    if any(r.verdict is Verdict.AFFECTED for r in in_scope):
        verdict = AnswerVerdict.NOT_SAFE
    elif any(r.verdict is Verdict.UNKNOWN for r in in_scope):
        verdict = AnswerVerdict.DEPENDS
    else:
        verdict = AnswerVerdict.SAFE
    return Answer(
        question=question,
        verdict=verdict,
        catalog_version=catalog.version,
        results=tuple(in_scope),
        symptoms=symptoms,
        not_considered=tuple(not_considered),
        not_covered=not_covered,
        plan=plan,
        cluster=cluster,
        notes=tuple(notes),
        unavailable=unavailable,
    )


def _stated_changes(facts: Facts) -> list[Change]:
    """Facts stated with a cluster name override what the scan read ("prod-eu with ipvs")."""
    out = [Change(k, v, facts.raw.get(k, "")) for k, v in facts.values.items()]
    if facts.os_name is not None:
        out.append(Change("os", frozenset(), facts.os_name))
    return out


def _scope(
    question: Question,
    advisories: Sequence[Advisory],
    results: Sequence[Result],
    symptoms: Sequence[SymptomMatch],
    whole_cluster: bool,
) -> tuple[set[str], list[str]]:
    words = _WORDS[question.language]
    not_considered: list[str] = []
    if question.advisory_ids:
        return set(question.advisory_ids), not_considered
    if question.components:
        scope = {str(a.id) for a in advisories if a.component in question.components}
        for component in COMPONENTS:
            if component in question.components:
                continue
            count = sum(1 for a in advisories if a.component == component)
            if count:
                not_considered.append(words["components_out"].format(count, component))
        return scope, not_considered
    if whole_cluster:
        return {str(a.id) for a in advisories}, not_considered
    stated = set(question.facts.values) | {c.key for c in question.changes}
    if question.facts.os_name is not None:
        stated.add("kernel")
    if "kubernetes" in stated:
        stated.add("kube-proxy")
    if stated:
        scope = {str(a.id) for a in advisories if stated & set(a.keys)}
        components = sorted({a.component for a in advisories if a.id in scope},
                            key=COMPONENTS.index)  # fmt: skip
        for component in COMPONENTS:
            rest = [a for a in advisories if a.component == component and a.id not in scope]
            if not rest:
                continue
            if component in components:
                not_considered.append(words["unrelated"].format(len(rest), component))
            else:
                not_considered.append(words["components_out"].format(len(rest), component))
        return scope, not_considered
    if symptoms:
        best = symptoms[0].score
        return {m.advisory.id for m in symptoms if m.score >= best / 3}, not_considered
    del results
    return set(), not_considered


# ---------------------------------------------------------------------------------------------
# Plain text


def render_text(ans: Answer) -> str:
    """The answer as plain text: verdict first, then reasons, commands and references."""
    lang = ans.language
    words = _WORDS[lang]
    lines = [ans.headline()]
    understood = ans.question.understood
    shown = ", ".join(f"{k}={v}" for k, v in understood.items()) or words["nothing"]
    extra = [*ans.question.clusters, *ans.question.advisory_ids]
    if extra:
        shown += " | " + ", ".join(extra)
    lines.append(f"{words['understood']}: {shown}")
    if ans.cluster is not None:
        read = ans.cluster.read_at.isoformat() if ans.cluster.read_at else words["never"]
        label = words["cluster"].format(ans.cluster.name, read)
        lines.append(label + (f" [{words['demo']}]" if ans.cluster.demo else ""))
    lines.extend(ans.notes)
    if ans.verdict is AnswerVerdict.NOT_UNDERSTOOD:
        if ans.not_covered:
            lines.append(ans.not_covered)
        lines.extend(f"- {n}" for n in ans.not_considered)
        lines.append(f"{words['examples']}:")
        lines.extend(f"  • {e}" for e in ans.examples)
        return "\n".join(lines)
    if ans.verdict is AnswerVerdict.DEPENDS and ans.safe_if():
        lines.append(f"{words['safe_if']}: {ans.safe_if()}")
    if ans.plan is not None:
        lines.extend(
            _plan_lines(ans.plan, lang, ans.cluster.name if ans.cluster else None, ans.scope)
        )
    if ans.symptoms:
        lines.append("")
        lines.append(f"{words['symptoms']}:")
        for match in ans.symptoms[:5]:
            lines.append(
                f"  {match.advisory.id} ({', '.join(match.keywords[:3])}): {match.confirm(lang)}"
            )
    if ans.not_covered:
        lines.append(ans.not_covered)
    problems = [r for r in ans.results if r.verdict is not Verdict.NOT_AFFECTED]
    if problems:
        lines.append("")
        lines.append(f"{words['reasons']}:")
    for result in problems:
        lines.extend(_result_lines(result, lang))
    if ans.not_considered:
        lines.append("")
        lines.append(f"{words['not_considered']}:")
        lines.extend(f"  - {n}" for n in ans.not_considered)
    lines.append(f"({words['catalog']} {ans.catalog_version})")
    return "\n".join(lines)


def _result_lines(result: Result, lang: str) -> list[str]:
    words = _WORDS[lang]
    advisory = result.advisory
    state = words["affected"] if result.verdict is Verdict.AFFECTED else words["unknown"]
    severity = f", {result.severity.value}" if result.severity else ""
    lines = [f"* {advisory.id} ({state}{severity}): {advisory.title}"]
    lines.append(f"    {result.impact(lang)}")
    if result.verdict is Verdict.UNKNOWN:
        if result.depends_text():
            lines.append(f"    {words['depends_on']} {', '.join(result.depends_on)}: "
                         f"{result.depends_text()}")  # fmt: skip
        if result.safe_when:
            safe = " or ".join(t.describe() for t in result.safe_when)
            lines.append(f"    {words['safe_if']}: {safe}")
    lines.extend(f"    ! {c}" for c in result.caveats)
    lines.append(f"    {words['recommendation']}: {advisory.recommendation.get(lang)}")
    for workaround in advisory.workaround:
        if workaround.description:
            lines.append(f"    {words['workaround']}: {workaround.description}")
        lines.append(f"      $ {workaround.command}")
    for ref in advisory.references[:3]:
        lines.append(f"    {ref.type.lower()}: {ref.url}")
    return lines


def _plan_lines(plan: Plan, lang: str, cluster: str | None, scope: Sequence[str]) -> list[str]:
    words = _WORDS[lang]
    target = ", ".join(f"{c.key} {c.raw}" for c in plan.changes)
    lines = ["", words["plan"].format(cluster or "the setup", target) + ":"]
    sections: list[tuple[str, Sequence[PlanEntry]]] = [
        ("resolved", plan.resolved),
        ("introduced", plan.introduced),
        ("changed", plan.changed),
        ("remaining", [e for e in plan.remaining if e not in plan.changed]),
    ]
    for name, all_entries in sections:
        entries = [e for e in all_entries if e.id in scope]
        if not entries:
            continue
        lines.append(f"  {words[name]}:")
        for entry in entries:
            lines.append(
                f"    {entry.id}: {entry.before.verdict.value} -> {entry.after.verdict.value}"
                f" ({entry.before.impact(lang)} -> {entry.after.impact(lang)})"
                if name == "changed"
                else f"    {entry.id}: {entry.before.verdict.value} -> {entry.after.verdict.value}"
            )
    return lines


# ---------------------------------------------------------------------------------------------
# JSON for planning (shared by ``ask`` and ``plan``)


def _side(result: Result, lang: str) -> dict[str, Any]:
    return {
        "verdict": result.verdict.value,
        "impact": result.impact(lang),
        "cases": [c.id for c in result.cases if c.affected],
        "severity": result.severity.value if result.severity else None,
        "depends_on": list(result.depends_on),
        "uncertain": list(result.uncertain),
    }


def _entry(entry: PlanEntry, lang: str) -> dict[str, Any]:
    return {
        "id": entry.id,
        "title": entry.before.advisory.title,
        "component": entry.before.advisory.component,
        "before": _side(entry.before, lang),
        "after": _side(entry.after, lang),
    }


def plan_to_json(plan: Plan, language: str = "en") -> dict[str, Any]:
    """``resolved`` / ``introduced`` / ``remaining`` / ``changed`` with before and after."""
    return {
        "changes": [{"key": c.key, "value": c.raw} for c in plan.changes],
        "resolved": [_entry(e, language) for e in plan.resolved],
        "introduced": [_entry(e, language) for e in plan.introduced],
        "remaining": [_entry(e, language) for e in plan.remaining],
        "changed": [_entry(e, language) for e in plan.changed],
    }


def targets_to_json(targets: Mapping[str, Target]) -> dict[str, Any]:
    """component -> ``{version, line, current, current_line_fixed, blocking, caveats, ...}``;
    ``source`` is ``upstream`` (``label``: "from upstream, not curated") when the version relies
    on upstream tracking, for the advisories in ``upstream``."""
    return {
        key: {
            "version": t.version,
            "line": t.line,
            "current": t.current,
            "current_line_fixed": t.current_line_fixed,
            "blocking": list(t.blocking),
            "reasons": dict(t.reasons),
            "caveats": list(t.caveats),
            "os_releases": list(t.os_releases),
            "source": t.source,
            "label": t.label,
            "upstream": dict(t.upstream),
        }
        for key, t in targets.items()
    }
