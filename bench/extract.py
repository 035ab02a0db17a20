"""Extraction benchmark: the ExtractEvents stage in a Beam pipeline vs bare nlp.pipe + extraction.

    .venv/bin/python bench/extract.py [--articles 8000] [--model NAME]

Texts: the labelled dev set and the bundled samples, repeated to N articles. Each measurement
is the median of three runs, each in its own process (peak memory is its own):
  pipeline, 1 worker   Create -> ExtractEvents -> count, FnApiRunner
  pipeline, 2 workers  the same with --direct_num_workers=2 --direct_running_mode=multi_processing
  harness              the same pipeline without ExtractEvents: the stage's time is pipeline
                       minus harness ("ratio"); "end_to_end_ratio" keeps the harness in
  bare, 1 / 2          build_nlp() (the same nlp the stage loads: sentences, gazetteers and the
                       per-sentence rule analysis), nlp.pipe over the texts and, per Doc, the
                       extraction function the stage runs (extract_mentions, mention_row); for
                       two, two processes with half the texts each
The runs are interleaved (each configuration once, then again, …) so a change in the machine's
load hits every side alike. Both sides must give the same mentions (a digest of them, sorted):
the bench stops if they do not. Prints a table and writes bench/results/extract.json (figures
of the 1-worker run at the top level, both in "runs").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
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


def _mention_line(m: dict) -> str:
    return json.dumps(m, sort_keys=True, default=str)


def digest(lines: list[str]) -> dict:
    """How many mentions, and a digest of them (sorted): the same on both sides."""
    return {"mentions": len(lines), "digest": hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:16]}


def run_pipeline(rows: list[dict], workers: int, model: str | None, with_stage: bool = True) -> dict | None:
    """Create -> [ExtractEvents] -> the mentions' digest; without the stage, the harness alone."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from transforms.extract import ExtractEvents

    flags = ["--runner=FnApiRunner"]
    if workers > 1:
        flags += [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]
    with tempfile.TemporaryDirectory() as tmp:
        found = Path(tmp) / "digest.json"
        with beam.Pipeline(options=PipelineOptions(flags)) as p:
            articles = p | beam.Create(rows, reshuffle=True)
            if with_stage:
                _ = (
                    articles
                    | ExtractEvents(model)
                    | beam.Map(_mention_line)
                    | beam.combiners.ToList()
                    | beam.Map(lambda lines: found.write_text(json.dumps(digest(lines))))
                )
            else:
                _ = articles | beam.combiners.Count.Globally() | beam.Map(lambda n: sys.stderr.write(f"{n}\n"))
        return json.loads(found.read_text()) if with_stage else None


def _extract(texts: list[str], rows: list[dict], model: str | None) -> list[str]:
    """nlp.pipe and the extraction function ExtractEvents runs on each Doc."""
    from transforms.extract import mention_row
    from transforms.extraction import extract_mentions
    from transforms.nlp import build_nlp

    nlp = build_nlp(model)
    lines = []
    for doc, row in zip(nlp.pipe(texts, batch_size=64), rows, strict=True):
        for m in extract_mentions(doc, row["published_at"], row["ingested_at"]):
            lines.append(_mention_line(mention_row(m, row)))
    return lines


def run_bare(rows: list[dict], workers: int, model: str | None) -> dict:
    """nlp.pipe + extraction without Beam; with two workers, two processes each with its own
    nlp, half the texts each."""
    from multiprocessing import get_context

    from transforms.nlp import clip

    texts = [clip(r["text"]) for r in rows]
    if workers == 1:
        return digest(_extract(texts, rows, model))
    with get_context("spawn").Pool(workers) as pool:
        parts = pool.starmap(_extract, [(texts[i::workers], rows[i::workers], model) for i in range(workers)])
    return digest([line for part in parts for line in part])


def child(mode: str, n: int, workers: int, model: str | None) -> None:
    rows = corpus(n)
    start = time.perf_counter()
    if mode == "bare":
        output = run_bare(rows, workers, model)
    else:
        output = run_pipeline(rows, workers, model, with_stage=mode == "pipeline")
    seconds = time.perf_counter() - start
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "output": output, "peak_rss_mb": max(self_mb, children_mb)}))


def run_once(mode: str, n: int, workers: int, model: str | None) -> dict:
    """One run in a fresh process."""
    cmd = [sys.executable, __file__, "--child", mode, "--articles", str(n), "--workers", str(workers)]
    cmd += ["--model", model] if model else []
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_run(runs: list[dict]) -> dict:
    """The median run (by seconds)."""
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=8000)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure, interleaved; medians are reported")
    parser.add_argument("--model", default=None, help="an installed spaCy model (default: the rule pipeline)")
    parser.add_argument("--child", choices=["pipeline", "harness", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.articles, args.workers, args.model)
        return

    done: dict[tuple[str, int], list[dict]] = {}
    load = [round(x, 2) for x in os.getloadavg()]
    for _ in range(args.runs):  # interleaved
        for workers in (1, 2):
            for mode in ("pipeline", "harness", "bare"):
                done.setdefault((mode, workers), []).append(run_once(mode, args.articles, workers, args.model))
            ours, theirs = done[("pipeline", workers)][-1]["output"], done[("bare", workers)][-1]["output"]
            if ours != theirs:
                sys.exit(
                    f"ExtractEvents and the bare loop gave different mentions ({workers} workers): {ours} {theirs}"
                )
    runs = {}
    for workers in (1, 2):
        pipeline, harness, bare = (median_run(done[(mode, workers)]) for mode in ("pipeline", "harness", "bare"))
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
        "benchmark": "ExtractEvents (spaCy + rules, in Beam) vs bare nlp.pipe + extract_mentions on the same texts",
        "articles": args.articles,
        "model": args.model or "blank en + sentencizer + gazetteer EntityRuler",
        "runs_per_figure": args.runs,
        "same_output": done[("pipeline", 1)][0]["output"],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": load,
        **runs["1_worker"],
        "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    head = ["stage art/s", "bare art/s", "ratio", "end-to-end art/s", "e2e ratio", "peak MB", "bare MB"]
    print(f"{'':10} " + " ".join(f"{h:>16}" for h in head))
    for name, r in runs.items():
        cells = [r[k] for k in ("articles_per_s", "baseline_articles_per_s", "ratio", "end_to_end_articles_per_s")]
        cells += [r["end_to_end_ratio"], r["peak_rss_mb"], r["baseline_peak_rss_mb"]]
        print(f"{name:10} " + " ".join(f"{c:>16}" for c in cells))
    print(f"-> {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
