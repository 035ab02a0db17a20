"""Streaming latency on Prism: publish -> webhook receipt, and publish -> Parquet row.

A feed server on 127.0.0.1 publishes one article a second for --seconds while
`newsmon run --streaming --poll-interval 1s --window 1s --alerts RULES` runs against it on
PrismRunner. Every item reports a new figure of one night's attack (air defence shot down n+2
drones), so every item makes a new version of that event, and the rule (every air attack, on
new and updated versions) posts one Standard Webhook per version to a receiver on 127.0.0.1
(signed; the receiver notes when each webhook-id first came); with --nights N the items are
dated 0 to N-1 days back in turn, so they report N nights: N events share the versions (the
common case: many events, few reports each). The bench also watches
OUT/articles for when each item's row first appears in a finished Parquet file, and samples
the job's memory (the resident set of its whole process group: the CLI with its LOOPBACK
workers, and Prism) every second.

Prints a table and writes bench/results/latency.json: median and p95 seconds from publish to
webhook receipt and to Parquet row, alerts received vs expected (one per item), rows found vs
published, peak memory with the memory of the first and the last quarter of the run (flat?;
also Prism's own, the rest being the CLI with its workers),
and the machine's load average before and after (the machine is shared: compare runs made at
the same load). Median of --repeat runs.

    .venv/bin/python bench/latency.py [--seconds 120] [--repeat 3] [--nights 1] [--idle] [--result FILE]

With --idle the feed shows its first item and nothing more: the job polls an unchanged feed
every second, which is what a poll alone costs in memory.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.record import write_result  # noqa: E402
from pipeline.runners import find_prism  # noqa: E402

STARTUP_S = 90  # Prism, the workers and spaCy start before the first item is published
SECRET = "whsec_" + base64.b64encode(b"newsmon latency bench secret 32b").decode()
RULES = """
destinations:
  hook: {{type: webhook, url: "{url}", secret_env: NEWSMON_WEBHOOK_SECRET}}
rules:
  - name: attacks
    when: {{event_type: air_attack}}
    notify: [hook]
    on: [new, updated]
"""


class Feed:
    """Item n reports n + 2 drones shot down overnight. With `nights` > 1 the item is dated
    (n % nights) days back (its pubDate), so it reports another night: each night an event."""

    def __init__(self, nights: int = 1) -> None:
        self.items: list[tuple[str, str, datetime]] = []
        self.lock = threading.Lock()
        self.nights = nights

    def publish(self, n: int) -> float:
        now = datetime.now(timezone.utc)
        text = (
            f"Item {n}: air defence units shot down {n + 2} drones over the Sumy region overnight, the governor said."
        )
        dated = now - timedelta(days=n % self.nights)
        with self.lock:
            self.items.append((f"http://127.0.0.1/item/{n}", text, dated))
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


class Receiver:
    """Webhook receiver: when each webhook-id first came, and the figure of its event version
    (which item it alerts for). Checks the Standard Webhooks signature (HMAC-SHA256)."""

    def __init__(self) -> None:
        self.first: dict[str, tuple[float, int | None]] = {}  # webhook-id -> (received, drones_shot_down)
        self.posts = 0
        self.forged = 0
        self.lock = threading.Lock()

    def handle(self, headers: Any, body: bytes) -> None:
        now = time.time()
        key = base64.b64decode(SECRET.removeprefix("whsec_"))
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
        expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        event = json.loads(body)["data"]["event"]
        with self.lock:
            self.posts += 1
            self.forged += expected not in headers.get("webhook-signature", "").split()
            self.first.setdefault(headers["webhook-id"], (now, event.get("drones_shot_down")))


def serve(feed: Feed, receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = feed.body()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            receiver.handle(self.headers, self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def group_rss_mb(pgid: int) -> tuple[float, float]:
    """Resident memory of every process in the group (from /proc): (all, Prism's alone)."""
    total = prism = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            with open(f"/proc/{pid}/status") as f:
                status = f.read()
        except (OSError, ProcessLookupError):
            continue
        name = status.split("\n", 1)[0].split()[-1]
        rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        total += rss
        prism += rss if name == "prism" else 0
    return total / 1024, prism / 1024


def stop(job: subprocess.Popen, server: ThreadingHTTPServer) -> None:
    """Stop the job as Ctrl-C would (SIGTERM to its process group; SIGKILL after a minute), then
    the feed server."""
    os.killpg(job.pid, signal.SIGTERM)
    try:
        job.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
    server.shutdown()


def seen_rows(out: Path, seen_files: set[Path], first_seen: dict[str, float]) -> None:
    for path in (out / "articles").glob("window_start=*/part-*.parquet"):
        if path in seen_files:
            continue
        seen_files.add(path)
        now = time.time()
        for url in pq.read_table(path, columns=["url"]).column("url").to_pylist():
            first_seen.setdefault(url, now)


def one_run(
    seconds: int, prism: str, keep: str | None = None, extra: tuple[str, ...] = (), nights: int = 1, idle: bool = False
) -> dict:
    feed, receiver = Feed(nights), Receiver()
    server = serve(feed, receiver)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    load_before = os.getloadavg()
    folder = contextlib.nullcontext(tempfile.mkdtemp(dir=keep)) if keep else tempfile.TemporaryDirectory()
    with folder as tmp:
        out, rules = Path(tmp) / "out", Path(tmp) / "rules.yaml"
        if keep:
            print(f"run kept in {tmp}", file=sys.stderr)
        rules.write_text(RULES.format(url=f"{base}/hook"))
        args = [sys.executable, "-m", "pipeline.cli", "run", "--streaming", "--feed", f"{base}/feed.rss"]
        args += ["--output", str(out), "--alerts", str(rules)]
        args += ["--poll-interval", "1s", "--window", "1s", f"--prism_location={prism}", *extra]
        if nights > 1:  # items dated up to `nights` days back: not too late for their windows
            args += ["--allowed-lateness", f"{nights + 1}d"]
        log = open(Path(tmp) / "job.log", "wb")
        env = dict(os.environ, NEWSMON_WEBHOOK_SECRET=SECRET)
        job = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        memory: list[float] = []
        prism_memory: list[float] = []
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
            # items on whole seconds: an RSS pubDate has whole seconds, and two items of one
            # second would tie in publication order (MergeEvents then orders them by id)
            start = float(int(time.time()) + 1)
            n = 0
            while time.time() - start < seconds:
                if time.time() - start >= n:
                    if not idle:
                        published[f"http://127.0.0.1/item/{n}"] = feed.publish(n)
                    everything, prism_alone = group_rss_mb(job.pid)
                    memory.append(everything)
                    prism_memory.append(prism_alone)
                    n += 1
                seen_rows(out, seen_files, first_seen)
                time.sleep(0.1)
            drain = time.time() + 30
            while time.time() < drain and not (
                all(u in first_seen for u in published) and len(receiver.first) >= len(published) + 1
            ):
                seen_rows(out, seen_files, first_seen)
                time.sleep(0.25)
        finally:
            stop(job, server)
    latencies = sorted(first_seen[u] - t for u, t in published.items() if u in first_seen)
    # item n reports n + 2 drones shot down: its alert is the version with that figure
    received = {figure: at for at, figure in receiver.first.values()}
    alert_latencies = sorted(
        received[int(u.rsplit("/", 1)[1]) + 2] - t
        for u, t in published.items()
        if int(u.rsplit("/", 1)[1]) + 2 in received
    )
    quarter = max(1, len(memory) // 4)
    return {
        "published": len(published),
        "alerts_expected": len(published),
        "alerts_received": len(alert_latencies),
        "alerts_twice": receiver.posts - len(receiver.first),
        "bad_signatures": receiver.forged,
        "webhook_median_s": _median(alert_latencies),
        "webhook_p95_s": _p95(alert_latencies),
        "rows_found": len(latencies),
        "row_median_s": _median(latencies),
        "row_p95_s": _p95(latencies),
        "peak_mb": round(max(memory), 1),
        "first_quarter_mb": round(statistics.mean(memory[:quarter]), 1),
        "last_quarter_mb": round(statistics.mean(memory[-quarter:]), 1),
        "prism_first_quarter_mb": round(statistics.mean(prism_memory[:quarter]), 1),
        "prism_last_quarter_mb": round(statistics.mean(prism_memory[-quarter:]), 1),
        # one sample a second: the mean of each minute, to see whether the growth levels off
        "mb_by_minute": _by_minute(memory),
        "prism_mb_by_minute": _by_minute(prism_memory),
        "load_before": round(load_before[0], 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def _by_minute(samples: list[float]) -> list[float]:
    return [round(statistics.mean(samples[i : i + 60]), 1) for i in range(0, len(samples), 60)]


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _p95(values: list[float]) -> float | None:
    return round(values[int(0.95 * (len(values) - 1))], 2) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", metavar="DIR", help="keep each run's OUT and job log in a folder under DIR")
    parser.add_argument(
        "--job-arg", action="append", default=[], metavar="ARG", help="one more argument for the job (repeatable)"
    )
    parser.add_argument(
        "--idle",
        action="store_true",
        help="publish nothing after the first item: the job polls an unchanged feed (what polling alone costs)",
    )
    parser.add_argument(
        "--result", type=Path, default=ROOT / "bench" / "results" / "latency.json", help="where the JSON goes"
    )
    parser.add_argument(
        "--nights",
        type=int,
        default=1,
        metavar="N",
        help="items report N nights in turn (dated 0 to N-1 days back; N events, each with seconds/N versions, "
        "and --allowed-lateness N+1 days); default 1: one event",
    )
    args = parser.parse_args()
    if args.nights < 1:
        parser.error(f"--nights {args.nights}: want at least 1")
    prism = find_prism()
    if prism is None:
        sys.exit("no Prism binary: run `make prism`")
    runs = [
        one_run(args.seconds, prism, args.keep, tuple(args.job_arg), args.nights, args.idle) for _ in range(args.repeat)
    ]
    keys = list(runs[0])
    print(" ".join(f"{k:>17}" for k in ["run", *keys]))
    for i, r in enumerate(runs, 1):
        print(" ".join(f"{v!s:>17}" for v in [i, *(r[k] for k in keys)]))
    scalars = [k for k in keys if not isinstance(runs[0][k], list)]
    median = {k: statistics.median([r[k] for r in runs if r[k] is not None] or [0]) for k in scalars}
    print(" ".join(f"{v!s:>17}" for v in ["median", *(median.get(k, "") for k in keys)]))
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime: {uptime}")
    result = {
        "what": "publish -> webhook receipt and -> Parquet row, newsmon run --streaming --poll-interval 1s "
        "--window 1s --alerts (one rule, one webhook on 127.0.0.1) on PrismRunner",
        "job_args": args.job_arg,
        "nights": args.nights,
        "idle": args.idle,
        "seconds": args.seconds,
        "runs": runs,
        "median": median,
        "uptime_after": uptime,
    }
    write_result(args.result, result)


if __name__ == "__main__":
    main()
