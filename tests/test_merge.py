"""MergeEvents: one event per night and attacker -> target, figures as claims, resolution, versions."""

from __future__ import annotations

import itertools
import json
import pickle
import random
from datetime import date, datetime, timedelta, timezone

import pytest
from helpers import newsmon, read_table

from schemas import to_arrow
from schemas.records import stable_id
from transforms.extraction import EVENT_FIELDS
from transforms.merge import CONTINUED, REPORTS, fold, merge_key
from transforms.state import PriorEvent
from transforms.write import write_parquet

NIGHT = date(2025, 9, 7)
MORNING = datetime(2025, 9, 7, 5, 0, tzinfo=timezone.utc)  # 08:00 in Kyiv
SENTENCE = {  # what each article's evidence sentence says; spans are made up but consistent
    "drones_launched": "Russia launched {} drones at Ukraine overnight, the Air Force said.",
    "killed": "{} people were killed in Kyiv, officials said.",
    "injured": "{} people were injured.",
    "claimant": "the Air Force said ({}).",
}


def mention(
    article_id: str,
    minutes: int,
    event_date: date | None = NIGHT,
    direction: tuple = ("RUS", "UKR"),
    basis: dict | None = None,
    **stated,
) -> dict:
    """An air attack mention as ExtractEvents emits it: every field of the type, evidence for
    each stated value (read as `basis` says, stated by default)."""
    fields = dict.fromkeys(EVENT_FIELDS["air_attack"]) | {"attacker": direction[0], "target": direction[1]} | stated
    evidence, offset = [], 0
    for name, value in stated.items():
        text = SENTENCE.get(name, "{}").format(value)
        evidence.append(
            {"field": name, "text": text, "start": offset, "end": offset + len(text), "article_id": article_id}
            | ({"basis": basis[name]} if basis and name in basis else {})
        )
        offset += len(text) + 1
    return {
        "article_id": article_id,
        "reported_at": MORNING + timedelta(minutes=minutes),
        "event_type": "air_attack",
        "event_date": event_date,
        "fields": fields,
        "evidence": evidence,
    }


def rows_of(mentions: list[dict]) -> list[dict]:
    """The event rows MergeEvents writes for these mentions (one group key each, as Beam groups them)."""
    groups: dict[str, list[dict]] = {}
    for m in mentions:
        groups.setdefault(merge_key(m), []).append(m)
    out = [r for key, ms in groups.items() for r in fold(key, ms) if not hasattr(r, "tag")]
    return sorted(out, key=lambda r: (r["event_id"], r["version"]))


def latest(rows: list[dict]) -> dict:
    """The latest version of the one event the rows are of."""
    assert len({r["event_id"] for r in rows}) == 1, rows
    return max(rows, key=lambda r: r["version"])


def test_same_night_reports_with_different_figures_are_one_event_with_every_claim():
    rows = rows_of(
        [
            mention("air-force", 0, drones_launched=810, claimant="Ukrainian Air Force"),
            mention("wire", 30, drones_launched=805),  # a misprint, or a preliminary count
            mention("daily", 60, drones_launched=810, killed=2),
        ]
    )
    event = latest(rows)
    assert event["event_id"] == stable_id("air_attack|2025-09-07|RUS|UKR")
    assert event["drones_launched"] == 810 and event["source_count"] == 3
    stated = sorted((c["article_id"], c["value"]) for c in event["claims"] if c["field"] == "drones_launched")
    assert stated == [("air-force", "810"), ("daily", "810"), ("wire", "805")]
    claimants = {c["article_id"]: c["claimant"] for c in event["claims"]}
    assert claimants == {"air-force": "Ukrainian Air Force", "wire": None, "daily": None}
    # the evidence of the resolved value: the spans of the two articles that say 810, not the outlier
    assert sorted(e["article_id"] for e in event["evidence"] if e["field"] == "drones_launched") == [
        "air-force",
        "daily",
    ]
    for claim in event["claims"]:
        assert isinstance(claim["start"], int) and claim["end"] > claim["start"]


@pytest.mark.parametrize("order", list(itertools.permutations([810, 810, 805])))
def test_the_figure_most_articles_state_wins_whatever_the_order(order):
    rows = rows_of([mention(f"outlet-{i}", 20 * i, drones_launched=n) for i, n in enumerate(order)])
    assert latest(rows)["drones_launched"] == 810
    assert sorted(c["value"] for c in latest(rows)["claims"]) == ["805", "810", "810"]


def test_a_tie_goes_to_the_latest_report():
    rows = rows_of([mention("first", 0, drones_launched=805), mention("final", 90, drones_launched=810)])
    assert [(r["version"], r["drones_launched"]) for r in rows] == [(1, 805), (2, 810)]


def test_a_rising_toll_takes_the_latest_report():
    rows = rows_of([mention("early", 0, killed=3, injured=12), mention("update", 240, killed=5, injured=12)])
    assert [(r["version"], r["killed"], r["injured"]) for r in rows] == [(1, 3, 12), (2, 5, 12)]
    assert [e["article_id"] for e in rows[-1]["evidence"] if e["field"] == "killed"] == ["update"]
    assert rows[-1]["updated_at"] == MORNING + timedelta(minutes=240)


def test_a_new_version_only_when_a_resolved_value_changes():
    rows = rows_of(
        [
            mention("a", 0, drones_launched=810),
            mention("b", 10, drones_launched=810),  # agrees: no new version
            mention("c", 20, drones_launched=805),  # an outlier, outvoted: no new version
            mention("d", 30, drones_launched=810, injured=7),  # a new figure: version 2
        ]
    )
    assert [(r["version"], r["drones_launched"], r["injured"], r["source_count"]) for r in rows] == [
        (1, 810, None, 3),
        (2, 810, 7, 4),
    ]
    assert rows[0]["article_ids"] == ["a", "b", "c"] and rows[0]["updated_at"] == MORNING
    assert ("c", "805") in {(c["article_id"], c["value"]) for c in rows[0]["claims"]}  # kept, not resolved


def test_event_id_and_rows_are_the_same_whatever_the_arrival_order():
    mentions = [
        mention("a", 0, drones_launched=810, killed=2),
        mention("b", 10, drones_launched=805, killed=3),
        mention("c", 50, drones_launched=810, killed=4),
    ]
    first = rows_of(mentions)
    for seed in range(5):
        random.Random(seed).shuffle(mentions)
        assert rows_of(mentions) == first
    assert {r["event_id"] for r in first} == {stable_id("air_attack|2025-09-07|RUS|UKR")}


def test_other_nights_and_directions_are_other_events():
    rows = rows_of(
        [
            mention("a", 0, drones_launched=810),
            mention("b", 0, event_date=NIGHT + timedelta(days=1), drones_launched=810),
            mention("c", 0, direction=("UKR", "RUS"), drones_shot_down=41),
        ]
    )
    assert len({r["event_id"] for r in rows}) == 3


def test_undated_reports_join_only_on_agreeing_numbers():
    rows = rows_of(
        [
            mention("a", 0, event_date=None, drones_launched=50),
            mention("b", 5, event_date=None, drones_launched=50, injured=2),
            mention("c", 9, event_date=None, drones_launched=62),
        ]
    )
    events = {r["event_id"]: r for r in rows}  # the latest version of each, by the sort
    assert sorted(sorted(e["article_ids"]) for e in events.values()) == [["a", "b"], ["c"]]
    assert {e["event_date"] for e in events.values()} == {None}


def test_every_report_names_its_event():
    mentions = [mention("a", 0, drones_launched=810), mention("b", 5, drones_launched=805)]
    reports = [r.value for r in fold(merge_key(mentions[0]), mentions) if getattr(r, "tag", None) == REPORTS]
    assert {article_id for article_id, _ in reports} == {"a", "b"}
    assert len({report[2] for _, report in reports}) == 1


def test_a_stream_folds_each_poll_on_top_of_the_events_it_kept():
    # a stream keeps a key's events (pickled in keyed state) and folds only a poll's new reports
    # on top: the versions and reports are those of one fold over all of them, and a report read
    # again in a later poll is not folded twice
    night = [
        mention("a", 0, drones_launched=810, killed=2),
        mention("b", 10, drones_launched=805, killed=3),  # a tie goes to the latest; a rising toll: version 2
        mention("c", 20, drones_launched=805),  # agrees: no version
        mention("d", 30, drones_launched=810, injured=7),  # a tie again, and a new figure: version 3
        mention("e", 40, event_date=None, drones_launched=62),  # undated: its own key
        mention("f", 50, event_date=None, drones_launched=62, injured=1),
    ]
    whole = list(itertools.chain.from_iterable(fold(k, ms) for k, ms in _by_key(night).items()))
    carried: dict[str, list] = {}
    polls = []
    for poll in (night[:2], night[2:5] + night[:1], night[5:]):  # "a" read again in the second poll
        for key, ms in _by_key(poll).items():
            kept = pickle.loads(pickle.dumps(carried.get(key, [])))
            polls += fold(key, ms, (), kept)
            carried[key] = kept
    versions = [
        (r["event_id"], r["version"], r["drones_launched"], r["killed"], r["injured"])
        for r in polls
        if isinstance(r, dict)
    ]
    assert versions == [
        (r["event_id"], r["version"], r["drones_launched"], r["killed"], r["injured"])
        for r in whole
        if isinstance(r, dict)
    ]
    assert [v[1:] for v in versions] == [
        (1, 810, 2, None),
        (2, 805, 3, None),
        (3, 810, 3, 7),
        (1, 62, None, None),
        (2, 62, None, 1),
    ]
    reports = [r.value[0] for r in polls if getattr(r, "tag", None) == REPORTS]
    assert sorted(reports) == ["a", "a", "b", "c", "d", "e", "f"]  # "a" again: named, not folded
    latest = [r for r in polls if isinstance(r, dict)][2]
    assert latest["article_ids"] == ["a", "b", "c", "d"] and latest["source_count"] == 4
    assert {c["article_id"] for c in latest["claims"]} == {"a", "b", "c", "d"}


def test_a_stream_passes_on_the_row_in_out_it_continues_even_when_its_first_poll_changes_nothing(tmp_path):
    # A restarted stream: the event's versions 1 and 2 are in OUT. Its first poll brings a
    # report that changes nothing (a copy), the next a rising toll. AlertOnEvents compares the
    # new version with the one in OUT; without that row it took version 3 for a rule's first
    # match with nothing changed and sent no alert (seen on Prism when the copy and the toll
    # were released by different timers).
    before = [mention("a", 0, drones_launched=810, killed=2), mention("b", 10, drones_launched=810, killed=3)]
    in_out = rows_of(before)
    path = tmp_path / "events.parquet"
    write_parquet(to_arrow("events", in_out), str(path))
    prior = [PriorEvent(r["event_id"], r["version"], str(path)) for r in in_out]
    key, kept = merge_key(before[0]), []
    first = list(fold(key, [mention("c", 20, drones_launched=810, killed=3)], prior, kept))
    second = list(fold(key, [mention("d", 30, drones_launched=810, killed=5)], (), kept))
    assert [r for r in first if isinstance(r, dict)] == []  # nothing changed: no version
    assert [(r["version"], r["killed"]) for r in second if isinstance(r, dict)] == [(3, 5)]
    continued = [r.value for r in first + second if getattr(r, "tag", None) == CONTINUED]
    assert [(r["event_id"], r["version"], r["killed"]) for r in continued] == [(in_out[-1]["event_id"], 2, 3)]


def _by_key(mentions: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for m in mentions:
        groups.setdefault(merge_key(m), []).append(m)
    return groups


ARTICLES = [  # one night, three outlets, two figures for the drones and a rising toll
    ("air-force", "2025-09-07T05:10:00+00:00", "Russia launched 810 drones and 13 missiles at Ukraine overnight, the "
     "Air Force said. Air defence shot down 747 of the drones. Two people were killed in Kyiv."),
    ("wire", "2025-09-07T06:40:00+00:00", "Ukraine's Air Force said Russia attacked with 805 drones overnight, and "
     "that 747 were shot down. Three people were killed in Kyiv, officials said."),
    ("daily", "2025-09-07T09:30:00+00:00", "Russia fired 810 drones at Ukraine overnight, the largest attack of the "
     "war, the Air Force said. Officials in Kyiv said the toll had risen to four killed and 18 injured."),
]  # fmt: skip


def test_one_night_through_the_cli(tmp_path):
    source = tmp_path / "night.jsonl"
    source.write_text(
        "".join(
            json.dumps({"id": i, "url": f"https://{i}.example/night", "published_at": at, "text": text}) + "\n"
            for i, at, text in ARTICLES
        )
    )
    runs = []
    for name in ("first", "again"):
        done = newsmon("run", "--input", str(source), "--output", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
        runs.append(read_table(tmp_path / name, "events"))
    assert {e["event_id"] for e in runs[0]} == {e["event_id"] for e in runs[1]}
    attacks = [e for e in runs[0] if e["event_type"] == "air_attack"]
    assert len({e["event_id"] for e in attacks}) == 1
    event = max(attacks, key=lambda e: e["version"])
    assert (event["drones_launched"], event["drones_shot_down"], event["killed"], event["injured"]) == (810, 747, 4, 18)
    assert event["source_count"] == 3
    launched = sorted(c["value"] for c in event["claims"] if c["field"] == "drones_launched")
    assert launched == ["805", "810", "810"]
    texts = {a["article_id"]: a["text"] for a in read_table(tmp_path / "first", "articles")}
    assert {c["article_id"] for c in event["claims"]} == set(texts)
    for claim in event["claims"]:
        span = texts[claim["article_id"]][claim["start"] : claim["end"]]
        assert span and (claim["field"] != "drones_launched" or claim["value"] in span), claim


def test_a_stated_figure_beats_parts_and_bounds_however_many_repeat_them():
    """Two outlets that count only the hits on one plant ("8 missiles struck the dam") and one
    that gives a lower bound do not outvote the one that states the launches."""
    rows = rows_of(
        [
            mention("hits-1", 0, missiles_launched=8, basis={"missiles_launched": "part"}),
            mention("hits-2", 10, missiles_launched=8, basis={"missiles_launched": "part"}),
            mention("bound", 20, missiles_launched=80, basis={"missiles_launched": "at_least"}),
            mention("air-force", 30, missiles_launched=88),
        ]
    )
    event = latest(rows)
    assert event["missiles_launched"] == 88
    bases = {(c["article_id"], c["basis"]) for c in event["claims"]}
    assert bases == {("hits-1", "part"), ("hits-2", "part"), ("bound", "at_least"), ("air-force", "stated")}


def test_a_tie_goes_to_the_claim_whose_source_is_named():
    for order in itertools.permutations([0, 30]):
        rows = rows_of(
            [
                mention("named", order[0], drones_launched=193, claimant="Ukrainian Air Force"),
                mention("unnamed", order[1], drones_launched=200),
            ]
        )
        assert latest(rows)["drones_launched"] == 193


def test_a_shot_down_figure_equal_to_shot_down_plus_jammed_is_the_total():
    """ "Intercepted 711" in some outlets, "296 shot down, 415 lost to jamming" in others: 711 is
    the neutralized total, not a rival shot-down figure — in any publication order."""
    reports = [
        mention("split-1", 0, drones_shot_down=296, drones_suppressed=415),
        mention("total-1", 10, drones_shot_down=711),
        mention("total-2", 20, drones_shot_down=711),
        mention("split-2", 30, drones_shot_down=296),
    ]
    for order in itertools.permutations(reports):
        event = latest(rows_of(list(order)))
        assert (event["drones_shot_down"], event["drones_suppressed"], event["drones_neutralized_total"]) == (
            296,
            415,
            711,
        )
        total = [e["article_id"] for e in event["evidence"] if e["field"] == "drones_neutralized_total"]
        assert sorted(total) == ["total-1", "total-2"]


def test_a_version_row_decoded_from_its_bytes_encodes_as_them_until_a_key_changes():
    # rows cross several stage boundaries; a decoded row re-encodes as the bytes it came from
    rows = rows_of([mention(f"a{i}", i, drones_launched=100 + i, killed=i) for i in range(5)])
    row = latest(rows)
    encoded = pickle.dumps(row)
    decoded = pickle.loads(encoded)
    assert decoded == row and type(decoded) is type(row)
    assert pickle.dumps(decoded) == encoded
    for change in (
        lambda r: r.__setitem__("killed", 99),
        lambda r: r.update(killed=99),
        lambda r: r.setdefault("new_key", 99),
        lambda r: r.pop("killed"),
        lambda r: r.__delitem__("killed"),
    ):
        changed = pickle.loads(encoded)
        change(changed)
        again = pickle.loads(pickle.dumps(changed))
        assert again == changed and again != row
