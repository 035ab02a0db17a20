"""Stories in a stream: TestStream on the DirectRunner (BundleBasedDirectRunner, streaming)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing import test_stream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from transforms.merge import story_of_event
from transforms.stories import EXPIRED, MatchStories

T0 = datetime(2025, 3, 14, 6, 0, tzinfo=timezone.utc)
HORIZON = timedelta(hours=72)
EVENT = "e-126-drones"


def report(article: str, hours: float, main: bool = True) -> TimestampedValue:
    at = T0 + timedelta(hours=hours)
    return TimestampedValue((EVENT, (at, article, main)), Timestamp.from_utc_datetime(at))


def watermark(hours: float) -> Timestamp:
    return Timestamp.from_utc_datetime(T0 + timedelta(hours=hours))


def run(stream: test_stream.TestStream, expected: list[tuple[str, str]], expired: list[str] | None = None) -> None:
    """MatchStories over the stream; checks its stories (and the stories whose state expired).

    Each stream moves its watermark past its last report before it ends, as a real source
    does: output of a timer that fires only at the end of input reaches assert_that's global
    window after it closed (the local runner holds no watermark for it)."""
    options = PipelineOptions(["--runner=BundleBasedDirectRunner", "--streaming"])
    with beam.Pipeline(options=options) as p:
        out = p | stream | beam.ParDo(MatchStories(HORIZON)).with_outputs(EXPIRED, main="stories")
        assert_that(out.stories | beam.Values(), equal_to(expected), label="stories")
        if expired is not None:
            assert_that(out[EXPIRED], equal_to(expired), label="expired")


def story(hours: float) -> str:
    return story_of_event(EVENT, T0 + timedelta(hours=hours))


def test_a_rewrite_30h_later_joins_the_story_and_one_after_the_horizon_starts_a_new_one():
    stream = (
        test_stream.TestStream()
        .add_elements([report("first", 0)])
        .advance_watermark_to(watermark(1))
        .add_elements([report("rewrite-30h", 30)])
        .advance_watermark_to(watermark(31))
        .add_elements([report("after-horizon", 30 + 73)])  # 73 h after the last report
        .advance_watermark_to(watermark(104))
        .advance_watermark_to_infinity()
    )
    run(stream, [("first", story(0)), ("rewrite-30h", story(0)), ("after-horizon", story(103))])


def test_out_of_order_reports_get_the_same_story_as_in_order():
    in_order = test_stream.TestStream().add_elements([report("a", 0)]).add_elements([report("b", 30)])
    reversed_ = test_stream.TestStream().add_elements([report("b", 30)]).add_elements([report("a", 0)])
    expected = [("a", story(0)), ("b", story(0))]
    for stream in (in_order, reversed_):
        run(stream.advance_watermark_to(watermark(31)).advance_watermark_to_infinity(), expected)


def test_state_expires_after_the_horizon():
    stream = (
        test_stream.TestStream()
        .add_elements([report("a", 0), report("b", 30)])
        .advance_watermark_to(watermark(30 + 72 + 1))  # the horizon after the last report has passed
        .add_elements([report("c", 200)])
        .advance_watermark_to(watermark(201))
        .advance_watermark_to(watermark(200 + 72 + 1))
        .advance_watermark_to_infinity()
    )
    # the first story's state was dropped when the watermark passed 30 h + 72 h, before c came;
    # c starts a story of its own, whose state is dropped in turn 72 h after it
    run(stream, [("a", story(0)), ("b", story(0)), ("c", story(200))], expired=[story(0), story(200)])


def test_a_report_that_is_not_its_articles_main_one_still_starts_the_events_story():
    """The event was first reported, in passing, by an article that mainly reports another
    event: an article that mainly reports it later gets the story that began then, which is the
    story_id of the event's rows (merge.story_of_event of its first report)."""
    stream = (
        test_stream.TestStream()
        .add_elements([report("in-passing", 0, main=False)])
        .add_elements([report("mainly", 20)])
        .advance_watermark_to(watermark(21))
        .advance_watermark_to_infinity()
    )
    run(stream, [("mainly", story(0))])
