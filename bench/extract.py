"""Extraction benchmark: the ExtractEvents stage in a Beam pipeline vs bare spaCy nlp.pipe.

    .venv/bin/python bench/extract.py [--articles 8000] [--model NAME]

Texts: the labelled dev set and the bundled samples, repeated to N articles. Each measurement
is the median of three runs, each in its own process (peak memory is its own):
  pipeline, 1 worker   Create -> ExtractEvents -> count, FnApiRunner
  pipeline, 2 workers  the same with --direct_num_workers=2 --direct_running_mode=multi_processing
  harness              the same pipeline without ExtractEvents: the stage's time is pipeline
                       minus harness ("ratio"); "end_to_end_ratio" keeps the harness in
  nlp.pipe, 1 / 2      build_nlp() (the same nlp the stage loads: sentences, gazetteers and the
                       per-sentence rule analysis), nlp.pipe over the texts, consuming the Docs;
                       for two, two processes with half the texts each
Prints a table and writes bench/results/extract.json (figures of the 1-worker run at the top
level, both in "runs").
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "extract.json"


def corpus(n: int) -> list[dict]:
    """N article rows (as the pipeline has them after MarkCopies), none an exact copy."""
    from transforms.formats import PARSERS, format_of
    from transforms.normalize import clean_text

    texts = [json.loads(line)["text"] for line in (ROOT / "tests/data/devset/articles.jsonl").open()]
    for path in sorted((ROOT / "samples" / "articles").iterdir()):
        data = path.read_bytes()
        for r in PARSERS[format_of(str(path), data)](data, str(path)):
            texts.append(clean_text(r["text"], r["html"]))
    now = datetime(2025, 3, 14, 6, 0, tzinfo=timezone.utc)
    return [
        {
            "article_id": f"a{i}",
            "text": texts[i % len(texts)],
            "published_at": now,
            "ingested_at": now,
            "duplicate_of": None,
            "similarity": None,
            "exact_copy": False,
        }
        for i in range(n)
    ]


def run_pipeline(rows: list[dict], workers: int, model: str | None, with_stage: bool = True) -> int:
    """Create -> [ExtractEvents] -> count; without the stage it measures the harness alone."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from transforms.extract import ExtractEvents

    flags = ["--runner=FnApiRunner"]
    if workers > 1:
        flags += [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]
    with beam.Pipeline(options=PipelineOptions(flags)) as p:
        articles = p | beam.Create(rows, reshuffle=True)
        out = articles | ExtractEvents(model) if with_stage else articles
        _ = out | beam.combiners.Count.Globally() | beam.Map(lambda n: sys.stderr.write(f"elements {n}\n"))
    return len(rows)


def _pipe(texts: list[str], model: str | None) -> int:
    from transforms.nlp import build_nlp

    nlp = build_nlp(model)
    return sum(1 for _ in nlp.pipe(texts, batch_size=64))


def run_bare(rows: list[dict], workers: int, model: str | None) -> int:
    """nlp.pipe alone; with two workers, two processes each with its own nlp, half the texts each."""
    from multiprocessing import get_context

    from transforms.nlp import clip

    texts = [clip(r["text"]) for r in rows]
    if workers == 1:
        return _pipe(texts, model)
    with get_context("spawn").Pool(workers) as pool:
        return sum(pool.starmap(_pipe, [(texts[i::workers], model) for i in range(workers)]))


def child(mode: str, n: int, workers: int, model: str | None) -> None:
    rows = corpus(n)
    start = time.perf_counter()
    if mode == "bare":
        done = run_bare(rows, workers, model)
    else:
        done = run_pipeline(rows, workers, model, with_stage=mode == "pipeline")
    seconds = time.perf_counter() - start
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "articles": done, "peak_rss_mb": max(self_mb, children_mb)}))


def measure(mode: str, n: int, workers: int, model: str | None, repeats: int = 3) -> dict:
    """The median run (by seconds) of `repeats`, each in a fresh process."""
    cmd = [sys.executable, __file__, "--child", mode, "--articles", str(n), "--workers", str(workers)]
    cmd += ["--model", model] if model else []
    runs = []
    for _ in range(repeats):
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=8000)
    parser.add_argument("--model", default=None, help="an installed spaCy model (default: the rule pipeline)")
    parser.add_argument("--child", choices=["pipeline", "harness", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.articles, args.workers, args.model)
        return

    runs = {}
    for workers in (1, 2):
        pipeline = measure("pipeline", args.articles, workers, args.model)
        harness = measure("harness", args.articles, workers, args.model)
        bare = measure("bare", args.articles, workers, args.model)
        stage_seconds = pipeline["seconds"] - harness["seconds"]
        runs[f"{workers}_worker{'s' if workers > 1 else ''}"] = {
            "articles_per_s": round(args.articles / stage_seconds, 1),
            "baseline_articles_per_s": round(args.articles / bare["seconds"], 1),
            "ratio": round(bare["seconds"] / stage_seconds, 3),
            "end_to_end_articles_per_s": round(args.articles / pipeline["seconds"], 1),
            "end_to_end_ratio": round(bare["seconds"] / pipeline["seconds"], 3),
            "harness_seconds": round(harness["seconds"], 2),
            "peak_rss_mb": round(pipeline["peak_rss_mb"], 1),
            "baseline_peak_rss_mb": round(bare["peak_rss_mb"], 1),
        }
    result = {
        "benchmark": "ExtractEvents (spaCy + rules, in Beam) vs bare nlp.pipe on the same texts",
        "articles": args.articles,
        "model": args.model or "blank en + sentencizer + gazetteer EntityRuler",
        **runs["1_worker"],
        "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    head = ["stage art/s", "nlp.pipe art/s", "ratio", "end-to-end art/s", "e2e ratio", "peak MB", "bare MB"]
    print(f"{'':10} " + " ".join(f"{h:>16}" for h in head))
    for name, r in runs.items():
        cells = [r[k] for k in ("articles_per_s", "baseline_articles_per_s", "ratio", "end_to_end_articles_per_s")]
        cells += [r["end_to_end_ratio"], r["peak_rss_mb"], r["baseline_peak_rss_mb"]]
        print(f"{name:10} " + " ".join(f"{c:>16}" for c in cells))
    print(f"-> {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
