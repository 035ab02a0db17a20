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


UNDATED = {  # no date header: their events have no date, and their report time is the reading time (µs)
    "sumy.txt": "Drones over Sumy\n\nRussia launched 50 drones at Ukraine overnight, the Air Force said. Air "
    "defence shot down 30 of them over the Sumy region.\n",
    "north.txt": "Night attack on the north\n\nAir defence units shot down 30 of the 50 drones that Russia "
    "launched overnight, officials in Sumy said. Two people were injured.\n",
    "kharkiv.txt": "Kharkiv attack\n\nRussia launched 62 drones and three missiles at Kharkiv overnight. Two "
    "people were killed.\n",
}
FRACTIONAL = {  # a feed time with microseconds
    "id": "odesa-1",
    "url": "https://example.org/odesa",
    "published_at": "2025-05-02T04:10:07.250731+00:00",
    "text": "Russia launched 71 drones at the Odesa region overnight; 44 were shot down, the Air Force said.",
}


def test_an_event_without_a_date_has_the_story_of_its_articles(tmp_path):
    """An event's story_id is the story of the articles that report it, also when the report
    times have microseconds (reading times of undated articles), which runners' ms timers cut."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name, text in UNDATED.items():
        (folder / name).write_text(text)
    (folder / "feed.jsonl").write_text(json.dumps(FRACTIONAL) + "\n")
    done = newsmon("run", "--input", str(folder), "--output", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    story = {a["article_id"]: a["story_id"] for a in read_table(tmp_path / "out", "articles")}
    events = read_table(tmp_path / "out", "events")
    assert {e["event_date"] is None for e in events} == {True, False}
    for event in events:
        assert {story[a] for a in event["article_ids"]} == {event["story_id"]}, event
    by_file = {Path(a["source"]).name: a["story_id"] for a in read_table(tmp_path / "out", "articles")}
    assert by_file["sumy.txt"] == by_file["north.txt"] != by_file["kharkiv.txt"]
