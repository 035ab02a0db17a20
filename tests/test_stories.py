"""Stories: pairwise story F1 on the labelled sets, and the seeds."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from helpers import ROOT, SHARED_DATA, needs_shared, newsmon, read_table


def pairwise(gold: dict[str, str], predicted: dict[str, str]) -> dict[str, float]:
    """Precision, recall and F1 over pairs of articles put in the same story."""
    ids = sorted(gold)
    same_gold = {p for p in itertools.combinations(ids, 2) if gold[p[0]] == gold[p[1]]}
    same_pred = {p for p in itertools.combinations(ids, 2) if predicted[p[0]] == predicted[p[1]]}
    tp = len(same_gold & same_pred)
    precision = tp / len(same_pred) if same_pred else 1.0
    recall = tp / len(same_gold) if same_gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"pairs": len(same_gold), "precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}


def story_scores(labelled: Path, out: Path) -> dict[str, float]:
    done = newsmon("run", "--input", str(labelled), "--output", str(out))
    assert done.returncode == 0, done.stderr
    gold = {a["url"]: a["story"] for a in map(json.loads, labelled.read_text().splitlines())}
    predicted = {a["url"]: a["story_id"] for a in read_table(out, "articles")}
    assert predicted.keys() == gold.keys()
    return pairwise(gold, predicted)


@pytest.mark.parametrize("name, floor", [("devset", 0.95), ("devset2", 0.95), ("heldout", 0.75)])
def test_story_f1_on_the_labelled_sets(name, floor, tmp_path):
    """≥ 0.95 on the development sets; on the held-out set (never tuned on, 3 story pairs) a
    regression floor at what was measured (README, "Stories")."""
    scores = story_scores(ROOT / "tests" / "data" / name / "articles.jsonl", tmp_path)
    print(f"\n{name} stories:", json.dumps(scores))
    assert scores["f1"] >= floor


@needs_shared
def test_seed_stories(tmp_path):
    done = newsmon("run", "--input", str(SHARED_DATA / "seeds"), "--output", str(tmp_path))
    assert done.returncode == 0, done.stderr
    story = {Path(a["source"]).name[:3]: a["story_id"] for a in read_table(tmp_path, "articles")}
    assert story["001"] == story["003"]  # one night, two outlets
    assert len({story["000"], story["001"], story["002"], story["004"]}) == 4
