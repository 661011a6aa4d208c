"""``check --output html`` and ``inventory --output markdown|html``: plain tables built from the
commands' JSON documents (what ``--json`` prints), for a ticket, a PR comment or a browser.

The pages are self-contained (inline style, no script, no network at view time); every value is
escaped. Unknown values read "unknown", never a blank.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any, Final

from bot.report.model import ReportError

__all__ = ["check_html", "inventory_html", "inventory_markdown"]

_VERDICT_ORDER: Final = {"affected": 0, "unknown": 1, "not_affected": 2}
_SEVERITY_ORDER: Final = {"critical": 0, "high": 1, "medium": 2, "low": 3}
_STYLE: Final = (
    "body{font-family:system-ui,sans-serif;margin:1rem;color:#111827}"
    "table{border-collapse:collapse;width:100%;font-size:.9rem}"
    "th,td{border:1px solid #d1d5db;padding:.3rem .5rem;text-align:left;vertical-align:top}"
    "th{background:#f3f4f6}.affected{background:#fee2e2}.unknown{background:#f1f5f9}"
    ".not_affected{color:#166534}.muted{color:#6b7280}"
)


def _items(data: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    items = data.get(key)
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise ReportError(f"{where}: '{key}' must be a list of objects")
    return items


def _text(value: Any) -> str:
    if value is None or value == "":
        return "unknown"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>\n"
    )


def _table(header: Sequence[str], rows: Iterable[tuple[str, Sequence[str]]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        f'<tr class="{escape(kind)}">' + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"
        for kind, cells in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def check_html(data: Mapping[str, Any]) -> str:
    """``check --json``'s document as a page: the summary, then one row per advisory of the
    checked components (affected first, by severity)."""
    results = _items(data, "results", "check document")
    components = set(data.get("components") or [])
    shown = [r for r in results if not components or r.get("component") in components]
    shown.sort(
        key=lambda r: (
            _VERDICT_ORDER.get(str(r.get("verdict")), 3),
            _SEVERITY_ORDER.get(str(r.get("severity")), 4),
            str(r.get("id")),
        )
    )
    counts = {v: sum(1 for r in shown if r.get("verdict") == v) for v in _VERDICT_ORDER}
    summary = (
        f"<p><strong>{counts['affected']} affected, {counts['unknown']} unknown, "
        f"{counts['not_affected']} not affected</strong> · catalog "
        f"{escape(str(data.get('catalog_version', '?')))} · components checked: "
        f"{escape(', '.join(sorted(components)) or 'all')}</p>"
    )
    rows = [
        (
            str(r.get("verdict")),
            [
                _text(r.get("verdict")).replace("_", " "),
                str(r.get("id")),
                _text(r.get("severity")) if r.get("verdict") != "not_affected" else "",
                _text(r.get("impact")) if r.get("verdict") != "not_affected" else "",
                _text(r.get("depends_text")) if r.get("verdict") == "unknown" else "",
                _text(r.get("recommendation")) if r.get("verdict") != "not_affected" else "",
            ],
        )
        for r in shown
    ]
    header = ("verdict", "advisory", "severity", "impact", "depends on", "recommendation")
    return _page("netadvisor check", summary + _table(header, rows))


def _inventory_rows(data: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    rows = []
    for cluster in _items(data, "clusters", "inventory document"):
        calico = cluster.get("calico") or {}
        spiderpool = cluster.get("spiderpool") or {}
        nodes = cluster.get("nodes") or []
        kernels = sorted({str(n.get("kernel")) for n in nodes if n.get("kernel")})
        if cluster.get("status") != "ok":
            cells = [str(cluster.get("name")), _text(cluster.get("status"))] + [""] * 6
            cells[-1] = _text(cluster.get("error"))
            rows.append(("unknown", cells))
            continue
        installed = calico.get("installed")
        calico_text = "not installed" if installed is False else _text(calico.get("version"))
        sp_installed = spiderpool.get("installed")
        sp_text = "not installed" if sp_installed is False else _text(spiderpool.get("version"))
        rows.append(
            (
                "ok",
                [
                    str(cluster.get("name")),
                    _text(cluster.get("kubernetes_version")),
                    _text(cluster.get("proxy_mode")),
                    calico_text,
                    _text(calico.get("encapsulation")) if installed is not False else "",
                    sp_text,
                    f"{len(nodes)}",
                    ", ".join(kernels) or "unknown",
                ],
            )
        )
    return rows


_INVENTORY_HEADER: Final = (
    "cluster",
    "Kubernetes",
    "kube-proxy mode",
    "Calico",
    "encapsulation",
    "Spiderpool",
    "nodes",
    "kernels (or error)",
)


def inventory_markdown(data: Mapping[str, Any]) -> str:
    """``inventory --json``'s document as one Markdown table, a row per cluster."""
    rows = _inventory_rows(data)
    demo = " (DEMO DATA: the bundled example fleet)" if data.get("demo") else ""
    lines = [
        f"**netadvisor inventory**: {len(rows)} cluster{'s' if len(rows) != 1 else ''}{demo}",
        "",
        "| " + " | ".join(_INVENTORY_HEADER) + " |",
        "|" + "---|" * len(_INVENTORY_HEADER),
    ]
    for _, cells in rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def inventory_html(data: Mapping[str, Any]) -> str:
    """``inventory --json``'s document as a page with one table, a row per cluster."""
    demo = (
        "<p><strong>DEMO DATA</strong>: the bundled example fleet.</p>" if data.get("demo") else ""
    )
    return _page("netadvisor inventory", demo + _table(_INVENTORY_HEADER, _inventory_rows(data)))
