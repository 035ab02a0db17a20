"""ReadArticles: sources (globs, feed URLs) -> raw article records + rejected records."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from schemas import Rejected, SourceSpec
from schemas.records import REJECTED
from transforms.counters import count_read
from transforms.fetch import FetchConfig, FetchFailed, TooLarge, fetch_url, read_file
from transforms.formats import PARSERS, excerpt, format_of

logger = logging.getLogger(__name__)


class _ExpandSources(beam.DoFn):
    """A glob becomes one element per matched file (with its size); a URL passes through."""

    def process(self, spec: SourceSpec) -> Iterator[tuple[SourceSpec, int | None]]:
        if spec.kind == "url":
            yield spec, None
            return
        for match in FileSystems.match([spec.location]):
            for meta in match.metadata_list:
                yield SourceSpec("file", meta.path, spec.origin, spec.fmt), meta.size_in_bytes


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
                data = read_file(where, size, self._fetch.max_bytes)
        except TooLarge as e:
            return [Rejected(where, "too_large", str(e))]
        except FetchFailed as e:
            return [Rejected(where, "fetch_failed", str(e))]
        except OSError as e:
            return [Rejected(where, "read_failed", f"{type(e).__name__}: {e}")]
        fmt = spec.fmt or format_of(where, data)
        if fmt is None:
            return [Rejected(where, "unsupported_format", "unknown extension and not text", excerpt(data))]
        try:
            # A list, so a parser error surfaces here and not half-way through the output.
            return list(PARSERS[fmt](data, where))
        except Exception as e:  # dead letter: the record is kept with its error, the run goes on
            logger.warning("%s: %s parser failed: %r", where, fmt, e)
            return [Rejected(where, "parse_error", f"{fmt}: {type(e).__name__}: {e}", excerpt(data))]


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
        return {"articles": parsed.articles, "rejected": parsed[REJECTED]}
