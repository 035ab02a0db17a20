"""ExtractEvents: articles -> event mentions (one per event an article reports), with evidence.

spaCy is loaded once per worker (DoFn.setup) and runs as `nlp.pipe` over batches of articles
(beam.BatchElements). An exact copy (MarkCopies' `exact_copy`: the same text as its original up
to case and whitespace, not merely a word-shingle Jaccard of 1.0) does not run spaCy again: it
takes its original's mentions, re-pointed at its own article id and text. Copies reach the
extracting DoFn as a side input, grouped by their original and read as one dict per bundle
(they are few, and this spares a shuffle of every mention). A copy in which some evidence
sentence cannot be found is read by spaCy itself (counted as copy_reextracted): an evidence
span never points nowhere.

In a stream, after its first WARM_UP_WORDS words, each batch runs in a spaCy memory zone
(`Language.memory_zone`, spaCy 3.8): the strings and lexemes its new words add to the shared
Vocab are dropped when the batch is done, where they would otherwise stay for the life of the
worker (every name, number and URL a stream meets). The zone does not fill spaCy's tokenizer
cache, so the first articles run outside one to fill it (spaCy's own advice: with the first
2,500 words only, the zones took 22 % more time on short titles, 3 % with the first 63,000),
and a batch run, which ends, runs without zones (bench/RESULTS.md, "spaCy's vocabulary in a stream").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import StandardOptions

from transforms.copies import ORIGINAL_IN_OUT, is_exact_copy
from transforms.counters import NAMESPACE, tick
from transforms.extraction import Mention, extract_mentions
from transforms.nlp import build_nlp, clip

logger = logging.getLogger(__name__)

BATCH = {"min_batch_size": 32, "max_batch_size": 256}
WARM_UP_WORDS = 50_000  # a stream extracts its first articles outside memory zones until this many words (above)


def mention_row(m: Mention, article: dict[str, Any]) -> dict[str, Any]:
    """A mention as a dict that MergeEvents folds into events."""
    return {
        "article_id": article["article_id"],
        "reported_at": reported_at(article),
        "event_type": m.event_type,
        "event_date": m.event_date,
        "fields": dict(m.fields),
        "evidence": [dict(e, article_id=article["article_id"]) for e in m.evidence],
    }


class _Extract(beam.DoFn):
    def __init__(self, model: str | None, zones: bool = False):
        self._model = model
        self._zones = zones
        self._warm = 0  # words extracted outside a memory zone on this worker
        self._nlp = None
        self._failed = Metrics.counter(NAMESPACE, "extract_failed|all")
        self._processed = Metrics.counter(NAMESPACE, "spacy_articles|all")
        self._reextracted = Metrics.counter(NAMESPACE, "copy_reextracted|all")

    def setup(self) -> None:
        self._nlp = build_nlp(self._model)

    def process(self, batch: list[dict[str, Any]], copies: Any) -> Iterator[dict[str, Any]]:
        if self._zones and self._warm >= WARM_UP_WORDS:
            with self._nlp.memory_zone():  # what this batch adds to the Vocab goes with it
                yield from self._extract(batch, copies)
            return
        if self._zones:  # still filling the tokenizer cache
            self._warm += sum(len(a["text"].split()) for a in batch)
        yield from self._extract(batch, copies)

    def _extract(self, batch: list[dict[str, Any]], copies: Any) -> Iterator[dict[str, Any]]:
        try:
            docs = list(self._nlp.pipe(clip(a["text"]) for a in batch))
        except Exception:  # find the article that broke the batch; the others go on
            docs = [self._one(a) for a in batch]
        self._processed.inc(len(batch))
        tick("extracted", len(batch))
        for article, doc in zip(batch, docs, strict=True):
            if doc is None:
                continue
            rows = self._mentions(doc, article)
            if rows is None:
                continue
            yield from rows
            for copy in copies.get(article["article_id"], ()):
                yield from self._copy_mentions(rows, copy)

    def _mentions(self, doc: Any, article: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The article's mention rows; None when extraction failed (counted and logged)."""
        try:
            mentions = extract_mentions(doc, article["published_at"], article["ingested_at"])
        except Exception:  # one odd article must not fail the run; it is counted and logged
            self._fail(article)
            return None
        return [mention_row(m, article) for m in mentions]

    def _copy_mentions(self, rows: list[dict[str, Any]], copy: dict[str, Any]) -> list[dict[str, Any]]:
        """The original's mentions re-pointed at the copy, or, when some evidence sentence is not
        in the copy's text, the copy's own mentions from spaCy."""
        repointed = [_for_copy(row, copy) for row in rows]
        if all(e["start"] >= 0 for row in repointed for e in row["evidence"]):
            return repointed
        logger.info("copy %s: evidence not found in its text; extracting it itself", copy["article_id"])
        self._reextracted.inc()
        self._processed.inc()
        doc = self._one(copy)
        return (self._mentions(doc, copy) or []) if doc is not None else []

    def _one(self, article: dict[str, Any]) -> Any:
        try:
            return self._nlp(clip(article["text"]))
        except Exception:
            self._fail(article)
            return None

    def _fail(self, article: dict[str, Any]) -> None:
        self._failed.inc()
        logger.warning("extraction failed for article %s", article["article_id"], exc_info=True)


def _for_copy(mention: dict[str, Any], copy: dict[str, Any]) -> dict[str, Any]:
    """The original's mention as its exact copy reports it."""
    evidence = [_repoint(e, copy) for e in mention["evidence"]]
    return dict(mention, article_id=copy["article_id"], reported_at=reported_at(copy), evidence=evidence)


def _repoint(evidence: dict[str, Any], copy: dict[str, Any]) -> dict[str, Any]:
    """The same sentence in the copy's text (equal up to case and whitespace), with the copy's
    own wording; start = end = -1 when it is not there (the caller then extracts the copy)."""
    start = copy["text"].find(evidence["text"])
    if start >= 0:
        return dict(evidence, article_id=copy["article_id"], start=start, end=start + len(evidence["text"]))
    pattern = r"\s+".join(map(re.escape, evidence["text"].split()))
    found = re.search(pattern, copy["text"], re.IGNORECASE) if pattern else None
    if found is None:
        return dict(evidence, article_id=copy["article_id"], start=-1, end=-1)
    return dict(evidence, article_id=copy["article_id"], text=found.group(), start=found.start(), end=found.end())


def reported_at(article: dict[str, Any]) -> datetime:
    """When an article reported what it says: published, or read when it has no date."""
    return article["published_at"] or article["ingested_at"]


class ExtractEvents(beam.PTransform):
    """Article rows -> event mention dicts (article_id, reported_at, event_type, event_date,
    fields, evidence). `model` names an installed spaCy model to add its NER; None is the
    rule pipeline on a blank English model."""

    def __init__(self, model: str | None = None):
        super().__init__()
        self._model = model

    def expand(self, articles: beam.PCollection) -> beam.PCollection:
        zones = articles.pipeline.options.view_as(StandardOptions).streaming  # a stream runs for long
        # An exact copy of an article in OUT (a previous run's) is read by spaCy itself: its
        # original is not extracted again in this run.
        originals, copies = articles | "SplitCopies" >> beam.Partition(
            lambda a, _: int(is_exact_copy(a) and not a.get(ORIGINAL_IN_OUT)), 2
        )
        # Grouped by original and read as one dict per bundle: a multimap side input is one
        # state request per lookup, a gRPC round trip per article when workers are processes.
        copies_by_original = (
            copies
            | "KeyByOriginal" >> beam.Map(lambda a: (a["duplicate_of"], _copy_fields(a)))
            | "GroupByOriginal" >> beam.GroupByKey()
            | "AsLists" >> beam.MapTuple(lambda original, found: (original, list(found)))
        )
        return (
            originals
            | "Batch" >> beam.BatchElements(**BATCH)
            | "RunSpacy" >> beam.ParDo(_Extract(self._model, zones), beam.pvalue.AsDict(copies_by_original))
        )


def _copy_fields(article: dict[str, Any]) -> dict[str, Any]:
    """What re-pointing needs of a copy."""
    return {k: article[k] for k in ("article_id", "text", "published_at", "ingested_at")}
