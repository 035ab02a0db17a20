"""Helpers for the tests: run the CLI, read output tables, locate ../shared/data."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow.dataset as ds
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SHARED_DATA = ROOT.parent / "shared" / "data"
CHECK_OUTPUT = ROOT.parent / "shared" / "tools" / "check-output"

needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} is absent (real-world test data beside the repo)"
)


def newsmon(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real `newsmon` command (same interpreter) and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def read_table(out: Path, name: str) -> list[dict]:
    """All rows of a table, read as analytics tools do (hive partitions included)."""
    dataset = ds.dataset(out / name, format="parquet", partitioning="hive")
    return dataset.to_table().to_pylist()


def by_origin(rows: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["origin"]] = counts.get(row["origin"], 0) + 1
    return counts


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 (a free port), answering in threads; yields its base URL
    ("http://127.0.0.1:PORT") and shuts it down afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
