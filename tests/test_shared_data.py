"""Real-world input from ../shared/data: every captured feed, feedparser's test suite, the seeds."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import SHARED_DATA, needs_shared, newsmon, read_table

pytestmark = needs_shared

FEEDS = SHARED_DATA / "feeds"


@pytest.fixture(scope="module")
def all_feeds_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("feeds") / "out"
    done = newsmon(
        "run",
        *["--input", f"{FEEDS}/real/*.rss", "--input", f"{FEEDS}/real/*.atom"],
        *["--input", f"{FEEDS}/feedparser/**/*.xml", "--feed", f"{FEEDS}/feedparser/json/example.json"],
        *["--output", str(out)],
    )
    assert done.returncode == 0, done.stderr
    return out


def test_every_feed_file_is_accounted_for(all_feeds_run):
    files = {str(p) for p in FEEDS.rglob("*") if p.is_file() and p.suffix in (".rss", ".atom", ".xml", ".json")}
    assert len(files) == 31 + 2107
    articles, rejected = read_table(all_feeds_run, "articles"), read_table(all_feeds_run, "rejected")
    seen = {str(Path(r["source"])) for r in articles + rejected}
    assert {str(Path(f).resolve()) for f in files} == {str(Path(s).resolve()) for s in seen}


def test_malformed_feed_entries_are_recovered(all_feeds_run):
    # uolNoticias.rss is not well-formed XML; the loose parser still finds its items
    recovered = [a for a in read_table(all_feeds_run, "articles") if a["source"].endswith("uolNoticias.rss")]
    assert len(recovered) == 15 and all(a["title"] and a["url"] for a in recovered)
    # ISO-8859-1 Portuguese feed: decoded, accents intact
    assert any("ç" in (a["title"] or "") + a["text"] or "ã" in a["text"] for a in recovered)


def test_reasons_are_stable_codes(all_feeds_run):
    reasons = {r["reason"] for r in read_table(all_feeds_run, "rejected")}
    assert reasons <= {"empty_text", "no_entries", "malformed_feed", "repeated_record", "unsupported_format"}
    json_feed = [r for r in read_table(all_feeds_run, "rejected") if r["source"].endswith("example.json")]
    assert [r["reason"] for r in json_feed] == ["unsupported_format"]


def test_seed_articles(tmp_path):
    done = newsmon("run", "--input", str(SHARED_DATA / "seeds"), "--output", str(tmp_path))
    assert done.returncode == 0, done.stderr
    articles = {Path(a["source"]).name[:3]: a for a in read_table(tmp_path, "articles")}
    assert sorted(articles) == ["000", "001", "002", "003", "004"]
    assert articles["000"]["published_at"].isoformat() == "2025-05-12T00:00:00+00:00"  # its `date` line
    assert articles["000"]["text"].startswith('"Our top priority')
    assert all(a["duplicate_of"] is None for a in articles.values())  # rewrites are not exact copies


GROUND_TRUTH = SHARED_DATA / "groundtruth" / "missile_attacks_daily.csv"


def air_force_nights() -> list[dict]:
    """Shahed rows of the Air Force's national reports (source kpszsu): one per night."""
    import csv

    with open(GROUND_TRUTH, newline="") as f:
        return [r for r in csv.DictReader(f) if r["source"].startswith("kpszsu") and r["model"].startswith("Shahed")]


def as_int(value: str) -> int | None:
    return int(float(value)) if value else None


def test_seed_events_agree_with_the_air_force_ground_truth(tmp_path):
    done = newsmon("run", "--input", str(SHARED_DATA / "seeds"), "--output", str(tmp_path))
    assert done.returncode == 0, done.stderr
    articles = {Path(a["source"]).name[:3]: a["article_id"] for a in read_table(tmp_path, "articles")}
    attacks = [e for e in read_table(tmp_path, "events") if e["event_type"] == "air_attack" and e["attacker"] == "RUS"]
    by_articles = {tuple(sorted(e["article_ids"])): e for e in attacks}
    nights = air_force_nights()

    def night(launched: int, end: str | None = None) -> dict:
        found = [n for n in nights if as_int(n["launched"]) == launched and (end is None or n["time_end"][:10] == end)]
        assert len(found) == 1, (launched, end, found)
        return found[0]

    # 001 and 003: two outlets, one night (19-20 May 2025): one event with both ids
    same = by_articles[tuple(sorted([articles["001"], articles["003"]]))]
    truth = night(108, "2025-05-20")
    assert same["source_count"] == 2
    assert (same["drones_launched"], same["drones_shot_down"], same["drones_suppressed"]) == (
        as_int(truth["launched"]),
        as_int(truth["destroyed"]),
        as_int(truth["not_reach_goal"]),
    )
    # 000: another night with 108 drones, dated by its `date` line: its own event
    other = by_articles[(articles["000"],)]
    truth = night(108, "2025-05-12")
    assert other["event_id"] != same["event_id"] and other["event_date"].isoformat() == "2025-05-12"
    assert other["drones_launched"] == as_int(truth["launched"])
    assert other["drones_suppressed"] == as_int(truth["not_reach_goal"])  # "30 decoys lost"
    # the article says 60 intercepted, the Air Force file 55: a source disagreement, not an extraction error
    assert abs(other["drones_shot_down"] - as_int(truth["destroyed"])) <= 5
    # 004: the record night of 17-18 May 2025
    record = by_articles[(articles["004"],)]
    truth = night(273, "2025-05-18")
    assert (record["drones_shot_down"], record["drones_suppressed"]) == (
        as_int(truth["destroyed"]),
        as_int(truth["not_reach_goal"]),
    )
