"""WriteTable on the FnApiRunner: a window's rows are written sorted by their ids, a row group at a
time (never all decoded at once), under the file name of the ids they hold."""

from __future__ import annotations

import hashlib
import statistics
from datetime import datetime, timezone

import apache_beam as beam
import pyarrow.parquet as pq
from helpers import read_table

import transforms.write as write
from schemas import to_arrow
from transforms.write import WriteTable

MONTH = 30 * 86400


def test_a_window_is_written_a_row_group_at_a_time_sorted_by_its_ids(samples_output, tmp_path, monkeypatch):
    out, _ = samples_output
    articles = [_as_made(r) for r in read_table(out, "articles")]
    # rows decoded two at a time, row groups of about five rows: a month's window of the
    # samples is split into several
    budget = 5 * statistics.median(to_arrow("articles", [r]).nbytes for r in articles)
    monkeypatch.setattr(write, "ROW_GROUP_BYTES", int(budget))
    monkeypatch.setattr(write, "ROWS_AT_ONCE", 2)
    with beam.Pipeline(runner="FnApiRunner") as p:
        p | beam.Create(list(reversed(articles))) | WriteTable("articles", str(tmp_path), MONTH)

    files = sorted((tmp_path / "articles").glob("window_start=*/part-*.parquet"))
    assert 1 < len(files) < len(articles)
    groups = 0
    for path in files:
        ids = pq.read_table(path, columns=["article_id"]).column("article_id").to_pylist()
        assert ids == sorted(ids)
        assert path.name == f"part-{hashlib.sha256(chr(10).join(ids).encode()).hexdigest()[:16]}-000.parquet"
        metadata = pq.ParquetFile(path).metadata
        assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [
            len(g) for g in _groups(path, budget)
        ]
        groups += metadata.num_row_groups
    assert groups > len(files), "no window was split into row groups"
    written = [_as_made(r) for r in read_table(tmp_path, "articles")]
    assert sorted(written, key=lambda r: r["article_id"]) == sorted(articles, key=lambda r: r["article_id"])


def _as_made(row: dict) -> dict:
    """A row read back as the pipeline makes it: times in datetime's UTC, no hive partition."""
    return {
        k: v.astimezone(timezone.utc) if isinstance(v, datetime) else v for k, v in row.items() if k != "window_start"
    }


def _groups(path, budget: float) -> list[list[dict]]:
    """The row groups a file's rows make: rows are added two at a time until their size in
    Arrow reaches the budget."""
    rows = [_as_made(r) for r in pq.read_table(path).to_pylist()]
    groups, size = [[]], 0
    for start in range(0, len(rows), 2):
        groups[-1] += rows[start : start + 2]
        size += to_arrow("articles", rows[start : start + 2]).nbytes
        if size >= budget:
            groups.append([])
            size = 0
    return [g for g in groups if g]
