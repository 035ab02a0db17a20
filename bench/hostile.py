"""Hostile-input benchmark: wall time and peak RSS of `newsmon run` per hostile case.

    .venv/bin/python bench/hostile.py [--repeat 3] [--only NAME …]

Every case of tests/test_hostile.py (files built the same way; HTTP cases served by a real
server on 127.0.0.1 started here), plus the large ones the test suite leaves out, is read by
its own `newsmon run` at the default limits (--max-bytes 10MB, --fetch-deadline 120s; the
trickling server gets --fetch-deadline 10s). Peak RSS is the child's own (os.wait4's rusage),
time is wall time; the median of --repeat runs. Like with like: each case is compared with
the same command over one small good article (the fixed cost of starting Beam and spaCy), and
the ratio is reported. Prints a table and writes bench/results/hostile.json.
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
import threading
import time
import zlib
from http.server import ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
RESULTS = ROOT / "bench" / "results" / "hostile.json"

import test_hostile as th  # noqa: E402 - the cases of the test suite, built the same way


def big_gzip_bomb(path: Path, megabytes: int = 3300) -> None:
    """The issue's case: a .txt.gz of 3.2 MB that inflates to 3.3 GB (built 1 MB at a time;
    level 9, so that it is under --max-bytes on disk and only its decompressed size is over)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"a" * (1024 * 1024)
    with open(path, "wb") as f:
        for _ in range(megabytes):
            f.write(z.compress(block))
        f.write(z.flush())


def cases(folder: Path, server: str) -> dict[str, list[str]]:
    """case name -> the newsmon arguments that read it."""
    runs: dict[str, list[str]] = {}
    good = folder / "baseline"
    good.mkdir()
    (good / "good.txt").write_bytes(th.english("baseline"))
    runs["baseline: one good article"] = ["--input", str(good)]
    for case in th.CASES:
        runs[case.name] = ["--input", str(th.build(case, folder))]
    runs["/dev/zero"] = ["--input", "/dev/zero"]
    big = folder / "big"
    big.mkdir()
    big_gzip_bomb(big / "bomb-3300MB.txt.gz")
    runs["gzip-bomb-3.3GB"] = ["--input", str(big / "bomb-3300MB.txt.gz")]
    (big / "feed-10k.rss").write_bytes(th.rss("".join(th.item(n, tag="bench") for n in range(10_000))))
    runs["feed-10k-entries"] = ["--input", str(big / "feed-10k.rss")]
    for path in th.HTTP_CASES:
        runs[f"http {path}"] = ["--feed", server + path]
    runs["http /trickle"] += ["--fetch-deadline", "10s"]
    runs["http /trickle-headers"] += ["--fetch-deadline", "10s"]
    everything: list[str] = []
    for name, case_args in runs.items():
        pairs = list(zip(case_args[::2], case_args[1::2], strict=True))
        if not name.startswith(("baseline", "feed-10k")):  # the 10k feed is throughput, measured alone
            everything += [a for flag, value in pairs if flag != "--fetch-deadline" for a in (flag, value)]
    runs["all of the above in one run"] = [*everything, "--fetch-deadline", "10s"]
    return runs


def measure(args: list[str], out: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit status) of one `newsmon run` in its own process."""
    command = [sys.executable, "-m", "pipeline.cli", "run", *args, "--output", str(out)]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, process.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="case names to run (default: all)")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), th.HostileHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = cases(folder, base)
        names = [n for n in runs if not args.only or n in args.only or n.startswith("baseline")]
        for name in names:
            th.HostileHandler.flaky_calls = 0  # each run of /flaky.rss starts with its 500
            results = [measure(runs[name], folder / f"out-{len(rows)}-{i}") for i in range(args.repeat)]
            seconds = statistics.median(r[0] for r in results)
            rss = statistics.median(r[1] for r in results)
            rows.append({"case": name, "seconds": round(seconds, 2), "peak_rss_mb": round(rss, 1),
                         "exit": sorted({r[2] for r in results})})  # fmt: skip
            print(f"{name:<32} {seconds:7.2f} s {rss:8.1f} MB  exit {rows[-1]['exit']}", flush=True)
    server.shutdown()
    baseline = rows[0]
    for row in rows:
        row["time_ratio"] = round(row["seconds"] / baseline["seconds"], 2)
        row["rss_ratio"] = round(row["peak_rss_mb"] / baseline["peak_rss_mb"], 2)
    print("\n| case | seconds | peak RSS MB | exit | time / baseline | RSS / baseline |\n|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['case']} | {row['seconds']} | {row['peak_rss_mb']} | {','.join(map(str, row['exit']))} | "
              f"{row['time_ratio']} | {row['rss_ratio']} |")  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    if args.only and RESULTS.exists():  # a partial run updates its cases in the last full results
        measured = {row["case"]: row for row in rows if not row["case"].startswith("baseline")}  # keep its own
        previous = json.loads(RESULTS.read_text())["cases"]
        rows = [measured.pop(row["case"], row) for row in previous] + list(measured.values())
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "hostile inputs: newsmon run per case, median of runs, default limits",
                "repeat": args.repeat,
                "limits": {"max_bytes": "10MB", "fetch_deadline": "120s (10s for the trickling server)"},
                "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
                "date": time.strftime("%Y-%m-%d"),
                "cases": rows,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
