"""Streaming latency on Prism: publish -> Parquet row.

A feed server on 127.0.0.1 publishes one article a second for --seconds while
`newsmon run --streaming --poll-interval 1s --window 1s` runs against it on PrismRunner. The
bench watches OUT/articles and records, for each item, when its row first appears in a
finished Parquet file; it samples the job's memory (the resident set of its whole process
group: the CLI with its LOOPBACK workers, and Prism) every second.

Prints a table and writes bench/results/latency.json: median and p95 seconds from publish to
Parquet row, rows found vs published, and peak memory, with the memory of the first and the
last quarter of the run to show whether it stays flat. Median of --repeat runs.

Webhook deliveries (publish -> webhook receipt) come with issue 9's alert hooks; until they are
on this branch the end of the path measured is the Parquet row.

    .venv/bin/python bench/latency.py [--seconds 120] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.runners import find_prism  # noqa: E402

STARTUP_S = 90  # Prism, the workers and spaCy start before the first item is published


class Feed:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, datetime]] = []
        self.lock = threading.Lock()

    def publish(self, n: int) -> float:
        now = datetime.now(timezone.utc)
        text = (
            f"Item {n}: air defence units shot down {n + 2} drones over the Sumy region overnight, the governor said."
        )
        with self.lock:
            self.items.append((f"http://127.0.0.1/item/{n}", text, now))
        return now.timestamp()

    def body(self) -> bytes:
        with self.lock:
            items = self.items[-50:]  # a feed shows its latest items
        xml = "".join(
            f"<item><title>Item {link.rsplit('/', 1)[1]}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>{format_datetime(at)}</pubDate><description>{text}</description></item>"
            for link, text, at in reversed(items)
        )
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bench</title>{xml}</channel></rss>'.encode()


def serve(feed: Feed) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = feed.body()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def group_rss_mb(pgid: int) -> float:
    """Resident memory of every process in the group (from /proc)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (OSError, ProcessLookupError):
            continue
    return total / 1024


def seen_rows(out: Path, seen_files: set[Path], first_seen: dict[str, float]) -> None:
    for path in (out / "articles").glob("window_start=*/part-*.parquet"):
        if path in seen_files:
            continue
        seen_files.add(path)
        now = time.time()
        for url in pq.read_table(path, columns=["url"]).column("url").to_pylist():
            first_seen.setdefault(url, now)


def one_run(seconds: int, prism: str) -> dict:
    feed = Feed()
    server = serve(feed)
    url = f"http://127.0.0.1:{server.server_address[1]}/feed.rss"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        args = [sys.executable, "-m", "pipeline.cli", "run", "--streaming", "--feed", url, "--output", str(out)]
        args += ["--poll-interval", "1s", "--window", "1s", f"--prism_location={prism}"]
        log = open(Path(tmp) / "job.log", "wb")
        job = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        memory: list[float] = []
        published: dict[str, float] = {}
        first_seen: dict[str, float] = {}
        seen_files: set[Path] = set()
        try:
            feed.publish(-1)  # a first item: the bench waits until the job has written it
            deadline = time.time() + STARTUP_S
            while time.time() < deadline and not first_seen:
                seen_rows(out, seen_files, first_seen)
                time.sleep(0.5)
            if not first_seen:
                tail = Path(tmp, "job.log").read_text()[-2000:]
                raise RuntimeError(f"the job wrote nothing in its first {STARTUP_S}s:\n{tail}")
            start = time.time()
            n = 0
            while time.time() - start < seconds:
                if time.time() - start >= n:
                    published[f"http://127.0.0.1/item/{n}"] = feed.publish(n)
                    memory.append(group_rss_mb(job.pid))
                    n += 1
                seen_rows(out, seen_files, first_seen)
                time.sleep(0.1)
            drain = time.time() + 30
            while time.time() < drain and not all(u in first_seen for u in published):
                seen_rows(out, seen_files, first_seen)
                time.sleep(0.25)
        finally:
            os.killpg(job.pid, signal.SIGTERM)
            try:
                job.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(job.pid, signal.SIGKILL)
            server.shutdown()
    latencies = sorted(first_seen[u] - t for u, t in published.items() if u in first_seen)
    quarter = max(1, len(memory) // 4)
    return {
        "published": len(published),
        "rows_found": len(latencies),
        "median_s": round(statistics.median(latencies), 2) if latencies else None,
        "p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 2) if latencies else None,
        "peak_mb": round(max(memory), 1),
        "first_quarter_mb": round(statistics.mean(memory[:quarter]), 1),
        "last_quarter_mb": round(statistics.mean(memory[-quarter:]), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    prism = find_prism()
    if prism is None:
        sys.exit("no Prism binary: run `make prism`")
    runs = [one_run(args.seconds, prism) for _ in range(args.repeat)]
    keys = ["published", "rows_found", "median_s", "p95_s", "peak_mb", "first_quarter_mb", "last_quarter_mb"]
    print(f"{'run':>4} " + " ".join(f"{k:>16}" for k in keys))
    for i, r in enumerate(runs, 1):
        print(f"{i:>4} " + " ".join(f"{r[k]!s:>16}" for k in keys))
    median = {k: statistics.median(r[k] for r in runs if r[k] is not None) for k in keys}
    print("median " + " ".join(f"{median[k]!s:>16}" for k in keys))
    result = {
        "what": "publish -> Parquet row, newsmon run --streaming --poll-interval 1s --window 1s on PrismRunner",
        "seconds": args.seconds,
        "runs": runs,
        "median": median,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
    }
    Path(ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "latency.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
