"""What a stream keeps in memory per article: the job's resident memory after a burst of items.

    .venv/bin/python bench/stream_memory.py [--items 1000] [--repeat 3]

A feed server on 127.0.0.1 shows one item; `newsmon run --streaming --poll-interval 1s` on
PrismRunner polls it. Once that item's row is written the bench notes the job's memory (the
resident set of the CLI, which runs the LOOPBACK workers as threads, and of Prism apart), then
the feed shows --items distinct items at once (short air-attack reports, dated the last
--items seconds). When every row is written it samples the memory for a minute and takes the
last sample. The figure is (after - before) / items, in KB, for the CLI and for Prism, under
three settings, interleaved, median of --repeat:

  glibc-arenas   MALLOC_ARENA_MAX=16 (glibc's default on 2 cores: 8 per core), the default horizon
  default        newsmon as it runs: 2 arenas (pipeline/malloc.py), --dedup-horizon 72h
  horizon-1s     2 arenas, --dedup-horizon=1s: every kept value expires a second after it came,
                 so what remains is what is kept per key once its state is cleared

Prints a table and writes bench/results/stream_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.latency import RULES, SECRET, STARTUP_S, Receiver, group_rss_mb, seen_rows, serve, stop  # noqa: E402
from pipeline.runners import find_prism  # noqa: E402

SETTINGS = {
    "glibc-arenas": ({"MALLOC_ARENA_MAX": str(8 * (os.cpu_count() or 1))}, []),
    "default": ({}, []),
    "horizon-1s": ({}, ["--dedup-horizon=1s"]),
}
REGIONS = ["Sumy", "Kharkiv", "Odesa", "Dnipro", "Kyiv", "Lviv", "Poltava", "Chernihiv"]
SETTLE_S = 60  # samples after the last row, one a second
DRAIN_S = 900  # at most this long for every row


class BurstFeed:
    """A feed of `n` distinct items, of which the first `visible` are shown."""

    def __init__(self, n: int) -> None:
        now = datetime.now(timezone.utc)
        self.visible = 1
        self.items = [
            (
                f"http://127.0.0.1/item/{i}",
                f"Item {i}: air defence units shot down {i % 90 + 2} drones over the {REGIONS[i % 8]} region "
                f"overnight, the governor said. Officials counted {i % 7} damaged homes in district {i}.",
                now - timedelta(seconds=n - i),
            )
            for i in range(n)
        ]

    def body(self) -> bytes:
        xml = "".join(
            f"<item><title>Item {link.rsplit('/', 1)[1]}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>{format_datetime(at)}</pubDate><description>{text}</description></item>"
            for link, text, at in self.items[: self.visible]
        )
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Burst</title>{xml}</channel></rss>'.encode()


def one_run(items: int, setting: str, prism: str) -> dict:
    env_extra, job_args = SETTINGS[setting]
    feed = BurstFeed(items)
    server = serve(feed, Receiver())
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        out, rules = Path(tmp) / "out", Path(tmp) / "rules.yaml"
        rules.write_text(RULES.format(url=f"{base}/hook"))
        args = [sys.executable, "-m", "pipeline.cli", "run", "--streaming", "--feed", f"{base}/feed.rss"]
        args += ["--output", str(out), "--alerts", str(rules), "--poll-interval", "1s", "--window", "1s"]
        args += ["--allowed-lateness", "2d", f"--prism_location={prism}", *job_args]
        env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
        env.update(env_extra, NEWSMON_WEBHOOK_SECRET=SECRET)
        log = open(Path(tmp) / "job.log", "wb")
        job = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        seen: set[Path] = set()
        first: dict[str, float] = {}
        try:
            deadline = time.time() + STARTUP_S
            while not first and time.time() < deadline:
                seen_rows(out, seen, first)
                time.sleep(0.5)
            if not first:
                tail = Path(tmp, "job.log").read_text()[-2000:]
                raise RuntimeError(f"the job wrote nothing in {STARTUP_S}s:\n{tail}")
            time.sleep(5)
            before = group_rss_mb(job.pid)
            feed.visible = items
            started = time.time()
            while len(first) < items and time.time() - started < DRAIN_S:
                seen_rows(out, seen, first)
                time.sleep(1)
            took = time.time() - started
            samples = []
            for _ in range(SETTLE_S):
                samples.append(group_rss_mb(job.pid))
                time.sleep(1)
        finally:
            stop(job, server)
    after = samples[-1]
    cli_before, cli_after = before[0] - before[1], after[0] - after[1]
    return {
        "setting": setting,
        "rows": len(first),
        "seconds_to_all_rows": round(took, 1),
        "cli_mb_before": round(cli_before, 1),
        "cli_mb_after": round(cli_after, 1),
        "prism_mb_before": round(before[1], 1),
        "prism_mb_after": round(after[1], 1),
        "cli_kb_per_article": round((cli_after - cli_before) * 1024 / items, 1),
        "prism_kb_per_article": round((after[1] - before[1]) * 1024 / items, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--settings", default=",".join(SETTINGS), help="which, comma-separated (default: all)")
    args = parser.parse_args()
    settings = args.settings.split(",")
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown or args.items < 1 or args.repeat < 1:
        parser.error(f"want --items and --repeat of at least 1 and settings among {', '.join(SETTINGS)}")
    prism = find_prism()
    if prism is None:
        sys.exit("no Prism binary: run `make prism`")
    load_before = os.getloadavg()[0]
    runs = [one_run(args.items, s, prism) for _ in range(args.repeat) for s in settings]  # interleaved
    keys = [k for k in runs[0] if k != "setting"]
    print(f"{'setting':>13} " + " ".join(f"{k:>20}" for k in keys))
    median = {}
    for s in settings:
        mine = [r for r in runs if r["setting"] == s]
        median[s] = {k: statistics.median(r[k] for r in mine) for k in keys}
        for r in mine:
            print(f"{s:>13} " + " ".join(f"{r[k]!s:>20}" for k in keys))
        print(f"{'median':>13} " + " ".join(f"{median[s][k]!s:>20}" for k in keys))
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime: {uptime}")
    result = {
        "what": f"resident memory per article after {args.items} feed items at once, newsmon run --streaming on "
        "PrismRunner; CLI (with its LOOPBACK workers) and Prism apart",
        "items": args.items,
        "runs": runs,
        "median": median,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
        "load_before": round(load_before, 2),
        "uptime_after": uptime,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "stream_memory.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
