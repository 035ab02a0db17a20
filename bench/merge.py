"""How MergeEvents' fold grows with the reports of one event.

    .venv/bin/python bench/merge.py [--reports 100 300 1000 3000] [--repeat 3]

A big night is reported hundreds of times within the horizon, and in a stream MergeEvents folds
an event key again over all its reports each time new ones come (transforms/keyed.py), so the
cost of one fold over N reports is paid about N times. Per N: N mentions of one air attack
(deterministic, seed 11: launched / shot down / jammed / total figures drawn from a few values
so that claims disagree and versions follow each other; a toll that rises every 40 reports;
one region each), then, median of --repeat:
  fold      transforms.merge.fold over the N mentions: every version row with its reports,
            claims and evidence
  one pass  a plain loop doing the least any fold must: each mention's claims
            (merge.claims_of) and a count of each field's values
Prints a table (seconds, µs per report and per claim written, ratio fold / one pass) and writes
bench/results/merge.json. Each version row lists every claim so far (the events table's
`claims`), so the output itself grows as versions × reports: a fold linear in what it writes
keeps µs per claim written flat; µs per report grows with the versions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transforms.extraction import EVENT_FIELDS  # noqa: E402
from transforms.merge import claims_of, fold, merge_key  # noqa: E402

MORNING = datetime(2025, 9, 7, 5, tzinfo=timezone.utc)
FIGURES = {
    "drones_launched": [810, 810, 810, 805],
    "drones_shot_down": [747, 747, 740],
    "drones_suppressed": [41, 41, 48],
    "drones_neutralized_total": [788, 788],
    "missiles_launched": [13, 13, 9],
}


def mentions(n: int) -> list[dict[str, Any]]:
    rng = random.Random(11)
    out = []
    for i in range(n):
        article = f"article-{i:05d}"
        stated = {name: rng.choice(values) for name, values in FIGURES.items() if rng.random() < 0.6}
        stated["killed"] = 2 + i // 40
        evidence, offset = [], 0
        for name, value in stated.items():
            text = f"{value} ({name.replace('_', ' ')}), the Air Force said."
            span = {"field": name, "text": text, "start": offset, "end": offset + len(text), "basis": "stated"}
            evidence.append(span)
            offset += len(text) + 1
        evidence.append({"field": "regions", "text": "in the Kyiv region", "start": offset, "end": offset + 18})
        fields = dict.fromkeys(EVENT_FIELDS["air_attack"]) | stated
        fields |= {"attacker": "RUS", "target": "UKR", "regions": ["UA-32"]}
        out.append(
            {
                "article_id": article,
                "reported_at": MORNING + timedelta(minutes=i),
                "event_type": "air_attack",
                "event_date": date(2025, 9, 7),
                "fields": fields,
                "evidence": [dict(e, article_id=article) for e in evidence],
            }
        )
    return out


def one_pass(ms: list[dict[str, Any]]) -> int:
    counts: dict[str, Counter] = {}
    claims = 0
    for m in ms:
        for c in claims_of(m):
            counts.setdefault(c["field"], Counter())[c["value"]] += 1
            claims += 1
    return claims


def versions(key: str, ms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in fold(key, ms) if isinstance(r, dict)]


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, nargs="+", default=[100, 300, 1000, 3000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    print(
        f"{'reports':>8} {'versions':>8} {'row claims':>10} {'fold s':>8} {'µs/report':>10} {'µs/row claim':>12}"
        f" {'one pass s':>10} {'ratio':>7}"
    )
    for n in args.reports:
        ms = mentions(n)
        key = merge_key(ms[0])
        folds, passes = [], []
        for _ in range(args.repeat):  # interleaved
            seconds, out = timed(versions, key, ms)
            folds.append(seconds)
            passes.append(timed(one_pass, ms)[0])
        fold_s, pass_s = statistics.median(folds), statistics.median(passes)
        written = sum(len(r["claims"]) for r in out)  # each row lists every claim so far
        row = {
            "reports": n,
            "versions": len(out),
            "claims_in_rows": written,
            "fold_seconds": round(fold_s, 4),
            "us_per_report": round(fold_s / n * 1e6, 1),
            "us_per_row_claim": round(fold_s / written * 1e6, 2),
            "one_pass_seconds": round(pass_s, 4),
            "ratio": round(fold_s / pass_s, 2),
        }
        rows.append(row)
        print(
            f"{n:>8} {row['versions']:>8} {written:>10} {fold_s:>8.3f} {row['us_per_report']:>10}"
            f" {row['us_per_row_claim']:>12} {pass_s:>10.4f} {row['ratio']:>7}"
        )
    result = {
        "what": "transforms.merge.fold over N reports of one event vs one pass over their claims (median of "
        f"{args.repeat})",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": "python bench/merge.py " + " ".join(sys.argv[1:]),
        "load_after": round(os.getloadavg()[0], 2),
        "rows": rows,
    }
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "merge.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
