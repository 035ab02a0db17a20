"""pyarrow schemas of the output tables (contract: ../shared/DESIGN.md, "Tables")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa

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
        # Beyond the contract: where in the source the record was (entry 3, line 7) and
        # which --input / --feed / --feeds-file argument produced it.
        pa.field("external_id", pa.string()),
        pa.field("locator", pa.string()),
        pa.field("origin", pa.string(), nullable=False),
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

# Table name -> (schema, the column that identifies a row; files are sorted by it).
TABLES: dict[str, tuple[pa.Schema, str]] = {
    "articles": (ARTICLES, "article_id"),
    "rejected": (REJECTED, "rejected_id"),
}


def to_arrow(table: str, rows: Iterable[dict[str, Any]]) -> pa.Table:
    """Rows (dicts keyed by column name) as an Arrow table with the table's exact schema."""
    schema, _ = TABLES[table]
    return pa.Table.from_pylist(list(rows), schema=schema)
