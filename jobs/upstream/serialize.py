"""netadvisor's own JSON shapes for upstream states, news and disagreements.

The same shapes are stored by :mod:`jobs.store.upstream` and printed by
``netadvisor upstream show --json``. Reading is strict: a stored value of another shape raises
ValueError (the store then treats the reference as never synced).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from advisories.models import AdvisoryId
from jobs.upstream.models import (
    CherryPick,
    Disagreement,
    LineFix,
    News,
    NewsKind,
    ReferenceState,
    RefKey,
)

__all__ = [
    "disagreement_from_json",
    "disagreement_to_json",
    "news_from_json",
    "news_to_json",
    "reference_from_json",
    "reference_to_json",
]

JSON = dict[str, Any]


def _time(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _parse_time(text: Any) -> datetime | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError(f"not a timestamp: {text!r}")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def reference_to_json(state: ReferenceState) -> JSON:
    """One reference's state; issues omit the PR fields and PRs the issue fields."""
    out: JSON = {
        "reference": str(state.ref),
        "url": state.ref.url,
        "kind": "pull" if state.is_pull else "issue",
        "title": state.title,
        "state": state.state,
        "synced_at": _time(state.synced_at),
    }
    if state.is_pull:
        out.update(
            merged=state.merged,
            merged_at=_time(state.merged_at),
            merge_commit=state.merge_commit,
            base=state.base,
            labels=list(state.labels),
            milestone=state.milestone,
            cherry_picks=[
                {
                    "number": p.number,
                    "title": p.title,
                    "base": p.base,
                    "line": p.line,
                    "state": p.state,
                    "merged": p.merged,
                    "merged_at": _time(p.merged_at),
                    "merge_commit": p.merge_commit,
                }
                for p in state.cherry_picks
            ],
            fixes=[{"line": f.line, "tag": f.tag, "pull": f.pull} for f in state.fixes],
        )
    else:
        out.update(
            closed_at=_time(state.closed_at),
            state_reason=state.state_reason,
            closed_by=list(state.closed_by),
        )
    return out


def _ref_from_text(text: Any, url: Any) -> RefKey:
    if not isinstance(text, str) or not isinstance(url, str):
        raise ValueError("reference and url must be strings")
    parts = url.rstrip("/").split("/")
    return RefKey.from_id("/".join(parts[-4:]))


def reference_from_json(data: Any) -> ReferenceState:
    """The inverse of :func:`reference_to_json`; raises ValueError on another shape."""
    if not isinstance(data, dict):
        raise ValueError("a reference state must be an object")
    try:
        ref = _ref_from_text(data["reference"], data["url"])
        synced_at = _parse_time(data["synced_at"])
        if synced_at is None:
            raise ValueError("synced_at missing")
        common: dict[str, Any] = {
            "ref": ref,
            "title": str(data["title"]),
            "state": str(data["state"]),
            "synced_at": synced_at,
        }
        if ref.kind == "pull":
            picks = tuple(
                CherryPick(
                    number=int(p["number"]),
                    title=str(p["title"]),
                    base=str(p["base"]),
                    line=p["line"],
                    state=str(p["state"]),
                    merged=bool(p["merged"]),
                    merged_at=_parse_time(p["merged_at"]),
                    merge_commit=p["merge_commit"],
                )
                for p in data["cherry_picks"]
            )
            fixes = tuple(
                LineFix(line=f["line"], tag=f["tag"], pull=int(f["pull"])) for f in data["fixes"]
            )
            return ReferenceState(
                **common,
                merged=bool(data["merged"]),
                merged_at=_parse_time(data["merged_at"]),
                merge_commit=data["merge_commit"],
                base=data["base"],
                labels=tuple(str(label) for label in data["labels"]),
                milestone=data["milestone"],
                cherry_picks=picks,
                fixes=fixes,
            )
        return ReferenceState(
            **common,
            closed_at=_parse_time(data["closed_at"]),
            state_reason=data["state_reason"],
            closed_by=tuple(int(n) for n in data["closed_by"]),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a reference state: {exc}") from None


def news_to_json(news: News) -> JSON:
    """One piece of news."""
    return {
        "kind": news.kind.value,
        "reference": str(news.ref),
        "url": news.ref.url,
        "advisories": list(news.advisories),
        "text": news.text,
        "at": _time(news.at),
        "line": news.line,
        "tag": news.tag,
    }


def news_from_json(data: Any) -> News:
    """The inverse of :func:`news_to_json`; raises ValueError on another shape."""
    if not isinstance(data, dict):
        raise ValueError("news must be an object")
    try:
        at = _parse_time(data["at"])
        if at is None:
            raise ValueError("at missing")
        return News(
            kind=NewsKind(data["kind"]),
            ref=_ref_from_text(data["reference"], data["url"]),
            advisories=tuple(AdvisoryId(str(a)) for a in data["advisories"]),
            text=str(data["text"]),
            at=at,
            line=data["line"],
            tag=data["tag"],
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not news: {exc}") from None


def disagreement_to_json(item: Disagreement) -> JSON:
    """One disagreement between upstream and the catalog."""
    return {
        "advisory": item.advisory,
        "line": item.line,
        "upstream": item.upstream,
        "catalog": item.catalog,
        "reference": str(item.ref),
        "url": item.ref.url,
        "pull": item.pull,
        "text": item.text,
    }


def disagreement_from_json(data: Any) -> Disagreement:
    """The inverse of :func:`disagreement_to_json`; raises ValueError on another shape."""
    if not isinstance(data, dict):
        raise ValueError("a disagreement must be an object")
    try:
        return Disagreement(
            advisory=AdvisoryId(str(data["advisory"])),
            line=str(data["line"]),
            upstream=str(data["upstream"]),
            catalog=data["catalog"],
            ref=_ref_from_text(data["reference"], data["url"]),
            pull=int(data["pull"]),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a disagreement: {exc}") from None
