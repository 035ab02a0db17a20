"""AssignStories: each article gets the `story_id` of the story it reports.

Two outlets rewriting one wire story share facts, not sentences (word-3 Jaccard 0.03), so
stories come from what articles report, not from their wording:

- an article that reports events belongs to the story of the event it mainly reports: the one
  it gives most evidence for (the earliest in its text on a tie). MatchStories keeps, per event,
  the current story and the time of its last report; a report more than the horizon (72 h by
  default) after the last one starts a new story. Reports are buffered and handled in event-time
  order (a watermark timer releases them), so the stories do not depend on arrival order, and
  an expiry timer drops an event's state once the horizon has passed: memory holds the events
  of the last horizon, not the whole stream. A story is `merge.story_of_event(event_id, time of
  its first report)`, so the first story of an event has the `story_id` of its rows in events/;
- an article without events is grouped with the other event-less articles of the same day
  (Kyiv time) whose fingerprint — the numbers it states and the places it names — has a Jaccard
  of at least STORY_SIMILARITY with it; each group is a story of its own.

Exact copies report their original's events, so they land in its story.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from schemas.records import stable_id
from transforms.copies import first_report_order
from transforms.counters import NAMESPACE
from transforms.merge import story_of_event
from transforms.nlp import places
from transforms.rules import has_numbers, local_date, normalize_numbers

STORY_SIMILARITY = 0.5
DEFAULT_HORIZON = timedelta(hours=72)
UNDATED = "undated"
WITHOUT_EVENTS = "without_events"  # the tag of the articles that report no event
EXPIRED = "expired"  # the tag of the stories whose state MatchStories dropped


@functools.lru_cache(maxsize=1)
def _place_names() -> tuple[dict[tuple[str, ...], str], dict[str, int]]:
    """Place names as word tuples -> ISO code, and first word -> the longest name starting with it."""
    codes = {}
    for code, (regions, cities) in places().items():
        for name in regions + cities:
            codes[tuple(_WORD.findall(name.lower()))] = code
    longest: dict[str, int] = {}
    for name in codes:
        longest[name[0]] = max(longest.get(name[0], 0), len(name))
    return codes, longest


_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"(?<![\d#.,])(\d+)(?![\d#])")


def fingerprint(text: str) -> frozenset[str]:
    """The numbers (≥ 2; not years, dates, times or ages) and places an article names."""
    codes, longest = _place_names()
    lower = text.lower()
    found = set()
    if has_numbers(lower):
        found = {f"n:{n}" for n in _NUMBER.findall(normalize_numbers(text)) if int(n) >= 2}
    words = _WORD.findall(lower)
    free = 0  # names do not overlap: the longest name at the leftmost word wins, as in a regex
    for i in [i for i, word in enumerate(words) if word in longest]:
        if i < free:
            continue
        size = next((n for n in range(longest[words[i]], 0, -1) if tuple(words[i : i + n]) in codes), 0)
        if size:
            found.add(f"p:{codes[tuple(words[i : i + size])]}")
            free = i + size
    return frozenset(found)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _main_event(element: tuple[str, Iterable[tuple]]) -> TimestampedValue:  # KV at its event time
    """(event_id, (reported_at, article_id)) of the event the article says most about, at the
    report's event time."""
    article_id, reports = element
    _, _, event_id, reported_at = min(reports, key=lambda r: r[:3])
    return TimestampedValue((event_id, (reported_at, article_id)), Timestamp.from_utc_datetime(reported_at))


class MatchStories(beam.DoFn):
    """Per event id: (event_id, (reported_at, article_id)) -> (article_id, story_id).

    State: the reports waiting for the watermark, the current story and its last report time.
    When the horizon has passed the state is dropped, counted (story_state_expired) and the
    story id emitted on the EXPIRED output, which every runner can show (the local
    DirectRunner records no metrics from timer callbacks).
    """

    PENDING = BagStateSpec("pending", PickleCoder())
    STORY = ReadModifyWriteStateSpec("story", PickleCoder())  # (story_id, last report time)
    RELEASE = TimerSpec("release", TimeDomain.WATERMARK)
    EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)

    def __init__(self, horizon: timedelta):
        self._horizon = horizon
        self._new = Metrics.counter(NAMESPACE, "stories_started|all")
        self._expired = Metrics.counter(NAMESPACE, "story_state_expired|all")

    def process(
        self,
        element: tuple[str, tuple[datetime, str]],
        pending: Any = beam.DoFn.StateParam(PENDING),
        release: Any = beam.DoFn.TimerParam(RELEASE),
    ) -> Iterator[tuple[str, str]]:
        event_id, (reported_at, article_id) = element
        pending.add((reported_at, article_id, event_id))
        earliest = min(at for at, _, _ in pending.read())
        release.set(Timestamp.from_utc_datetime(earliest))
        return iter(())

    @on_timer(RELEASE)
    def release(
        self,
        fired: Any = beam.DoFn.TimestampParam,
        pending: Any = beam.DoFn.StateParam(PENDING),
        story: Any = beam.DoFn.StateParam(STORY),
        release: Any = beam.DoFn.TimerParam(RELEASE),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> Iterator[tuple[str, str]]:
        yield from self._drain(fired, pending, story, release, expire)

    @on_timer(EXPIRE)
    def expire(
        self,
        fired: Any = beam.DoFn.TimestampParam,
        pending: Any = beam.DoFn.StateParam(PENDING),
        story: Any = beam.DoFn.StateParam(STORY),
        release: Any = beam.DoFn.TimerParam(RELEASE),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> Iterator[Any]:
        # Timers set in one round may fire in any order (FnApiRunner): reports due before this
        # moment are handled first, so that a report 1 h after the last one is not orphaned.
        yield from self._drain(fired, pending, story, release, expire)
        current = story.read()
        if current and Timestamp.from_utc_datetime(current[1] + self._horizon) <= fired:
            story.clear()
            self._expired.inc()
            yield beam.pvalue.TaggedOutput(EXPIRED, current[0])

    def _drain(
        self, fired: Timestamp, pending: Any, story: Any, release: Any, expire: Any
    ) -> Iterator[tuple[str, str]]:
        """Handle the pending reports up to `fired` in event-time order; re-arm the timers."""
        now = fired.to_utc_datetime().replace(tzinfo=timezone.utc)
        waiting = sorted(pending.read())
        ready, later = [r for r in waiting if r[0] <= now], [r for r in waiting if r[0] > now]
        if not ready:
            return
        current = story.read()
        for reported_at, article_id, event_id in ready:
            if current is None or reported_at - current[1] > self._horizon:
                current = (story_of_event(event_id, reported_at), reported_at)
                self._new.inc()
            current = (current[0], max(current[1], reported_at))
            yield article_id, current[0]
        story.write(current)
        expire.set(Timestamp.from_utc_datetime(current[1] + self._horizon))
        pending.clear()
        for r in later:
            pending.add(r)
        if later:
            release.set(Timestamp.from_utc_datetime(later[0][0]))


def _profile(article: dict[str, Any]) -> tuple[str, tuple[str, tuple, tuple[str, ...]]]:
    """(article_id, (Kyiv day, first-report order, fingerprint)): what grouping needs, without the text."""
    day = local_date(article["published_at"]).isoformat() if article["published_at"] else UNDATED
    return article["article_id"], (day, first_report_order(article), tuple(sorted(fingerprint(article["text"]))))


def _split(element: tuple[str, dict[str, list]]) -> Iterator[Any]:
    """(article_id, story) for an article with a story from its events; the others are keyed
    by day for grouping."""
    article_id, grouped = element
    story = next(iter(grouped["story"]), None)
    if story:
        yield article_id, story
        return
    for day, order, features in grouped["profile"]:
        yield beam.pvalue.TaggedOutput(WITHOUT_EVENTS, (day, (order, article_id, features)))


def _group_by_fingerprint(element: tuple[str, Iterable[tuple]]) -> Iterator[tuple[str, str]]:
    """Greedy, in order of first report: an article joins the first group it is similar to."""
    _, profiles = element
    groups: list[tuple[frozenset[str], str]] = []
    for _, article_id, features in sorted(profiles):
        features = frozenset(features)
        story = next((s for f, s in groups if features and _jaccard(f, features) >= STORY_SIMILARITY), None)
        if story is None:
            story = stable_id("story", "article", article_id)
            groups.append((features, story))
        yield article_id, story


def _with_story(element: tuple[str, dict[str, list]]) -> Iterator[dict[str, Any]]:
    _, grouped = element
    for article in grouped["articles"]:
        yield dict(article, story_id=grouped["story"][0])


class AssignStories(beam.PTransform):
    """{"articles": article rows, "reports": MergeEvents' reports} -> article rows with story_id."""

    def __init__(self, horizon: timedelta = DEFAULT_HORIZON):
        super().__init__()
        self._horizon = horizon

    def expand(self, inputs: dict[str, beam.PCollection]) -> beam.PCollection:
        leads = (
            inputs["reports"]
            | "GroupReports" >> beam.GroupByKey()
            | "MainEvent" >> beam.Map(_main_event).with_output_types(tuple[str, tuple[datetime, str]])
            | "MatchStories" >> beam.ParDo(MatchStories(self._horizon)).with_outputs(EXPIRED, main="stories")
        ).stories
        split = (
            {"profile": inputs["articles"] | "Profiles" >> beam.Map(_profile), "story": leads}
            | "JoinStories" >> beam.CoGroupByKey()
            | "Split" >> beam.FlatMap(_split).with_outputs(WITHOUT_EVENTS, main="with_events")
        )
        grouped = (
            split[WITHOUT_EVENTS]
            | "GroupByDay" >> beam.GroupByKey()
            | "GroupByFingerprint" >> beam.FlatMap(_group_by_fingerprint)
        )
        stories = (split.with_events, grouped) | "AllStories" >> beam.Flatten()
        return (
            {"articles": inputs["articles"] | "KeyById" >> beam.WithKeys(lambda a: a["article_id"]), "story": stories}
            | "JoinArticles" >> beam.CoGroupByKey()
            | "WithStory" >> beam.FlatMap(_with_story)
        )
