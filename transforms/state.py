"""The output is the state: what a run into an OUT that already holds tables needs of it.

A run continues what OUT holds instead of writing it again (DESIGN, "The output is the state").
This module reads, from OUT's finished Parquet files, only what the stages need to continue:

- articles: of every file, the ids and content hashes (a few columns, never the text), filtered
  in Arrow against this run's article ids and hashes (a side input: the small side), so only the
  articles this run meets again become Versions for MarkCopies (already written, or the
  original of a copy or an edit); and every article of the windows of the last horizon, with
  its text as shingle hashes: the near-duplicate candidates;
- events: of every file, the key columns, narrowed in Arrow to the dates of this run's event
  keys, then to the keys themselves: (merge key, `PriorEvent`) of the versions of the events
  this run reports again; MergeEvents reads the whole row only of each such event's latest
  version, after the join, and continues its versions;
- stories: of those events, the first story, and the time of that story's last article (the
  story_id column of every articles file, filtered in Arrow), to seed AssignStories' keyed
  state (`MatchStories`);
- rejected: the ids among this run's rejected records already in OUT;
- alerts: the delivery history (transforms.alerts.AlertHistory), small, read when the pipeline
  is built.

`ReadState` lists the files when the pipeline is built; `PriorArticles`, `PriorEvents`,
`StorySeeds` and `RejectedInOut` read them, each keyed as the stage that takes it keys its own
input, so a stage joins it like any other input (batch) or takes it as the first elements of
its keyed state (streaming: the DoFns take `None` for the side inputs and read everything, to
seed state at start).

Finished files only: a file is written as `.<name>.inprogress` and renamed to
`part-<digest>-NNN.parquet` when complete (transforms/write.py), and only `part-*.parquet`
files are read, so a run killed half-way leaves nothing this module (or a reader of
`**/*.parquet`) would take for a table file.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows

from transforms.copies import IN_OUT, Version, first_report_order
from transforms.counters import count_written
from transforms.merge import IDENTITY, UNDATED, merge_key
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


def _wanted_mask(table: pa.Table, column: str, wanted: dict[str, None] | None) -> pa.ChunkedArray | None:
    """Rows whose `column` is in `wanted` (None: every row), vectorized."""
    if wanted is None:
        return None
    return pc.fill_null(pc.is_in(table.column(column), value_set=pa.array(list(wanted), pa.string())), False)


def _either(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else pc.or_(a, b)


class _PriorVersions(beam.DoFn):
    """A file of articles/ (path, whether of the last horizon) -> (article_id, Version) of the
    rows this run meets again, marked IN_OUT: those whose id or content hash is among `ids` /
    `hashes` (side inputs: this run's), and every row of the last horizon's files, with the
    shingle hashes of its text (near-duplicate candidates). Filtered in Arrow before any row
    becomes a Python object. `ids`/`hashes` None: every row (to seed a stream's state)."""

    def process(
        self, element: tuple[str, bool], ids: dict[str, None] | None = None, hashes: dict[str, None] | None = None
    ) -> Iterator[tuple[str, tuple]]:
        path, recent = element
        table = _read_columns(path, ARTICLE_COLUMNS + (["text"] if recent else []))
        if not recent:
            mask = _either(_wanted_mask(table, "article_id", ids), _wanted_mask(table, "content_hash", hashes))
            if mask is not None:
                table = table.filter(mask)
        rows = rows_of(table)
        shingles = shingle_hash_sets([r["text"] for r in rows]) if recent else [None] * len(rows)
        for row, hashed in zip(rows, shingles, strict=True):
            version = Version(
                article_id=row["article_id"],
                read_as=row["article_id"],
                order=first_report_order(row),
                content_hash=row["content_hash"],
                hashes=b"" if hashed is None else hashed.tobytes(),
                duplicate_of=row["duplicate_of"],
                similarity=row["similarity"],
                exact_copy=bool(row["exact_copy"]),
                state=IN_OUT,
            )
            yield row["article_id"], tuple(version)


class _StoryTimes(beam.DoFn):
    """A file of articles/ -> (story_id, report time) of its articles whose story is wanted."""

    def process(self, element: tuple[str, bool], wanted: dict[str, None]) -> Iterator[tuple[str, datetime]]:
        path, _ = element
        if not wanted:
            return
        table = _read_columns(path, ["story_id", "published_at", "ingested_at"])
        table = table.filter(_wanted_mask(table, "story_id", wanted))
        for row in rows_of(table):
            yield row["story_id"], row["published_at"] or row["ingested_at"]


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


def _key_date(key: str) -> str:
    """The date part of a merge key (`air_attack|2025-03-14|RUS|UKR` -> 2025-03-14, or undated)."""
    return key.split("|")[1]


class _PriorEvents(beam.DoFn):
    """A file of events/ -> (merge key, PriorEvent) of each version whose key is in `keys` (a
    side input: this run's mention keys; None: every version), and on STORIES (story_id,
    event_id) of the first story of those events. Rows are first narrowed in Arrow to the
    dates of `keys`, then keyed in Python."""

    def process(self, path: str, keys: dict[str, None] | None = None) -> Iterator[Any]:
        table = _read_columns(path, EVENT_COLUMNS)
        if keys is not None:
            days = {_key_date(k) for k in keys}
            dates = pa.array(sorted(date.fromisoformat(d) for d in days if d != UNDATED), pa.date32())
            dated = pc.is_in(table.column("event_date"), value_set=dates)
            mask = pc.fill_null(dated, UNDATED in days)  # an undated event (null date) matches undated keys
            table = table.filter(mask)
        for row in rows_of(table):
            key = event_key(row)
            if keys is not None and key not in keys:
                continue
            yield key, PriorEvent(row["event_id"], row["version"], path)
            if row["version"] == 1 and row["story_id"]:
                yield beam.pvalue.TaggedOutput(STORIES, (row["story_id"], row["event_id"]))


def _story_seed(element: tuple[str, dict[str, list]]) -> Iterator[tuple[str, tuple[datetime, str, bool, str]]]:
    """(event_id, (time of the story's last article, "", False, story_id)): a seed of
    MatchStories' state for the event whose first story this is (transforms.stories, seeded
    reports: a report with a fourth element)."""
    story_id, grouped = element
    if grouped["events"] and grouped["times"]:
        last = max(grouped["times"])
        for event_id in set(grouped["events"]):
            yield event_id, (last, "", False, story_id)


def _as_set(keys: beam.PCollection, label: str) -> beam.pvalue.AsDict:
    """A PCollection of strings as a side input to test membership in (a dict of None)."""
    return beam.pvalue.AsDict(keys | label >> beam.Map(lambda key: (key, None)))


class PriorArticles(beam.PTransform):
    """ReadState's article files -> the versions MarkCopies needs for this run's `articles`:
    those with the id or the text of one of them, and the last horizon's (near-duplicate
    candidates). Only those rows are read into Python (module docstring)."""

    def __init__(self, articles: beam.PCollection):
        super().__init__()
        self._articles = articles

    def expand(self, files: beam.PCollection) -> beam.PCollection:
        ids = _as_set(self._articles | "Ids" >> beam.Map(lambda a: a["article_id"]), "IdSet")
        hashes = _as_set(self._articles | "Hashes" >> beam.Map(lambda a: a["content_hash"]), "HashSet")
        return files | "ReadVersions" >> beam.ParDo(_PriorVersions(), ids, hashes)


class PriorEvents(beam.PTransform):
    """ReadState's event files -> {"events": (merge key, PriorEvent) of the versions in OUT of
    the events `mentions` report again, "stories": (story_id, event_id) of their first story}."""

    def __init__(self, mentions: beam.PCollection):
        super().__init__()
        self._mentions = mentions

    def expand(self, files: beam.PCollection) -> dict[str, beam.PCollection]:
        keys = _as_set(self._mentions | "Keys" >> beam.Map(merge_key), "KeySet")
        found = files | "ReadEvents" >> beam.ParDo(_PriorEvents(), keys).with_outputs(STORIES, main="events")
        return {"events": found.events, "stories": found[STORIES]}


class StorySeeds(beam.PTransform):
    """{"article_files": ReadState's, "event_stories": PriorEvents' "stories", "reports":
    MergeEvents' reports} -> (event_id, (last report time, "", story_id)): the story in OUT of
    each event this run reports, to seed AssignStories' MatchStories."""

    def expand(self, inputs: dict[str, beam.PCollection]) -> beam.PCollection:
        reported = _as_set(inputs["reports"] | "ReportedEvents" >> beam.Map(lambda kv: kv[1][2]), "ReportedSet")
        stories = inputs["event_stories"] | "OfReportedEvents" >> beam.Filter(lambda kv, r: kv[1] in r, reported)
        wanted = _as_set(stories | "StoryIds" >> beam.Keys(), "StorySet")
        times = (
            inputs["article_files"]
            | "ReadStoryTimes" >> beam.ParDo(_StoryTimes(), wanted)
            | "LastArticleOfStory" >> beam.CombinePerKey(max)
        )
        return (
            {"events": stories, "times": times}
            | "JoinStories" >> beam.CoGroupByKey()
            | "Seeds" >> beam.FlatMap(_story_seed)
        )


# --------------------------------------------------------------------------------------- state


class ReadState(beam.PTransform):
    """Pipeline root -> the finished files of OUT, listed when the pipeline is built, spread
    over the workers: {"article_files": (path, whether of the last horizon), "event_files",
    "rejected_files": paths}. PriorArticles, PriorEvents, StorySeeds and RejectedInOut read
    them, each only the columns and rows this run meets again (module docstring)."""

    def __init__(self, output: str, horizon: timedelta):
        super().__init__()
        self._output = output
        self._horizon = horizon

    def expand(self, root: beam.pvalue.PBegin) -> dict[str, beam.PCollection]:
        articles = table_files(self._output, "articles")
        recent = {f.path for f in last_horizon(articles, self._horizon)}
        events = [f.path for f in table_files(self._output, "events")]
        rejected = [f.path for f in table_files(self._output, "rejected")]
        logger.info(
            "OUT holds %d article files (%d of the last horizon), %d event files, %d rejected files",
            len(articles),
            len(recent),
            len(events),
            len(rejected),
        )

        def files(name: str, paths: list) -> beam.PCollection:
            return root | f"List{name}" >> beam.Create(sorted(paths)) | f"Spread{name}" >> beam.Reshuffle()

        return {
            "article_files": files("Articles", [(f.path, f.path in recent) for f in articles]),
            "event_files": files("Events", events),
            "rejected_files": files("Rejected", rejected),
        }


class RejectedInOut(beam.PTransform):
    """ReadState's rejected files -> the ids of `rejected` (this run's rows) already in OUT."""

    def __init__(self, rejected: beam.PCollection):
        super().__init__()
        self._rejected = rejected

    def expand(self, files: beam.PCollection) -> beam.PCollection:
        wanted = _as_set(self._rejected | "Ids" >> beam.Map(lambda row: row["rejected_id"]), "IdSet")
        return files | "ReadIds" >> beam.FlatMap(_rejected_ids, wanted)


def _rejected_ids(path: str, wanted: dict[str, None]) -> list[str]:
    table = _read_columns(path, ["rejected_id"])
    return table.filter(_wanted_mask(table, "rejected_id", wanted)).column("rejected_id").to_pylist()


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


def lock_path(output: str) -> str:
    """The lock of a local OUT: in the temporary directory, named by a hash of OUT's absolute
    path; never inside OUT, which may itself lie inside an --input folder."""
    digest = hashlib.sha256(os.path.realpath(output).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), "newsmon-locks", f"{digest}.lock")


@contextlib.contextmanager
def run_lock(output: str, poll_s: float = 1.0) -> Iterator[None]:
    """Holds OUT for one run at a time, from reading its state to the last write: a second run
    into the same local folder waits (two runs that each read OUT before the other wrote would
    both write the articles they share). The lock file (lock_path) holds the holder's pid; a
    lock left by a process that is gone (killed) is taken over. Only local folders, on one
    machine: on gs:// or s3:// the caller must not start two runs at once."""
    if "://" in output:
        yield
        return
    path = lock_path(output)
    os.makedirs(os.path.dirname(path), exist_ok=True)
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
            f.write(f"{os.getpid()}\n{os.path.realpath(output)}\n")
        break
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _holder_alive(path: str) -> bool:
    try:
        with open(path) as f:
            pid = int((f.read().split() or ["0"])[0])
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
