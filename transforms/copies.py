"""MarkCopies: exact copies and re-reads.

- The same article read twice (same article_id and same text: a feed item also given as a
  file, a feed listed twice) is kept once; the repeat goes to rejected/ as `repeated_record`.
- An article updated in place (same canonical URL, new text) gets its own id and
  `duplicate_of` the first version, with the word-shingle Jaccard `similarity`.
- A syndicated copy (same normalized text, another URL or outlet) is `duplicate_of` the
  earliest report of that text, `similarity` 1.0.

- A near-duplicate (a copy with edits, an article updated under another URL: word-3-shingle
  Jaccard ≥ NEAR_DUPLICATE with an earlier article) is `duplicate_of` the earliest such article,
  with that Jaccard as `similarity`. Candidates come from MinHash-LSH (transforms.minhash, fixed
  seeds) and are verified by their exact Jaccard.

"First" is by published_at, then source and position, so the result does not depend on the
order in which records arrive.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

import apache_beam as beam
import numpy as np

from schemas import Rejected
from schemas.records import REJECTED, stable_id
from transforms.minhash import band_keys, jaccard, shingle_hashes, signature

_LATEST = datetime.max.replace(tzinfo=timezone.utc)


def first_report_order(row: dict[str, Any]) -> tuple:
    """Earliest published first; ties (and rows without a date) by where they were read."""
    return (row["published_at"] or _LATEST, row["source"], row["locator"] or "", row["article_id"])


class _SameArticle(beam.DoFn):
    """Rows that share an article_id (the same canonical URL, or outlet + text)."""

    def process(self, element: tuple[str, Iterable[dict[str, Any]]]) -> Iterator[Any]:
        _, rows = element
        first, *later = sorted(rows, key=first_report_order)
        yield first
        versions = {first["content_hash"]: first["article_id"]}
        for row in later:
            if row["content_hash"] in versions:
                kept = versions[row["content_hash"]]
                detail = f"same id and text as article {kept}"
                rejected = Rejected(row["source"], "repeated_record", detail, row["text"][:300], row["locator"])
                yield beam.pvalue.TaggedOutput(REJECTED, rejected.to_row(row["ingested_at"], row["origin"]))
                continue
            edited = dict(
                row,
                article_id=stable_id(first["article_id"], row["content_hash"]),
                duplicate_of=first["article_id"],
                similarity=round(jaccard(shingle_hashes(first["text"]), shingle_hashes(row["text"])), 4),
            )
            versions[row["content_hash"]] = edited["article_id"]
            yield edited


def _mark_same_text(element: tuple[str, Iterable[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    """Rows with the same normalized text: all but the earliest are copies of it."""
    _, rows = element
    original, *copies = sorted(rows, key=first_report_order)
    yield original
    for row in copies:
        yield row if row["duplicate_of"] else dict(row, duplicate_of=original["article_id"], similarity=1.0)


NEAR_DUPLICATE = 0.5  # word-3 Jaccard: rewrites by other outlets score 0.03, edits of one text > 0.6
EARLIEST_IN_BUCKET = 8  # a later article is compared with the 8 earliest of each bucket it falls in


def _with_hashes(row: dict[str, Any]) -> tuple[str, tuple[tuple, bytes]]:
    return row["article_id"], (first_report_order(row), shingle_hashes(row["text"]).tobytes())


def _band_entries(element: tuple[str, tuple[tuple, bytes]]) -> Iterator[tuple[str, tuple[tuple, str]]]:
    article_id, (order, hashes) = element
    for key in band_keys(signature(np.frombuffer(hashes, dtype=np.uint64))):
        yield key, (order, article_id)


def _earlier_in_bucket(element: tuple[str, Iterable[tuple[tuple, str]]]) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(article, the earliest articles before it) for each article of one LSH bucket.

    An article is `duplicate_of` its earliest near-duplicate, so the earliest members of a
    bucket are the ones worth verifying: a story syndicated to 300 outlets costs 300·8
    candidates per band, not 300²/2."""
    _, members = element
    members = sorted(set(members))
    for i, (_, later) in enumerate(members[1:], start=1):
        yield later, tuple(article_id for _, article_id in members[: min(i, EARLIEST_IN_BUCKET)])


def _distinct_candidates(element: tuple[str, Iterable[tuple[str, ...]]]) -> Iterator[tuple[str, str]]:
    later, per_band = element
    for earlier in sorted(set().union(*per_band)):
        yield later, earlier


def _verified(
    pair: tuple[str, str], hashes: dict[str, tuple[tuple, bytes]]
) -> Iterator[tuple[str, tuple[tuple, str, float]]]:
    """(later, (earlier's order, earlier, Jaccard)) when the candidate pair really is a near-duplicate."""
    later, earlier = pair
    earlier_order, earlier_hashes = hashes[earlier]
    similarity = jaccard(
        np.frombuffer(earlier_hashes, dtype=np.uint64), np.frombuffer(hashes[later][1], dtype=np.uint64)
    )
    if similarity >= NEAR_DUPLICATE:
        yield later, (earlier_order, earlier, similarity)


def _mark_near(element: tuple[str, dict[str, list]]) -> Iterator[dict[str, Any]]:
    """The article, `duplicate_of` its earliest near-duplicate unless already marked."""
    _, grouped = element
    originals = sorted(grouped["originals"])
    for row in grouped["articles"]:
        if originals and not row["duplicate_of"]:
            _, original, similarity = originals[0]
            row = dict(row, duplicate_of=original, similarity=round(similarity, 4))
        yield row


class NearDuplicates(beam.PTransform):
    """Article rows -> the same rows, near-duplicates marked (MinHash-LSH, verified Jaccard).

    Only article ids are shuffled; candidate pairs are verified against the shingle hashes of
    the run, a side input (about 1.2 KB an article in every worker's memory: 120 MB for 100k
    articles). Bounded state for streaming comes with the stories stage."""

    def expand(self, articles: beam.PCollection) -> beam.PCollection:
        hashes = articles | "ShingleHashes" >> beam.Map(_with_hashes)
        pairs = (
            hashes
            | "BandKeys" >> beam.FlatMap(_band_entries)
            | "GroupByBand" >> beam.GroupByKey()
            | "EarlierInBucket" >> beam.FlatMap(_earlier_in_bucket)
            | "GroupByLater" >> beam.GroupByKey()
            | "CandidatePairs" >> beam.FlatMap(_distinct_candidates)
        )
        verified = pairs | "VerifyJaccard" >> beam.FlatMap(_verified, beam.pvalue.AsDict(hashes))
        return (
            {"articles": articles | "KeyById" >> beam.WithKeys(lambda r: r["article_id"]), "originals": verified}
            | "JoinOriginals" >> beam.CoGroupByKey()
            | "MarkNear" >> beam.FlatMap(_mark_near)
        )


class MarkCopies(beam.PTransform):
    """Article rows -> {"articles": rows with duplicate_of/similarity, "rejected": repeats}:
    exact copies and re-reads first, then near-duplicates."""

    def expand(self, articles: beam.PCollection) -> dict[str, beam.PCollection]:
        same_id = (
            articles
            | "KeyByArticleId" >> beam.WithKeys(lambda row: row["article_id"])
            | "GroupByArticleId" >> beam.GroupByKey()
            | "ResolveSameArticle" >> beam.ParDo(_SameArticle()).with_outputs(REJECTED, main="articles")
        )
        marked = (
            same_id.articles
            | "KeyByContent" >> beam.WithKeys(lambda row: row["content_hash"])
            | "GroupByContent" >> beam.GroupByKey()
            | "MarkSameText" >> beam.FlatMap(_mark_same_text)
            | "NearDuplicates" >> NearDuplicates()
        )
        return {"articles": marked, "rejected": same_id[REJECTED]}
