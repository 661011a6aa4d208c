"""The fleet exposure report as one self-contained HTML page.

One file, no network at view time: the styles, the script and the data are inline. The page
shows the clusters x advisories matrix (each cell coloured by verdict and labelled, so colour is
never the only cue), sorts it by severity or by cluster, filters it by label, and shows a cell's
detail (the case that holds, the nodes, the facts that decided it, the recommendation) when it
is clicked or selected with the keyboard. Without JavaScript the matrix still reads.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any, Final

from bot.report.model import Cell, ClusterRow, Column, FleetReport, Shade, human_time

__all__ = ["COLOURS", "render_html"]

COLOURS: Final = {
    Shade.CRITICAL: "#7f1d1d",
    Shade.HIGH: "#dc2626",
    Shade.MEDIUM: "#f97316",
    Shade.LOW: "#facc15",
    Shade.UNKNOWN: "#94a3b8",
    Shade.NOT_AFFECTED: "#bbf7d0",
    Shade.MUTED: "#c4b5fd",
    Shade.UNREAD: "#e5e7eb",
}
"""Cell background per shade (shared with the PNG, so both read the same)."""

_INK: Final = {
    Shade.CRITICAL: "#ffffff",
    Shade.HIGH: "#ffffff",
    Shade.MEDIUM: "#1f2937",
    Shade.LOW: "#1f2937",
    Shade.UNKNOWN: "#111827",
    Shade.NOT_AFFECTED: "#166534",
    Shade.MUTED: "#3b0764",
    Shade.UNREAD: "#6b7280",
}

_LEGEND: Final = (
    (Shade.CRITICAL, "affected, critical"),
    (Shade.HIGH, "affected, high"),
    (Shade.MEDIUM, "affected, medium"),
    (Shade.LOW, "affected, low"),
    (Shade.UNKNOWN, "unknown: depends on facts not read"),
    (Shade.MUTED, "muted"),
    (Shade.NOT_AFFECTED, "not affected"),
    (Shade.UNREAD, "cluster not read"),
)


def _css() -> str:
    shades = "\n".join(
        f".s-{shade.value}{{background:{colour};color:{_INK[shade]}}}"
        for shade, colour in COLOURS.items()
    )
    return (
        """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#111827;background:#f8fafc}
header,main,footer{padding:12px 16px}
header{background:#1d3557;color:#fff}
h1{font-size:1.3rem;margin:0 0 4px}
header p{margin:2px 0}
.demo{background:#fef3c7;color:#78350f;padding:6px 16px;font-weight:600}
.summary{font-weight:600}
.unreadable{background:#fee2e2;color:#7f1d1d;border-radius:6px;padding:6px 10px;margin:8px 0 0}
.unreadable ul{margin:4px 0 0;padding-left:20px}
.controls{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;margin:0 0 10px}
.controls label{display:flex;gap:6px;align-items:center}
select{font:inherit;padding:4px}
.legend{display:flex;flex-wrap:wrap;gap:6px 12px;margin:0 0 10px;padding:0;list-style:none;
font-size:.85rem}
.legend span{display:inline-block;width:1.1em;height:1.1em;border-radius:3px;
vertical-align:-3px;margin-right:4px;border:1px solid #cbd5e1}
.wrap{overflow:auto;max-height:80vh;border:1px solid #cbd5e1;border-radius:6px;
background:#fff}
table{border-collapse:separate;border-spacing:0}
th,td{border-bottom:1px solid #e2e8f0;border-right:1px solid #e2e8f0;padding:4px 6px}
thead th{position:sticky;top:0;background:#f1f5f9;font-size:.75rem;font-weight:600;
vertical-align:bottom;min-width:72px;max-width:110px;text-align:left;word-break:break-word}
tbody th{position:sticky;left:0;background:#fff;text-align:left;font-weight:600;
white-space:nowrap;z-index:1}
thead th.corner{left:0;z-index:2;min-width:120px}
.chip{display:inline-block;font-size:.7rem;font-weight:400;background:#e2e8f0;color:#334155;
border-radius:9px;padding:0 6px;margin:2px 2px 0 0}
td.cell{text-align:center;font-size:.8rem;font-weight:700;cursor:pointer;min-width:56px}
td.cell:focus,td.cell.sel{outline:3px solid #2563eb;outline-offset:-3px}
.quiet{display:none}
body.all .quiet{display:table-cell}
tr.hidden{display:none}
#detail{position:fixed;right:16px;bottom:16px;width:min(460px,calc(100vw - 32px));
max-height:70vh;overflow:auto;background:#fff;border:1px solid #94a3b8;border-radius:8px;
box-shadow:0 8px 30px rgba(0,0,0,.25);padding:12px 14px;z-index:5}
#detail[hidden]{display:none}
#detail h2{font-size:1.05rem;margin:0 28px 6px 0}
#detail h3{font-size:.85rem;margin:10px 0 2px;text-transform:uppercase;color:#475569}
#detail p{margin:2px 0}
#detail dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 10px;margin:0}
#detail dt{font-weight:600}#detail dd{margin:0;word-break:break-all}
#detail .verdict{font-weight:700}
#close{position:absolute;right:8px;top:6px;border:0;background:none;font-size:1.4rem;
cursor:pointer}
footer{color:#64748b;font-size:.8rem}
@media (max-width:600px){
body{font-size:14px}
header,main,footer{padding:10px}
h1{font-size:1.1rem}
.summary{font-size:.9rem}
.controls{gap:6px 10px;font-size:.85rem}
.legend{font-size:.72rem;gap:4px 8px}
thead th[data-advisory]{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;
min-width:0;max-width:none;text-align:left;padding:6px 4px;font-size:.7rem}
td.cell{min-width:38px;font-size:.7rem;padding:8px 2px}
tbody th{max-width:120px;white-space:normal;font-size:.8rem}
thead th.corner{min-width:96px}
#detail{left:0;right:0;bottom:0;width:100%;max-height:65vh;border-radius:12px 12px 0 0}
}
"""
        + shades
    )


_SCRIPT: Final = """
(function(){
"use strict";
var data=JSON.parse(document.getElementById("fleet-data").textContent);
var rank={critical:7,high:6,medium:5,low:4,unknown:3,unread:2,muted:1,not_affected:0};
var table=document.getElementById("matrix"),body=table.tBodies[0],head=table.tHead.rows[0];
var detail=document.getElementById("detail");
function cluster(name){for(var i=0;i<data.clusters.length;i++){
 if(data.clusters[i].name===name){return data.clusters[i];}}return null;}
function column(id){for(var i=0;i<data.columns.length;i++){
 if(data.columns[i].id===id){return data.columns[i];}}return null;}
function el(tag,text,cls){var e=document.createElement(tag);
 if(text!==undefined&&text!==null){e.textContent=text;}if(cls){e.className=cls;}return e;}
function section(title,node){detail.appendChild(el("h3",title));detail.appendChild(node);}
function show(td){
 var c=cluster(td.parentNode.getAttribute("data-cluster"));
 var a=column(td.getAttribute("data-advisory"));
 if(!c||!a){return;}
 var prev=table.querySelector("td.sel");if(prev){prev.classList.remove("sel");}
 td.classList.add("sel");
 var cell=c.cells[a.id];
 while(detail.firstChild){detail.removeChild(detail.firstChild);}
 var close=el("button","\\u00d7");close.id="close";close.setAttribute("aria-label","close");
 close.addEventListener("click",function(){detail.hidden=true;td.focus();});
 detail.appendChild(close);
 detail.appendChild(el("h2",c.name+" \\u00b7 "+a.id));
 detail.appendChild(el("p",a.title));
 if(!cell){detail.appendChild(el("p",c.name+" could not be read"+(c.error?": "+c.error:"")+
  ". Nothing is known about it until it is read again.","verdict"));detail.hidden=false;return;}
 var affected=cell.verdict!=="not_affected",nodes=cell.nodes||[],evidence=cell.evidence||{};
 detail.appendChild(el("p",cell.headline||(c.name+" is not affected by "+a.id+"."),"verdict"));
 if(cell.impact){section("What happens",el("p",cell.impact));}
 if(cell.depends_text){section("Depends on",el("p",cell.depends_text));}
 if(nodes.length){section((cell.verdict==="unknown"?"Nodes it depends on":"Affected nodes")+
  " ("+nodes.length+")",el("p",nodes.join(", ")));}
 var keys=Object.keys(evidence);
 if(keys.length){var dl=el("dl");keys.sort().forEach(function(k){
  dl.appendChild(el("dt",k));dl.appendChild(el("dd",evidence[k]));});
  section("Facts that decided it",dl);}
 if(affected&&a.recommendation){section("Recommendation",el("p",a.recommendation));}
 detail.hidden=false;
}
table.addEventListener("click",function(ev){var td=ev.target.closest("td.cell");if(td){show(td);}});
table.addEventListener("keydown",function(ev){
 if(ev.key!=="Enter"&&ev.key!==" "){return;}var td=ev.target.closest("td.cell");
 if(td){ev.preventDefault();show(td);}});
document.addEventListener("keydown",function(ev){if(ev.key==="Escape"){detail.hidden=true;}});
function sortRows(){
 var how=document.getElementById("sort-clusters").value;
 var rows=Array.prototype.slice.call(body.rows);
 rows.sort(function(x,y){
  if(how==="exposure"){
   var d=Number(y.getAttribute("data-worst"))-Number(x.getAttribute("data-worst"));
   if(d){return d;}var e=Number(y.getAttribute("data-score"))-Number(x.getAttribute("data-score"));
   if(e){return e;}}
  return x.getAttribute("data-cluster").localeCompare(y.getAttribute("data-cluster"));});
 rows.forEach(function(r){body.appendChild(r);});
}
function sortColumns(){
 var how=document.getElementById("sort-advisories").value;
 var ids=data.columns.map(function(c){return c;});
 ids.sort(function(x,y){
  if(how==="severity"){var d=(rank[y.severity]||0)-(rank[x.severity]||0);if(d){return d;}}
  return x.id.localeCompare(y.id);});
 var order=ids.map(function(c){return c.id;});
 function place(row,attr){var cells={};Array.prototype.forEach.call(row.cells,function(c){
   var k=c.getAttribute(attr);if(k){cells[k]=c;}});
  order.forEach(function(id){if(cells[id]){row.appendChild(cells[id]);}});}
 place(head,"data-advisory");
 Array.prototype.forEach.call(body.rows,function(r){place(r,"data-advisory");});
}
function filter(){
 var want=document.getElementById("label-filter").value;
 Array.prototype.forEach.call(body.rows,function(r){
  var labels=JSON.parse(r.getAttribute("data-labels"));
  r.classList.toggle("hidden",want!==""&&labels.indexOf(want)<0);});
 var shown=body.querySelectorAll("tr:not(.hidden)").length;
 document.getElementById("shown").textContent=shown+" of "+body.rows.length+" clusters shown";
}
document.getElementById("sort-clusters").addEventListener("change",sortRows);
document.getElementById("sort-advisories").addEventListener("change",sortColumns);
document.getElementById("label-filter").addEventListener("change",filter);
document.getElementById("all-advisories").addEventListener("change",function(ev){
 document.body.classList.toggle("all",ev.target.checked);});
sortRows();sortColumns();filter();
})();
"""


def _headline(row: ClusterRow, column: Column, cell: Cell) -> str:
    """The verdict as a consequence, first line of a cell's detail."""
    nodes = len(cell.nodes)
    on = f" on {nodes} node{'s' if nodes != 1 else ''}" if nodes else ""
    if cell.verdict == "not_affected":
        return f"{row.name} is not affected by {column.id}."
    if cell.muted:
        return f"{row.name} is affected{on}, and the match is muted: nobody is told until it ends."
    if cell.verdict == "unknown":
        severity = f" ({cell.severity.upper()} if it holds)" if cell.severity else ""
        return f"{row.name} may be affected{on}{severity}: it depends on facts not read."
    severity = cell.severity.upper() if cell.severity else "affected"
    return f"{row.name} is affected ({severity}){on}. Act on the recommendation below."


def _cell_data(row: ClusterRow, column: Column, cell: Cell) -> dict[str, Any]:
    """A cell's detail for the page's script; empty fields are left out (a 200-cluster page
    has 5,600 cells), and the recommendation is the column's."""
    data: dict[str, Any] = {"verdict": cell.verdict}
    if cell.verdict != "not_affected":
        # The script writes "NAME is not affected by ID." itself.
        data["headline"] = _headline(row, column, cell)
    optional = {
        "severity": cell.severity,
        "muted": cell.muted or None,
        "nodes": list(cell.nodes),
        "impact": cell.impact,
        "depends_text": cell.depends_text,
        "evidence": dict(cell.evidence),
        "change": cell.change,
    }
    data.update({k: v for k, v in optional.items() if v})
    return data


def _data(report: FleetReport) -> dict[str, Any]:
    columns = {c.id: c for c in report.columns}
    return {
        "catalog_version": report.catalog_version,
        "columns": [
            {
                "id": c.id,
                "title": c.title,
                "component": c.component,
                "severity": c.severity,
                "recommendation": c.recommendation,
            }
            for c in report.columns
        ],
        "clusters": [
            {
                "name": row.name,
                "status": row.status,
                "error": row.error,
                "labels": dict(row.labels),
                "cells": {
                    cell.advisory_id: _cell_data(row, columns[cell.advisory_id], cell)
                    for cell in row.cells.values()
                },
            }
            for row in report.clusters
        ],
    }


def _script_json(value: Any) -> str:
    # Inside <script>, "</" would end the element and "<!--" open a comment: escape "<".
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _breakable(advisory_id: str) -> str:
    return "-<wbr>".join(escape(part) for part in advisory_id.split("-"))


def _summary(report: FleetReport) -> str:
    readable = [c for c in report.clusters if c.readable]
    severities = [
        (shade, report.count(shade))
        for shade in (Shade.CRITICAL, Shade.HIGH, Shade.MEDIUM, Shade.LOW)
    ]
    affected = sum(n for _, n in severities)
    exposed = sum(
        1 for c in readable if c.worst in (Shade.CRITICAL, Shade.HIGH, Shade.MEDIUM, Shade.LOW)
    )
    detail = ", ".join(f"{n} {shade.value}" for shade, n in severities if n)
    parts = [
        f"{exposed} of {len(readable)} readable cluster{'s' if len(readable) != 1 else ''} "
        f"affected: {affected} match{'es' if affected != 1 else ''}"
        + (f" ({detail})" if detail else ""),
        f"{report.count(Shade.UNKNOWN)} unknown",
        f"{report.count(Shade.MUTED)} muted",
    ]
    return "; ".join(parts) + "."


def render_html(report: FleetReport, title: str = "netadvisor: fleet exposure") -> str:
    """The whole page. Every text of the scan is escaped; the data travels as inline JSON."""
    exposed = {c.id for c in report.exposed_columns}
    unreadable = report.unreadable
    labels = sorted({f"{k}={v}" for row in report.clusters for k, v in row.labels.items()})
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        # Nothing may load from the network when the page is viewed.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
        f"<title>{escape(title)}</title>",
        f"<style>{_css()}</style></head><body>",
    ]
    if report.demo:
        out.append('<div class="demo">DEMO DATA: example clusters, not yours.</div>')
    out += [
        "<header>",
        f"<h1>{escape(title)}</h1>",
        f'<p>Catalog <b id="catalog-version">{escape(report.catalog_version)}</b> · scanned '
        f'<b id="scan-time">{escape(human_time(report.scanned_at))}</b> · '
        f"{len(report.clusters)} cluster{'s' if len(report.clusters) != 1 else ''}, "
        f"{len(unreadable)} unreadable</p>",
        f'<p class="summary">{escape(_summary(report))}</p>',
    ]
    if unreadable:
        out.append(
            '<div class="unreadable" id="unreadable"><b>Not read (verdicts unknown):</b><ul>'
        )
        for row in unreadable:
            error = f": {escape(row.error)}" if row.error else ""
            out.append(f"<li><b>{escape(row.name)}</b> ({escape(row.status)}){error}</li>")
        out.append("</ul></div>")
    out.append("</header><main>")
    options = "".join(f'<option value="{escape(x)}">{escape(x)}</option>' for x in labels)
    out += [
        '<div class="controls">',
        '<label>Clusters <select id="sort-clusters"><option value="exposure">worst first'
        '</option><option value="name">by name</option></select></label>',
        '<label>Advisories <select id="sort-advisories"><option value="severity">by severity'
        '</option><option value="id">by id</option></select></label>',
        f'<label>Label <select id="label-filter"><option value="">all clusters</option>'
        f"{options}</select></label>",
        '<label><input type="checkbox" id="all-advisories"> advisories that hold nowhere'
        f" ({len(report.columns) - len(exposed)})</label>",
        '<span id="shown"></span>',
        "</div>",
        '<ul class="legend">',
    ]
    out += [
        f'<li><span class="s-{shade.value}"></span>{escape(text)}</li>' for shade, text in _LEGEND
    ]
    out += ["</ul>", '<div class="wrap"><table id="matrix"><thead><tr>']
    out.append('<th class="corner" scope="col">cluster \\ advisory</th>')
    for column in report.columns:
        quiet = "" if column.id in exposed else ' class="quiet"'
        severity = f" · worst: {column.severity}" if column.severity else ""
        tip = f"{column.title} ({column.component}){severity}"
        out.append(
            f'<th scope="col"{quiet} data-advisory="{escape(column.id)}" '
            f'title="{escape(tip)}">{_breakable(column.id)}</th>'
        )
    out.append("</tr></thead><tbody>")
    for row in report.clusters:
        row_labels = sorted(f"{k}={v}" for k, v in row.labels.items())
        score = sum(c.shade.rank for c in row.cells.values() if c.shade.rank >= Shade.UNKNOWN.rank)
        chips = "".join(f'<span class="chip">{escape(x)}</span>' for x in row_labels)
        out.append(
            f'<tr data-cluster="{escape(row.name)}" data-worst="{row.worst.rank}" '
            f"data-score=\"{score}\" data-labels='{escape(json.dumps(row_labels))}'>"
            f'<th scope="row">{escape(row.name)}<br>{chips}</th>'
        )
        for column in report.columns:
            shade = row.shade(column.id)
            quiet = "" if column.id in exposed else " quiet"
            # Screen readers name a cell by its row and column headers (scope=row/col).
            out.append(
                f'<td class="cell s-{shade.value}{quiet}" tabindex="0" role="button" '
                f'data-advisory="{escape(column.id)}">{escape(shade.label)}</td>'
            )
        out.append("</tr>")
    out += [
        "</tbody></table></div>",
        '<section id="detail" hidden aria-live="polite"></section>',
        "</main>",
        "<footer>Made by netadvisor from <code>netadvisor scan --json</code>. Click a cell "
        "for the case that holds, the nodes, the facts that decided it and the recommendation."
        "</footer>",
        f'<script type="application/json" id="fleet-data">{_script_json(_data(report))}</script>',
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(out) + "\n"
