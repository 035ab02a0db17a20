"""WriteTable: rows -> hive-partitioned Parquet, one folder per event-time window.

    OUT/<table>/window_start=20250520T000000Z/part-<digest>-000.parquet

A row's window is that of its `published_at`, else its `ingested_at` (DESIGN, "Output layout").
Rows are grouped per window, sorted by the table's id column and written with the table's one
schema from `schemas`; the file name is a digest of the ids it holds, so re-running the same
input gives the same files, and another input into the same folder adds files instead of
overwriting. Each file is written under a temporary name and renamed when complete, so
readers never see half a file. Works on any Beam filesystem (local, gs://, s3://).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.trigger import AccumulationMode, AfterCount, AfterWatermark
from apache_beam.transforms.window import FixedWindows, IntervalWindow, TimestampedValue
from apache_beam.utils.timestamp import Duration, Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from schemas import TABLES, to_arrow
from transforms.counters import count_written
from transforms.keyed import CoGroupPacked, as_is, like, packed, unpacked
from transforms.stream import progress

logger = logging.getLogger(__name__)

MAX_ROWS_PER_FILE = 100_000


def window_folder(window: IntervalWindow) -> str:
    """`window_start=YYYYMMDDTHHMMSSZ`: colon-free ISO 8601 basic, UTC."""
    return "window_start=" + window.start.to_utc_datetime().strftime("%Y%m%dT%H%M%SZ")


def event_time(table: str, row: dict[str, Any]) -> Timestamp:
    """The time that decides the row's window: the first of the table's time columns that is set."""
    return Timestamp.from_utc_datetime(next(row[c] for c in TABLES[table].time if row.get(c)))


class _KeyByWindow(beam.DoFn):
    """(folder of the row's own window, row). In batch that is the Beam window the row is in;
    in a stream a row may be in a later Beam window than its own (below), never an earlier one."""

    def __init__(self, table: str, window_seconds: int):
        self._table = table
        self._window_seconds = window_seconds

    def process(self, row: dict[str, Any]) -> Iterator[tuple[str, dict]]:
        at = event_time(self._table, row)
        start = at.micros // 1_000_000 // self._window_seconds * self._window_seconds
        yield window_folder(IntervalWindow(start, start + self._window_seconds)), row


def _at_event_time(row: dict[str, Any], table: str, timestamp: Any = beam.DoFn.TimestampParam) -> TimestampedValue:
    """The row at its own event time, or at the time it was made when that is later: a new
    version of an event first seen two days ago is made now, and put back two days it would be
    behind the watermark, where a runner drops it (its window's lateness is over). Its folder is
    still that of its own time (_KeyByWindow). In batch every input is at the start of time, so
    each row is at its own time."""
    return TimestampedValue(row, max(event_time(table, row), Timestamp.of(timestamp)))


ROW_GROUP_BYTES = 16 << 20  # a window's rows are written in row groups of about this many bytes in Arrow
ROWS_AT_ONCE = 16  # rows decoded at a time (an event version row can be a megabyte of dicts)


def _ids(table: str, row: dict[str, Any]) -> tuple:
    return tuple(row[c] for c in TABLES[table].ids)


def _pack_in_folder(element: tuple[str, dict[str, Any]], table: str) -> tuple[str, tuple[tuple, bytes]]:
    """(folder, (the row's ids, the row packed)): a window's rows wait compressed, and are
    sorted by their ids without being decoded."""
    folder, row = element
    return folder, (_ids(table, row), packed(row))


class _WriteWindow(beam.DoFn):
    """(folder, [(ids, packed row)]) -> the paths of its Parquet files. The rows are sorted by
    their ids, then decoded and written a row group (about ROW_GROUP_BYTES in Arrow) at a
    time, so a window's rows are never all decoded at once: the largest events window of the
    20,000-article bench is 2 MB packed, 24 MB in Arrow and 114 MB as dicts."""

    def __init__(self, table: str, output: str, progress: bool = False):
        self._table = table
        self._output = output
        self._progress = progress

    def process(self, element: tuple[str, Iterable[tuple[tuple, bytes]]]) -> Iterator[str]:
        folder, values = element
        return self._write(folder, list(values), unpacked)

    def write_rows(self, folder: str, rows: Iterable[dict[str, Any]]) -> list[str]:
        """Rows of one folder, as they are (not packed), written as `process` writes a window."""
        return list(self._write(folder, [(_ids(self._table, row), row) for row in rows], as_is))

    def _write(self, folder: str, values: list[tuple[tuple, Any]], decode: Callable[[Any], Any]) -> Iterator[str]:
        values.sort(key=lambda v: v[0])
        digest = hashlib.sha256("\n".join(":".join(map(str, ids)) for ids, _ in values).encode()).hexdigest()[:16]
        for n, start in enumerate(range(0, len(values), MAX_ROWS_PER_FILE)):
            rows = [value for _, value in values[start : start + MAX_ROWS_PER_FILE]]
            path = FileSystems.join(self._output, self._table, folder, f"part-{digest}-{n:03d}.parquet")
            write_parquet_groups(TABLES[self._table].schema, self._row_groups(rows, decode), path)
            if self._progress:  # a stream: one line per window (and late firing) written
                progress(f"wrote {len(rows)} {self._table} rows to {self._table}/{folder}/")
            yield path

    def _row_groups(self, values: list[Any], decode: Callable[[Any], Any]) -> Iterator[Any]:
        """Arrow tables of about ROW_GROUP_BYTES each, made ROWS_AT_ONCE rows at a time: sizes are
        taken in Arrow, as a packed event version row is several times compressed over."""
        tables, size = [], 0
        for start in range(0, len(values), ROWS_AT_ONCE):
            tables.append(self._arrow([decode(value) for value in values[start : start + ROWS_AT_ONCE]]))
            size += tables[-1].nbytes
            if size >= ROW_GROUP_BYTES:
                yield pa.concat_tables(tables)
                tables, size = [], 0
        if tables:
            yield pa.concat_tables(tables)

    def _arrow(self, rows: list[dict[str, Any]]) -> Any:
        for row in rows:
            count_written(self._table, row)
        return to_arrow(self._table, rows)


def write_parquet(table: Any, path: str) -> None:
    """Write an Arrow table under a temporary name in the same folder, then rename into place."""
    write_parquet_groups(table.schema, [table], path)


def write_parquet_groups(schema: Any, tables: Iterable[Any], path: str) -> None:
    """Write Arrow tables of one schema as the row groups of one file, under a temporary name in
    the same folder, then rename into place."""
    folder, name = path.rsplit("/", 1)
    temp = FileSystems.join(folder, f".{name}.inprogress")
    rows = 0
    with FileSystems.create(temp) as f, pq.ParquetWriter(f, schema, compression="zstd") as writer:
        for table in tables:
            writer.write_table(table)
            rows += table.num_rows
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([temp], [path])
    logger.debug("wrote %s (%d rows)", path, rows)


class WriteTable(beam.PTransform):
    """Rows of one table -> Parquet files in `output/<table>/window_start=…/`; yields the paths."""

    def __init__(
        self, table: str, output: str, window_seconds: int, allowed_lateness_s: float = 0, progress: bool = False
    ):
        super().__init__()
        self._progress = progress
        self._table = table
        self._output = output
        self._window_seconds = window_seconds
        self._lateness = allowed_lateness_s

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        # A window is written when the watermark passes its end; rows that come later (within
        # the allowed lateness) are written as they come, to new files of the same folder
        # (the file name is a digest of the ids it holds). In batch: one firing per window.
        window = beam.WindowInto(
            FixedWindows(self._window_seconds),
            trigger=AfterWatermark(late=AfterCount(1)),
            allowed_lateness=Duration(seconds=self._lateness),
            accumulation_mode=AccumulationMode.DISCARDING,
        )
        return (
            rows
            | "EventTime" >> beam.Map(_at_event_time, self._table)
            | "Window" >> window
            | "KeyByWindow" >> beam.ParDo(_KeyByWindow(self._table, self._window_seconds))
            | "Pack" >> beam.Map(_pack_in_folder, self._table).with_output_types(tuple[str, tuple[tuple, bytes]])
            | "GroupByWindow" >> beam.GroupByKey()
            | "WriteParquet" >> beam.ParDo(_WriteWindow(self._table, self._output, self._progress))
        )


class _WriteNow(beam.DoFn):
    """Rows -> the same rows, after they are written: a file per bundle and window folder."""

    def __init__(self, table: str, output: str, window_seconds: int, progress: bool):
        self._key = _KeyByWindow(table, window_seconds)
        self._write = _WriteWindow(table, output, progress)

    def start_bundle(self) -> None:
        self._rows: list[WindowedValue] = []

    def process(
        self, row: dict[str, Any], timestamp: Any = beam.DoFn.TimestampParam, window: Any = beam.DoFn.WindowParam
    ) -> None:
        self._rows.append(WindowedValue(row, timestamp, [window]))

    def finish_bundle(self) -> Iterator[WindowedValue]:
        folders: dict[str, list[dict[str, Any]]] = {}
        for held in self._rows:
            for folder, row in self._key.process(held.value):
                folders.setdefault(folder, []).append(row)
        for folder in sorted(folders):
            self._write.write_rows(folder, folders[folder])
        yield from self._rows
        self._rows = []


class WriteNow(beam.PTransform):
    """Rows of one table -> the same rows once they are in Parquet files of their window's folder
    (written as they come, a file per bundle and folder; the name is a digest of the ids, as
    WriteTable's). A stream writes its event versions this way, so that the articles that report
    them can wait for them (AfterWritten)."""

    def __init__(self, table: str, output: str, window_seconds: int, progress: bool = False):
        super().__init__()
        self._args = (table, output, window_seconds, progress)

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        return rows | "WriteParquetNow" >> beam.ParDo(_WriteNow(*self._args))


def _article_ids(event: dict[str, Any]) -> list[tuple[str, None]]:
    return [(article_id, None) for article_id in event["article_ids"] or []]


class AfterWritten(beam.PTransform):
    """{"articles": article rows in the stream's poll windows, "events": event rows already
    written (WriteNow)} -> the articles, each passed on once the watermark has passed its poll
    window at the events too: every event version reported in that poll is in OUT before the
    articles that report it are written. So a job killed between the two leaves articles that
    are not in OUT yet, which the restarted job reads again (stream.SkipKnown skips only what
    is in OUT), never an article in OUT whose event version is not."""

    def expand(self, inputs: dict[str, beam.PCollection]) -> beam.PCollection:
        articles = inputs["articles"]
        reported = inputs["events"] | "ArticleIds" >> beam.FlatMap(_article_ids) | "InPollWindows" >> like(articles)
        keyed = articles | "KeyById" >> beam.Map(lambda a: (a["article_id"], a))
        return (
            {"articles": keyed, "reported": reported}
            | "JoinWritten" >> CoGroupPacked()
            | "Articles" >> beam.FlatMap(lambda kv: kv[1]["articles"])
        )
