"""Streaming semantics on Prism with TestStream: Parquet windows and late data (WriteTable), keyed
state and its expiry (FoldInState, which MarkCopies, MergeEvents and AssignStories use;
AcrossPolls, which MarkCopies' same-text and near-duplicate steps use in a stream), and too-late
articles (EventTime)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions
from apache_beam.testing import test_stream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp
from helpers import SAMPLES, newsmon, read_table

from pipeline.runners import choose_runner, find_prism
from schemas import EVENTS
from schemas.records import Rejected, micros
from transforms.alerts import AlertHistory, AlertOnEvents, Delivery
from transforms.copies import IN_OUT, NEW, Version, _bucket_entries, _near_across_polls, _same_text_across_polls
from transforms.incremental import AcrossPolls
from transforms.keyed import EXPIRED, FoldInState
from transforms.minhash import shingle_hash_sets
from transforms.resume import read_seeds
from transforms.rules import load_rules
from transforms.state import event_key
from transforms.stream import EventTime
from transforms.write import WriteTable

PRISM = find_prism()
pytestmark = pytest.mark.skipif(PRISM is None, reason="no Prism binary: run `make prism` (make test does)")

T0 = datetime(2025, 3, 14, 6, 0, tzinfo=timezone.utc)


def prism() -> PipelineOptions:
    return PipelineOptions(["--runner=PrismRunner", f"--prism_location={PRISM}", "--streaming"])


def at(minutes: float) -> Timestamp:
    return Timestamp.from_utc_datetime(T0 + timedelta(minutes=minutes))


def rejected_row(name: str, minutes: float) -> TimestampedValue:
    row = Rejected(f"feed-{name}", "empty_text", name).to_row(T0 + timedelta(minutes=minutes), "feed")
    return TimestampedValue(row, at(minutes))


def test_a_window_is_written_when_the_watermark_passes_it_and_late_rows_go_to_new_files(tmp_path: Path):
    stream = (
        test_stream.TestStream()
        .add_elements([rejected_row("a", 1), rejected_row("b", 2)])
        .advance_watermark_to(at(11))  # the 06:00 window (10 min) is complete
        .add_elements([rejected_row("late", 3)])  # late for 06:00, within the allowed lateness
        .add_elements([rejected_row("next", 12)])
        .advance_watermark_to(at(25))
        .advance_watermark_to_infinity()
    )
    with beam.Pipeline(options=prism()) as p:
        p | stream | WriteTable("rejected", str(tmp_path), 600, allowed_lateness_s=3600)
    first = sorted((tmp_path / "rejected" / "window_start=20250314T060000Z").glob("part-*.parquet"))
    second = sorted((tmp_path / "rejected" / "window_start=20250314T061000Z").glob("part-*.parquet"))
    details = sorted(sorted(pq.read_table(f).column("detail").to_pylist()) for f in first)
    assert details == [["a", "b"], ["late"]]  # the on-time firing, then the late row in a file of its own
    assert [pq.read_table(f).column("detail").to_pylist() for f in second] == [["next"]]


def count_values(key: str, values: list[int]) -> list[tuple[str, int]]:
    return [(key, len(values))]


def test_keyed_state_folds_as_the_watermark_passes_and_expires_after_the_horizon():
    horizon = timedelta(minutes=30)
    stream = (
        test_stream.TestStream()
        .add_elements([TimestampedValue(("k", 1), at(0)), TimestampedValue(("k", 2), at(1))])
        .advance_watermark_to(at(5))  # folded in event-time order: 1 value, then 2
        .add_elements([TimestampedValue(("k", 3), at(6))])
        .advance_watermark_to(at(10))  # folded again: 3 values
        .advance_watermark_to(at(6 + 30 + 1))  # the horizon after the last value: state dropped
        .add_elements([TimestampedValue(("k", 4), at(40))])
        .advance_watermark_to(at(45))  # a fresh start: 1 value
        .advance_watermark_to_infinity()
    )
    with beam.Pipeline(options=prism()) as p:
        out = p | stream | FoldInState("test", count_values, lambda o: o, horizon)
        assert_that(out.main, equal_to([("k", 1), ("k", 2), ("k", 3), ("k", 1)]), label="folds")
        assert_that(out[EXPIRED], equal_to(["k", "k"]), label="expired")


def test_values_of_one_time_that_wait_for_a_later_release_are_kept_whatever_their_type():
    # a stream that lags holds several values of one time past a release; values such as
    # mention dicts cannot be ordered (a 10-minute latency run crashed MergeEvents on this)
    def mention(n: int) -> TimestampedValue:
        return TimestampedValue(("k", {"article_id": f"a{n}"}), at(5))

    def ids(key: str, values: list[dict]) -> list[tuple[str, tuple[str, ...]]]:
        return [(key, tuple(sorted(v["article_id"] for v in values)))]

    stream = (
        test_stream.TestStream()
        .add_elements([TimestampedValue(("k", {"article_id": "a0"}), at(0)), mention(1), mention(2)])
        .advance_watermark_to(at(1))  # a0 is due; a1 and a2, of one time, wait
        .advance_watermark_to(at(10))
        .advance_watermark_to_infinity()
    )
    with beam.Pipeline(options=prism()) as p:
        out = p | stream | FoldInState("test", ids, lambda o: o, timedelta(hours=1))
        assert_that(out.main, equal_to([("k", ("a0",)), ("k", ("a0", "a1", "a2"))]))


def test_an_output_already_emitted_is_not_emitted_again():
    # a fold that gives the same output for every value set (an event version whose row a later,
    # unchanging report would only extend) emits it once
    stream = (
        test_stream.TestStream()
        .add_elements([TimestampedValue(("k", 1), at(0))])
        .advance_watermark_to(at(5))
        .add_elements([TimestampedValue(("k", 2), at(6))])
        .advance_watermark_to(at(10))
        .advance_watermark_to_infinity()
    )
    with beam.Pipeline(options=prism()) as p:
        out = p | stream | FoldInState("test", lambda k, vs: [(k, "version-1")], lambda o: o, timedelta(hours=1))
        assert_that(out.main, equal_to([("k", "version-1")]))


def test_an_article_whose_window_closed_beyond_the_allowed_lateness_is_rejected_as_too_late():
    now = datetime.now(timezone.utc)
    article = {"source": "http://127.0.0.1/feed", "origin": "feed", "text": "text", "locator": "entry 0"}
    fresh = dict(article, published_at=now - timedelta(hours=47), ingested_at=now, article_id="fresh")
    stale = dict(article, published_at=now - timedelta(hours=50), ingested_at=now, article_id="stale")
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        out = p | beam.Create([fresh, stale]) | EventTime(3600, 48 * 3600)
        assert_that(out["articles"] | beam.Map(lambda a: a["article_id"]), equal_to(["fresh"]), label="on")
        reasons = out["rejected"] | beam.Map(lambda r: (r["reason"], r["raw_excerpt"]))
        assert_that(reasons, equal_to([("too_late", "text")]), label="late")


# ------------------------------------------------------------------ copies across polls


def version(article_id: str, published_min: float, text: str, state: int = NEW) -> tuple:
    """A Version of an article as MarkCopies makes it (the content hash is the text's)."""
    order = (micros(T0 + timedelta(minutes=published_min)), "http://127.0.0.1/feed", "", article_id)
    hashes = shingle_hash_sets([text])[0].tobytes()
    return tuple(Version(article_id, article_id, order, text[:8], hashes, state=state))


WIRE = "Air defence shot down 71 drones over the Kharkiv region overnight, the regional governor said on Monday."


def test_a_copy_of_an_earlier_polls_text_is_a_copy_until_the_horizon_has_passed():
    horizon = timedelta(minutes=30)
    stream = (
        test_stream.TestStream()
        .add_elements([TimestampedValue((WIRE[:8], version("a", 0, WIRE)), at(0))])
        .advance_watermark_to(at(1))  # poll 1: the original
        # poll 2: the same text from another outlet, published earlier, still a copy of the written one
        .add_elements([TimestampedValue((WIRE[:8], version("b", -5, WIRE)), at(2))])
        .advance_watermark_to(at(3))
        .advance_watermark_to(at(2 + 30 + 1))  # the horizon after the last version: state dropped
        .add_elements([TimestampedValue((WIRE[:8], version("c", 40, WIRE)), at(40))])
        .advance_watermark_to(at(45))  # an original again
        .advance_watermark_to_infinity()
    )
    with beam.Pipeline(options=prism()) as p:
        out = p | stream | AcrossPolls("test", _same_text_across_polls, horizon)
        marks = out.main | beam.MapTuple(lambda read_as, v: (read_as, Version._make(v).duplicate_of))
        assert_that(marks, equal_to([("a", None), ("b", "a"), ("c", None)]), label="marks")
        assert_that(out[EXPIRED], equal_to([WIRE[:8], WIRE[:8]]), label="expired")


def test_a_near_duplicate_is_found_among_the_articles_of_earlier_polls_and_those_in_out():
    edited = WIRE.replace("on Monday", "on Monday morning, adding that debris fell on two houses")
    other = "The national library put 40,000 pages of 19th-century newspapers online, librarians said."
    in_out = [("a", version("a", 0, WIRE, IN_OUT))]  # written before: a candidate, never searched
    poll = [("b", version("b", 10, other)), ("c", version("c", 20, edited))]

    def entries(batch: list[tuple[str, tuple]]) -> list[tuple]:
        return [chunk for _, chunk in _bucket_entries(batch, 1)]

    found, kept = _near_across_polls(0, entries(in_out), [])
    assert found == [] and len(kept) == 1
    found, kept = _near_across_polls(0, entries(poll), kept)
    assert [(article_id, near[1]) for article_id, near in found] == [("c", "a")]
    assert 0.5 <= found[0][1][2] < 1.0
    # decided ones are kept as candidates only: a later poll does not search them again
    found, kept = _near_across_polls(0, entries([("d", version("d", 30, other + " Readers welcomed it."))]), kept)
    assert [(article_id, near[1]) for article_id, near in found] == [("d", "b")]
    assert len(kept) == 3


# ------------------------------------------------------------------------ seeds from OUT


def test_a_stream_is_seeded_with_the_latest_version_and_story_of_each_recent_event_in_out(tmp_path: Path):
    out = tmp_path / "out"
    done = newsmon("run", "--input", str(SAMPLES / "articles"), "--output", str(out))
    assert done.returncode == 0, done.stderr
    events = read_table(out, "events")
    latest: dict[str, dict] = {}
    for row in events:
        if row["event_id"] not in latest or row["version"] > latest[row["event_id"]]["version"]:
            latest[row["event_id"]] = row
    newest = max(row["updated_at"] for row in latest.values())

    seeds = read_seeds(str(out), timedelta(hours=72), now=newest)
    recent = {e for e, row in latest.items() if row["updated_at"] >= newest - timedelta(hours=72)}
    assert 0 < len(recent) < len(latest)  # the horizon bounds the seeds
    assert {(ref.event_id, ref.version) for _, ref in seeds.events} == {(e, latest[e]["version"]) for e in recent}
    for key, ref in seeds.events:  # each under its merge key, and readable in full
        row = ref()
        assert event_key(row) == key and row["version"] == latest[ref.event_id]["version"]
    # MatchStories' seeds: the event's story and the time of that story's last article
    articles = read_table(out, "articles")
    for event_id, (last, _, main, story_id) in seeds.stories:
        assert event_id in recent and story_id == latest[event_id]["story_id"] and not main
        times = [a["published_at"] or a["ingested_at"] for a in articles if a["story_id"] == story_id]
        assert last == max(times)
    with_articles = {e for e in recent if any(a["story_id"] == latest[e]["story_id"] for a in articles)}
    assert {e for e, _ in seeds.stories} == with_articles
    assert seeds.article_files and all(path.endswith(".parquet") for path in seeds.article_files)


# --------------------------------------------------------------------------- alerts


ALERT_RULES = """
destinations:
  hook: {type: python, target: "alert_sink:record"}
rules:
  - name: big
    when: {event_type: air_attack, drones_launched: {gte: 100}}
    notify: [hook]
    on: [new, updated]
"""


def event_row(event_id: str, version: int, drones: int, minutes: float) -> dict:
    moment = T0 + timedelta(minutes=minutes)
    row = dict.fromkeys(EVENTS.names)
    row.update(
        event_id=event_id, version=version, event_type="air_attack", event_date=moment.date(), story_id="s",
        article_ids=[f"{event_id}-{version}"], source_count=1, evidence=[], claims=[], first_seen_at=T0,
        updated_at=moment, attacker="RUS", target="UKR", drones_launched=drones,
    )  # fmt: skip
    return row


def test_a_stream_alerts_once_per_event_version_and_passes_each_version_on_after_it(tmp_path, monkeypatch):
    sink = tmp_path / "sink.jsonl"
    monkeypatch.setenv("ALERT_SINK", str(sink))  # the LOOPBACK workers run in this process
    (tmp_path / "rules.yaml").write_text(ALERT_RULES)
    rules = load_rules(str(tmp_path / "rules.yaml"))
    # e3's version 1 was delivered by an earlier run (alerts/ in OUT): not sent again
    history = AlertHistory({"e3": [Delivery("big", "e3", 1, "hook", "event.new", [], 1, True)]})

    def came(minutes: float, *rows: dict) -> list[TimestampedValue]:
        return [TimestampedValue(row, at(minutes)) for row in rows]

    stream = (
        test_stream.TestStream()
        .add_elements(came(0, event_row("e1", 1, 100, 0), event_row("e2", 1, 50, 0)))
        .advance_watermark_to(at(1))
        .add_elements(came(2, event_row("e1", 2, 120, 1), event_row("e3", 1, 300, 1)))
        .advance_watermark_to(at(3))
        .advance_watermark_to_infinity()
    )
    with beam.Pipeline(options=prism()) as p:
        events = p | stream
        continued = p | "NoneContinued" >> beam.Create([])
        out = {"events": events, "continued": continued} | AlertOnEvents(rules, str(tmp_path / "out"), 3600, history)
        passed = out["events"] | beam.Map(lambda r: (r["event_id"], r["version"]))
        assert_that(passed, equal_to([("e1", 1), ("e2", 1), ("e1", 2), ("e3", 1)]), label="passed")
    sent = [json.loads(line) for line in sink.read_text().splitlines()]
    assert [(a["type"], a["data"]["event"]["event_id"], a["data"]["event"]["version"]) for a in sent] == [
        ("event.new", "e1", 1),
        ("event.updated", "e1", 2),
    ]
    assert sent[1]["data"]["changed"] == ["drones_launched"]
    recorded = read_table(tmp_path / "out", "alerts")
    assert sorted((a["webhook_id"], a["status"]) for a in recorded) == [
        ("big:e1:1", "delivered"),
        ("big:e1:2", "delivered"),
    ]


# ---------------------------------------------------------------------------- runner


def test_a_stream_on_prism_is_watched_longer_than_beams_five_minute_deadline():
    # Beam reads the job's state with a gRPC deadline of --job_server_timeout (300 s): past it,
    # wait_until_finish fails, the CLI ends and takes Prism down (a stream stopped after 5 min)
    options = PipelineOptions(["--streaming", f"--prism_location={PRISM}"])
    choose_runner(options)
    assert options.view_as(PortableOptions).job_server_timeout >= 365 * 24 * 3600
    chosen = PipelineOptions(["--streaming", f"--prism_location={PRISM}", "--job_server_timeout=600"])
    choose_runner(chosen)
    assert chosen.view_as(PortableOptions).job_server_timeout == 600  # the user's own value stays
