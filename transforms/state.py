"""The output is the state: what a run into an OUT that already holds tables needs of it.

A run continues what OUT holds instead of writing it again (DESIGN, "The output is the state").
This module reads, from OUT's finished Parquet files, only what the stages need to continue:

- articles: every article's ids, content hash and first-report order (a few columns of every
  file, never the text), so MarkCopies knows which articles are already written and which text
  an exact copy copies; the text (as shingle hashes) only of the windows of the last horizon,
  the near-duplicate candidates;
- events: every event version's id, version, type, date and identity (its merge key) and the
  file it is in; MergeEvents reads the whole row only of the events this run reports again
  (`PriorEvent`, loaded after the join), and continues their versions;
- stories: per event, its first story and the time of that story's last article, to seed
  AssignStories' keyed state (`MatchStories`);
- alerts: the delivery history (`AlertHistory`), small, read when the pipeline is built.

Each is a PCollection produced by `ReadState`, keyed as the stage that takes it keys its own
input, so a stage joins it like any other input (batch) or takes it as the first elements of
its keyed state (streaming: the same seeds, read at start).

Finished files only: a file is written as `.<name>.inprogress` and renamed to
`part-<digest>-NNN.parquet` when complete (transforms/write.py), and only `part-*.parquet`
files are read, so a run killed half-way leaves nothing this module (or a reader of
`**/*.parquet`) would take for a table file.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows

from transforms.copies import IN_OUT, Version, first_report_order
from transforms.counters import count_written
from transforms.merge import IDENTITY, merge_key
from transforms.minhash import shingle_hash_sets

logger = logging.getLogger(__name__)

_PARTITION = re.compile(r"window_start=(\d{8}T\d{6}Z)$")
IDENTITY_COLUMNS = sorted({name for names in IDENTITY.values() for name in names})
ARTICLE_COLUMNS = ["article_id", "content_hash", "published_at", "ingested_at", "source", "locator"]
ARTICLE_COLUMNS += ["duplicate_of", "similarity", "exact_copy", "story_id"]
STORIES = "stories"  # the tag of (story_id, report time) / (story_id, event_id) outputs
EVENT_COLUMNS = ["event_id", "version", "event_type", "event_date", "story_id", *IDENTITY_COLUMNS]


@dataclass(frozen=True)
class TableFile:
    path: str
    window_start: datetime


def table_files(output: str, table: str) -> list[TableFile]:
    """The finished Parquet files of a table in OUT (`window_start=…/part-*.parquet`), oldest
    window first. Temporary `.…inprogress` files of a run that was killed are not listed."""
    pattern = FileSystems.join(output, table, "window_start=*", "part-*.parquet")
    try:
        matched = FileSystems.match([pattern])[0].metadata_list
    except Exception:
        return []
    files = []
    for meta in matched:
        folder = meta.path.replace("\\", "/").rsplit("/", 2)[-2]
        found = _PARTITION.match(folder)
        if found:
            start = datetime.strptime(found.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
            files.append(TableFile(meta.path, start))
    return sorted(files, key=lambda f: (f.window_start, f.path))


def last_horizon(files: list[TableFile], horizon: timedelta) -> list[TableFile]:
    """The files of the windows that start within `horizon` of the newest window's start."""
    if not files:
        return []
    newest = max(f.window_start for f in files)
    return [f for f in files if f.window_start >= newest - horizon]


# ------------------------------------------------------------------------------------ articles


def rows_of(table: pa.Table) -> list[dict[str, Any]]:
    """The rows of a table read from OUT, with their times in datetime.timezone.utc as the
    pipeline makes them (pyarrow gives a zoneinfo UTC, which Beam's Timestamp refuses)."""
    times = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
    rows = table.to_pylist()
    for row in rows:
        for name in times:
            if row[name] is not None:
                row[name] = row[name].astimezone(timezone.utc)
    return rows


def _read_columns(path: str, columns: list[str]) -> pa.Table:
    """Only these columns of one file (Parquet reads nothing else from disk)."""
    with FileSystems.open(path) as f:
        return pq.read_table(f, columns=columns)


class _PriorVersions(beam.DoFn):
    """A file of articles/ -> (article_id, Version) of each of its rows, marked IN_OUT: what
    MarkCopies decides copies on. With `with_text`, the shingle hashes of the text too (the
    windows of the last horizon: near-duplicate candidates); without, empty hashes. On STORIES:
    (story_id, report time) of each article."""

    def __init__(self, with_text: bool):
        self._with_text = with_text

    def process(self, path: str) -> Iterator[tuple[str, tuple]]:
        columns = ARTICLE_COLUMNS + (["text"] if self._with_text else [])
        rows = rows_of(_read_columns(path, columns))
        hashes = shingle_hash_sets([r["text"] for r in rows]) if self._with_text else [None] * len(rows)
        for row, shingles in zip(rows, hashes, strict=True):
            version = Version(
                article_id=row["article_id"],
                read_as=row["article_id"],
                order=first_report_order(row),
                content_hash=row["content_hash"],
                hashes=b"" if shingles is None else shingles.tobytes(),
                duplicate_of=row["duplicate_of"],
                similarity=row["similarity"],
                exact_copy=bool(row["exact_copy"]),
                state=IN_OUT,
            )
            yield row["article_id"], tuple(version)
            if row["story_id"]:
                yield beam.pvalue.TaggedOutput(STORIES, (row["story_id"], row["published_at"] or row["ingested_at"]))


# -------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class PriorEvent:
    """One version of an event in OUT, by reference: calling it reads the whole row from its
    file (cached per worker), so only the events a run reports again are read in full."""

    event_id: str
    version: int
    path: str

    def __call__(self) -> dict[str, Any]:
        table = _whole_file(self.path)
        mask = pc.and_(
            pc.equal(table.column("event_id"), self.event_id), pc.equal(table.column("version"), self.version)
        )
        rows = rows_of(table.filter(mask))
        if not rows:
            raise LookupError(f"event {self.event_id} version {self.version} is no longer in {self.path}")
        return rows[0]


@functools.lru_cache(maxsize=16)
def _whole_file(path: str) -> pa.Table:
    with FileSystems.open(path) as f:
        return pq.read_table(f)


def event_key(row: dict[str, Any]) -> str:
    """The merge key (transforms.merge.merge_key) of an events row."""
    return merge_key(
        {
            "event_type": row["event_type"],
            "event_date": row["event_date"],
            "fields": {name: row.get(name) for name in IDENTITY[row["event_type"]]},
        }
    )


class _PriorEvents(beam.DoFn):
    """A file of events/ -> (merge key, PriorEvent) of each version in it, and on STORIES
    (story_id, event_id) of each event's first story."""

    def process(self, path: str) -> Iterator[Any]:
        for row in rows_of(_read_columns(path, EVENT_COLUMNS)):
            yield event_key(row), PriorEvent(row["event_id"], row["version"], path)
            if row["version"] == 1 and row["story_id"]:
                yield beam.pvalue.TaggedOutput(STORIES, (row["story_id"], row["event_id"]))


def _story_seed(element: tuple[str, dict[str, list]]) -> Iterator[tuple[str, tuple[datetime, str, str]]]:
    """(event_id, (time of the story's last article, "", story_id)): a seed of MatchStories'
    state for the event whose first story this is (transforms.stories, seeded reports)."""
    story_id, grouped = element
    if grouped["events"] and grouped["times"]:
        last = grouped["times"][0]
        for event_id in set(grouped["events"]):
            yield event_id, (last, "", story_id)


# --------------------------------------------------------------------------------------- state


class ReadState(beam.PTransform):
    """Pipeline root -> what the stages need of OUT (module docstring):

    - "articles": (article_id, Version tuple, state IN_OUT) of every article in OUT;
    - "events": (merge key, PriorEvent) of every event version in OUT;
    - "story_seeds": (event_id, (last report time, "", story_id)) of every event's first story.

    Files are listed when the pipeline is built; each file is read by one worker."""

    def __init__(self, output: str, horizon: timedelta):
        super().__init__()
        self._output = output
        self._horizon = horizon

    def expand(self, root: beam.pvalue.PBegin) -> dict[str, beam.PCollection]:
        articles = table_files(self._output, "articles")
        recent = {f.path for f in last_horizon(articles, self._horizon)}
        older = [f.path for f in articles if f.path not in recent]
        events = [f.path for f in table_files(self._output, "events")]
        logger.info(
            "OUT holds %d article files (%d of the last horizon), %d event files",
            len(articles),
            len(recent),
            len(events),
        )

        def files(name: str, paths: list[str]) -> beam.PCollection:
            return root | f"List{name}" >> beam.Create(sorted(paths)) | f"Spread{name}" >> beam.Reshuffle()

        older_versions = files("OlderArticles", older) | "OlderVersions" >> beam.ParDo(
            _PriorVersions(with_text=False)
        ).with_outputs(STORIES, main="versions")
        recent_versions = files("RecentArticles", recent) | "RecentVersions" >> beam.ParDo(
            _PriorVersions(with_text=True)
        ).with_outputs(STORIES, main="versions")
        versions = (older_versions.versions, recent_versions.versions) | "PriorVersions" >> beam.Flatten()
        times = (
            (older_versions[STORIES], recent_versions[STORIES])
            | "StoryTimes" >> beam.Flatten()
            | "LastArticleOfStory" >> beam.CombinePerKey(max)
        )
        prior_events = files("Events", events) | "PriorEvents" >> beam.ParDo(_PriorEvents()).with_outputs(
            STORIES, main="events"
        )
        seeds = (
            {"events": prior_events[STORIES], "times": times}
            | "JoinStories" >> beam.CoGroupByKey()
            | "StorySeeds" >> beam.FlatMap(_story_seed)
        )
        rejected = [f.path for f in table_files(self._output, "rejected")]
        rejected_ids = files("Rejected", rejected) | "RejectedIds" >> beam.FlatMap(
            lambda path: _read_columns(path, ["rejected_id"]).column("rejected_id").to_pylist()
        )
        return {
            "articles": versions,
            "events": prior_events.events,
            "story_seeds": seeds,
            "rejected_ids": rejected_ids,
        }


class NotInOut(beam.PTransform):
    """{"rows": rows, "in_out": ids already in OUT} -> the rows whose `id_column` is not in OUT
    (a rejected record read again is counted, not written again)."""

    def __init__(self, id_column: str):
        super().__init__()
        self._column = id_column

    def expand(self, inputs: dict[str, beam.PCollection]) -> beam.PCollection:
        column = self._column
        return (
            {
                "rows": inputs["rows"] | "KeyById" >> beam.Map(lambda row: (row[column], row)),
                "in_out": inputs["in_out"] | "KeyIds" >> beam.Map(lambda i: (i, None)),
            }
            | "JoinIds" >> beam.CoGroupByKey()
            | "NotInOut" >> beam.FlatMap(_not_in_out)
        )


def _not_in_out(element: tuple[str, dict[str, list]]) -> Iterator[dict[str, Any]]:
    _, grouped = element
    if grouped["in_out"]:
        for row in grouped["rows"]:
            count_written("rejected", row)  # rejected again: in the run summary, not written twice
        return
    yield from grouped["rows"][:1]  # one row per id, as WriteTable would write it


def _after(element: Any, _done: int) -> Any:
    return element


class After(beam.PTransform):
    """Passes `rows` on once every element of `done` exists (a side input is complete before
    anything reads it): orders the writes of the tables, so a run killed half-way leaves OUT in
    a state the next run completes (pipeline/assemble.py)."""

    def __init__(self, done: beam.PCollection):
        super().__init__()
        self._done = done

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        count = (
            self._done
            | "GlobalWindow" >> beam.WindowInto(GlobalWindows())
            | "CountDone" >> beam.combiners.Count.Globally()
        )
        return rows | "Wait" >> beam.Map(_after, beam.pvalue.AsSingleton(count))


# ----------------------------------------------------------------------------------- run lock

LOCK_NAME = ".newsmon-run.lock"  # a dot file: readers of OUT/<table>/** never see it


@contextlib.contextmanager
def run_lock(output: str, poll_s: float = 1.0) -> Iterator[None]:
    """Holds OUT for one run at a time, from reading its state to the last write: a second run
    into the same local folder waits (two runs that each read OUT before the other wrote would
    both write the articles they share). The lock file holds the holder's pid; a lock left by a
    process that is gone (killed) is taken over. Only local folders: on gs:// or s3:// the
    caller must not start two runs at once."""
    if "://" in output:
        yield
        return
    created = not os.path.isdir(output)
    os.makedirs(output, exist_ok=True)
    path = os.path.join(output, LOCK_NAME)
    waited = False
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not _holder_alive(path):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                continue
            if not waited:
                logger.warning("%s: another newsmon run is writing to it; waiting for it to finish", output)
                waited = True
            time.sleep(poll_s)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        break
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        if created:  # a run that wrote nothing (bad usage) leaves no folder behind
            with contextlib.suppress(OSError):
                os.rmdir(output)


def _holder_alive(path: str) -> bool:
    try:
        with open(path) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return True  # being written right now: look again
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
