"""The `newsmon report --html` page: one self-contained file, nothing fetched when it is viewed.

The charts are drawn by a few lines of inline JavaScript into SVG from the figures embedded in
the page as JSON (no charting library, no network); every figure is also in a plain table
under its chart, so the numbers read without JavaScript too. Everything else is static HTML.
"""

from __future__ import annotations

import html
import json
from collections import Counter, defaultdict
from datetime import date, datetime, timezone
from typing import Any

from pipeline.report import (
    AIR_ATTACK_FIGURES,
    Output,
    counts_text,
    event_summary,
    iter_claims,
    plural,
    sources_text,
    window_label,
    window_stats,
)

SERIES = [
    {"key": "drones_launched", "label": "drones launched", "color": "#3b6fb6"},
    {"key": "drones_shot_down", "label": "drones shot down", "color": "#2a9d5c"},
    {"key": "drones_suppressed", "label": "drones suppressed (EW, lost)", "color": "#e0a526"},
    {"key": "missiles_launched", "label": "missiles launched", "color": "#c8443c"},
]
MAX_EVENTS = 50
MAX_STORIES = 50
MAX_WINDOWS = 48
GROUNDTRUTH_DIRECTION = ("RUS", "UKR")  # the Air Force counts attacks on Ukraine


def chart_data(out: Output, groundtruth: dict[date, dict[str, int | None]] | None) -> list[dict[str, Any]]:
    """One chart per direction of attack (attacker -> target), a group of bars per dated night.
    The Air Force's figures go beside newsmon's for attacks on Ukraine, on the same nights."""
    nights: dict[tuple[str, str], dict[str, dict[str, int | None]]] = defaultdict(dict)
    for e in out.latest:
        if e["event_type"] != "air_attack" or e.get("event_date") is None:
            continue  # an undated report has no night to chart (it is listed with the events)
        direction = (e.get("attacker") or "?", e.get("target") or "?")
        nights[direction][e["event_date"].isoformat()] = {k: e.get(k) for k in AIR_ATTACK_FIGURES}
    charts = []
    for direction in sorted(nights, key=lambda d: (d != GROUNDTRUTH_DIRECTION, d)):
        figures = nights[direction]
        truth = None
        if groundtruth is not None and direction == GROUNDTRUTH_DIRECTION:
            truth = {n: groundtruth[date.fromisoformat(n)] for n in figures if date.fromisoformat(n) in groundtruth}
        charts.append(
            {
                "id": f"{direction[0]}-{direction[1]}",
                "title": f"Air attacks {direction[0]} → {direction[1]}, per night",
                "nights": sorted(figures),
                "series": SERIES,
                "newsmon": figures,
                "groundtruth": truth,
            }
        )
    return charts


def render_html(out: Output, groundtruth: dict[date, dict[str, int | None]] | None = None) -> str:
    charts = chart_data(out, groundtruth)
    articles = {a["article_id"]: a for a in out.articles}
    parts = [
        _HEAD.format(title=_e(f"newsmon report — {out.path}")),
        f"<h1>newsmon report</h1><p class=meta>{_e(out.path)} · generated "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · no network needed to view this page</p>",
        _summary(out),
        _charts(charts, groundtruth is not None),
        _events(out, articles),
        _stories(out),
        _rejected(out),
        _alerts(out),
        _windows(out),
        '<script type="application/json" id="chart-data">'
        + json.dumps(charts, sort_keys=True).replace("</", "<\\/")
        + "</script>",
        "<script>" + _DRAW + "</script></body></html>",
    ]
    return "\n".join(parts)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _summary(out: Output) -> str:
    copies = sum(a.get("duplicate_of") is not None for a in out.articles)
    stories = len({a["story_id"] for a in out.articles if a.get("story_id")})
    by_type = Counter(e["event_type"] for e in out.latest)
    rows = [
        ("articles", f"{len(out.articles):,} ({plural(copies, 'copy')} of another)"),
        ("stories", f"{stories:,}"),
        ("events", f"{len(out.latest):,} in {plural(len(out.events), 'version')}: {counts_text(by_type)}"),
        ("rejected", f"{len(out.rejected):,}: {counts_text(Counter(r['reason'] for r in out.rejected))}"),
        (
            "alerts",
            "no alerts/ table"
            if out.alerts is None
            else counts_text(Counter(a.get("status") or "?" for a in out.alert_states())),
        ),
        (
            "windows",
            f"{len(out.windows):,}"
            + (f", {window_label(out.windows[0])} … {window_label(out.windows[-1])}" if out.windows else ""),
        ),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<section id="summary"><h2>Summary</h2><table class=kv>{body}</table></section>'


def _charts(charts: list[dict[str, Any]], with_truth: bool) -> str:
    if not charts:
        return '<section id="charts"><h2>Air attacks per night</h2><p>No dated air attack in this output.</p></section>'
    note = (
        "Solid bars: newsmon's resolved figures (latest version of each event). Pale bars with an outline: "
        "the Air Force's own figures for the same night (--groundtruth)."
        if with_truth
        else "Bars: newsmon's resolved figures (latest version of each event)."
    )
    figures = []
    for c in charts:
        truth = c["groundtruth"] or {}
        head = "".join(f"<th>{_e(s['label'])}</th>" for s in c["series"])
        rows = []
        for night in c["nights"]:
            cells = []
            for s in c["series"]:
                ours = c["newsmon"][night].get(s["key"])
                theirs = truth.get(night, {}).get(s["key"]) if night in truth else None
                text = "–" if ours is None else f"{ours:,}"
                if night in truth:
                    text += f" <span class=gt>(AF {'–' if theirs is None else f'{theirs:,}'})</span>"
                cells.append(f"<td>{text}</td>")
            rows.append(f"<tr><th>{_e(night)}</th>{''.join(cells)}</tr>")
        figures.append(
            f'<figure class="chart" id="chart-{_e(c["id"])}"><figcaption>{_e(c["title"])}</figcaption>'
            f'<div class="plot" data-chart="{_e(c["id"])}"></div>'
            f"<table class=figures><tr><th>night</th>{head}</tr>{''.join(rows)}</table></figure>"
        )
    return (
        f'<section id="charts"><h2>Air attacks per night</h2><p class=note>{_e(note)}</p>{"".join(figures)}</section>'
    )


def _article_link(article: dict[str, Any] | None, article_id: str) -> str:
    if article is None:
        return f"<code>{_e(article_id)}</code>"
    label = _e(article.get("outlet") or article.get("source"))
    title = _e(article.get("title") or "(no title)")
    url = article.get("url") or ""
    linked = f'<a href="{_e(url)}">{title}</a>' if url.startswith(("http://", "https://")) else title
    return f"<b>{label}</b> — {linked}"


def _events(out: Output, articles: dict[str, dict[str, Any]]) -> str:
    if not out.latest:
        return '<section id="events"><h2>Latest events</h2><p>None.</p></section>'
    outlets = out.outlets
    cards = []
    for e in out.latest[:MAX_EVENTS]:
        values = {k: v for k, v in e.items() if not isinstance(v, list)}
        claims = "".join(
            f"<tr{' class=resolved' if str(values.get(c['field'])) == c['value'] else ''}>"
            f"<td>{_e(c['field'])}</td><td>{_e(c['value'])}</td><td>{_e(c.get('claimant') or '')}</td>"
            f"<td>{_e(outlets.get(c['article_id'], c['article_id']))}</td></tr>"
            for c in iter_claims(e)
        )
        evidence = "".join(
            f"<li><b>{_e(ev['field'])}</b>: “{_e(ev['text'])}” <span class=src>— "
            f"{_e(outlets.get(ev['article_id'], ev['article_id']))}</span></li>"
            for ev in e.get("evidence") or []
        )
        sources = "".join(f"<li>{_article_link(articles.get(a), a)}</li>" for a in e.get("article_ids") or [])
        cards.append(
            f'<article class="event" data-event="{_e(e["event_id"])}"><h3>{_e(event_summary(e))}</h3>'
            f"<p class=meta>version {e['version']} · {_e(sources_text(e, outlets))} · event {_e(e['event_id'])}"
            f" · story {_e(e.get('story_id'))}</p>"
            f"<details open><summary>sources</summary><ul>{sources}</ul></details>"
            + (
                "<details><summary>claims (every figure any source stated; the resolved ones highlighted)"
                f"</summary><table><tr><th>field</th><th>value</th><th>claimant</th><th>source</th></tr>{claims}"
                "</table></details>"
                if claims
                else ""
            )
            + (f"<details><summary>evidence</summary><ul class=evidence>{evidence}</ul></details>" if evidence else "")
            + "</article>"
        )
    more = (
        f"<p class=note>The {MAX_EVENTS} latest of {len(out.latest):,} events.</p>"
        if len(out.latest) > MAX_EVENTS
        else ""
    )
    return f'<section id="events"><h2>Latest events</h2>{more}{"".join(cards)}</section>'


def _stories(out: Output) -> str:
    stories: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in out.articles:
        if a.get("story_id"):
            stories[a["story_id"]].append(a)
    if not stories:
        return '<section id="stories"><h2>Story clusters</h2><p>None.</p></section>'
    events_of: dict[str, list[str]] = defaultdict(list)
    for e in out.latest:
        if e.get("story_id"):
            events_of[e["story_id"]].append(event_summary(e))

    def first(items: list[dict[str, Any]]) -> str:
        times = [a["published_at"] for a in items if a.get("published_at")]
        return f"{min(times):%Y-%m-%d %H:%M}" if times else "undated"

    order = sorted(stories, key=lambda s: (-len(stories[s]), first(stories[s]), s))
    rows = []
    for story in order[:MAX_STORIES]:
        items = sorted(stories[story], key=lambda a: (a.get("published_at") is None, a.get("published_at") or 0))
        outlets = sorted({a.get("outlet") or a.get("source") or "?" for a in items})
        titles = "".join(
            f"<li>{_e(a.get('outlet'))}: {_e(a.get('title') or '(no title)')}"
            + (" <span class=copy>(copy)</span>" if a.get("duplicate_of") else "")
            + "</li>"
            for a in items[:8]
        )
        more = f"<li>… {len(items) - 8} more</li>" if len(items) > 8 else ""
        rows.append(
            f'<tr class="story" data-story="{_e(story)}"><td>{len(items)}</td><td>{_e(first(items))}</td>'
            f"<td>{_e(', '.join(outlets))}</td><td><ul>{titles}{more}</ul>"
            + "".join(f"<div class=ev>{_e(s)}</div>" for s in events_of.get(story, []))
            + "</td></tr>"
        )
    note = (
        f"<p class=note>The {MAX_STORIES} largest of {len(stories):,} stories.</p>"
        if len(stories) > MAX_STORIES
        else ""
    )
    return (
        f'<section id="stories"><h2>Story clusters</h2>{note}<table><tr><th>articles</th><th>first report</th>'
        f"<th>outlets</th><th>articles and events</th></tr>{''.join(rows)}</table></section>"
    )


def _rejected(out: Output) -> str:
    if not out.rejected:
        return '<section id="rejected"><h2>Rejected by reason</h2><p>Nothing was rejected.</p></section>'
    by_reason: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in out.rejected:
        by_reason[r["reason"]].append(r)
    rows = "".join(
        f'<tr class="reason" data-reason="{_e(reason)}"><td>{_e(reason)}</td><td>{len(items):,}</td><td><ul>'
        + "".join(f"<li><code>{_e(r['source'])}</code>: {_e(r.get('detail'))}</li>" for r in items[:3])
        + "</ul></td></tr>"
        for reason, items in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    )
    return (
        '<section id="rejected"><h2>Rejected by reason</h2><table><tr><th>reason</th><th>rows</th>'
        f"<th>examples</th></tr>{rows}</table></section>"
    )


def _alerts(out: Output) -> str:
    if out.alerts is None:
        return '<section id="alerts"><h2>Alerts</h2><p>This output has no alerts/ table.</p></section>'
    states = out.alert_states()
    columns = ("rule", "event_id", "event_version", "destination", "status", "attempts", "sent_at", "response_code")
    rows = "".join(
        "<tr>" + "".join(f"<td>{_e(a.get(c))}</td>" for c in columns) + "</tr>"
        for a in sorted(states, key=lambda a: str(a.get("sent_at")), reverse=True)[:50]
    )
    head = "".join(f"<th>{c}</th>" for c in columns)
    by_status = counts_text(Counter(a.get("status") or "?" for a in states))
    return (
        f'<section id="alerts"><h2>Alerts</h2><p>By status: {_e(by_status)}</p>'
        f"<table><tr>{head}</tr>{rows}</table></section>"
    )


def _windows(out: Output) -> str:
    stats = window_stats(out)[-MAX_WINDOWS:]
    rows = "".join(
        f"<tr><td>{_e(window_label(s.window))}</td><td>{s.articles}</td><td>{s.copies}</td><td>{s.stories}</td>"
        f"<td>{_e(counts_text(s.events, ''))}</td><td>{_e(counts_text(s.rejected, ''))}</td>"
        f"<td>{_e(counts_text(s.alerts, ''))}</td></tr>"
        for s in reversed(stats)
    )
    return (
        '<section id="windows"><h2>Windows</h2><table><tr><th>window (UTC)</th><th>articles</th><th>copies</th>'
        f"<th>stories</th><th>events</th><th>rejected</th><th>alerts</th></tr>{rows}</table></section>"
    )


_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title>
<style>
body{{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;
color:#1d2430;background:#fff}}
h1{{margin:0 0 4px}} h2{{border-bottom:1px solid #d5dae1;padding-bottom:4px;margin-top:32px}}
h3{{font-size:15px;margin:0 0 4px}} .meta,.note{{color:#5b6675}} table{{border-collapse:collapse;margin:8px 0}}
th,td{{border:1px solid #d5dae1;padding:3px 8px;text-align:left;vertical-align:top}} th{{background:#f3f5f8}}
table.kv th{{width:110px}} .gt{{color:#5b6675}} .event{{border:1px solid #d5dae1;border-radius:6px;padding:10px 14px;
margin:10px 0}} tr.resolved td{{background:#eaf6ee;font-weight:600}} ul{{margin:2px 0;padding-left:18px}}
.evidence li{{margin:3px 0}} .src,.copy{{color:#5b6675}} .ev{{color:#3b6fb6;margin-top:3px}}
figure.chart{{margin:16px 0}} figcaption{{font-weight:600;margin-bottom:4px}} .plot{{overflow-x:auto}}
svg text{{font:11px system-ui,sans-serif;fill:#1d2430}}
</style></head><body>"""

# Draws each chart from #chart-data: a group per night, for each series newsmon's bar and, when
# there is ground truth for that night, the Air Force's bar beside it.
_DRAW = r"""
(function () {
  var NS = "http://www.w3.org/2000/svg";
  var charts = JSON.parse(document.getElementById("chart-data").textContent);
  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }
  charts.forEach(function (c) {
    var host = document.querySelector('.plot[data-chart="' + c.id + '"]');
    var truth = c.groundtruth || {};
    var perSeries = c.groundtruth ? 2 : 1, bw = 11, gap = 14, top = 34, plotH = 240, left = 56;
    var groupW = c.series.length * perSeries * bw + gap;
    groupW = Math.max(groupW, Math.min(3 * groupW, (820 - left - 20) / c.nights.length));  // few nights: spread them
    var width = Math.max(820, left + 20 + c.nights.length * groupW), height = top + plotH + 70;
    var max = 1;
    c.nights.forEach(function (n) {
      c.series.forEach(function (s) {
        max = Math.max(max, c.newsmon[n][s.key] || 0, (truth[n] || {})[s.key] || 0);
      });
    });
    var step = Math.pow(10, Math.floor(Math.log10(max))), ticks = Math.ceil(max / step);
    if (ticks < 4) { step = step / 2; ticks = Math.ceil(max / step); }
    var yMax = ticks * step, y = function (v) { return top + plotH - (v / yMax) * plotH; };
    var svg = el("svg", {width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img",
                         "aria-label": c.title}, host);
    for (var t = 0; t <= ticks; t++) {
      var v = t * step;
      el("line", {x1: left, x2: width - 10, y1: y(v), y2: y(v), stroke: "#e3e7ec"}, svg);
      el("text", {x: left - 6, y: y(v) + 4, "text-anchor": "end"}, svg).textContent = v.toLocaleString("en");
    }
    el("line", {x1: left, x2: width - 10, y1: y(0), y2: y(0), stroke: "#5b6675"}, svg);
    c.nights.forEach(function (n, i) {
      var x0 = left + 10 + i * groupW + (groupW - (c.series.length * perSeries * bw + gap)) / 2;
      c.series.forEach(function (s, j) {
        var bars = [["newsmon", c.newsmon[n][s.key]]];
        if (c.groundtruth) bars.push(["groundtruth", n in truth ? truth[n][s.key] : null]);
        bars.forEach(function (b, k) {
          if (b[1] === null || b[1] === undefined) return;
          var x = x0 + (j * perSeries + k) * bw, h = Math.max(1, y(0) - y(b[1]));
          var r = el("rect", {x: x, y: y(0) - h, width: bw - 1, height: h, "class": "bar", fill: s.color,
                              "fill-opacity": k ? 0.3 : 1, stroke: k ? s.color : "none", "stroke-width": 1.5,
                              "data-source": b[0], "data-night": n, "data-series": s.key, "data-value": b[1]}, svg);
          el("title", {}, r).textContent = n + " " + s.label + ": " + b[1] + (k ? " (Air Force)" : " (newsmon)");
        });
      });
      var mid = x0 + (c.series.length * perSeries * bw) / 2;
      var label = el("text", {x: mid, y: y(0) + 14, "text-anchor": "end",
                              transform: "rotate(-35 " + mid + " " + (y(0) + 14) + ")"}, svg);
      label.textContent = n;
    });
    var lx = left;
    c.series.forEach(function (s) {
      el("rect", {x: lx, y: 8, width: 12, height: 12, fill: s.color}, svg);
      el("text", {x: lx + 16, y: 18}, svg).textContent = s.label;
      lx += 30 + s.label.length * 6.2;
    });
    if (c.groundtruth) {
      el("rect", {x: lx, y: 8, width: 12, height: 12, fill: "#5b6675", "fill-opacity": 0.3, stroke: "#5b6675"}, svg);
      el("text", {x: lx + 16, y: 18}, svg).textContent = "Air Force (ground truth)";
    }
    host.setAttribute("data-drawn", svg.querySelectorAll("rect.bar").length);
  });
})();
"""
