"""Scoring extracted events against the labelled dev set (tests/data/devset/articles.jsonl).

Event match: same article, same event_type and same event_date; several candidates pair up
greedily by the number of equal fields. Event precision/recall/F1 count matched events. Field
accuracy: over matched events, the share of the type's fields (nulls included: a value where
the gold has none is wrong) that equal the gold.

    .venv/bin/python tests/scoring.py [devset|heldout] [--errors]   the figures (and every mismatch)
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transforms.extraction import EVENT_FIELDS, extract_mentions  # noqa: E402
from transforms.nlp import clip  # noqa: E402


def load_devset(name: str = "devset") -> list[dict[str, Any]]:
    """The labelled articles of tests/data/<name>/articles.jsonl. The sets are part of the repo:
    a missing or empty file is an error, never an empty set (which would score 1.0)."""
    path = DATA / name / "articles.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the labelled set {name!r} is missing from the repo")
    articles = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not articles:
        raise ValueError(f"{path}: the labelled set {name!r} is empty")
    return articles


def predict(nlp: Any, articles: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for article, doc in zip(articles, nlp.pipe(clip(a["text"]) for a in articles), strict=True):
        published = datetime.fromisoformat(article["published_at"])
        mentions = extract_mentions(doc, published, published)
        out[article["id"]] = [
            {"event_type": m.event_type, "event_date": m.event_date.isoformat(), **m.fields} for m in mentions
        ]
    return out


def score(articles: list[dict[str, Any]], predicted: dict[str, list[dict]]) -> dict[str, Any]:
    tp = fp = fn = 0
    fields_total = fields_ok = 0
    errors = []
    for article in articles:
        gold, pred = list(article["events"]), list(predicted[article["id"]])
        pairs = []
        for g in gold:
            candidates = [p for p in pred if p["event_type"] == g["event_type"] and p["event_date"] == g["event_date"]]
            if not candidates:
                fn += 1
                errors.append((article["id"], "missed", g["event_type"], g["event_date"], ""))
                continue
            best = max(candidates, key=lambda p: sum(p.get(f) == g.get(f) for f in EVENT_FIELDS[g["event_type"]]))
            pred.remove(best)
            pairs.append((g, best))
        tp += len(pairs)
        fp += len(pred)
        errors += [(article["id"], "spurious", p["event_type"], p["event_date"], "") for p in pred]
        for g, p in pairs:
            for f in EVENT_FIELDS[g["event_type"]]:
                fields_total += 1
                if g.get(f) == p.get(f):
                    fields_ok += 1
                else:
                    errors.append((article["id"], "field", g["event_type"], f, f"gold {g.get(f)!r} got {p.get(f)!r}"))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "events_gold": tp + fn,
        "events_predicted": tp + fp,
        "event_precision": round(precision, 3),
        "event_recall": round(recall, 3),
        "event_f1": round(f1, 3),
        "field_accuracy": round(fields_ok / fields_total, 3) if fields_total else 1.0,
        "fields_scored": fields_total,
        "errors": errors,
    }


if __name__ == "__main__":
    from transforms.nlp import build_nlp

    name = next((a for a in sys.argv[1:] if not a.startswith("-")), "devset")
    articles = load_devset(name)
    result = score(articles, predict(build_nlp(), articles))
    errors = result.pop("errors")
    print(json.dumps(result, indent=2))
    if "--errors" in sys.argv:
        for e in errors:
            print(*e)
