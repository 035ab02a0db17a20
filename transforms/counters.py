"""Beam metrics the run summary is made from. Counters are per worker and summed by the
runner, so they work the same on FnApiRunner, PortableRunner, Dataflow and Flink."""

from __future__ import annotations

from collections import Counter
from typing import Any

from apache_beam.metrics import Metrics

NAMESPACE = "newsmon"

# Process-local tallies for the live progress line (pipeline/progress.py): the workers of a local
# run (FnApiRunner; PortableRunner or Prism with LOOPBACK workers) run inside the newsmon process
# and tick them. Display only (a retried bundle ticks twice); the summary comes from the metrics.
PROGRESS: Counter[str] = Counter()


def tick(name: str, n: int = 1) -> None:
    """Advance a progress tally: 'read', 'extracted', or a table name when rows are written."""
    PROGRESS[name] += n


def count_read(origin: str) -> None:
    """One record (an article or a rejection) read from a source named by `origin`."""
    Metrics.counter(NAMESPACE, f"read|{origin}").inc()
    tick("read")


def count_written(table: str, row: dict[str, Any]) -> None:
    """One row written to `table`, by origin; rejections by reason, articles that are copies."""
    tick(table)
    if table == "events":
        Metrics.counter(NAMESPACE, f"events|{row['event_type']}").inc()
        return
    Metrics.counter(NAMESPACE, f"{table}|{row['origin']}").inc()
    if table == "rejected":
        Metrics.counter(NAMESPACE, f"reason|{row['reason']}").inc()
    elif table == "articles" and row.get("duplicate_of"):
        Metrics.counter(NAMESPACE, "copies|all").inc()
