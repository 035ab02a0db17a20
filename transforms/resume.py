"""A stream continues what OUT holds: its keyed state is seeded from OUT when the job starts.

The batch job reads OUT where this run's keys meet it (transforms/state.py: side inputs of this
run's article ids and event keys). A stream's keys are unbounded, so it reads OUT's last
horizon once, when the pipeline is built (as stream.known_articles does), and feeds it into the
same keyed state the stages keep, as the first values of their keys:

- MarkCopies: the articles of OUT's windows of the last `--dedup-horizon` (ids, content hash,
  shingle hashes of the text; read by the workers from those files), in state IN_OUT, into the
  same-article, same-text and near-duplicate state: a rewrite of an article written before the
  restart is its edit, a copy of it is a copy, a near-duplicate of it is marked;
- MergeEvents: the latest version of every event in OUT updated within the horizon (a
  reference: the whole row is read only when a report of it comes), so a report of it continues
  its versions instead of giving version 1 again;
- AssignStories (MatchStories): the first story of each of those events, with the time of its
  last article, so a report of it joins that story;
- the alerts: the delivery history of alerts/ (transforms.alerts.alert_history, as in batch).

The seeds are a bounded PCollection at the time the job starts (before the first poll). Until
they are all read the watermark of every stage that takes them stays before that time, so no
value of the stream is decided before its key holds its seed. Seeds expire like any value: a
horizon after the start, unless a report of their key comes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from transforms.state import (
    EVENT_COLUMNS,
    PriorEvent,
    _PriorVersions,
    _read_columns,
    _wanted_mask,
    event_key,
    last_horizon,
    rows_of,
    table_files,
)

logger = logging.getLogger(__name__)


@dataclass
class StreamSeeds:
    """What a stream takes from OUT at start (module docstring)."""

    article_files: list[str] = field(default_factory=list)  # of the last horizon
    events: list[tuple[str, PriorEvent]] = field(default_factory=list)  # (merge key, latest version)
    stories: list[tuple[str, tuple]] = field(default_factory=list)  # MatchStories seeds


def read_seeds(output: str, horizon: timedelta, now: datetime | None = None) -> StreamSeeds:
    """Reads OUT's last horizon: the paths of its article files, the latest version of each
    event updated within `horizon` before `now`, and the story of each of those events."""
    now = now or datetime.now(timezone.utc)
    seeds = StreamSeeds(article_files=[f.path for f in last_horizon(table_files(output, "articles"), horizon)])
    latest: dict[str, tuple[dict[str, Any], str]] = {}
    for f in table_files(output, "events"):
        for row in rows_of(_read_columns(f.path, [*EVENT_COLUMNS, "updated_at"])):
            if row["event_id"] not in latest or row["version"] > latest[row["event_id"]][0]["version"]:
                latest[row["event_id"]] = (row, f.path)
    recent = {e: (row, path) for e, (row, path) in latest.items() if row["updated_at"] >= now - horizon}
    seeds.events = [
        (event_key(row), PriorEvent(row["event_id"], row["version"], path)) for row, path in recent.values()
    ]
    # every version of an event carries the id of its first story
    story_events: dict[str, list[str]] = {}
    for event_id, (row, _) in recent.items():
        if row["story_id"]:
            story_events.setdefault(row["story_id"], []).append(event_id)
    last: dict[str, datetime] = {}
    if story_events:
        wanted = dict.fromkeys(story_events)
        for f in table_files(output, "articles"):
            table = _read_columns(f.path, ["story_id", "published_at", "ingested_at"])
            for row in rows_of(table.filter(_wanted_mask(table, "story_id", wanted))):
                at = row["published_at"] or row["ingested_at"]
                last[row["story_id"]] = max(last.get(row["story_id"], at), at)
    seeds.stories = [
        (event_id, (last[story_id], "", False, story_id))
        for story_id, events in sorted(story_events.items())
        if story_id in last
        for event_id in sorted(events)
    ]
    logger.info(
        "stream state from OUT: %d article files of the last horizon, %d events, %d stories",
        len(seeds.article_files),
        len(seeds.events),
        len(seeds.stories),
    )
    return seeds


def _at(value: Any, at: Timestamp) -> TimestampedValue:
    return TimestampedValue(value, at)


class SeedState(beam.PTransform):
    """PBegin -> {"versions": (article_id, Version) for MarkCopies' `prior`, "events": (merge key,
    PriorEvent) for MergeEvents' `prior`, "stories": seeds for AssignStories}: the seeds at
    `at` (the job's start, before its first poll); versions and events in `windowing()` (the
    stream's poll windows: they are flattened with the polled values, and Prism refuses a
    Flatten of different windowings), stories in the global window (AssignStories re-times
    them and flattens them with its keyed-state output)."""

    def __init__(self, seeds: StreamSeeds, windowing: Callable[[], beam.WindowInto], at: float | None = None):
        super().__init__()
        self._seeds = seeds
        self._windowing = windowing
        self._at = Timestamp.of(at if at is not None else time.time())

    def expand(self, root: beam.pvalue.PBegin) -> dict[str, beam.PCollection]:
        at = self._at
        files = [(path, True) for path in self._seeds.article_files]
        versions = (
            root
            | "ArticleFiles" >> beam.Create(files)
            | "Spread" >> beam.Reshuffle()
            | "ReadVersions" >> beam.ParDo(_PriorVersions())
            | "VersionsAtStart" >> beam.Map(_at, at)
            | "VersionsInPolls" >> self._windowing()
        )
        events = (
            root
            | "Events" >> beam.Create(self._seeds.events)
            | "EventsAtStart" >> beam.Map(_at, at)
            | "EventsInPolls" >> self._windowing()
        )
        stories = root | "Stories" >> beam.Create(self._seeds.stories)
        return {"versions": versions, "events": events, "stories": stories}
