"""AssignStories: each article gets the `story_id` of the story it reports.

Two outlets rewriting one wire story share facts, not sentences (word-3 Jaccard 0.03), so
stories come from what articles report, not from their wording:

- an article that reports events belongs to the story of the event it mainly reports: the one
  it states most fields of (a list of regions is one; the claimant none), the earliest in its
  text on a tie. MatchStories keeps, per event, the current story and the time of its last report
  (of every article that reports the event, mainly or not, so that an event's story is the same
  for all); a report more than the horizon (72 h by
  default) after the last one starts a new story. Reports are buffered and handled in event-time
  order (a watermark timer releases them), so the stories do not depend on arrival order, and
  an expiry timer drops an event's state once the horizon has passed: memory holds the events
  of the last horizon, not the whole stream (that is the stream; a batch run has every report
  at once, and walks each event's reports in one pass after a GroupByKey, `_StoriesOfEvent`,
  with the same rule, `follow`). A story is `merge.story_of_event(event_id, time of
  its first report)`, so the first story of an event has the `story_id` of its rows in events/;
- an article without events is grouped with the other event-less articles of the same day
  (Kyiv time, of publication, or of reading when it has no date) whose fingerprint — the
  numbers it states and the places it names — has a Jaccard of at least STORY_SIMILARITY with
  it; each group is a story of its own.

Articles are shuffled once, by day, together with the stories of their events (MatchStories
emits them keyed by the day of the report, which is the article's day).

Exact copies report their original's events, so they land in its story.
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import MIN_TIMESTAMP, Timestamp

from schemas.records import stable_id
from transforms.copies import first_report_order
from transforms.counters import NAMESPACE
from transforms.extract import reported_at
from transforms.extraction import local_date, normalize_numbers
from transforms.extraction.lexicons import places
from transforms.keyed import CoGroupPacked, FoldInState, like
from transforms.merge import story_of_event
from transforms.minhash import words

STORY_SIMILARITY = 0.5
DEFAULT_HORIZON = timedelta(hours=72)
EXPIRED = "expired"  # the tag of the stories whose state MatchStories dropped


@functools.lru_cache(maxsize=1)
def _place_names() -> tuple[dict[tuple[str, ...], str], dict[str, int]]:
    """Place names as word tuples -> ISO code, and first word -> the longest name starting with it."""
    codes = {}
    for code, (regions, cities) in places().items():
        for name in regions + cities:
            codes[tuple(words(name))] = code
    longest: dict[str, int] = {}
    for name in codes:
        longest[name[0]] = max(longest.get(name[0], 0), len(name))
    return codes, longest


_NUMBER = re.compile(r"(?<![\d#.,])(\d+)(?![\d#])")


def fingerprint(text: str) -> frozenset[str]:
    """The numbers (≥ 2; not years, dates, times or ages) and places an article names."""
    codes, longest = _place_names()
    found = {f"n:{n}" for n in _NUMBER.findall(normalize_numbers(text)) if int(n) >= 2}
    names = words(text)
    free = 0  # names do not overlap: the longest name at the leftmost word wins, as in a regex
    for i in [i for i, word in enumerate(names) if word in longest]:
        if i < free:
            continue
        size = next((n for n in range(longest[names[i]], 0, -1) if tuple(names[i : i + n]) in codes), 0)
        if size:
            found.add(f"p:{codes[tuple(names[i : i + size])]}")
            free = i + size
    return frozenset(found)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _reports(element: tuple[str, Iterable[tuple]]) -> Iterator[TimestampedValue]:  # KVs at their event time
    """(event_id, (reported_at, article_id, main)) for every event the article reports; `main`
    marks the one it mainly reports: the one it states most fields of, then the earliest in its text.
    Every report moves its event's story on; only the main one gives the
    article its story."""
    article_id, reports = element
    reports = list(reports)
    main = min(reports, key=lambda r: r[:3])
    for report in reports:
        _, _, event_id, reported_at = report
        value = (event_id, (reported_at, article_id, report is main))
        yield TimestampedValue(value, Timestamp.from_utc_datetime(reported_at))


def _reports_fold(article_id: str, reports: list[tuple]) -> Iterator[TimestampedValue]:
    """_reports as FoldInState calls it (keyed state per article_id instead of a GroupByKey)."""
    return _reports((article_id, reports))


def _report_event(report: tuple[str, tuple]) -> str:
    return report[0]  # FoldInState gives identities the value, not its TimestampedValue


class MatchStories(beam.DoFn):
    """Per event id: (event_id, (reported_at, article_id, main)) -> (day of the report, (article_id,
    story_id)) for the reports that are their article's main one.

    State: the reports waiting for the watermark, the current story and its last report time.
    When the horizon has passed the state is dropped, counted (story_state_expired) and the
    story id emitted on the EXPIRED output, which every runner can show (the local
    DirectRunner records no metrics from timer callbacks).
    """

    PENDING = BagStateSpec("pending", PickleCoder())
    STORY = ReadModifyWriteStateSpec("story", PickleCoder())  # (story_id, last report time)
    ARRIVED = ReadModifyWriteStateSpec("arrived", PickleCoder())  # latest input timestamp (µs)
    RELEASE = TimerSpec("release", TimeDomain.WATERMARK)
    EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)

    def __init__(self, horizon: timedelta):
        self._horizon = horizon
        self._new = Metrics.counter(NAMESPACE, "stories_started|all")
        self._expired = Metrics.counter(NAMESPACE, "story_state_expired|all")

    def process(
        self,
        element: tuple[str, tuple],
        pending: Any = beam.DoFn.StateParam(PENDING),
        release: Any = beam.DoFn.TimerParam(RELEASE),
        story: Any = beam.DoFn.StateParam(STORY),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
        timestamp: Any = beam.DoFn.TimestampParam,
        arrived: Any = beam.DoFn.StateParam(ARRIVED),
    ) -> Iterator[tuple[str, str]]:
        event_id, (reported_at, article_id, main, *seeded) = element
        if seeded:  # (last report time, "", False, story_id): the event's story in OUT (transforms.state)
            _seed(story, expire, (seeded[0], reported_at), self._horizon)
            return iter(())
        pending.add((reported_at, article_id, event_id, main))
        arrived.write(max(arrived.read() or MIN_TIMESTAMP.micros, Timestamp.of(timestamp).micros))
        earliest = min(at for at, *_ in pending.read())
        # never before the report came: a timer behind the watermark is not fired by every
        # runner (FnApiRunner drops it), and in a stream reports come hours after their time
        release.set(max(due(earliest), Timestamp(micros=arrived.read())))
        return iter(())

    @on_timer(RELEASE)
    def release(
        self,
        fired: Any = beam.DoFn.TimestampParam,
        pending: Any = beam.DoFn.StateParam(PENDING),
        story: Any = beam.DoFn.StateParam(STORY),
        release: Any = beam.DoFn.TimerParam(RELEASE),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
        arrived: Any = beam.DoFn.StateParam(ARRIVED),
    ) -> Iterator[tuple[str, str]]:
        yield from self._drain(fired, pending, story, release, expire, arrived)

    @on_timer(EXPIRE)
    def expire(
        self,
        fired: Any = beam.DoFn.TimestampParam,
        pending: Any = beam.DoFn.StateParam(PENDING),
        story: Any = beam.DoFn.StateParam(STORY),
        release: Any = beam.DoFn.TimerParam(RELEASE),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
        arrived: Any = beam.DoFn.StateParam(ARRIVED),
    ) -> Iterator[Any]:
        # Timers set in one round may fire in any order (FnApiRunner): reports due before this
        # moment are handled first, so that a report 1 h after the last one is not orphaned.
        yield from self._drain(fired, pending, story, release, expire, arrived)
        current = story.read()
        if current and due(current[1] + self._horizon) <= fired:
            story.clear()
            self._expired.inc()
            yield beam.pvalue.TaggedOutput(EXPIRED, current[0])

    def _drain(
        self, fired: Timestamp, pending: Any, story: Any, release: Any, expire: Any, arrived: Any
    ) -> Iterator[TimestampedValue]:
        """Handle the pending reports up to `fired` in event-time order; re-arm the timers.

        The stories leave at the time their reports came, if that is later than `fired`: in a
        stream the reports come at their arrival time, hours after the time they report, and
        the stage that joins them with their articles windows by arrival."""
        out_at = max(fired, Timestamp(micros=arrived.read() or MIN_TIMESTAMP.micros))
        waiting = sorted(pending.read())
        ready, later = [r for r in waiting if due(r[0]) <= fired], [r for r in waiting if due(r[0]) > fired]
        if not ready:
            return
        current, leads, started = follow(story.read(), ready, self._horizon)
        self._new.inc(started)
        for at, article_id, story_id in leads:
            yield TimestampedValue((story_day(at), (article_id, story_id)), out_at)
        story.write(current)
        expire.set(due(current[1] + self._horizon))
        pending.clear()
        for r in later:
            pending.add(r)
        if later:
            release.set(due(later[0][0]))


def follow(
    current: tuple[str, datetime] | None, reports: list[tuple], horizon: timedelta
) -> tuple[tuple[str, datetime] | None, list[tuple[datetime, str, str]], int]:
    """An event's story through its reports (reported_at, article_id, event_id, main), in time
    order: a report more than the horizon after the story's last one starts a new story.
    `current` is (story_id, time of its last report) before them. Returns the story after them,
    (reported_at, article_id, story_id) of the reports that are their article's main one, and
    the number of stories started."""
    leads, started = [], 0
    for at, article_id, event_id, main in reports:
        if current is None or at - current[1] > horizon:
            current = (story_of_event(event_id, at), at)
            started += 1
        current = (current[0], max(current[1], at))
        if main:
            leads.append((at, article_id, current[0]))
    return current, leads, started


class _StoriesOfEvent(beam.DoFn):
    """Batch: (event_id, all its reports and its seed from OUT) -> (day of the report,
    (article_id, story_id)), as MatchStories gives them once the watermark has passed every
    report; one pass per event, events in parallel (a stateful step runs on one worker on the
    FnApiRunner)."""

    def __init__(self, horizon: timedelta):
        self._horizon = horizon
        self._new = Metrics.counter(NAMESPACE, "stories_started|all")

    def process(self, element: tuple[str, Iterable[tuple]]) -> Iterator[tuple[str, tuple[str, str]]]:
        event_id, values = element
        current, reports = None, []
        for at, article_id, main, *seeded in values:
            if not seeded:
                reports.append((at, article_id, event_id, main))
            elif current is None or current[1] < at:  # its story in OUT (as _seed)
                current = (seeded[0], at)
        _, leads, started = follow(current, sorted(reports), self._horizon)
        self._new.inc(started)
        for at, article_id, story_id in leads:
            yield story_day(at), (article_id, story_id)


def _seed(story: Any, expire: Any, seed: tuple[str, datetime], horizon: timedelta) -> None:
    """Seeds an event's story state with its story in OUT, unless a later one is there."""
    current = story.read()
    if current is None or current[1] < seed[1]:
        story.write(seed)
        expire.set(due(seed[1] + horizon))


def due(moment: datetime) -> Timestamp:
    """The event-time timer moment at which a report (or an expiry) at `moment` is handled: the
    moment rounded up to the millisecond. Runners keep timers in milliseconds (the FnApiRunner
    fires a timer set at 10:39:28.146384 at 10:39:28.146), so a timer set at a report's own
    microsecond time fires before the report is due, and the report was never released: its
    article fell back to fingerprint grouping and got a story none of its events has. Reading
    times (articles without a publication date) and feed times with fractions of a second have
    microseconds."""
    micros = Timestamp.from_utc_datetime(moment).micros
    return Timestamp(micros=-(-micros // 1000) * 1000)


def story_day(moment: datetime) -> str:
    """The Kyiv day an article belongs to when grouping: of its report (extract.reported_at)."""
    return local_date(moment).isoformat()


def _prefix(features: frozenset[str]) -> list[str]:
    """Prefix filtering: two fingerprints with a Jaccard ≥ STORY_SIMILARITY share at least one
    of the first |f| − ⌈STORY_SIMILARITY·|f|⌉ + 1 features of each, in one fixed order (numbers,
    which are rarer, before places)."""
    ordered = sorted(features)
    return ordered[: len(ordered) - math.ceil(STORY_SIMILARITY * len(ordered)) + 1]


class _FingerprintGroups:
    """Greedy grouping of one day's event-less articles, fed in order of first report: an article
    joins the first group whose fingerprint has a Jaccard ≥ STORY_SIMILARITY with its own, or
    starts one. Groups are indexed by the prefix of their fingerprint, so an article is compared
    only with the groups that can reach the threshold, not with every group of the day."""

    def __init__(self) -> None:
        self._groups: list[tuple[frozenset[str], str]] = []
        self._having: dict[str, list[int]] = defaultdict(list)  # prefix feature -> groups

    def story(self, article_id: str, features: frozenset[str]) -> str:
        prefix = _prefix(features)
        sharing = sorted({g for feature in prefix for g in self._having.get(feature, ())})
        found = next((g for g in sharing if _jaccard(self._groups[g][0], features) >= STORY_SIMILARITY), None)
        if found is None:
            found = len(self._groups)
            self._groups.append((features, stable_id("story", "article", article_id)))
            for feature in prefix:
                self._having[feature].append(found)
        return self._groups[found][1]


def _assign_day(element: tuple[str, dict[str, list]]) -> Iterator[dict[str, Any]]:
    """One day's articles with their story: from their main event, or from grouping."""
    _, grouped = element
    from_events = dict(grouped["leads"])
    groups = _FingerprintGroups()
    for article in sorted(grouped["articles"], key=first_report_order):
        story = from_events.get(article["article_id"]) or groups.story(
            article["article_id"], fingerprint(article["text"])
        )
        yield dict(article, story_id=story)


class AssignStories(beam.PTransform):
    """{"articles": article rows, "reports": MergeEvents' reports, optionally "seeds": the
    stories of the events in OUT (transforms.state.ReadState)} -> article rows with story_id."""

    def __init__(self, horizon: timedelta = DEFAULT_HORIZON):
        super().__init__()
        self._horizon = horizon

    def expand(self, inputs: dict[str, beam.PCollection]) -> beam.PCollection:
        leads = (
            inputs["reports"] | "MainEvent" >> FoldInState("reports", _reports_fold, _report_event, self._horizon)
        ).main
        if "seeds" in inputs:  # seeds first in time: at the time of their story's last report
            seeds = inputs["seeds"] | "SeedTimes" >> beam.Map(
                lambda s: TimestampedValue(s, Timestamp.from_utc_datetime(s[1][0]))
            )
            leads = (leads, seeds) | "WithSeeds" >> beam.Flatten().with_output_types(tuple[str, tuple])
        if leads.pipeline.options.view_as(StandardOptions).streaming:
            leads = (
                leads | "MatchStories" >> beam.ParDo(MatchStories(self._horizon)).with_outputs(EXPIRED, main="stories")
            ).stories | "BackToWindows" >> like(inputs["articles"])
        else:  # every report at once: one pass per event, events in parallel
            leads = (
                leads
                | "GroupByEvent" >> beam.GroupByKey()
                | "StoriesOfEvent" >> beam.ParDo(_StoriesOfEvent(self._horizon))
            )
        articles = inputs["articles"] | "KeyByDay" >> beam.Map(lambda a: (story_day(reported_at(a)), a))
        return (
            {"articles": articles, "leads": leads}
            | "JoinByDay" >> CoGroupPacked()
            | "AssignByDay" >> beam.FlatMap(_assign_day)
        )
