"""`newsmon report`: the terminal summary and the HTML page (rendered by headless Chromium),
the run's progress lines and plain-English summary, --help and --version."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import SAMPLES, SHARED_DATA, needs_shared, newsmon

FIGURES = ("drones_launched", "drones_shot_down", "drones_suppressed", "missiles_launched")
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on this machine (.ci/run installs Debian's `chromium`)"
)


def query(sql: str) -> list[tuple]:
    return duckdb.connect().sql(sql).fetchall()


def latest_events(out: Path) -> list[dict]:
    """The latest version of each event, read with DuckDB as the README tells readers to."""
    rel = duckdb.connect().sql(
        f"""SELECT * FROM read_parquet('{out}/events/**/*.parquet', hive_partitioning=true)
            QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY version DESC) = 1"""
    )
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def one_line_error(done: subprocess.CompletedProcess, text: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("newsmon: error:") and text in lines[0], done.stderr


# ----------------------------------------------------------------------------- terminal


def test_report_summarizes_the_samples_output(samples_output):
    out, _ = samples_output
    done = newsmon("report", str(out))
    assert done.returncode == 0, done.stderr
    text = done.stdout
    articles = f"read_parquet('{out}/articles/**/*.parquet', hive_partitioning=true)"
    (n, copies, stories, _), *_ = query(
        f"SELECT count(*), count(duplicate_of), count(DISTINCT story_id), 0 FROM {articles}"
    )
    windows = len(
        {
            w
            for t in ("articles", "events")
            for (w,) in query(
                f"SELECT DISTINCT window_start FROM read_parquet('{out}/{t}/**/*.parquet', hive_partitioning=true)"
            )
        }
    )
    events = latest_events(out)
    by_type = Counter(e["event_type"] for e in events)
    assert f"{n} articles ({copies} cop{'y' if copies == 1 else 'ies'} of another" in text
    assert f"{stories} stories, {len(events)} events in " in text
    assert all(f"{kind} {count}" in text for kind, count in by_type.items())
    assert "rejected by reason: none" in text  # the samples have nothing to reject
    assert "alerts by status: no alerts/ table in this output" in text
    assert f"last 5 of {windows} windows (UTC):" in text
    # the latest events, each with the outlets of its articles
    newest = max(events, key=lambda e: e["updated_at"])
    assert f"latest events (5 of {len(events)}" in text
    outlets = dict(query(f"SELECT article_id, outlet FROM {articles}"))
    block = text.split("latest events", 1)[1]
    assert str(newest["event_date"]) in block.splitlines()[1]
    assert all(outlets[a] in block.splitlines()[2] for a in newest["article_ids"])
    assert "1 source:" in block or "sources:" in block

    everything = newsmon("report", str(out), "--windows", "0", "--events", "0")
    assert f"all {windows} windows (UTC):" in everything.stdout
    assert f"latest events ({len(events)} of {len(events)}" in everything.stdout


def write_alerts(out: Path) -> None:
    """An alerts/ table in DESIGN's layout and columns (helper 'state' writes it in real runs):
    one alert delivered, one delivered on its second attempt, one failed after three."""
    schema = pa.schema(
        [
            ("alert_id", pa.string()),
            ("rule", pa.string()),
            ("event_id", pa.string()),
            ("event_version", pa.int32()),
            ("destination", pa.string()),
            ("status", pa.string()),
            ("attempts", pa.int32()),
            ("sent_at", pa.timestamp("us", tz="UTC")),
            ("response_code", pa.int32()),
        ]
    )
    from datetime import datetime, timezone

    at = datetime(2025, 3, 14, 6, 30, tzinfo=timezone.utc)
    rows = [
        ("a1", "big-night", "e1", 1, "stdout", "delivered", 1, at, None),
        ("a2", "big-night", "e2", 1, "http://127.0.0.1:9/hook", "failed", 1, at, 500),
        ("a2", "big-night", "e2", 1, "http://127.0.0.1:9/hook", "delivered", 2, at, 200),
        ("a3", "casualties", "e3", 2, "http://127.0.0.1:9/hook", "failed", 3, at, 503),
    ]
    folder = out / "alerts" / "window_start=20250314T060000Z"
    folder.mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist([dict(zip(schema.names, r, strict=True)) for r in rows], schema=schema),
        folder / "part-0.parquet",
    )


def test_report_counts_rejections_by_reason_and_alerts_by_status(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(SAMPLES / "articles" / "2025-03-14_kyivwire_overnight-attack.txt", inputs)
    (inputs / "empty.txt").write_text("   \n")
    (inputs / "broken.jsonl").write_text('{"text": "Drones hit Kharkiv overnight, officials said."}\n{"text": \n')
    (inputs / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    out = tmp_path / "out"
    done = newsmon("run", "--input", str(inputs), "--output", str(out))
    assert done.returncode == 0, done.stderr
    write_alerts(out)
    report = newsmon("report", str(out))
    assert report.returncode == 0, report.stderr
    reasons = Counter(r[0] for r in query(f"SELECT reason FROM read_parquet('{out}/rejected/**/*.parquet')"))
    assert reasons == {"empty_text": 1, "bad_json": 1, "not_text": 1}
    assert "rejected by reason: bad_json 1, empty_text 1, not_text 1" in report.stdout
    # a retried alert counts once, by its last attempt
    assert "alerts by status: delivered 2, failed 1" in report.stdout
    assert re.search(r"^  2025-03-14 06:00Z .* delivered 2, failed 1$", report.stdout, re.MULTILINE), report.stdout


def test_report_bad_usage_exits_2_with_one_line(samples_output, tmp_path):
    out, _ = samples_output
    one_line_error(newsmon("report"), "OUT")
    one_line_error(newsmon("report", str(tmp_path / "missing")), "no such folder")
    one_line_error(newsmon("report", str(tmp_path)), "holds no newsmon table")
    one_line_error(newsmon("report", str(out), "--html", str(tmp_path / "no" / "page.html")), "does not exist")
    one_line_error(newsmon("report", str(out), "--groundtruth", str(tmp_path / "x.csv")), "give --html FILE too")
    page = str(tmp_path / "page.html")
    one_line_error(newsmon("report", str(out), "--html", page, "--groundtruth", str(tmp_path / "x.csv")), "x.csv")
    (tmp_path / "other.csv").write_text("date,count\n2025-03-14,3\n")
    one_line_error(
        newsmon("report", str(out), "--html", page, "--groundtruth", str(tmp_path / "other.csv")),
        "not the Air Force format",
    )
    one_line_error(newsmon("report", str(out), "--windows", "many"), "--windows")
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    next((broken / "events").glob("*/*.parquet")).write_bytes(b"PAR1 not parquet at all")
    one_line_error(newsmon("report", str(broken)), "cannot read it")
    assert not Path(page).exists()


# ----------------------------------------------------------------------------- HTML in Chromium

# The samples' nights in the Air Force's format: national rows (source kpszsu) and one regional
# row that overlaps them and must be left out. 2025-05-01 has no newsmon event: not charted.
SAMPLE_GROUNDTRUTH = """\
time_start,time_end,model,launch_place,target,target_main,launched,destroyed,not_reach_goal,source
2025-03-13 19:00,2025-03-14 08:00,Shahed-136/131,Kursk oblast,Ukraine,,126.0,70.0,50.0,kpszsu/posts/a
2025-03-13 19:00,2025-03-14 08:00,X-101/X-555,Saratov oblast,Ukraine,,4.0,3.0,,kpszsu/posts/a
2025-03-14,2025-03-14,Unknown UAV,,south,,20.0,20.0,,PvKPivden/posts/b
2025-03-27 20:00,2025-03-28 08:00,Shahed-136/131,Oryol oblast,Ukraine,,126.0,89.0,30.0,kpszsu/posts/c
2025-04-09 19:00,2025-04-10 08:00,Shahed-136/131,Kursk oblast,Ukraine,,50.0,35.0,9.0,kpszsu/posts/d
2025-04-09 19:00,2025-04-10 08:00,Iskander-M,Kursk oblast,Ukraine,,13.0,7.0,,kpszsu/posts/d
2025-04-30 19:00,2025-05-01 08:00,Shahed-136/131,Kursk oblast,Ukraine,,90.0,60.0,25.0,kpszsu/posts/e
"""
SAMPLE_TRUTH_BARS = {  # (night, figure) -> the value the page must draw for the Air Force
    ("2025-03-14", "drones_launched"): 126,
    ("2025-03-14", "drones_shot_down"): 70,
    ("2025-03-14", "drones_suppressed"): 50,
    ("2025-03-14", "missiles_launched"): 4,
    ("2025-03-28", "drones_launched"): 126,
    ("2025-03-28", "drones_shot_down"): 89,
    ("2025-03-28", "drones_suppressed"): 30,
    ("2025-04-10", "drones_launched"): 50,
    ("2025-04-10", "drones_shot_down"): 35,
    ("2025-04-10", "drones_suppressed"): 9,
    ("2025-04-10", "missiles_launched"): 13,
}


def render(page: Path, tmp_path: Path) -> tuple[str, Path]:
    """The DOM after the page's scripts ran, and a screenshot, from headless Chromium."""
    common = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1280,1400",
    ]
    url = page.resolve().as_uri()
    dom = subprocess.run(
        [*common, "--virtual-time-budget=3000", "--dump-dom", url], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0 and "</html>" in dom.stdout, dom.stderr[-2000:]
    shot = tmp_path / "page.png"
    done = subprocess.run([*common, f"--screenshot={shot}", url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    return dom.stdout, shot


def drawn_bars(dom: str) -> list[dict[str, str]]:
    """Every <rect class="bar" …> the page's script drew, as its data-* attributes."""
    bars = []
    for tag in re.findall(r"<rect\b[^>]*>", dom):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        if attrs.get("class") == "bar":
            bars.append({k[5:]: v for k, v in attrs.items() if k.startswith("data-")})
    return bars


def pixels_near(image, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    return sum(
        count
        for count, px in image.getcolors(maxcolors=1 << 24)
        if all(abs(a - b) <= tolerance for a, b in zip(px[:3], rgb, strict=True))
    )


@needs_chromium
def test_html_page_charts_each_night_beside_the_ground_truth(samples_output, tmp_path):
    from PIL import Image

    out, _ = samples_output
    truth = tmp_path / "missile_attacks_daily.csv"
    truth.write_text(SAMPLE_GROUNDTRUTH)
    page = tmp_path / "report.html"
    done = newsmon("report", str(out), "--html", str(page), "--groundtruth", str(truth))
    assert done.returncode == 0, done.stderr
    source = page.read_text()
    # self-contained: no script, style, image or font is fetched when the page is viewed
    assert not re.search(r"<(script|img|link|iframe)\b[^>]*\b(src|href)=", source)
    assert "@import" not in source and "url(" not in source

    dom, shot = render(page, tmp_path)
    bars = drawn_bars(dom)
    # newsmon: one bar per stated figure of each dated air attack (latest version), every direction
    expected = Counter()
    for e in latest_events(out):
        if e["event_type"] == "air_attack" and e["event_date"] is not None:
            expected["newsmon"] += sum(e[f] is not None for f in FIGURES)
            for f in FIGURES:
                if e[f] is not None:
                    assert {
                        "source": "newsmon",
                        "night": str(e["event_date"]),
                        "series": f,
                        "value": str(e[f]),
                    } in bars, (e["event_date"], f)
    expected["groundtruth"] = len(SAMPLE_TRUTH_BARS)
    assert Counter(b["source"] for b in bars) == expected
    assert {(b["night"], b["series"]): int(b["value"]) for b in bars if b["source"] == "groundtruth"} == (
        SAMPLE_TRUTH_BARS  # the regional row and the night without a newsmon event are left out
    )
    assert re.search(r'data-chart="RUS-UKR" data-drawn="\d+"|data-drawn="\d+"[^>]*data-chart="RUS-UKR"', dom)

    image = Image.open(shot).convert("RGB")
    assert len(image.getcolors(maxcolors=1 << 24)) > 50  # not a blank page
    assert pixels_near(image, (0x3B, 0x6F, 0xB6)) > 500  # newsmon's drones-launched bars
    pale_blue = tuple(round(255 - 0.3 * (255 - c)) for c in (0x3B, 0x6F, 0xB6))
    assert pixels_near(image, pale_blue, 6) > 200  # the Air Force's bars beside them

    # the rest of the page: events with claims and evidence, stories with outlets, rejections
    assert dom.count('class="event"') == min(50, len(latest_events(out)))
    assert "claims (every figure" in dom and "evidence" in dom
    ((stories,),) = query(f"SELECT count(DISTINCT story_id) FROM read_parquet('{out}/articles/**/*.parquet')")
    assert dom.count('class="story"') == min(50, stories)
    assert "Nothing was rejected." in dom


@needs_shared
@needs_chromium
def test_seed_night_beside_the_air_force_file(tmp_path):
    """The real seeds and the real Air Force file. Only seed 000 carries a date (11-12 May 2025),
    so only its night is charted: newsmon 108 / 60 / 30 beside the Air Force's 108 / 55 / 30 (the
    article says 60 intercepted: a source disagreement the chart shows). Undated reports are
    listed with the events, not charted."""
    truth = SHARED_DATA / "groundtruth" / "missile_attacks_daily.csv"
    out = tmp_path / "out"
    done = newsmon("run", "--input", str(SHARED_DATA / "seeds"), "--output", str(out))
    assert done.returncode == 0, done.stderr
    page = tmp_path / "seeds.html"
    done = newsmon("report", str(out), "--html", str(page), "--groundtruth", str(truth))
    assert done.returncode == 0, done.stderr
    dom, _ = render(page, tmp_path)
    bars = {(b["source"], b["night"], b["series"]): int(b["value"]) for b in drawn_bars(dom)}
    night = [bars.get((side, "2025-05-12", f)) for side in ("newsmon", "groundtruth") for f in FIGURES[:3]]
    assert night == [108, 60, 30, 108, 55, 30]
    dated = [e for e in latest_events(out) if e["event_type"] == "air_attack" and e["event_date"] is not None]
    assert {n for (_, n, _) in bars} == {str(e["event_date"]) for e in dated}
    assert "undated air attack RUS→UKR: 273 drones launched" in dom  # the record night, listed


# ----------------------------------------------------------------------------- progress, summary, help


def bulk_corpus(path: Path, count: int) -> None:
    """`count` distinct wire articles built from the samples' JSONL (each a different item)."""
    lines = [json.loads(x) for x in (SAMPLES / "articles" / "continental-newswire_wire-2025.jsonl").open()]
    with path.open("w") as f:
        for i in range(count):
            article = dict(lines[i % len(lines)], id=f"bulk-{i}")
            article["url"] += f"?item={i}"
            article["text"] = f"Item {i} of the wire digest.\n\n" + article["text"]
            f.write(json.dumps(article) + "\n")


PROGRESS_LINE = re.compile(
    r"^newsmon: (done: )?([\d,]+) records read, ([\d,]+) articles through extraction, ([\d,]+) written "
    r"\| ([\d,.]+) articles/s \| elapsed \d+:\d\d:\d\d$",
    re.MULTILINE,
)


def test_a_large_run_shows_progress_and_a_small_one_does_not(samples_output, tmp_path):
    corpus = tmp_path / "bulk.jsonl"
    bulk_corpus(corpus, 600)
    done = newsmon("run", "--input", str(corpus), "--output", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    lines = PROGRESS_LINE.findall(done.stderr)
    assert lines and "\r" not in done.stderr  # stderr is a pipe here: plain lines
    final = lines[-1]
    assert final[0] == "done: " and final[1:4] == ("600", "600", "600") and float(final[4]) > 0
    assert sum(1 for line in lines if line[0]) == 1
    assert "newsmon: read 600 records from 1 source: 600 articles (" in done.stderr

    _, small = samples_output  # 29 records: the summary only, in plain English
    assert not PROGRESS_LINE.search(small)
    assert "from 3 sources: 29 articles (1 copy of another), 0 rejected" in small


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_redraws_one_line():
    from pipeline.progress import Progress
    from transforms.counters import tick

    stream = _Terminal()
    with Progress(stream, min_records=300, tty_interval=0.01) as progress:
        tick("read", 299)
        time.sleep(0.05)
        assert progress.shown == 0  # under the threshold: nothing yet
        tick("read", 301)
        tick("extracted", 120)
        deadline = time.monotonic() + 30
        while progress.shown == 0 and time.monotonic() < deadline:
            threading.Event().wait(0.01)
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and text.count("\n") == 1
    assert text.count("\r") == progress.shown
    last = text.rsplit("\r", 1)[1]
    assert PROGRESS_LINE.match(last.replace("\x1b[K", "").strip()).group(2) == "600"


def test_help_lists_every_option_and_table_and_version_is_the_package_one():
    import argparse
    from importlib.metadata import version

    from pipeline.options import NewsmonOptions
    from schemas import TABLES

    parser = argparse.ArgumentParser()
    NewsmonOptions._add_argparse_args(parser)
    flags = [s for a in parser._actions for s in a.option_strings if s.startswith("--") and s != "--help"]
    helped = newsmon("run", "--help")
    assert helped.returncode == 0
    assert {"--dedup-horizon", "--lsh-partitions", "--spacy-model"} <= set(flags)
    assert all(re.search(rf"^\s+{re.escape(f)}\b", helped.stdout, re.MULTILINE) for f in flags), helped.stdout
    assert all(f"{t}/" in helped.stdout for t in TABLES)
    top = newsmon("--help")
    assert top.returncode == 0 and "newsmon report OUT" in top.stdout and "events/" in top.stdout
    report_help = newsmon("report", "--help")
    assert all(f in report_help.stdout for f in ("--html", "--groundtruth", "--windows", "--events"))
    shown = newsmon("--version")
    assert shown.returncode == 0 and shown.stdout.strip() == f"newsmon {version('newsmon')}"
