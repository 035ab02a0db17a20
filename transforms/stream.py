"""Unbounded sources for `newsmon run --streaming`: feeds polled, folders watched.

PollSources: every `--poll-interval` a PeriodicImpulse tick asks each source (keyed by its
location, so each has its own state) for what is new:

- a feed URL is fetched with a conditional GET: the ETag and Last-Modified of its last answer
  are kept in the feed's state and sent as If-None-Match / If-Modified-Since; a 304 costs no
  parsing. A feed that fails (refused, timeout, 5xx, 4xx) is counted (poll_failed), logged,
  written once to rejected/ as `fetch_failed` per run of failures, and asked again at the next
  poll; the other feeds go on.
- a folder or glob is listed; a file not seen before, or changed (size or mtime), is read.

Every record a source yields is hashed (its title, text, url, date and id, not its position in
the feed); a record whose hash the source has already yielded is skipped, so a feed that shows
its last 50 items at every poll yields each item once, and an item rewritten in place (same
link, new text) comes again as a new record (MarkCopies makes it an edit of the first). The
hashes are kept while the source keeps showing them, and for the horizon after that.

Pub/Sub (Dataflow users): `--pubsub-subscription projects/P/subscriptions/S` reads JSON article
objects (the .jsonl format) from a subscription with `beam.io.ReadFromPubSub` instead of polling.
It needs `apache-beam[gcp]` and a Google Cloud project: it cannot be run on these machines.

This module also has the streaming steps that need a clock or OUT: `EventTime` (an article
whose window closed more than the allowed lateness ago goes to rejected/ as `too_late`; the
others travel on at their arrival time) and `SkipKnown` (articles an earlier run wrote to OUT are
not processed again).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import apache_beam as beam
import requests
from apache_beam.coders import PickleCoder
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.utils.timestamp import MAX_TIMESTAMP

from schemas import Rejected, SourceSpec
from schemas.records import REJECTED
from transforms.counters import NAMESPACE, count_read
from transforms.extract import reported_at
from transforms.fetch import CHUNK, FetchConfig, TooLarge, read_file
from transforms.formats import PARSERS, excerpt, format_of

logger = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL_S = 300.0
DEFAULT_ALLOWED_LATENESS_S = 48 * 3600.0


class NotModified(Exception):
    """The feed answered 304: nothing new since the validators we sent."""


class PollFailed(Exception):
    """The feed could not be fetched this time (one-line reason)."""


def conditional_get(url: str, config: FetchConfig, validators: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """GET with If-None-Match / If-Modified-Since from `validators` (the last answer's ETag and
    Last-Modified). Returns the body and the new validators; raises NotModified on 304,
    PollFailed or TooLarge otherwise. No retries here: the next poll is the retry."""
    headers = {"User-Agent": config.user_agent, "Accept": "application/rss+xml, application/atom+xml, */*"}
    if validators.get("etag"):
        headers["If-None-Match"] = validators["etag"]
    if validators.get("last_modified"):
        headers["If-Modified-Since"] = validators["last_modified"]
    try:
        with requests.Session() as session:
            session.max_redirects = config.max_redirects
            with session.get(url, timeout=config.timeout_s, stream=True, headers=headers) as response:
                if response.status_code == 304:
                    raise NotModified()
                if response.status_code >= 400:
                    raise PollFailed(f"HTTP {response.status_code}")
                chunks, total = [], 0
                for chunk in response.iter_content(CHUNK):
                    total += len(chunk)
                    if total > config.max_bytes:
                        raise TooLarge(f"more than {config.max_bytes} bytes, limit {config.max_bytes}")
                    chunks.append(chunk)
                etag, modified = response.headers.get("ETag", ""), response.headers.get("Last-Modified", "")
                new = {"etag": etag, "last_modified": modified}
                return b"".join(chunks), new
    except requests.TooManyRedirects as e:
        raise PollFailed(f"more than {config.max_redirects} redirects") from e
    except requests.Timeout as e:
        raise PollFailed("timed out") from e
    except requests.ConnectionError as e:
        raise PollFailed(f"connection failed: {type(e.__context__ or e).__name__}") from e
    except requests.RequestException as e:
        raise PollFailed(f"{type(e).__name__}: {e}") from e


def record_hash(record: dict[str, Any]) -> str:
    """What makes a record new: its content and identity, not its place in the feed."""
    keys = ("title", "text", "url", "published", "published_at", "external_id", "id", "outlet")
    payload = json.dumps([str(record.get(k)) for k in keys])
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def parse(data: bytes, where: str, fmt: str | None) -> list[Any]:
    """Records (raw article dicts or Rejected) of one file or feed body, as ReadArticles parses them."""
    fmt = fmt or format_of(where, data)
    if fmt is None:
        return [Rejected(where, "unsupported_format", "unknown extension and not text", excerpt(data))]
    try:
        return list(PARSERS[fmt](data, where))
    except Exception as e:  # dead letter: the record is kept with its error, the stream goes on
        logger.warning("%s: %s parser failed: %r", where, fmt, e)
        return [Rejected(where, "parse_error", f"{fmt}: {type(e).__name__}: {e}", excerpt(data))]


class _PollSource(beam.DoFn):
    """(location, SourceSpec) at each tick -> new raw records of that source (+ rejected rows).

    State per source: the validators of its last answer (feeds), the files seen (folders), the
    hashes of the records yielded (with when they were last shown), and whether it is failing."""

    VALIDATORS = ReadModifyWriteStateSpec("validators", PickleCoder())
    FILES = ReadModifyWriteStateSpec("files", PickleCoder())  # path -> (size, mtime)
    SEEN = ReadModifyWriteStateSpec("seen", PickleCoder())  # record hash -> last shown (unix s)
    FAILING = ReadModifyWriteStateSpec("failing", PickleCoder())  # failed polls in a row

    def __init__(self, fetch: FetchConfig, horizon_s: float, progress: bool):
        self._fetch = fetch
        self._horizon_s = horizon_s
        self._progress = progress
        self._failed = Metrics.counter(NAMESPACE, "poll_failed|all")
        self._not_modified = Metrics.counter(NAMESPACE, "poll_not_modified|all")
        self._polls = Metrics.counter(NAMESPACE, "polls|all")

    def process(
        self,
        element: tuple[str, SourceSpec],
        validators: Any = beam.DoFn.StateParam(VALIDATORS),
        files: Any = beam.DoFn.StateParam(FILES),
        seen: Any = beam.DoFn.StateParam(SEEN),
        failing: Any = beam.DoFn.StateParam(FAILING),
    ) -> Iterator[Any]:
        _, spec = element
        now = time.time()
        self._polls.inc()
        records: list[Any] = []
        status = ""
        if spec.kind == "url":
            try:
                data, new = conditional_get(spec.location, self._fetch, validators.read() or {})
                validators.write(new)
                records = parse(data, spec.location, spec.fmt)
                failing.clear()
            except NotModified:
                self._not_modified.inc()
                status = "not modified"
                failing.clear()
            except (PollFailed, TooLarge) as e:
                self._failed.inc()
                streak = (failing.read() or 0) + 1
                failing.write(streak)
                status = f"failed ({e}), retried next poll"
                logger.warning("poll %s failed (%s); %d in a row, retried next poll", spec.location, e, streak)
                if streak == 1:  # one rejected row per run of failures, not one per poll
                    reason = "too_large" if isinstance(e, TooLarge) else "fetch_failed"
                    records = [Rejected(spec.location, reason, str(e))]
        else:
            records = list(self._new_files(spec, files))
        shown = seen.read() or {}
        new_records = []
        for record in records:
            if isinstance(record, Rejected):
                new_records.append(record)
                continue
            h = record_hash(record)
            if h not in shown:
                new_records.append(record)
            shown[h] = now
        seen.write({h: t for h, t in shown.items() if now - t <= self._horizon_s})
        ingested_at = datetime.now(timezone.utc)
        items = sum(1 for r in records if not isinstance(r, Rejected))
        new = 0
        for record in new_records:
            count_read(spec.origin)
            if isinstance(record, Rejected):
                yield beam.pvalue.TaggedOutput(REJECTED, record.to_row(ingested_at, spec.origin))
            else:
                new += 1
                record.update(source=spec.location, origin=spec.origin, ingested_at=ingested_at)
                yield record
        if self._progress:
            progress(f"polled {spec.location}: {items} items, {new} new{'; ' + status if status else ''}")

    def _new_files(self, spec: SourceSpec, files: Any) -> Iterator[Any]:
        known = files.read() or {}
        for match in FileSystems.match([spec.location]):
            for meta in match.metadata_list:
                stamp = (meta.size_in_bytes, getattr(meta, "last_updated_in_seconds", 0.0))
                if known.get(meta.path) == stamp:
                    continue
                known[meta.path] = stamp
                try:
                    data = read_file(meta.path, meta.size_in_bytes, self._fetch.max_bytes)
                except TooLarge as e:
                    yield Rejected(meta.path, "too_large", str(e))
                    continue
                except OSError as e:
                    yield Rejected(meta.path, "read_failed", f"{type(e).__name__}: {e}")
                    continue
                yield from parse(data, meta.path, spec.fmt)
        files.write(known)


def progress(line: str) -> None:
    """One line on stderr so a user sees the stream is alive (the workers of the local runner
    share the terminal; on Dataflow the line is in the worker log)."""
    stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
    sys.stderr.write(f"newsmon {stamp} {line}\n")
    sys.stderr.flush()
    logger.info(line)


class PollSources(beam.PTransform):
    """PBegin -> {"articles": new raw article records, "rejected": rows}, polling every source
    every `interval_s` from now on (PeriodicImpulse: Prism and Dataflow run it as a live,
    unbounded source)."""

    def __init__(
        self,
        sources: list[SourceSpec],
        fetch: FetchConfig,
        interval_s: float = DEFAULT_POLL_INTERVAL_S,
        horizon_s: float = 72 * 3600.0,
        stop_after_s: float | None = None,
        progress: bool = True,
    ):
        super().__init__()
        self._sources = sources
        self._fetch = fetch
        self._interval_s = interval_s
        self._horizon_s = horizon_s
        self._stop_after_s = stop_after_s
        self._progress = progress

    def expand(self, pbegin: beam.pvalue.PBegin) -> dict[str, beam.PCollection]:
        start = time.time()
        stop = start + self._stop_after_s if self._stop_after_s else MAX_TIMESTAMP
        polled = (
            pbegin
            | "EveryPoll" >> PeriodicImpulse(start_timestamp=start, stop_timestamp=stop, fire_interval=self._interval_s)
            | "EachSource" >> beam.FlatMap(lambda _, sources: [(s.location, s) for s in sources], self._sources)
            | "Poll"
            >> beam.ParDo(_PollSource(self._fetch, self._horizon_s, self._progress))
            .with_input_types(tuple[str, SourceSpec])
            .with_outputs(REJECTED, main="articles")
        )
        return {"articles": polled.articles, "rejected": polled[REJECTED]}


class ReadPubSub(beam.PTransform):
    """PBegin -> {"articles", "rejected"}: JSON article objects from a Pub/Sub subscription
    (Dataflow; needs apache-beam[gcp]). Not runnable on these machines."""

    def __init__(self, subscription: str):
        super().__init__()
        self._subscription = subscription

    def expand(self, pbegin: beam.pvalue.PBegin) -> dict[str, beam.PCollection]:
        parsed = (
            pbegin
            | "ReadPubSub" >> beam.io.ReadFromPubSub(subscription=self._subscription)
            | "Parse" >> beam.ParDo(_ParseMessage(self._subscription)).with_outputs(REJECTED, main="articles")
        )
        return {"articles": parsed.articles, "rejected": parsed[REJECTED]}


class _ParseMessage(beam.DoFn):
    def __init__(self, subscription: str):
        self._subscription = subscription

    def process(self, message: bytes) -> Iterator[Any]:
        ingested_at = datetime.now(timezone.utc)
        for record in parse(message, self._subscription + ".jsonl", "jsonl"):
            count_read(self._subscription)
            if isinstance(record, Rejected):
                yield beam.pvalue.TaggedOutput(REJECTED, record.to_row(ingested_at, self._subscription))
            else:
                record.update(source=self._subscription, origin=self._subscription, ingested_at=ingested_at)
                yield record


# ----------------------------------------------------------------------------- event time


class _EventTime(beam.DoFn):
    """An article whose window (of the time it reports: published_at, else when it was read)
    ended more than the allowed lateness ago is too late: it goes to rejected/ as `too_late`,
    with its text. The others go on at their arrival time (the poll's), which is what the
    stream's watermark follows: nearly every article is published before it is polled, so at
    its own time each would be late data, and the joins of a stage would see its parts in
    different panes. Its Parquet folder is still that of its own time (WriteTable)."""

    def __init__(self, window_s: int, lateness_s: float):
        self._window_s = window_s
        self._lateness_s = lateness_s
        self._too_late = Metrics.counter(NAMESPACE, "too_late|all")

    def process(self, article: dict[str, Any]) -> Iterator[Any]:
        at = reported_at(article)
        seconds = at.timestamp()
        window_end = (seconds // self._window_s + 1) * self._window_s
        if window_end + self._lateness_s < time.time():
            self._too_late.inc()
            detail = f"published {at.isoformat()}: its window closed more than the allowed lateness ago"
            rejected = Rejected(article["source"], "too_late", detail, article["text"][:300], article.get("locator"))
            yield beam.pvalue.TaggedOutput(REJECTED, rejected.to_row(article["ingested_at"], article["origin"]))
            return
        yield article  # at its arrival time (the poll's): see EventTime


class EventTime(beam.PTransform):
    """Articles -> {"articles": those in time, at their arrival time, "rejected": too_late rows}."""

    def __init__(self, window_s: int, lateness_s: float = DEFAULT_ALLOWED_LATENESS_S):
        super().__init__()
        self._window_s = window_s
        self._lateness_s = lateness_s

    def expand(self, articles: beam.PCollection) -> dict[str, beam.PCollection]:
        timed = articles | "StampAndCheck" >> beam.ParDo(_EventTime(self._window_s, self._lateness_s)).with_outputs(
            REJECTED, main="articles"
        )
        return {"articles": timed.articles, "rejected": timed[REJECTED]}


def known_articles(output: str) -> frozenset[tuple[str, str]]:
    """(article_id, content_hash) of every article an earlier run wrote to OUT (finished files
    only), read when the job starts: a restarted stream does not write them again."""
    import pyarrow.parquet as pq

    pattern = FileSystems.join(output, "articles", "window_start=*", "part-*.parquet")
    try:
        metas = FileSystems.match([pattern])[0].metadata_list
    except Exception:  # no OUT yet
        return frozenset()
    known: set[tuple[str, str]] = set()
    for meta in metas:
        with FileSystems.open(meta.path) as f:
            table = pq.read_table(f, columns=["article_id", "content_hash", "duplicate_of"]).to_pylist()
        for row in table:
            known.add((row["article_id"], row["content_hash"]))
            if row["duplicate_of"]:  # an edit in place was read with its first version's id
                known.add((row["duplicate_of"], row["content_hash"]))
    return frozenset(known)


class SkipKnown(beam.PTransform):
    """Articles -> the ones not already in OUT (by article_id and content hash)."""

    def __init__(self, known: frozenset[tuple[str, str]]):
        super().__init__()
        self._known = known

    def expand(self, articles: beam.PCollection) -> beam.PCollection:
        skipped = Metrics.counter(NAMESPACE, "already_in_output|all")

        def fresh(article: dict[str, Any], known: frozenset[tuple[str, str]]) -> bool:
            if (article["article_id"], article["content_hash"]) in known:
                skipped.inc()
                return False
            return True

        return articles | "NotInOutput" >> beam.Filter(fresh, self._known)
