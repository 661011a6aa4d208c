"""Answers to plain-language questions: the verdict as a consequence and an action, then the case.

Pure: a :class:`~advisories.questions.Question`, the catalog and (for questions that name a
cluster) the facts of the last scan go in; an :class:`Answer` comes out, which the command line
prints as text or JSON and the Slack bot renders as Block Kit.

Verdicts, over the advisories *in scope*:

- ``safe``: every advisory in scope is ``not_affected``;
- ``not_safe``: at least one is ``affected``;
- ``depends``: none is affected and some are ``unknown``; the answer names what they depend on
  and the alternatives that make every named advisory safe (:attr:`Answer.safe_with`);
- ``not_understood``: the question stated nothing the vocabulary knows (or only things outside
  the catalog); the answer says so and gives three example questions.

A what-if question ("what breaks if X goes to 1.29") is answered from what the move introduces
or changes; what holds before and after is one line.

Composition (what a person reads):

- *lead*: the advisories the answer names, the one that answers the question first: those whose
  symptoms (case-level where the catalog has them) match the problem described, then affected,
  then the worst unknown;
- *folded*: the advisories that merely may hold because a fact was not given, one line
  (``show_all`` expands them);
- advisories whose only open cases are ancient (kube-proxy before 1.17) are left out unless the
  question states a kube-proxy or Kubernetes version;
- for each named advisory only the cases the stated facts reach (for a version not stated, the
  newest band), with the workarounds of those cases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any, Final

from advisories.catalog import Catalog
from advisories.engine import Engine, Result, Term
from advisories.facts import COMPONENTS, FEATURES, Facts
from advisories.fixes import Fix, find_fixes
from advisories.fleet import ClusterFacts, node_facts, node_groups
from advisories.models import Advisory, Case, Severity, Verdict
from advisories.planning import Change, Plan, PlanEntry, apply_changes, what_if
from advisories.planning import worst_results as _worst
from advisories.questions import Question
from advisories.serialize import fix_to_json, plan_to_json, result_to_json, targets_to_json
from advisories.symptoms import SymptomHit, SymptomIndex
from advisories.versions import VersionKey, VersionSet, parse_version
from advisories.wording import EXAMPLES, fact_label, feature_words, join_or, words

__all__ = [
    "Answer",
    "AnswerVerdict",
    "ClusterData",
    "SymptomMatch",
    "action_in_headline",
    "answer",
    "caveat_text",
    "cluster_data",
    "condition_text",
    "display_cases",
    "folded_text",
    "impact_text",
    "match_symptoms",
    "plan_to_json",
    "render_text",
    "result_lines",
    "severity_word",
    "short_ref",
    "targets_to_json",
    "term_words",
]

_OTHER_CNIS: Final = frozenset({"cilium", "flannel", "weave", "antrea", "kube-ovn", "canal"})

MAX_NAMED: Final = 3
"""Advisories shown in full without ``show_all``."""

_ANCIENT: Final = parse_version("1.17.0").key
"""kube-proxy releases before this (2019) are "ancient": shown only when asked about."""
_ANCIENT_IPTABLES: Final = parse_version("1.6.2").key
"""iptables before this shipped only in kube-proxy images before 1.17 (Debian stretch)."""


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
    """Unresolved facts, one per node group (the engine resolves them)."""
    read_at: datetime | None = None
    """When the facts were read (shown with every answer about the cluster)."""
    demo: bool = False


def cluster_data(cluster: ClusterFacts, read_at: datetime | None = None) -> ClusterData:
    """The fact groups of a scanned cluster (cluster facts plus each node group's kernel/OS)."""
    groups = node_groups(cluster.nodes)
    facts = tuple(node_facts(cluster.facts, g) for g in groups) or (cluster.facts,)
    return ClusterData(cluster.name, facts, read_at, cluster.demo)


@dataclass(frozen=True, slots=True)
class SymptomMatch:
    """An advisory whose symptoms match the question, and its verdict at the facts."""

    advisory: Advisory
    score: float
    keywords: tuple[str, ...]
    """The advisory's keywords that matched."""
    result: Result
    """The verdict at what the question states, over the cases that produce the symptom
    (every case when the symptom is the advisory's, not a case's)."""
    cases: tuple[str, ...] = ()
    """The cases that produce the symptom described (empty: any case)."""

    def confirm(self, language: str = "en") -> str:
        """The facts that would confirm it, or why it is confirmed or ruled out."""
        table = words(language)
        if self.result.verdict is Verdict.AFFECTED:
            return table["confirmed"]
        if self.result.verdict is Verdict.NOT_AFFECTED:
            return table["ruled_out"]
        terms = join_or([term_words(t, language) for t in self.result.affected_when], language)
        if terms:
            return table["confirm_if"].format(terms)
        return table["uncertain"] + "; ".join(self.result.uncertain)


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to one question."""

    question: Question
    verdict: AnswerVerdict
    catalog_version: str
    results: tuple[Result, ...] = ()
    """The results of the advisories in scope, in the order the answer presents them."""
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
    lead: tuple[str, ...] = ()
    """The advisories the answer names, the one that answers the question first."""
    folded: tuple[str, ...] = ()
    """Advisories that may hold only because a fact was not given (one line unless expanded)."""
    safe_with: tuple[Fix, ...] = ()
    """Alternatives, best first: the stated facts plus any one make every named advisory
    ``not_affected``."""
    cases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Advisory id -> the cases shown (those the stated facts reach)."""
    others: tuple[Result, ...] = ()
    """With a severity filter: at-risk advisories below the severity asked about."""
    show_all: bool = False
    move: bool = False
    """The question compares a current state with a changed one (what breaks if X moves)."""
    known_clusters: tuple[str, ...] = ()
    """The clusters of the last scan (named when the question names one that is not)."""
    unavailable: str | None = None
    """Why cluster data could not be read for this answer (None: it could, or none was needed)."""

    @property
    def language(self) -> str:
        """The language of the question (``en`` or ``zh``)."""
        return self.question.language

    @property
    def still(self) -> tuple[str, ...]:
        """For a move: advisories at risk before and after, unchanged (one "still there" line)."""
        if self.plan is None or not self.move:
            return ()
        scope = set(self.scope)
        return tuple(e.id for e in self.plan.remaining if e.id in scope and e.id not in self.lead)

    @property
    def advisories(self) -> tuple[str, ...]:
        """Ids of the advisories the answer names, in the order it presents them."""
        return (*self.lead, *self.folded, *self.still)

    @property
    def scope(self) -> tuple[str, ...]:
        """Ids of every advisory the verdict covers."""
        return tuple(r.id for r in self.results)

    def result(self, advisory_id: str) -> Result:
        """The result of one advisory in scope."""
        return next(r for r in self.results if r.id == advisory_id)

    def headline(self) -> str:
        """The verdict as a consequence and an action, in one sentence, in the language asked."""
        if self.unavailable is not None and self.question.clusters:
            names = ", ".join(self.question.clusters)
            unanswerable = words(self.language)["cluster_unavailable"]
            return unanswerable.format(names, self.unavailable)
        return _headline(self)

    def depends_on(self) -> tuple[str, ...]:
        """The facts the named unknown advisories depend on (fact keys, once each)."""
        keys: dict[str, None] = {}
        for advisory_id in self.lead:
            result = self.result(advisory_id)
            if result.verdict is Verdict.UNKNOWN:
                keys.update(dict.fromkeys(result.depends_on))
                if result.uncertain and not result.depends_on:
                    keys["upstream"] = None
        return tuple(keys)

    def safe_if(self) -> str:
        """The alternatives of :attr:`safe_with` in words ("A; or B"), empty when none."""
        glue = "；或 " if self.language == "zh" else "; or "
        return glue.join(f.describe(self.language) for f in self.safe_with[:2])

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
            "unknown_clusters": list(q.unknown_clusters),
            "outside": [{"project": p, "version": v} for p, v in q.outside],
            "severity": q.severity,
            "implied": list(q.implied),
            "advisory_ids": list(q.advisory_ids),
            "changes": [{"key": c.key, "value": c.raw} for c in q.changes],
            "depends_on": list(self.depends_on()),
            "safe_if": self.safe_if() or None,
            "safe_with": [fix_to_json(f, self.language) for f in self.safe_with],
            "lead": list(self.lead),
            "folded": list(self.folded),
            "still": list(self.still),
            "cases": {k: list(v) for k, v in self.cases.items()},
            "results": [result_to_json(r, self.language) for r in self.results],
            "symptoms": [
                {
                    "id": m.advisory.id,
                    "score": round(m.score, 3),
                    "keywords": list(m.keywords),
                    "cases": list(m.cases),
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
                "read_at": read.isoformat(timespec="seconds") if read else None,
                "demo": self.cluster.demo,
            }
        if self.unavailable is not None:
            out["cluster_data_unavailable"] = self.unavailable
        if self.unavailable is not None:
            out["cluster_data_unavailable"] = self.unavailable
        return out


# ---------------------------------------------------------------------------------------------
# Symptoms


def match_symptoms(
    text: str, advisories: Sequence[Advisory]
) -> list[tuple[Advisory, float, tuple[str, ...]]]:
    """Advisories whose symptom keywords match ``text``, best first, with the keywords."""
    hits = SymptomIndex(advisories).match(text)
    return [(h.advisory, h.score, h.keywords) for h in hits]


def _symptom_match(hit: SymptomHit, result: Result, groups: Sequence[Facts]) -> SymptomMatch:
    """The match with its verdict over only the cases that produce the symptom."""
    if not hit.cases:
        return SymptomMatch(hit.advisory, hit.score, hit.keywords, result)
    # Only the cases that produce the symptom, as if each held for sure: is the symptom
    # possible at the stated facts, and under which values of the others?
    cases = tuple(
        replace(c, uncertain=None) if c.id in hit.cases else replace(c, affected=False)
        for c in hit.advisory.cases
        if c.id in hit.cases or not c.affected
    )
    sub = replace(hit.advisory, cases=cases)
    narrowed = _worst(Engine([sub]), list(groups))[0]
    return SymptomMatch(hit.advisory, hit.score, hit.keywords, narrowed, hit.cases)


# ---------------------------------------------------------------------------------------------
# Answering


def answer(
    question: Question,
    catalog: Catalog,
    *,
    engine: Engine | None = None,
    clusters: Mapping[str, ClusterData] | None = None,
    show_all: bool = False,
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
    language = question.language
    table = words(language)
    cluster = next((clusters[c] for c in question.clusters if c in clusters), None)
    notes: list[str] = []
    if unavailable is not None:
        notes.append(table["unavailable"].format(unavailable))
    for name in question.clusters:
        if name not in clusters and unavailable is None:
            notes.append(table["no_cluster_facts"].format(name))
    if question.unknown_clusters and cluster is None and unavailable is None:
        known = ", ".join(sorted(clusters)) or "-"
        notes.extend(table["unknown_cluster"].format(n, known) for n in question.unknown_clusters)
    for project, version in question.outside:
        notes.append(table["outside"].format(project.capitalize()))
        notes.append(table["outside_version"].format(project, version, project.capitalize()))
    groups: list[Facts]
    if cluster is not None:
        stated = _stated_changes(question.facts)
        groups = (
            [apply_changes(g, stated) for g in cluster.groups] if stated else list(cluster.groups)
        )
    else:
        groups = [question.facts]
    plan: Plan | None = None
    after_groups = groups
    move = False
    if question.changes:
        plan = what_if(engine, groups, question.changes)
        after_groups = [apply_changes(g, question.changes) for g in groups]
        # "What breaks if X goes to Y" compares with X's current state; with no current value
        # ("upgrade to calico 3.28") the question is about Y itself.
        move = any(_known_before(g, c.key) for g in groups for c in question.changes)
    results = _worst(engine, after_groups)
    by_id = {r.id: r for r in results}

    hits = catalog.symptoms.match(question.normalised)
    show_symptoms = question.problem or not question.states_anything
    symptoms: list[SymptomMatch] = []
    if show_symptoms:
        symptoms = [_symptom_match(h, by_id[h.advisory.id], after_groups) for h in hits]
        symptoms.sort(key=lambda m: m.result.verdict is Verdict.NOT_AFFECTED)

    scope, not_considered = _scope(question, advisories, symptoms, cluster is not None)
    if {p for p, _ in question.outside} & _OTHER_CNIS and "calico" not in question.components:
        # Another CNI (Cilium, Flannel...) runs instead of Calico.
        scope = {i for i in scope if catalog.by_id[i].component != "calico"}
    not_considered.extend(table["other_projects"].format(p) for p in question.other_projects)
    in_scope = [r for r in results if r.id in scope]
    ancient_ok = bool(
        {"kubernetes", "kube-proxy", "iptables-version"} & set(question.facts.values)
    ) or bool(question.advisory_ids)
    if not ancient_ok:
        in_scope = [r for r in in_scope if not _ancient_only(r)]
    others: list[Result] = []
    if question.severity is not None:
        floor = Severity(question.severity).rank
        others = [r for r in in_scope if r.verdict is not Verdict.NOT_AFFECTED
                  and (r.severity is None or r.severity.rank < floor)]  # fmt: skip
        others.sort(key=lambda r: (-r.verdict.rank, -(r.severity.rank if r.severity else 0)))
        in_scope = [r for r in in_scope if r not in others]

    live = [m for m in symptoms if m.result.verdict is not Verdict.NOT_AFFECTED]
    named_problem = any(r.verdict is not Verdict.NOT_AFFECTED for r in in_scope)
    not_covered = None
    if question.problem and not hits and not named_problem and plan is None:
        not_covered = table["not_covered"]

    if not scope or (question.outside and not question.facts.values and not question.changes):
        return Answer(
            question=question,
            verdict=AnswerVerdict.NOT_UNDERSTOOD,
            catalog_version=catalog.version,
            not_considered=tuple(not_considered),
            not_covered=not_covered,
            examples=EXAMPLES[language if language in EXAMPLES else "en"],
            cluster=cluster,
            notes=tuple(notes),
            unavailable=unavailable,
        )

    symptom_rank: dict[str, int] = {str(m.advisory.id): i for i, m in enumerate(live)}
    in_scope.sort(
        key=lambda r: (
            symptom_rank.get(r.id, len(symptom_rank)),
            -r.verdict.rank,
            -(r.severity.rank if r.severity else 0),
        )
    )
    if plan is not None and move:
        verdict, lead, folded = _what_if_lead(plan, in_scope, show_all)
    else:
        verdict, lead, folded = _lead(in_scope, symptom_rank, show_all)
    cases = {i: display_cases(by_id[i], after_groups[0], _symptom_cases(symptoms, i)) for i in lead}
    safe_with: tuple[Fix, ...] = ()
    risky = [i for i in lead if by_id[i].verdict is not Verdict.NOT_AFFECTED]
    if risky:
        safe_with = tuple(find_fixes(engine, after_groups, risky, strict=True, limit=3))
    return Answer(
        question=question,
        verdict=verdict,
        catalog_version=catalog.version,
        results=tuple(in_scope),
        symptoms=tuple(symptoms),
        not_considered=tuple(not_considered),
        not_covered=not_covered,
        plan=plan,
        move=move,
        known_clusters=tuple(sorted(clusters)),
        cluster=cluster,
        notes=tuple(notes),
        unavailable=unavailable,
        lead=tuple(lead),
        folded=tuple(folded),
        safe_with=safe_with,
        cases=cases,
        others=tuple(others),
        show_all=show_all,
    )


def _lead(
    in_scope: Sequence[Result], symptom_rank: Mapping[str, int], show_all: bool
) -> tuple[AnswerVerdict, list[str], list[str]]:
    """What the answer names: what holds (the symptom's advisory first); an unknown only when
    nothing holds that explains the symptom, or nothing holds at all."""
    at_risk = [r for r in in_scope if r.verdict is not Verdict.NOT_AFFECTED]
    if any(r.verdict is Verdict.AFFECTED for r in in_scope):
        verdict = AnswerVerdict.NOT_SAFE
    elif at_risk:
        verdict = AnswerVerdict.DEPENDS
    else:
        return AnswerVerdict.SAFE, [], []
    if show_all:
        return verdict, [r.id for r in at_risk], []
    named = [r for r in at_risk if r.verdict is Verdict.AFFECTED]
    explained = any(r.id in symptom_rank for r in named)
    if symptom_rank and not explained:
        best = next((r for r in at_risk if r.id in symptom_rank), None)
        if best is not None:
            named.insert(0, best)
    if not named:
        named = at_risk[:1]
    named = named[:MAX_NAMED]
    return verdict, [r.id for r in named], [r.id for r in at_risk if r not in named]


def _what_if_lead(
    plan: Plan, in_scope: Sequence[Result], show_all: bool
) -> tuple[AnswerVerdict, list[str], list[str]]:
    """A move is judged by what it introduces or changes for the worse."""
    scope = {r.id for r in in_scope}
    introduced = [e for e in plan.introduced if e.id in scope]
    worse = [
        e for e in plan.changed
        if e.id in scope and e.after.verdict.rank > e.before.verdict.rank
    ]  # fmt: skip
    new = [*introduced, *worse]
    if any(e.after.verdict is Verdict.AFFECTED for e in new):
        verdict = AnswerVerdict.NOT_SAFE
    elif new:
        verdict = AnswerVerdict.DEPENDS
    else:
        verdict = AnswerVerdict.SAFE
    lead = [e.id for e in sorted(new, key=lambda e: -e.after.verdict.rank)]
    if show_all:
        rest = [r.id for r in in_scope if r.verdict is not Verdict.NOT_AFFECTED]
        return verdict, lead + [i for i in rest if i not in lead], []
    # What holds before and after is one "still there" line, not folded noise.
    return verdict, lead, []


def _symptom_cases(symptoms: Sequence[SymptomMatch], advisory_id: str) -> tuple[str, ...]:
    return next((m.cases for m in symptoms if m.advisory.id == advisory_id), ())


def display_cases(
    result: Result, facts: Facts, symptom_cases: Sequence[str] = ()
) -> tuple[str, ...]:
    """The affected cases to show: those producing the symptom asked about (certain ones
    first), and among them, for versions the question does not state, the newest band."""
    affected = [c for c in result.cases if c.affected]
    if not affected:
        return tuple(c.id for c in result.cases)
    if symptom_cases:
        chosen = [c for c in affected if c.id in symptom_cases]
        certain = [c for c in chosen if c.uncertain is None]
        affected = certain or chosen or affected
    unstated = {
        cond.key
        for c in affected
        for cond in c.when
        if cond.versions is not None and cond.key != "kernel" and not _stated(facts, cond.key)
    }
    if not unstated:
        return tuple(c.id for c in affected)
    newest = max(_reach(c, unstated) for c in affected)
    return tuple(c.id for c in affected if _reach(c, unstated) == newest)


def _stated(facts: Facts, key: str) -> bool:
    if key == "kube-proxy":
        return facts.known("kube-proxy") or facts.known("kubernetes")
    return facts.known(key)


def _reach(case: Case, keys: set[str]) -> tuple[VersionKey, ...]:
    """How recent a case's band is on the unstated version keys (its highest bound)."""
    out: list[VersionKey] = []
    for cond in case.when:
        if cond.key in keys and cond.versions is not None and cond.versions.intervals:
            out.append(cond.versions.intervals[-1][1])
    return tuple(sorted(out)) if out else ()


def _ancient_only(result: Result) -> bool:
    """Unknown only through kube-proxy releases before 1.17 (2019), or the iptables before 1.6.2
    that only their images carried."""
    if result.verdict is not Verdict.UNKNOWN or not result.affected_when:
        return False
    return all(_ancient_term(term) for term in result.affected_when)


def _ancient_term(term: Term) -> bool:
    for key, bound in (("kube-proxy", _ANCIENT), ("iptables-version", _ANCIENT_IPTABLES)):
        versions = term.values.get(key)
        if (
            isinstance(versions, VersionSet)
            and versions.intervals
            and versions.intervals[-1][1] <= bound
        ):
            return True
    return False


def _known_before(facts: Facts, key: str) -> bool:
    if key == "os":
        return facts.os_name is not None or facts.known("kernel")
    if key == "kubernetes":
        return facts.known("kubernetes") or facts.known("kube-proxy")
    return facts.known(key)


def _stated_changes(facts: Facts) -> list[Change]:
    """Facts stated with a cluster name override what the scan read ("prod-eu with ipvs")."""
    out = [Change(k, v, facts.raw.get(k, "")) for k, v in facts.values.items()]
    if facts.os_name is not None:
        out.append(Change("os", frozenset(), facts.os_name))
    return out


def _scope(
    question: Question,
    advisories: Sequence[Advisory],
    symptoms: Sequence[SymptomMatch],
    whole_cluster: bool,
) -> tuple[set[str], list[str]]:
    table = words(question.language)
    not_considered: list[str] = []
    live = [m for m in symptoms if m.result.verdict is not Verdict.NOT_AFFECTED]
    best = live[0].score if live else 0.0
    by_symptom = {str(m.advisory.id) for m in live if m.score >= best / 3}
    if question.advisory_ids:
        return {str(i) for i in question.advisory_ids}, not_considered
    if question.components:
        scope = {str(a.id) for a in advisories if a.component in question.components}
        for component in COMPONENTS:
            if component in question.components:
                continue
            count = sum(1 for a in advisories if a.component == component)
            if count:
                not_considered.append(table["components_out"].format(count, component))
        return scope, not_considered
    if whole_cluster:
        return {str(a.id) for a in advisories}, not_considered
    stated = set(question.facts.values) | {c.key for c in question.changes}
    if question.facts.os_name is not None:
        stated.add("kernel")
    if "kubernetes" in stated:
        stated.add("kube-proxy")
    if stated:
        scope = {str(a.id) for a in advisories if stated & set(a.keys)} | by_symptom
        components = sorted({a.component for a in advisories if a.id in scope},
                            key=COMPONENTS.index)  # fmt: skip
        for component in COMPONENTS:
            rest = [a for a in advisories if a.component == component and a.id not in scope]
            if not rest:
                continue
            if component in components:
                not_considered.append(table["unrelated"].format(len(rest), component))
            else:
                not_considered.append(table["components_out"].format(len(rest), component))
        return scope, not_considered
    return by_symptom, not_considered


# ---------------------------------------------------------------------------------------------
# Words of an answer


def term_words(term: Term, language: str = "en") -> str:
    """One condition term with labels for features (``kube-system/kubeadm-config does not
    exist``, not ``kubeadm-config-absent on``)."""
    if not term.words:
        return "always"
    parts = []
    for key, text in term.words.items():
        if key in FEATURES:
            parts.append(feature_words(key, term.values.get(key) is True, language))
        else:
            shown = _zh_condition(text) if language == "zh" else text
            parts.append(f"({shown})" if " or " in text else shown)
    glue = " 且 " if language == "zh" else " and "
    return glue.join(parts)


_ZH_CONDITION: Final = (
    (" uses none of ", " 不使用 "),
    (" uses ", " 使用 "),
    (" is ", " 为 "),
    (" not installed", " 未安装"),
    (" and ", " 且 "),
    (" or ", " 或 "),
    ("an upstream kernel", "上游内核"),
    ("a distribution kernel", "发行版内核"),
)


def _zh_condition(text: str) -> str:
    """A condition in words (``kube-proxy >= 1.28.0 and < 1.28.7``) with Chinese joiners."""
    for english, chinese in _ZH_CONDITION:
        text = text.replace(english, chinese)
    return re.sub(r"^any ", "任意 ", text)


def _title(result: Result, language: str) -> str:
    return f"{result.advisory.title_in(language)} ({result.id})"


def _action(ans: Answer, *, limit: int = 2) -> str:
    if not ans.safe_with:
        return ""
    table = words(ans.language)
    glue = "；或 " if ans.language == "zh" else "; or "
    text = glue.join(_short_fix(f, ans.language) for f in ans.safe_with[:limit])
    return " " + table["use"].format(text)


def _short_fix(fix: Fix, language: str) -> str:
    """The fix without the OS list (which the body shows)."""
    return fix.describe(language, releases=False)


def _headline(ans: Answer) -> str:
    table = words(ans.language)
    lang = ans.language
    if ans.verdict is AnswerVerdict.NOT_UNDERSTOOD:
        if ans.question.outside:
            return ans.notes[0] if ans.notes else table["not_understood"]
        return table["not_understood"]
    if ans.plan is not None and ans.move:
        return _move_headline(ans)
    if ans.question.severity is not None and ans.verdict is AnswerVerdict.SAFE:
        level = ans.question.severity
        rest = ""
        held = [r for r in ans.others if r.verdict is Verdict.AFFECTED]
        if held:
            listed = ", ".join(f"{r.id} ({r.severity.value if r.severity else '-'})"
                               for r in held[:3])  # fmt: skip
            rest = table["severity_others"].format(len(held), listed)
        return table["severity_none"].format(level if lang == "en" else _zh_level(level), rest)
    if ans.verdict is AnswerVerdict.SAFE:
        if len(ans.results) == 1:
            return table["safe_one"].format(_title(ans.results[0], lang))
        components = sorted({r.advisory.component for r in ans.results}, key=COMPONENTS.index)
        return table["safe"].format(len(ans.results), ", ".join(components))
    lead = ans.result(ans.lead[0])
    more = len([i for i in ans.lead[1:] if ans.result(i).verdict is lead.verdict])
    extra = table["and_more"].format(more) if more else ""
    symptom = next((m for m in ans.symptoms if m.advisory.id == lead.id), None)
    if ans.verdict is AnswerVerdict.NOT_SAFE:
        ranks = [r.severity.rank for i in ans.lead if (r := ans.result(i)).severity is not None]
        high = not ranks or max(ranks) >= Severity.HIGH.rank
        # Reduced throughput is not a broken cluster: medium and low say so.
        key = "not_safe" if high else "degraded"
        return table[key].format(_title(lead, lang) + extra) + _action(ans)
    if symptom is not None and symptom.result.affected_when:
        condition = join_or([term_words(t, lang) for t in symptom.result.affected_when], lang)
        return table["likely"].format(_title(lead, lang), condition) + _action(ans)
    labels = join_or([fact_label(k, lang) for k in ans.depends_on()], lang)
    condition = join_or([term_words(t, lang) for t in lead.affected_when], lang)
    what = _title(lead, lang)
    if condition:
        what += (" 在以下情况成立：" if lang == "zh" else " holds if ") + condition
    elif lead.uncertain:
        what += " (" + table["uncertain"] + lead.uncertain[0] + ")"
    return table["depends"].format(labels or fact_label("upstream", lang), what)


def _ids(ids: Sequence[str], language: str, limit: int = 4) -> str:
    """``A, B, C, D and 6 more``."""
    if len(ids) <= limit:
        return ", ".join(ids)
    more = f"另有 {len(ids) - limit} 个" if language == "zh" else f"and {len(ids) - limit} more"
    return ", ".join(ids[:limit]) + " " + more


def _zh_level(level: str) -> str:
    return {"critical": "严重", "high": "高", "medium": "中", "low": "低"}.get(level, level)


def action_in_headline(ans: Answer) -> bool:
    """Not-safe and symptom headlines end with the action; the others leave it to a line."""
    if ans.plan is not None and ans.move:
        return False
    if ans.verdict is AnswerVerdict.NOT_SAFE:
        return True
    lead = ans.lead[0] if ans.lead else None
    return any(m.advisory.id == lead and m.result.affected_when for m in ans.symptoms)


def _move_headline(ans: Answer) -> str:
    assert ans.plan is not None
    table = words(ans.language)
    lang = ans.language
    target = ", ".join(f"{c.key} {c.raw}" for c in ans.plan.changes)
    scope = set(ans.scope)
    resolved = [e.id for e in ans.plan.resolved if e.id in scope]
    tail = table["move_resolves"].format(_ids(resolved, lang)) if resolved else ""
    if ans.verdict is AnswerVerdict.SAFE:
        return table["move_safe"].format(target) + tail
    lead = ans.result(ans.lead[0])
    if ans.verdict is AnswerVerdict.NOT_SAFE:
        return table["move_breaks"].format(target, _title(lead, lang)) + tail
    return table["move_uncertain"].format(target, _title(lead, lang)) + tail


# ---------------------------------------------------------------------------------------------
# Plain text


def _understood_line(ans: Answer) -> str:
    table = words(ans.language)
    understood = ans.question.understood
    shown = ", ".join(f"{k}={v}" for k, v in understood.items()) or table["nothing"]
    extra = [*ans.question.clusters, *ans.question.advisory_ids]
    if extra:
        shown += " | " + ", ".join(extra)
    return f"{table['understood']}: {shown}"


def short_ref(url: str) -> str:
    """A reference as people cite it: ``kubernetes#102122`` for GitHub, else the host."""
    parts = url.rstrip("/").split("/")
    if len(parts) >= 7 and parts[2] == "github.com":
        return f"{parts[4]}#{parts[6]}"
    return parts[2] if len(parts) > 2 else url


def impact_text(result: Result, case_ids: Sequence[str], language: str) -> str:
    """The impact of the shown cases, each distinct text once."""
    cases = [c for c in result.cases if c.id in case_ids] or list(result.cases)
    return " ".join(dict.fromkeys(c.impact.get(language) for c in cases))


def result_lines(ans: Answer, result: Result) -> list[str]:
    """One named advisory: title, impact of its case, condition, action, workarounds, links."""
    lang = ans.language
    table = words(lang)
    advisory = result.advisory
    state = table["affected"] if result.verdict is Verdict.AFFECTED else table["unknown"]
    severity = f", {severity_word(result.severity.value, lang)}" if result.severity else ""
    case_ids = ans.cases.get(result.id, ())
    lines = [f"* {advisory.title_in(lang)} ({advisory.id}: {state}{severity})"]
    lines.append(f"    {impact_text(result, case_ids, lang)}")
    condition, uncertain = condition_text(ans, result)
    if condition:
        prefix = "受影响的条件：" if lang == "zh" else "affected if "
        lines.append(f"    {prefix}{condition}")
    if uncertain:
        lines.append(f"    {table['uncertain']}{uncertain}")
    lines.extend(f"    ! {caveat_text(c, lang)}" for c in result.caveats)
    lines.append(f"    {table['recommendation']}: {advisory.recommendation.get(lang)}")
    for workaround in advisory.workarounds_for(case_ids):
        if workaround.description:
            lines.append(f"    {table['workaround']}: {workaround.describe(lang)}")
        lines.append(f"      $ {workaround.command}")
    refs = [short_ref(r.url) for r in advisory.references[:3]]
    if refs:
        lines.append("    " + " · ".join(refs))
    return lines


def condition_text(ans: Answer, result: Result) -> tuple[str, str]:
    """(affected if ..., upstream uncertain reason) of an unknown advisory; for an advisory led
    by a symptom, over the cases that produce the symptom."""
    match = next((m for m in ans.symptoms if m.advisory.id == result.id and m.cases), None)
    shown = match.result if match is not None else result
    if shown.verdict is not Verdict.UNKNOWN or result.verdict is not Verdict.UNKNOWN:
        return "", ""
    condition = join_or([term_words(t, ans.language) for t in shown.affected_when], ans.language)
    return condition, shown.uncertain[0] if shown.uncertain else ""


_CAVEATS_ZH: Final = (
    (
        re.compile(r"^(.+) is a distribution kernel that may carry backported fixes; (\S+) "
                   r"decides by the base version number, so the verdict stands$"),
        r"\1 是发行版内核，可能带有回合的修复；\2 按基础版本号判断，结论不变",
    ),
    (re.compile(r"^kernel inferred from (.+)$"), r"内核由 \1 推断"),
)  # fmt: skip


def caveat_text(caveat: str, language: str) -> str:
    """An engine caveat in the language asked."""
    if language == "zh":
        for pattern, replacement in _CAVEATS_ZH:
            if pattern.match(caveat):
                return pattern.sub(replacement, caveat)
    return caveat


def severity_word(level: str, language: str) -> str:
    """``high`` / ``高``."""
    return _zh_level(level) if language == "zh" else level


def folded_text(ans: Answer, *, slack: bool = False) -> str:
    """ "3 more depend on facts you did not give: A, B, C (--all shows them)"; empty if none."""
    if not ans.folded:
        return ""
    table = words(ans.language)
    key = "folded_slack" if slack else "folded"
    if len(ans.folded) == 1:
        return table[key + "_one"].format(ans.folded[0])
    return table[key].format(len(ans.folded), ", ".join(ans.folded))


def render_text(ans: Answer) -> str:
    """The answer as plain text: verdict and action first, then only the cases that hold."""
    lang = ans.language
    table = words(lang)
    lines = [ans.headline()]
    first = [n for n in ans.notes if n in _first_notes(ans) and n != lines[0]]
    if ans.verdict is not AnswerVerdict.NOT_UNDERSTOOD:
        # Say first what the question got wrong: a project outside the catalog, a cluster
        # that is not known.
        lines = [*first, *lines]
    if ans.cluster is not None:
        read = (
            ans.cluster.read_at.strftime("%Y-%m-%d %H:%M UTC")
            if ans.cluster.read_at
            else table["never"]
        )
        label = table["cluster"].format(ans.cluster.name, read)
        lines.append(label + (f" [{table['demo']}]" if ans.cluster.demo else ""))
    lines.extend(n for n in ans.notes if n not in lines)
    if ans.verdict is AnswerVerdict.NOT_UNDERSTOOD:
        if ans.not_covered:
            lines.append(ans.not_covered)
        lines.extend(f"- {n}" for n in ans.not_considered if "not covered" in n or "不在" in n)
        lines.append(f"{table['examples']}:")
        lines.extend(f"  • {e}" for e in ans.examples)
        lines.append(_understood_line(ans))
        return "\n".join(lines)
    if ans.plan is not None and ans.move:
        lines.extend(_plan_lines(ans))
    for advisory_id in ans.lead:
        lines.extend(result_lines(ans, ans.result(advisory_id)))
    if ans.safe_with and not action_in_headline(ans):
        glue = "；或 " if lang == "zh" else "; or "
        lines.append(
            f"{table['safe_if']}: " + glue.join(f.describe(lang) for f in ans.safe_with[:2])
        )
    if ans.others and ans.question.severity is not None and ans.verdict is not AnswerVerdict.SAFE:
        lines.append(", ".join(f"{r.id} ({r.severity.value if r.severity else '-'})"
                               for r in ans.others))  # fmt: skip
    if ans.not_covered:
        lines.append(ans.not_covered)
    folded = folded_text(ans)
    if folded:
        lines.append(folded)
    if ans.show_all and ans.not_considered:
        lines.append(f"{table['not_considered']}: " + "; ".join(ans.not_considered))
    lines.append(f"({_understood_line(ans)} · {table['catalog']} {ans.catalog_version})")
    return "\n".join(lines)


def _first_notes(ans: Answer) -> list[str]:
    table = words(ans.language)
    out = []
    for project, version in ans.question.outside:
        out.append(table["outside"].format(project.capitalize()))
        out.append(table["outside_version"].format(project, version, project.capitalize()))
    if ans.cluster is None:
        known = ", ".join(ans.known_clusters) or "-"
        out.extend(table["unknown_cluster"].format(n, known) for n in ans.question.unknown_clusters)
    return out


def _plan_lines(ans: Answer) -> list[str]:
    assert ans.plan is not None
    table = words(ans.language)
    scope = set(ans.scope)
    lines: list[str] = []
    worse = [e for e in ans.plan.changed if e.after.verdict.rank > e.before.verdict.rank]
    sections: list[tuple[str, Sequence[PlanEntry]]] = [
        ("introduced", ans.plan.introduced),
        ("changed", worse),
        ("resolved", ans.plan.resolved),
    ]
    for name, entries in sections:
        shown = [e for e in entries if e.id in scope]
        if name == "resolved" and shown:
            lines.append(f"{table[name]}: {_ids([e.id for e in shown], ans.language)}")
        elif shown:
            lines.append(
                f"{table[name]}: "
                + ", ".join(
                    f"{e.id} ({e.before.verdict.value} -> {e.after.verdict.value})" for e in shown
                )
            )
    if ans.still and not ans.show_all:
        lines.append(table["still"].format(", ".join(ans.still)))
    return lines
