"""`newsmon report OUT`: what an output folder holds, as a terminal summary and one HTML page.

    newsmon report OUT [--windows N] [--events N] [--html FILE] [--groundtruth CSV]

The report reads the Parquet tables back with pyarrow (the way any reader would: hive
partitions, latest version of each event), so it shows what is in OUT, not what a run
believed it wrote. The alerts/ table is optional (older outputs and runs without alert rules
have none). Exit status: 0, or 2 with one line on stderr for a missing or unreadable OUT,
--groundtruth or --html folder.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

logger = logging.getLogger(__name__)

TABLE_NAMES = ("articles", "events", "rejected", "alerts")
# Only what the report shows: never the articles' text, which is most of the bytes of OUT.
ARTICLE_COLUMNS = (
    "article_id",
    "url",
    "outlet",
    "title",
    "published_at",
    "story_id",
    "duplicate_of",
    "exact_copy",
    "source",
)
AIR_ATTACK_FIGURES = ("drones_launched", "drones_shot_down", "drones_suppressed", "missiles_launched")


class ReportError(Exception):
    """OUT or another named file cannot be used: one line on stderr, exit 2."""


# ----------------------------------------------------------------------------- reading


@dataclass
class Output:
    """The rows of one output folder; `alerts` is None when OUT has no alerts/ table."""

    path: str
    articles: list[dict[str, Any]]
    events: list[dict[str, Any]]  # every version
    rejected: list[dict[str, Any]]
    alerts: list[dict[str, Any]] | None
    latest: list[dict[str, Any]] = field(init=False)  # the latest version of each event

    def __post_init__(self) -> None:
        by_id: dict[str, dict[str, Any]] = {}
        for row in self.events:
            if row["event_id"] not in by_id or row["version"] > by_id[row["event_id"]]["version"]:
                by_id[row["event_id"]] = row
        self.latest = sorted(by_id.values(), key=_recency, reverse=True)

    @property
    def windows(self) -> list[str]:
        """Every window_start value of any table, oldest first."""
        rows = self.articles + self.events + self.rejected + (self.alerts or [])
        return sorted({r["window_start"] for r in rows})

    @property
    def outlets(self) -> dict[str, str]:
        """article_id -> outlet (or the source when the article names no outlet)."""
        return {a["article_id"]: a.get("outlet") or a.get("source") or "?" for a in self.articles}

    def alert_states(self) -> list[dict[str, Any]]:
        """One row per alert: its latest delivery attempt (a retried alert may have several rows)."""
        latest: dict[str, dict[str, Any]] = {}
        for row in self.alerts or []:
            key = row.get("alert_id") or str(id(row))
            old = latest.get(key)
            if old is None or _attempt_key(row) >= _attempt_key(old):
                latest[key] = row
        return list(latest.values())


def _recency(event: dict[str, Any]) -> tuple:
    """Latest first: by the time of the last change, then event date, then id (deterministic)."""
    updated = event.get("updated_at") or event.get("first_seen_at")
    return (updated.timestamp() if updated else 0.0, str(event.get("event_date") or ""), event["event_id"])


def _attempt_key(row: dict[str, Any]) -> tuple:
    sent = row.get("sent_at")
    return (row.get("attempts") or 0, sent.timestamp() if sent else 0.0)


def read_output(path: str) -> Output:
    """Read OUT's tables. Raises ReportError when OUT is missing, holds no newsmon table, or a
    table cannot be read."""
    if "://" not in path and not os.path.isdir(path):
        raise ReportError(f"{path}: no such folder (give the --output folder of a newsmon run)")
    tables = {name: _read_table(path, name) for name in TABLE_NAMES}
    if all(rows is None for rows in tables.values()):
        raise ReportError(f"{path}: holds no newsmon table ({', '.join(n + '/' for n in TABLE_NAMES)})")
    return Output(
        path=path,
        articles=tables["articles"] or [],
        events=tables["events"] or [],
        rejected=tables["rejected"] or [],
        alerts=tables["alerts"],
    )


def _read_table(out: str, name: str) -> list[dict[str, Any]] | None:
    """A table's rows with their window_start (a string, as written), or None if it is absent."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    folder = out.rstrip("/") + "/" + name
    if "://" not in folder and not os.path.isdir(folder):
        return None
    # The partition value stays the string in the folder name: no reader guesses a type for it.
    partitioning = ds.partitioning(pa.schema([("window_start", pa.string())]), flavor="hive")
    try:
        dataset = ds.dataset(folder, format="parquet", partitioning=partitioning, exclude_invalid_files=False)
        columns = [c for c in dataset.schema.names if name != "articles" or c in (*ARTICLE_COLUMNS, "window_start")]
        table = dataset.to_table(columns=columns)
    except (OSError, pa.ArrowException) as e:
        raise ReportError(f"{folder}: cannot read it ({type(e).__name__}: {_first_line(e)})") from e
    if "window_start" not in table.column_names:
        raise ReportError(f"{folder}: files outside window_start=… folders (not a newsmon table)")
    return table.to_pylist()


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else ""


# ----------------------------------------------------------------------------- figures


def plural(n: int, noun: str, plural_form: str | None = None) -> str:
    """'1 copy', '2 copies', '0 sources': counts as plain English."""
    if n == 1:
        return f"{n:,} {noun}"
    if plural_form is None:
        if noun.endswith("y") and noun[-2:-1] not in "aeiou":
            plural_form = noun[:-1] + "ies"
        elif noun.endswith(("s", "x", "ch", "sh")):
            plural_form = noun + "es"
        else:
            plural_form = noun + "s"
    return f"{n:,} {plural_form}"


def counts_text(counts: Counter | dict[str, int], empty: str = "none") -> str:
    """'air_attack 6, talks 1' (largest first, then by name)."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{k} {v:,}" for k, v in items) if items else empty


@dataclass
class WindowStats:
    window: str
    articles: int = 0
    copies: int = 0
    stories: int = 0
    events: Counter = field(default_factory=Counter)  # event_type -> events first seen here
    rejected: Counter = field(default_factory=Counter)  # reason -> rows
    alerts: Counter = field(default_factory=Counter)  # status -> alerts


def window_stats(out: Output) -> list[WindowStats]:
    """Per window (oldest first): what was written there. An event counts in the window of its
    first report (all its versions live there), an alert in the window its table puts it in."""
    stats = {w: WindowStats(w) for w in out.windows}
    stories: dict[str, set[str]] = defaultdict(set)
    for a in out.articles:
        s = stats[a["window_start"]]
        s.articles += 1
        s.copies += a.get("duplicate_of") is not None
        if a.get("story_id"):
            stories[a["window_start"]].add(a["story_id"])
    for w, ids in stories.items():
        stats[w].stories = len(ids)
    seen: set[str] = set()
    for e in out.events:
        if e["event_id"] not in seen:
            seen.add(e["event_id"])
            stats[e["window_start"]].events[e["event_type"]] += 1
    for r in out.rejected:
        stats[r["window_start"]].rejected[r["reason"]] += 1
    for a in out.alert_states():
        stats[a["window_start"]].alerts[a.get("status") or "?"] += 1
    return [stats[w] for w in out.windows]


def window_label(window: str) -> str:
    """'20250314T040000Z' -> '2025-03-14 04:00Z' (the folder name's value, read by a human)."""
    if len(window) == 16 and window[8] == "T":
        return f"{window[:4]}-{window[4:6]}-{window[6:8]} {window[9:11]}:{window[11:13]}Z"
    return window


def event_summary(event: dict[str, Any]) -> str:
    """One line for a human: type, date, actors and the figures or status of the event."""
    from transforms.extraction import EVENT_TYPES

    date = str(event.get("event_date") or "undated")
    kind = event["event_type"]
    if kind == "air_attack":
        head = f"{date} air attack {event.get('attacker') or '?'}→{event.get('target') or '?'}"
        parts = [
            figure_text(event[f], f)
            for f in (*AIR_ATTACK_FIGURES, "drones_neutralized_total", "missiles_shot_down", "killed", "injured")
            if event.get(f) is not None
        ]
        if event.get("regions"):
            parts.append("regions " + " ".join(event["regions"]))
    else:
        head = f"{date} {kind.replace('_', ' ')}"
        names = [f.name for f in EVENT_TYPES[kind].fields] if kind in EVENT_TYPES else []
        parts = [f"{n.replace('_', ' ')} {_value(event.get(n))}" for n in names if event.get(n) not in (None, [])]
    return head + (": " + ", ".join(parts) if parts else "")


def figure_text(value: int, column: str) -> str:
    """'126 drones launched', '1 missile launched', '3 killed'."""
    label = column.replace("_", " ")
    if value == 1 and label.startswith(("drones ", "missiles ")):
        label = label.replace("s ", " ", 1)
    return f"{value:,} {label}"


def _value(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def sources_text(event: dict[str, Any], outlets: dict[str, str], limit: int = 4) -> str:
    """'2 sources: Kyiv Wire, Eastern Dispatch': the outlets of the articles behind the event."""
    names = sorted({outlets.get(a, a) for a in event.get("article_ids") or []})
    count = event.get("source_count") or len(event.get("article_ids") or [])
    more = f", +{len(names) - limit} more" if len(names) > limit else ""
    return f"{plural(count, 'source')}: {', '.join(names[:limit])}{more}" if names else plural(count, "source")


# ----------------------------------------------------------------------------- terminal


def render_text(out: Output, last_windows: int = 5, last_events: int = 5) -> str:
    """The terminal summary: totals, the last windows, the latest events, rejections, alerts."""
    lines = [f"newsmon report: {out.path}"]
    copies = sum(a.get("duplicate_of") is not None for a in out.articles)
    exact = sum(bool(a.get("exact_copy")) for a in out.articles)
    stories = len({a["story_id"] for a in out.articles if a.get("story_id")})
    by_type = Counter(e["event_type"] for e in out.latest)
    lines.append(
        f"  {plural(len(out.articles), 'article')} ({plural(copies, 'copy')} of another, {exact:,} exact), "
        f"{plural(stories, 'story')}, {plural(len(out.latest), 'event')} in {plural(len(out.events), 'version')}"
        + (f" ({counts_text(by_type)})" if by_type else "")
    )
    reasons = Counter(r["reason"] for r in out.rejected)
    lines.append(f"  rejected by reason: {counts_text(reasons)}")
    if out.alerts is None:
        lines.append("  alerts by status: no alerts/ table in this output")
    else:
        lines.append(f"  alerts by status: {counts_text(Counter(a.get('status') or '?' for a in out.alert_states()))}")

    stats = window_stats(out)
    shown = stats if last_windows <= 0 else stats[-last_windows:]
    lines.append("")
    lines.append(
        f"{'all ' if len(shown) == len(stats) else f'last {len(shown)} of '}{plural(len(stats), 'window')} (UTC):"
    )
    header = ("window", "articles", "copies", "stories", "events", "rejected", "alerts")
    table = [header] + [
        (
            window_label(s.window),
            f"{s.articles:,}",
            f"{s.copies:,}",
            f"{s.stories:,}",
            counts_text(s.events, "-"),
            counts_text(s.rejected, "-"),
            counts_text(s.alerts, "-") if out.alerts is not None else "-",
        )
        for s in shown
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    right = {1, 2, 3}
    for row in table:
        cells = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(row)]
        lines.append("  " + "  ".join(cells).rstrip())

    lines.append("")
    if not out.latest:
        lines.append("latest events: none")
    else:
        shown_events = out.latest if last_events <= 0 else out.latest[:last_events]
        lines.append(
            f"latest events ({len(shown_events)} of {len(out.latest)}, the latest version of each, last changed first):"
        )
        outlets = out.outlets
        for e in shown_events:
            lines.append(f"  {event_summary(e)}")
            lines.append(f"      version {e['version']}, {sources_text(e, outlets)}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- command


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line and exit 2, not argparse's usage dump
        raise ReportError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="newsmon report",
        description="Summarize an output folder of newsmon run: totals, the last windows, the latest "
        "events with their sources, rejected records by reason, alerts by status. With --html, also one "
        "self-contained page with charts (no network needed to view it).",
    )
    parser.add_argument("out", metavar="OUT", help="the --output folder of a newsmon run")
    parser.add_argument(
        "--windows", type=int, default=5, metavar="N", help="show the last N windows (0: all; default 5)"
    )
    parser.add_argument(
        "--events", type=int, default=5, metavar="N", help="show the N latest events (0: all; default 5)"
    )
    parser.add_argument("--html", metavar="FILE", help="also write the report as one self-contained HTML page")
    parser.add_argument(
        "--groundtruth",
        metavar="CSV",
        help="Ukrainian Air Force figures per night (missile_attacks_daily.csv format) to chart beside "
        "newsmon's in the --html page",
    )
    return parser


def main(args: list[str], stdout: TextIO = sys.stdout) -> int:
    """The `report` command: 0, or 2 with one line on stderr."""
    try:
        opts = build_parser().parse_args(args)
        if opts.groundtruth and not opts.html:
            raise ReportError("--groundtruth is drawn in the --html page: give --html FILE too")
        if opts.html:
            folder = os.path.dirname(os.path.abspath(opts.html))
            if not os.path.isdir(folder):
                raise ReportError(f"--html {opts.html}: folder {folder} does not exist")
        groundtruth = None
        if opts.groundtruth:
            from pipeline.groundtruth import read_air_force_csv

            groundtruth = read_air_force_csv(opts.groundtruth)
        out = read_output(opts.out)
    except ReportError as e:
        print(f"newsmon: error: {e}", file=sys.stderr)
        return 2
    stdout.write(render_text(out, opts.windows, opts.events))
    if opts.html:
        from pipeline.report_html import render_html

        page = render_html(out, groundtruth)
        try:
            with open(opts.html, "w", encoding="utf-8") as f:
                f.write(page)
        except OSError as e:
            print(f"newsmon: error: --html {opts.html}: {e.strerror or e}", file=sys.stderr)
            return 2
        stdout.write(f"html: {opts.html} ({len(page.encode()):,} bytes)\n")
    return 0


def iter_claims(event: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The event's claims (older outputs have no claims column)."""
    return event.get("claims") or []
