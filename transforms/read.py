"""ReadArticles: sources (globs, feed URLs) -> raw article records + rejected records."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystem import FileSystem
from apache_beam.io.filesystems import FileSystems

from schemas import Rejected, SourceSpec
from schemas.records import REJECTED
from transforms.bounded import ReadError
from transforms.counters import count_read
from transforms.fetch import FetchConfig, FetchFailed, NotAFile, TooLarge, fetch_url, read_file
from transforms.formats import PARSERS, excerpt, format_of

logger = logging.getLogger(__name__)


class _ExpandSources(beam.DoFn):
    """A glob becomes one element per matched file (with its size); a URL passes through."""

    def process(self, spec: SourceSpec) -> Iterator[tuple[SourceSpec, int | None]]:
        if spec.kind == "url":
            yield spec, None
            return
        if "://" not in spec.location:
            for path, size in list_local(spec.location):
                yield SourceSpec("file", path, spec.origin, spec.fmt), size
            return
        for match in FileSystems.match([spec.location]):
            for meta in match.metadata_list:
                yield SourceSpec("file", meta.path, spec.origin, spec.fmt), meta.size_in_bytes


def list_local(pattern: str) -> Iterator[tuple[str, int | None]]:
    """The local files a Beam glob matches, as Beam's LocalFileSystem lists them (os.walk, no
    symlinked folders followed), but with the entries Beam drops silently kept: a dangling
    link or a symlink loop comes with size None, is read, and becomes a `read_failed` row
    instead of vanishing. Special files (FIFOs, devices) are listed and refused when read."""
    if not any(c in pattern for c in "*?["):
        if os.path.lexists(pattern):
            yield pattern, _size(pattern)
        return
    regex = re.compile(FileSystem.translate_pattern(pattern))
    prefix = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    root = prefix if prefix.endswith("/") else os.path.dirname(prefix) or "."
    for folder, _, names in os.walk(root):
        for name in sorted(names):
            path = os.path.join(folder, name)
            if regex.match(path):
                yield path, _size(path)


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None  # read_file says why, as a read_failed row


class _ReadSource(beam.DoFn):
    """Reads one file or URL and parses it; each record found goes to the main output (a raw
    article) or to `rejected` (with a reason code). Unexpected parser errors are dead-lettered
    as `parse_error`, so one exotic input never fails the run."""

    def __init__(self, fetch: FetchConfig):
        self._fetch = fetch

    def process(self, element: tuple[SourceSpec, int | None]) -> Iterator[Any]:
        spec, size = element
        ingested_at = datetime.now(timezone.utc)
        for record in self._records(spec, size):
            count_read(spec.origin)
            if isinstance(record, Rejected):
                yield beam.pvalue.TaggedOutput(REJECTED, record.to_row(ingested_at, spec.origin))
            else:
                record.update(source=spec.location, origin=spec.origin, ingested_at=ingested_at)
                yield record

    def _records(self, spec: SourceSpec, size: int | None) -> Iterable[Any]:
        where = spec.location
        try:
            if spec.kind == "url":
                data = fetch_url(where, self._fetch)
            else:
                data = read_file(where, size, self._fetch)
        except TooLarge as e:
            return [Rejected(where, "too_large", str(e))]
        except FetchFailed as e:
            return [Rejected(where, "fetch_failed", str(e))]
        except NotAFile as e:
            return [Rejected(where, "special_file", str(e))]
        except ReadError as e:
            return [Rejected(where, "read_failed", str(e))]
        except OSError as e:
            return [Rejected(where, "read_failed", f"{type(e).__name__}: {e}")]
        fmt = spec.fmt or format_of(where, data)
        if fmt is None:
            return [Rejected(where, "unsupported_format", "unknown extension and not text", excerpt(data))]
        return parse_isolated(fmt, data, where)


def parse_isolated(fmt: str, data: bytes, where: str) -> list[Any]:
    """The records of one source; a parser that fails half-way keeps the records it gave so far
    and adds one `parse_error` for the rest (parsers isolate their own records: a line, an
    item, an entry; this is the net under them). A list, so the error surfaces here."""
    records: list[Any] = []
    try:
        for record in PARSERS[fmt](data, where):
            records.append(record)
    except Exception as e:  # dead letter: the record is kept with its error, the run goes on
        logger.warning("%s: %s parser failed after %d records: %r", where, fmt, len(records), e)
        detail = f"{fmt}: {type(e).__name__}: {e}"[:500] + (f" (after {len(records)} records)" if records else "")
        records.append(Rejected(where, "parse_error", detail, excerpt(data), f"after record {len(records)}"))
    return records


class ReadArticles(beam.PTransform):
    """Reads every source and parses its records.

    Returns {"articles": raw article dicts, "rejected": rows of the rejected/ table}.
    """

    def __init__(self, sources: list[SourceSpec], fetch: FetchConfig):
        super().__init__()
        self._sources = sources
        self._fetch = fetch

    def expand(self, pbegin: beam.pvalue.PBegin) -> dict[str, beam.PCollection]:
        parsed = (
            pbegin
            | "Sources" >> beam.Create(self._sources)
            | "ExpandGlobs" >> beam.ParDo(_ExpandSources())
            | "Spread" >> beam.Reshuffle()
            | "ReadAndParse" >> beam.ParDo(_ReadSource(self._fetch)).with_outputs(REJECTED, main="articles")
        )
        # A file's records are parsed, and normalized, on one worker: one big JSONL file uses one
        # worker of many. A Reshuffle here balanced the read stage but bought no time end to end
        # (bench/RESULTS.md, "Where the time goes"), so there is none; the different event rows a
        # two-worker run gave with it at 228f489 no longer come (same output as one worker).
        return {"articles": parsed.articles, "rejected": parsed[REJECTED]}
