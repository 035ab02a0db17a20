"""MarkCopies: exact copies and re-reads.

- The same article read twice (same article_id and same text: a feed item also given as a
  file, a feed listed twice) is kept once; the repeat goes to rejected/ as `repeated_record`.
- An article updated in place (same canonical URL, new text) gets its own id and
  `duplicate_of` the first version, with the word-shingle Jaccard `similarity`.
- A syndicated copy (same normalized text, another URL or outlet) is `duplicate_of` the
  earliest report of that text, `similarity` 1.0.

"First" is by published_at, then source and position, so the result does not depend on the
order in which records arrive. Near-duplicates (MinHash-LSH) build on this stage later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

import apache_beam as beam

from schemas import Rejected
from schemas.records import stable_id

REJECTED = "rejected"
_WORD = re.compile(r"\w+")
_LATEST = datetime.max.replace(tzinfo=timezone.utc)


def shingles(text: str, size: int = 3) -> set[str]:
    """Word n-grams of the case-folded text."""
    words = _WORD.findall(text.casefold())
    if len(words) < size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


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
                similarity=round(jaccard(shingles(first["text"]), shingles(row["text"])), 4),
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


class MarkCopies(beam.PTransform):
    """Article rows -> {"articles": rows with duplicate_of/similarity, "rejected": repeats}."""

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
        )
        return {"articles": marked, "rejected": same_id[REJECTED]}
