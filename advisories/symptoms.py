"""Symptoms: which advisories (and which of their cases) a described problem points to.

Every advisory lists symptom keywords (English and Chinese); a case lists its own where the
cases of one advisory produce different symptoms (a 63 s delay comes only from VXLAN offload left
on, reduced throughput only from offload turned off). A question's words are compared with every
keyword, whatever the language of the question: Latin words by stem (stop words dropped), Chinese
by bigram, durations as ``63s``.

The index is built once per catalog (:attr:`advisories.catalog.Catalog.symptoms`); nothing is
cached at module level.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from advisories.models import Advisory

__all__ = ["SymptomHit", "SymptomIndex", "units_of"]

_STOP: Final = frozenset(
    re.findall(
        r"\S+",
        "a an the of to in on at for with is are be was were we our my i it its and or from when "
        "after during why do does did see seeing what how this that there some any very too "
        "us they them get gets getting got have has had can could should would will mode",
    )
)
# Words that say something is wrong without saying what: never enough alone.
_GENERIC: Final = frozenset({"delay", "slow", "fail", "failur", "error", "problem", "issu",
                             "延迟", "失败", "问题", "故障", "异常", "很慢"})  # fmt: skip
_SUFFIXES: Final = ("ures", "ure", "ing", "ed", "es", "e", "s")
_TOKEN_RE: Final = re.compile(r"[\u3400-\u9fff]+|[a-z0-9]+(?:[._][a-z0-9]+)*")


def _durations(text: str) -> str:
    """``1 second``, ``1-sec``, ``1 秒`` -> ``1s``; ``63 seconds`` -> ``63s``."""
    return re.sub(r"(\d+)\s*-?\s*(?:seconds?|secs?|s|秒钟?)(?![a-z])", r"\1s", text)


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def units_of(text: str) -> list[str]:
    """Comparable units of already normalised text: Latin stems and Chinese bigrams."""
    out: list[str] = []
    for token in _TOKEN_RE.findall(_durations(text.lower())):
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
    case: str | None
    """The case whose own symptom this is, or None for the advisory's."""
    text: str
    units: frozenset[str]


@dataclass(frozen=True, slots=True)
class SymptomHit:
    """An advisory whose symptoms match a question."""

    advisory: Advisory
    score: float
    keywords: tuple[str, ...]
    """The keywords that matched."""
    cases: tuple[str, ...]
    """Cases whose own symptoms matched: only they produce what was described. Empty when
    only advisory-level keywords matched."""


class SymptomIndex:
    """Every symptom keyword of a catalog, ready to match questions against."""

    def __init__(self, advisories: Sequence[Advisory]) -> None:
        self._by_id: dict[str, Advisory] = {str(a.id): a for a in advisories}
        keywords: list[_Keyword] = []
        for advisory in advisories:
            for phrases in advisory.symptoms.values():
                keywords.extend(_keyword(advisory, None, p) for p in phrases)
            for case in advisory.cases:
                for phrases in case.symptoms.values():
                    keywords.extend(_keyword(advisory, case.id, p) for p in phrases)
        self._keywords = [k for k in keywords if k.units and not k.units <= _GENERIC]
        sharing: dict[frozenset[str], set[str]] = {}
        for kw in self._keywords:
            sharing.setdefault(kw.units, set()).add(kw.advisory.id)
        self._sharing = {units: len(ids) for units, ids in sharing.items()}

    def match(self, text: str) -> list[SymptomHit]:
        """Advisories whose keywords match ``text`` (normalised), best first.

        A keyword matches when the text holds all its units, or three quarters of them for
        keywords of four units or more, and the units it holds are not all generic words.
        Each match scores its units, divided by the number of advisories sharing the keyword.
        """
        units = set(units_of(text))
        if not units:
            return []
        scores: dict[str, float] = {}
        matched: dict[str, dict[str, None]] = {}
        cases: dict[str, dict[str, None]] = {}
        for kw in self._keywords:
            hits = kw.units & units
            need = len(kw.units) if len(kw.units) < 4 else math.ceil(0.75 * len(kw.units))
            if len(hits) < need or hits <= _GENERIC:
                continue
            weight = len(hits) / self._sharing[kw.units]
            scores[kw.advisory.id] = scores.get(kw.advisory.id, 0.0) + weight
            matched.setdefault(kw.advisory.id, {})[kw.text] = None
            if kw.case is not None:
                cases.setdefault(kw.advisory.id, {})[kw.case] = None
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return [
            SymptomHit(self._by_id[i], score, tuple(matched[i]), tuple(cases.get(i, {})))
            for i, score in ranked
        ]


def _keyword(advisory: Advisory, case: str | None, phrase: str) -> _Keyword:
    from_text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", phrase).lower())
    return _Keyword(advisory, case, phrase, frozenset(units_of(from_text)))
