"""Ingest benchmark: read -> normalize -> mark copies -> write Parquet, in Beam and without it.

    .venv/bin/python bench/ingest.py [--articles 20000] [--runner FnApiRunner]

Builds N articles from the bundled samples (each a distinct variant; 5% exact copies), writes
them as JSONL files, then runs in separate processes (so peak memory is each one's own):
  pipeline  ReadArticles -> NormalizeArticles -> MarkCopies -> WriteTable (articles) on the
            chosen runner: the ingest stages of create_pipeline, without event extraction
  baseline  the same functions in a plain Python loop: parse_jsonl, normalize, exact copies by
            content hash, near-duplicates by the same MinHash bands (the EARLIEST_IN_BUCKET
            earliest of each bucket, verified Jaccard), shingles and signatures computed in
            numpy a batch of MarkCopies' size at a time as MarkCopies does, to_arrow and
            pq.write_table per window
The two run interleaved (pipeline, baseline, pipeline, …), --runs times (3); the medians are
reported. After each pair the bench checks that both wrote the same articles (id, window,
copy marks, every column but ingested_at) and stops if not. Prints a table and writes
bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "ingest.json"
PER_FILE = 1000


def build_corpus(n: int, folder: Path) -> None:
    """N JSONL article objects from the samples: distinct URLs and text, every 20th a copy."""
    from transforms.formats import PARSERS, format_of

    samples = []
    for path in sorted((ROOT / "samples" / "articles").iterdir()):
        data = path.read_bytes()
        samples += [r for r in PARSERS[format_of(str(path), data)](data, str(path)) if isinstance(r, dict)]
    lines = []
    for i in range(n):
        s = samples[i % len(samples)]
        variant = i if i % 20 else i - 1  # every 20th article repeats the previous one's text
        lines.append(
            json.dumps(
                {
                    "id": f"bench-{i}",
                    "url": f"https://bench.example/{i}",
                    "outlet": s["outlet"] or "Bench Wire",
                    "title": s["title"],
                    "text": f"{s['text']}\n\nBulletin {variant}.",
                    "published_at": f"2025-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00+00:00",
                }
            )
        )
    for k in range(0, n, PER_FILE):
        (folder / f"part-{k // PER_FILE:04d}.jsonl").write_text("\n".join(lines[k : k + PER_FILE]) + "\n")


def run_pipeline(inputs: Path, out: Path, runner: str) -> None:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from schemas import SourceSpec
    from transforms.copies import MarkCopies
    from transforms.fetch import FetchConfig
    from transforms.normalize import NormalizeArticles
    from transforms.read import ReadArticles
    from transforms.write import WriteTable

    with beam.Pipeline(options=PipelineOptions([f"--runner={runner}"])) as p:
        read = p | ReadArticles([SourceSpec("glob", f"{inputs}/*", str(inputs))], FetchConfig())
        normalized = read["articles"] | NormalizeArticles()
        marked = normalized["articles"] | MarkCopies()
        _ = marked["articles"] | WriteTable("articles", str(out), 3600)


def run_baseline(inputs: Path, out: Path) -> None:
    """The same work without Beam: parse, normalize, resolve copies, write one file per window."""
    from datetime import datetime, timezone

    import numpy as np
    from apache_beam.transforms.window import IntervalWindow

    from schemas import Rejected, to_arrow
    from transforms.copies import BATCH, EARLIEST_IN_BUCKET, NEAR_DUPLICATE, first_report_order
    from transforms.formats import parse_jsonl
    from transforms.minhash import bucket_keys, jaccard, shingle_hash_sets, signatures
    from transforms.normalize import normalize
    from transforms.write import window_folder, write_parquet

    ingested_at = datetime.now(timezone.utc)
    rows, rejected = [], []
    for path in sorted(inputs.iterdir()):
        for raw in parse_jsonl(path.read_bytes(), str(path)):
            if isinstance(raw, Rejected):
                rejected.append(raw)
                continue
            raw.update(source=str(path), origin=str(inputs), ingested_at=ingested_at)
            row = normalize(raw)
            (rejected if isinstance(row, Rejected) else rows).append(row)
    first_by_text: dict[str, str] = {}
    buckets: dict[int, list[tuple[int, str, np.ndarray]]] = defaultdict(list)
    ordered = sorted(rows, key=first_report_order)
    size = BATCH["max_batch_size"]  # shingles and signatures a batch at a time, as MarkCopies
    hash_sets = [
        h for k in range(0, len(ordered), size) for h in shingle_hash_sets([r["text"] for r in ordered[k : k + size]])
    ]
    keys = np.concatenate([bucket_keys(signatures(hash_sets[k : k + size])) for k in range(0, len(hash_sets), size)])
    for n, row in enumerate(ordered):
        original = first_by_text.setdefault(row["content_hash"], row["article_id"])
        if original != row["article_id"]:
            row.update(duplicate_of=original, similarity=1.0, exact_copy=True)
            continue  # an exact copy is not searched, nor a candidate: its original is
        hashes = hash_sets[n]
        candidates: dict[int, tuple[str, np.ndarray]] = {}
        for key in keys[n].tolist():
            for seen, earlier_id, earlier_hashes in buckets[key][:EARLIEST_IN_BUCKET]:
                candidates[seen] = (earlier_id, earlier_hashes)
            buckets[key].append((n, row["article_id"], hashes))
        if not row["duplicate_of"]:
            for _, (earlier_id, earlier_hashes) in sorted(candidates.items(), key=lambda c: c[0]):  # earliest first
                similarity = jaccard(earlier_hashes, hashes)
                if similarity >= NEAR_DUPLICATE:
                    row.update(duplicate_of=earlier_id, similarity=round(similarity, 4))
                    break
    windows = defaultdict(list)
    for row in rows:
        start = int(row["published_at"].timestamp()) // 3600 * 3600
        windows[start].append(row)
    for start, chunk in windows.items():
        folder = window_folder(IntervalWindow(start, start + 3600))
        chunk.sort(key=lambda r: r["article_id"])
        write_parquet(to_arrow("articles", chunk), str(out / "articles" / folder / "part-0.parquet"))


def child(mode: str, inputs: Path, out: Path, runner: str) -> None:
    start = time.perf_counter()
    if mode == "pipeline":
        run_pipeline(inputs, out, runner)
    else:
        run_baseline(inputs, out)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb, "output": written(out)}))


def written(out: Path) -> dict:
    """Rows and a digest of the articles written (sorted; every column but ingested_at), and
    how many are copies."""
    import pyarrow.dataset as ds

    rows = ds.dataset(str(out / "articles"), format="parquet", partitioning="hive").to_table().to_pylist()
    lines = sorted(json.dumps({k: v for k, v in r.items() if k != "ingested_at"}, default=str) for r in rows)
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    copies = sum(1 for r in rows if r["duplicate_of"])
    return {"rows": len(rows), "copies": copies, "digest": digest}


def measure(mode: str, inputs: Path, work: Path, runner: str) -> dict:
    out = work / f"out-{mode}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, __file__, "--child", mode, "--inputs", str(inputs), "--out", str(out), "--runner", runner]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--runner", default="FnApiRunner")
    parser.add_argument("--runs", type=int, default=3, help="runs per side, interleaved; medians are reported")
    parser.add_argument("--child", choices=["pipeline", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--inputs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.inputs, args.out, args.runner)
        return

    load = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = work / "in"
        inputs.mkdir()
        build_corpus(args.articles, inputs)
        pipelines, baselines = [], []
        for n in range(args.runs):  # interleaved, so a change in load hits both sides alike
            pipelines.append(measure("pipeline", inputs, work, args.runner))
            baselines.append(measure("baseline", inputs, work, args.runner))
            print(f"run {n + 1}: {pipelines[-1]['seconds']:.1f} s / {baselines[-1]['seconds']:.1f} s", file=sys.stderr)
            if pipelines[-1]["output"] != baselines[-1]["output"]:
                ours, theirs = pipelines[-1]["output"], baselines[-1]["output"]
                sys.exit(f"the pipeline and the loop wrote different articles: {ours} / {theirs}")
    pipeline = dict(pipelines[0], seconds=statistics.median(r["seconds"] for r in pipelines))
    pipeline["peak_rss_mb"] = statistics.median(r["peak_rss_mb"] for r in pipelines)
    baseline = dict(baselines[0], seconds=statistics.median(r["seconds"] for r in baselines))
    baseline["peak_rss_mb"] = statistics.median(r["peak_rss_mb"] for r in baselines)

    n = args.articles
    result = {
        "benchmark": "ingest: read jsonl -> normalize -> mark copies (exact and MinHash) -> windowed Parquet",
        "articles": n,
        "runner": args.runner,
        "articles_per_s": round(n / pipeline["seconds"], 1),
        "baseline_articles_per_s": round(n / baseline["seconds"], 1),
        "ratio": round(baseline["seconds"] / pipeline["seconds"], 3),
        "peak_rss_mb": round(pipeline["peak_rss_mb"], 1),
        "baseline_peak_rss_mb": round(baseline["peak_rss_mb"], 1),
        "seconds": round(pipeline["seconds"], 2),
        "baseline_seconds": round(baseline["seconds"], 2),
        "runs": args.runs,
        "same_output": pipeline["output"],
        "all_seconds": [round(r["seconds"], 2) for r in pipelines],
        "baseline_all_seconds": [round(r["seconds"], 2) for r in baselines],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": list(load),
        "machine": f"{subprocess.check_output(['nproc']).decode().strip()} cores, Python {sys.version.split()[0]}",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'':28} {'articles/s':>11} {'seconds':>8} {'peak RSS MB':>12}")
    for name, prefix in ((f"newsmon ({args.runner})", ""), ("plain Python loop", "baseline_")):
        row = [result[f"{prefix}articles_per_s"], result[f"{prefix}seconds"], result[f"{prefix}peak_rss_mb"]]
        print(f"{name:28} {row[0]:>11} {row[1]:>8} {row[2]:>12}")
    print(f"ratio (newsmon / loop throughput): {result['ratio']}   -> {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
