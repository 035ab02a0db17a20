"""What continuing an OUT costs: a small run into an empty OUT and into one with 100k articles.

    .venv/bin/python bench/state.py [--articles 100000] [--days 60] [--repeat 3]

Builds, with pyarrow, an OUT holding N articles (hourly windows over --days, ~100 words each,
the last 72 h of them near-duplicate candidates) and N/10 events (versions 1-2), as newsmon
writes them. Then, each in its own process (peak memory is its own), median of --repeat:
  empty     `newsmon run` of the bundled samples (29 records) into an empty OUT
  into-100k the same run into a fresh copy of the 100k OUT: it reads what it needs of OUT
            (transforms/state.py) and writes the 29 new articles
  bare-read a plain loop with pyarrow alone (no Beam) reading what the run reads of OUT: the
            same columns of every articles/ and events/ file, the text of the last horizon's
The figure: what reading the state adds to a run (into-100k − empty), against bare-read.
Prints a table and writes bench/results/state.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "state.json"
SAMPLES = [
    "--input",
    str(ROOT / "samples" / "articles"),
    "--feeds-file",
    str(ROOT / "samples" / "feeds" / "feeds.opml"),
]
END = datetime(2025, 3, 1, tzinfo=timezone.utc)  # before the samples: their events are new ones


def build_out(out: Path, n: int, days: int) -> None:
    """N articles and N/10 events in hourly windows, written as newsmon writes them."""
    from schemas import to_arrow
    from schemas.records import stable_id
    from transforms.write import write_parquet

    rng = random.Random(7)
    vocabulary = [hashlib.sha256(str(i).encode()).hexdigest()[:7] for i in range(5000)]
    hours = days * 24
    by_window: dict[datetime, list[dict]] = {}
    for i in range(n):
        published = END - timedelta(hours=hours) + timedelta(seconds=rng.randrange(hours * 3600))
        text = " ".join(rng.choice(vocabulary) for _ in range(100))
        content = hashlib.sha256(text.encode()).hexdigest()[:32]
        by_window.setdefault(published.replace(minute=0, second=0, microsecond=0), []).append(
            {
                "article_id": stable_id("bench", str(i)),
                "url": f"https://bench.example/{i}",
                "outlet": f"Outlet {i % 40}",
                "title": f"Bulletin {i}",
                "text": text,
                "published_at": published,
                "ingested_at": END,
                "source": f"bench/{i // 1000}.jsonl",
                "language": "en",
                "content_hash": content,
                "story_id": stable_id("story", str(i // 3)),
                "duplicate_of": None,
                "similarity": None,
                "exact_copy": False,
                "external_id": None,
                "locator": f"line {i % 1000}",
                "origin": "bench",
            }
        )
    for window, rows in by_window.items():
        folder = out / "articles" / f"window_start={window:%Y%m%dT%H%M%SZ}"
        write_parquet(to_arrow("articles", rows), str(folder / f"part-{stable_id(str(window))}-000.parquet"))
    events: dict[datetime, list[dict]] = {}
    windows = sorted(by_window)
    for k in range(n // 10):
        window = windows[k % len(windows)]
        article = by_window[window][0]
        day = (window + timedelta(hours=3)).date()
        for version in (1, 2) if k % 4 == 0 else (1,):
            events.setdefault(window, []).append(
                {
                    "event_id": stable_id("event", str(k)),
                    "version": version,
                    "event_type": "air_attack",
                    "event_date": date(day.year, day.month, day.day),
                    "story_id": article["story_id"],
                    "article_ids": [article["article_id"]],
                    "source_count": 1,
                    "evidence": [],
                    "claims": [
                        {
                            "field": "drones_launched",
                            "value": str(50 + k % 200 + version),
                            "claimant": None,
                            "article_id": article["article_id"],
                            "start": 0,
                            "end": 10,
                        }
                    ],
                    "first_seen_at": article["published_at"],
                    "updated_at": article["published_at"],
                    "attacker": "RUS",
                    "target": f"T{k}",  # a distinct identity: one event per key
                    "drones_launched": 50 + k % 200 + version,
                }
            )
    for window, rows in events.items():
        folder = out / "events" / f"window_start={window:%Y%m%dT%H%M%SZ}"
        write_parquet(to_arrow("events", rows), str(folder / f"part-{stable_id('e', str(window))}-000.parquet"))


def timed(args: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS MB) of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{args[:4]} failed: {process.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


BARE = """
import glob, json, sys, time
import pyarrow.parquet as pq
out, articles_columns, events_columns, recent = sys.argv[1], *map(json.loads, sys.argv[2:5])
rows = 0
for path in sorted(glob.glob(f"{out}/articles/window_start=*/part-*.parquet")):
    text = ["text"] if path.split("/")[-2] >= recent else []
    rows += pq.read_table(path, columns=articles_columns + text).num_rows
for path in sorted(glob.glob(f"{out}/events/window_start=*/part-*.parquet")):
    rows += pq.read_table(path, columns=events_columns).num_rows
print(rows)
"""


def bare_args(out: Path) -> list[str]:
    """The plain loop: pyarrow alone (no Beam, no newsmon import), the same columns and files."""
    from transforms.state import ARTICLE_COLUMNS, EVENT_COLUMNS, last_horizon, table_files

    recent = min(f.window_start for f in last_horizon(table_files(str(out), "articles"), timedelta(hours=72)))
    folder = f"window_start={recent:%Y%m%dT%H%M%SZ}"
    columns = [json.dumps(ARTICLE_COLUMNS), json.dumps(EVENT_COLUMNS), json.dumps(folder)]
    return [sys.executable, "-c", BARE, str(out), *columns]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--build", help=argparse.SUPPRESS)  # internal: only build the OUT there
    args = parser.parse_args()
    if args.build:
        build_out(Path(args.build), args.articles, args.days)
        return
    newsmon = [sys.executable, "-m", "pipeline.cli", "run", *SAMPLES]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "out-100k"
        started = time.perf_counter()  # built in its own process: a child forked from a big parent
        build = [
            sys.executable,
            __file__,
            "--build",
            str(base),
            "--articles",
            str(args.articles),
            "--days",
            str(args.days),
        ]
        subprocess.run(build, check=True, cwd=ROOT)  # would count the parent's pages in its peak RSS
        files = sum(1 for _ in base.rglob("*.parquet"))
        size = sum(p.stat().st_size for p in base.rglob("*.parquet")) / 2**20
        took = time.perf_counter() - started
        print(f"built OUT: {args.articles} articles, {files} files, {size:.0f} MB in {took:.0f} s")
        results: dict[str, list[tuple[float, float]]] = {"empty": [], "into-100k": [], "bare-read": []}
        for r in range(args.repeat):
            empty = Path(tmp) / f"empty-{r}"
            results["empty"].append(timed([*newsmon, "--output", str(empty)]))
            copy = Path(tmp) / f"copy-{r}"
            shutil.copytree(base, copy)
            results["into-100k"].append(timed([*newsmon, "--output", str(copy)]))
            results["bare-read"].append(timed(bare_args(copy)))
            shutil.rmtree(copy)
            shutil.rmtree(empty)
    median = {k: (statistics.median(s for s, _ in v), statistics.median(m for _, m in v)) for k, v in results.items()}
    added = median["into-100k"][0] - median["empty"][0]
    print(f"\n{'case':<11} {'seconds':>8} {'peak MB':>8}   (median of {args.repeat})")
    for name, (seconds, mb) in median.items():
        print(f"{name:<11} {seconds:>8.1f} {mb:>8.0f}")
    bare = median["bare-read"][0]
    print(
        f"reading the state of {args.articles} articles adds {added:.1f} s to a run; "
        f"the bare pyarrow read takes {bare:.1f} s (ratio {added / bare:.1f})"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                "command": "python bench/state.py " + " ".join(sys.argv[1:]),
                "articles_in_out": args.articles,
                "days": args.days,
                "runs": {k: [{"seconds": round(s, 2), "peak_mb": round(m)} for s, m in v] for k, v in results.items()},
                "median": {k: {"seconds": round(s, 2), "peak_mb": round(m)} for k, (s, m) in median.items()},
                "added_seconds": round(added, 2),
                "ratio_to_bare_read": round(added / median["bare-read"][0], 2),
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
