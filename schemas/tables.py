"""pyarrow schemas of the output tables (contract: ../shared/DESIGN.md, "Tables")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from transforms.extraction import EVENT_TYPES, Field

UTC_TS = pa.timestamp("us", tz="UTC")

ARTICLES = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("outlet", pa.string()),
        pa.field("title", pa.string()),
        pa.field("text", pa.string(), nullable=False),
        pa.field("published_at", UTC_TS),
        pa.field("ingested_at", UTC_TS, nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("language", pa.string()),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("story_id", pa.string()),
        pa.field("duplicate_of", pa.string()),
        pa.field("similarity", pa.float64()),
        # Beyond the contract: whether the text is that of `duplicate_of` (up to case and
        # whitespace: the same content_hash), where in the source the record was (entry 3,
        # line 7) and which --input / --feed / --feeds-file argument produced it.
        pa.field("exact_copy", pa.bool_(), nullable=False),
        pa.field("external_id", pa.string()),
        pa.field("locator", pa.string()),
        pa.field("origin", pa.string(), nullable=False),
        # Why the time the source stated is not `published_at` (an offset of 24 h or more, a
        # year before 1900, text that is no date): the article is kept, windowed by ingestion.
        pa.field("published_problem", pa.string()),
    ]
)

REJECTED = pa.schema(
    [
        pa.field("rejected_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
        pa.field("raw_excerpt", pa.string()),
        pa.field("ingested_at", UTC_TS, nullable=False),
        pa.field("locator", pa.string()),
        pa.field("origin", pa.string(), nullable=False),
    ]
)

EVIDENCE = pa.struct(
    [
        pa.field("field", pa.string()),
        pa.field("text", pa.string()),
        pa.field("article_id", pa.string()),
        pa.field("start", pa.int32()),
        pa.field("end", pa.int32()),
    ]
)


def _event_fields() -> list[Field]:
    """The fields of every registered event type, in the registry's order; a field two types
    share (status: ceasefire, prisoner_exchange) once, where it first appears."""
    fields: dict[str, Field] = {}
    for event_type in EVENT_TYPES.values():
        for f in event_type.fields:
            fields.setdefault(f.name, f)
    return list(fields.values())


# One value an article stated for a field of an event (transforms/merge.py, "Claims").
CLAIM = pa.struct(
    [
        pa.field("field", pa.string()),
        pa.field("value", pa.string()),  # str(int) for counts
        pa.field("claimant", pa.string()),  # who gave the figures, when the article says
        pa.field("article_id", pa.string()),
        pa.field("start", pa.int32()),  # the span of its evidence in the article's text
        pa.field("end", pa.int32()),
        # how the figure was read: stated, at_least, inferred, part (a sum of the weapon types
        # named), regional (one region's figure); resolution prefers the strongest
        pa.field("basis", pa.string()),
    ]
)

# The common columns, then each event type's fields (transforms/extraction/types/).
EVENTS = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("version", pa.int32(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("event_date", pa.date32()),
        pa.field("story_id", pa.string()),
        pa.field("article_ids", pa.list_(pa.string())),
        pa.field("source_count", pa.int32()),
        pa.field("evidence", pa.list_(EVIDENCE)),
        pa.field("claims", pa.list_(CLAIM)),
        pa.field("first_seen_at", UTC_TS),
        pa.field("updated_at", UTC_TS),
        *(pa.field(f.name, f.type) for f in _event_fields()),
    ]
)


# One row per delivery attempt of an alert (transforms/alerts.py): which rule, which event
# version, to which destination, and how it went. Beyond the contract: the webhook-id (the
# idempotency key, the same on every attempt), the alert type, the fields a new version changed,
# and the error of a failed attempt.
ALERTS = pa.schema(
    [
        pa.field("alert_id", pa.string(), nullable=False),
        pa.field("rule", pa.string(), nullable=False),
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("event_version", pa.int32(), nullable=False),
        pa.field("destination", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),  # delivered | failed
        pa.field("attempts", pa.int32(), nullable=False),  # this attempt's number, counted across runs
        pa.field("sent_at", UTC_TS, nullable=False),
        pa.field("response_code", pa.int32()),  # HTTP status; null for stdout/python and network errors
        pa.field("webhook_id", pa.string(), nullable=False),
        pa.field("alert_type", pa.string(), nullable=False),  # event.new | event.updated
        pa.field("changed", pa.list_(pa.string())),
        pa.field("error", pa.string()),
    ]
)


@dataclass(frozen=True)
class Table:
    schema: pa.Schema
    ids: tuple[str, ...]  # the columns that identify a row; files are sorted by them
    time: tuple[str, ...]  # the row's window is that of the first of these that is set


TABLES: dict[str, Table] = {
    "articles": Table(ARTICLES, ("article_id",), ("published_at", "ingested_at")),
    "events": Table(EVENTS, ("event_id", "version"), ("first_seen_at",)),
    "rejected": Table(REJECTED, ("rejected_id",), ("ingested_at",)),
    "alerts": Table(ALERTS, ("alert_id",), ("sent_at",)),
}


def to_arrow(table: str, rows: Iterable[dict[str, Any]]) -> pa.Table:
    """Rows (dicts keyed by column name) as an Arrow table with the table's exact schema."""
    return pa.Table.from_pylist(list(rows), schema=TABLES[table].schema)
