"""Near-duplicate benchmark: MarkCopies + AssignStories in Beam vs datasketch.MinHashLSH.

    .venv/bin/python bench/dedup.py [--items 100000]

Items: the 16,545 real titles of ../shared/data/ruwa (title and subheading, with their date and
site), then generated items up to N: 20 % near-copies of an earlier item (an outlet's tag added,
a word dropped), the rest new texts recombined from the halves of two titles. Each side runs in
its own process (peak memory is its own):
  newsmon    the article rows (read from a pickle file) -> MarkCopies -> AssignStories (no
             events: every item is grouped by its fingerprint) on FnApiRunner, end to end
  datasketch the same shingle hashes and MinHash values (transforms.minhash, computed in numpy
             a batch of MarkCopies' size at a time, as MarkCopies does) in a datasketch
             MinHashLSH with the same 32 bands × 4 rows; each item, in first-report order,
             queries the index, verifies the candidates by exact Jaccard ≥ 0.5 and is inserted
recall_vs_baseline: of the items datasketch finds to be near-duplicates, the share newsmon finds.
With the same MinHash values both see the same candidates, so anything below 1.0 is lost by
newsmon's candidate search (its cap of EARLIEST_IN_BUCKET per bucket).
Each side runs --runs times (3), interleaved (newsmon, datasketch, newsmon, …), and the median
time and memory are kept; newsmon also runs once with 32 partitions, the setting for spreading
the search over many workers. Both sides must find the same near-duplicates (the bench exits 1,
after writing its results, if they do not). Prints a table and writes bench/results/dedup.json.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import pickle
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from transforms.copies import PARTITIONS  # noqa: E402  (--lsh-partitions on a remote runner)

RUWA = ROOT.parent / "shared" / "data" / "ruwa" / "RUWA_01.08.23.csv.zip"
RESULTS = ROOT / "bench" / "results" / "dedup.json"


def items(n: int) -> list[dict]:
    """N article rows, as MarkCopies receives them (normalized)."""
    from transforms.normalize import normalize

    with zipfile.ZipFile(RUWA) as z:
        name = next(f for f in z.namelist() if f.endswith(".csv") and not f.startswith("__MACOSX"))
        rows = list(csv.DictReader(io.TextIOWrapper(z.open(name), encoding="utf-8")))
    real = []
    for r in rows:
        text = " ".join(x for x in (r["title"], r["desc"]) if x and x.strip())
        if text.strip():
            day = datetime.strptime(r["Date"], "%m/%d/%Y").replace(tzinfo=timezone.utc)
            real.append((text, r["Site"] or "unknown", day))
    rng = random.Random(20250520)
    texts = list(real)
    while len(texts) < n:
        text, site, day = texts[rng.randrange(len(texts))]
        if rng.random() < 0.2:  # a near-copy: an outlet's tag, a word dropped
            words = text.split()
            if len(words) > 6:
                del words[rng.randrange(len(words))]
            texts.append((" ".join(words) + f" | {site.upper()} WIRE", f"copy.{site}", day + timedelta(hours=2)))
        else:  # a new item from the halves of two titles
            other = texts[rng.randrange(len(texts))][0].split()
            words = text.split()
            mixed = words[: len(words) // 2] + other[len(other) // 2 :] + [str(len(texts))]
            texts.append((" ".join(mixed), site, day + timedelta(minutes=len(texts) % 1440)))
    out = []
    for i, (text, site, day) in enumerate(texts[:n]):
        raw = {"title": None, "text": text, "url": f"https://{site}/item/{i}", "outlet": site, "published": day}
        raw |= {"external_id": None, "locator": None, "html": False, "source": "ruwa", "origin": "ruwa"}
        out.append(normalize(raw | {"ingested_at": day}))
    return [r for r in out if isinstance(r, dict)]


def _load(path: str) -> list[dict]:
    with open(path, "rb") as f:
        return pickle.load(f)


def run_newsmon(rows_path: Path, partitions: int) -> set[str]:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from transforms.copies import MarkCopies
    from transforms.stories import AssignStories

    found_path = rows_path.with_suffix(".found")
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        marked = p | beam.Create([str(rows_path)]) | beam.FlatMap(_load) | MarkCopies(partitions)
        reports = p | "NoEvents" >> beam.Create([]).with_output_types(tuple[str, tuple])
        articles = {"articles": marked["articles"], "reports": reports} | AssignStories()
        _ = (
            articles
            | beam.FlatMap(lambda a: [a["article_id"]] if a["duplicate_of"] else [])
            | beam.combiners.ToList()
            | beam.Map(lambda ids: found_path.write_text("\n".join(ids)))
        )
    return set(found_path.read_text().split()) if found_path.exists() else set()


def run_datasketch(rows: list[dict]) -> set[str]:
    from datasketch import MinHash, MinHashLSH

    from transforms.copies import BATCH, NEAR_DUPLICATE, first_report_order
    from transforms.minhash import BANDS, NUM_PERM, ROWS, jaccard, shingle_hash_sets, signatures

    lsh = MinHashLSH(num_perm=NUM_PERM, params=(BANDS, ROWS))
    found, hashes = set(), {}
    ordered = sorted(rows, key=first_report_order)
    # shingles and MinHash values in numpy a batch at a time, as MarkCopies computes them
    size = BATCH["max_batch_size"]
    sets = [
        h for k in range(0, len(ordered), size) for h in shingle_hash_sets([r["text"] for r in ordered[k : k + size]])
    ]
    values = [v for k in range(0, len(sets), size) for v in signatures(sets[k : k + size])]
    for row, mine, value in zip(ordered, sets, values, strict=True):
        m = MinHash(num_perm=NUM_PERM, hashvalues=value, scheme="affine32")  # 32-bit values
        for other in lsh.query(m):
            theirs = hashes[other]
            if jaccard(mine, theirs) >= NEAR_DUPLICATE:
                found.add(row["article_id"])
                break
        if row["article_id"] not in hashes:
            lsh.insert(row["article_id"], m)
            hashes[row["article_id"]] = mine
    return found


def child(mode: str, n: int, partitions: int) -> None:
    rows = items(n)
    with tempfile.TemporaryDirectory() as tmp:
        rows_path = Path(tmp) / "rows.pickle"
        rows_path.write_bytes(pickle.dumps(rows))
        start = time.perf_counter()
        found = run_newsmon(rows_path, partitions) if mode == "newsmon" else run_datasketch(rows)
        seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb, "items": len(rows), "found": sorted(found)}))


def run_once(mode: str, n: int, partitions: int = PARTITIONS) -> dict:
    """One run in a fresh process."""
    cmd = [sys.executable, __file__, "--child", mode, "--items", str(n), "--partitions", str(partitions)]
    return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])


def median_of(done: list[dict]) -> dict:
    """Median time and median peak memory of runs that found the same near-duplicates."""
    assert all(d["found"] == done[0]["found"] for d in done), "runs found different near-duplicates"
    seconds = statistics.median(d["seconds"] for d in done)
    return dict(done[0], seconds=seconds, peak_rss_mb=statistics.median(d["peak_rss_mb"] for d in done))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="runs per side; the median time is reported")
    parser.add_argument("--partitions", type=int, default=PARTITIONS, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=["newsmon", "datasketch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not RUWA.exists():
        sys.exit(f"{RUWA} is absent: this benchmark needs ../shared/data")
    if args.child:
        child(args.child, args.items, args.partitions)
        return
    load = [round(x, 2) for x in os.getloadavg()]
    newsmon_runs, datasketch_runs = [], []
    for _ in range(args.runs):  # interleaved, so a change in load hits both sides alike
        newsmon_runs.append(run_once("newsmon", args.items))
        datasketch_runs.append(run_once("datasketch", args.items))
    ours, theirs = median_of(newsmon_runs), median_of(datasketch_runs)
    spread = run_once("newsmon", args.items, partitions=32)
    n = ours["items"]
    found, baseline = set(ours["found"]), set(theirs["found"])
    result = {
        "benchmark": "near-duplicates: MarkCopies + AssignStories (FnApiRunner) vs datasketch MinHashLSH",
        "items": n,
        "runs": args.runs,
        "lsh_partitions": PARTITIONS,
        "articles_per_s": round(n / ours["seconds"], 1),
        "baseline_articles_per_s": round(n / theirs["seconds"], 1),
        "ratio": round(theirs["seconds"] / ours["seconds"], 3),
        "peak_rss_mb": round(ours["peak_rss_mb"], 1),
        "baseline_peak_rss_mb": round(theirs["peak_rss_mb"], 1),
        "near_duplicates_found": len(found),
        "baseline_near_duplicates_found": len(baseline),
        "recall_vs_baseline": round(len(found & baseline) / len(baseline), 4) if baseline else 1.0,
        "found_by_newsmon_only": len(found - baseline),
        "same_output": found == baseline,
        "all_seconds": [round(r["seconds"], 2) for r in newsmon_runs],
        "baseline_all_seconds": [round(r["seconds"], 2) for r in datasketch_runs],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": load,
        "with_32_partitions": {
            "articles_per_s": round(n / spread["seconds"], 1),
            "peak_rss_mb": round(spread["peak_rss_mb"], 1),
            "same_near_duplicates": spread["found"] == ours["found"],
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'':34} {'items/s':>9} {'peak RSS MB':>12} {'near-dups':>10}")
    rows = [
        (
            f"newsmon, {PARTITIONS} partitions (FnApiRunner)",
            result["articles_per_s"],
            result["peak_rss_mb"],
            len(found),
        ),
        (
            "newsmon, 32 partitions (1 run)",
            result["with_32_partitions"]["articles_per_s"],
            result["with_32_partitions"]["peak_rss_mb"],
            len(found) if result["with_32_partitions"]["same_near_duplicates"] else "differ",
        ),
        ("datasketch MinHashLSH", result["baseline_articles_per_s"], result["baseline_peak_rss_mb"], len(baseline)),
    ]
    for name, speed, memory, count in rows:
        print(f"{name:34} {speed:>9} {memory:>12} {count!s:>10}")
    print(
        f"ratio {result['ratio']} (median of {args.runs}), recall vs datasketch {result['recall_vs_baseline']} "
        f"-> {RESULTS.relative_to(ROOT)}"
    )
    if found != baseline:
        sys.exit(f"newsmon and datasketch found different near-duplicates ({len(found)} / {len(baseline)})")


if __name__ == "__main__":
    main()
