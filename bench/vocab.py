"""spaCy's Vocab over a long stream of real text: ExtractEvents with and without memory zones.

    .venv/bin/python bench/vocab.py [--repeat 3] [--batch 64]

Every new word spaCy meets (a name, a number, a URL) adds a string and a lexeme to the Vocab it
shares across documents, for the life of the process. A stream's extraction runs each batch
in a memory zone once its first WARM_UP_WORDS words have filled the tokenizer cache
(transforms/extract.py). This bench feeds the 16,545 RUWA titles and subheadings
(../shared/data/ruwa: nine outlets, Feb-Sep 2022) through the stage's own DoFn, `_Extract`,
in batches of --batch, once as a batch run does (no zones) and once as a stream does (zones),
each in a fresh process, interleaved, --repeat rounds. It reports the resident memory after
the warm-up and at the end (a full collection first), the Vocab's strings, the time, and
whether both gave the same mentions (a digest of them). Prints a table and writes
bench/results/vocab.json.
"""

from __future__ import annotations

import argparse
import csv
import gc
import hashlib
import io
import json
import statistics
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.record import write_result  # noqa: E402

RUWA = ROOT.parent / "shared" / "data" / "ruwa" / "RUWA_01.08.23.csv.zip"
MODES = ("batch", "stream")


def articles() -> list[dict]:
    with zipfile.ZipFile(RUWA) as z:
        name = next(n for n in z.namelist() if n.endswith(".csv") and not n.startswith("__MACOSX"))
        rows = list(csv.DictReader(io.TextIOWrapper(z.open(name), encoding="utf-8")))
    out = []
    for n, row in enumerate(rows):
        when = datetime.strptime(row["Date"], "%m/%d/%Y").replace(tzinfo=timezone.utc)
        text = ". ".join(t for t in (row["title"], row["desc"]) if t)
        out.append({"article_id": f"ruwa-{n}", "text": text, "published_at": when, "ingested_at": when})
    return out


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def child(mode: str, batch_size: int) -> dict:
    from transforms.extract import WARM_UP_WORDS, _Extract

    items = articles()
    dofn = _Extract(None, zones=mode == "stream")
    dofn.setup()
    batches = [items[i : i + batch_size] for i in range(0, len(items), batch_size)]
    digest, mentions = hashlib.sha256(), 0
    words, began, after_warm_up, warm_articles = 0, None, None, 0
    for batch in batches:
        if began is None and words >= WARM_UP_WORDS:  # the batches a stream runs outside zones are done
            warm_articles = sum(len(b) for b in batches[: batches.index(batch)])
            gc.collect()
            after_warm_up = rss_mb()
            began = time.perf_counter()
        words += sum(len(a["text"].split()) for a in batch)
        for row in dofn.process(batch, {}):
            digest.update(repr(sorted(row.items())).encode())
            mentions += 1
    seconds = time.perf_counter() - began
    gc.collect()
    return {
        "articles": len(items),
        "warm_up_articles": warm_articles,
        "mentions": mentions,
        "digest": digest.hexdigest()[:16],
        "rss_after_warm_up_mb": round(after_warm_up, 1),
        "rss_end_mb": round(rss_mb(), 1),
        "grown_mb": round(rss_mb() - after_warm_up, 1),
        "vocab_strings": len(dofn._nlp.vocab.strings),
        "seconds_after_warm_up": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64, help="articles per batch (BatchElements gives 32-256)")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, default=ROOT / "bench" / "results" / "vocab.json")
    args = parser.parse_args()
    if not RUWA.is_file():
        sys.exit(f"{RUWA}: not found (../shared/data is not here)")
    if args.child:
        print(json.dumps(child(args.child, args.batch)))
        return
    rounds = []
    for _ in range(args.repeat):
        run = {}
        for mode in MODES:
            cmd = [sys.executable, __file__, "--child", mode, "--batch", str(args.batch)]
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
            run[mode] = json.loads(done.stdout.strip().splitlines()[-1])
        rounds.append(run)
    keys = ("grown_mb", "rss_end_mb", "vocab_strings", "seconds_after_warm_up")
    median = {mode: {k: statistics.median(r[mode][k] for r in rounds) for k in keys} for mode in MODES}
    same = all(r["batch"]["digest"] == r["stream"]["digest"] for r in rounds)
    print(f"{'':>8} {'grown MB':>9} {'RSS MB':>8} {'strings':>8} {'seconds':>8}")
    for mode in MODES:
        print(f"{mode:>8} " + " ".join(f"{median[mode][k]:>8}" for k in keys))
    ratio = round(median["stream"]["seconds_after_warm_up"] / median["batch"]["seconds_after_warm_up"], 3)
    print(f"time stream/batch {ratio}; same mentions in every round: {same} ({rounds[0]['batch']['mentions']})")
    result = {
        "what": f"RUWA titles through ExtractEvents' DoFn in batches of {args.batch}: no memory zones "
        "(batch) vs memory zones after the warm-up (stream); medians of the rounds",
        "rounds": rounds,
        "median": median,
        "time_ratio_stream_over_batch": ratio,
        "same_mentions": same,
    }
    write_result(args.result, result)


if __name__ == "__main__":
    main()
