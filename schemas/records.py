"""Records that travel between stages: what to read, and why a record was rejected."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

# Stable reason codes of the rejected/ table. Add codes, never rename one.
REASONS = {
    "empty_text": "no text left after normalization",
    "not_text": "binary or undecodable content",
    "malformed_feed": "not a feed the parser can recover any entry from",
    "no_entries": "a well-formed feed with no entries",
    "too_large": "over --max-bytes",
    "bad_json": "a JSON document or JSONL line that does not parse, or is not an article object",
    "fetch_failed": "HTTP error, refused connection, timeout, --fetch-deadline passed, too many redirects, a redirect "
    "to a non-HTTP URL or a corrupt Content-Encoding",
    "read_failed": "the file could not be opened or read (a dangling link, a symlink loop, a corrupt .gz, "
    "the --fetch-deadline passed)",
    "special_file": "a FIFO, device, socket or folder where a file was expected: refused, not opened for reading",
    "unsupported_format": "a file type newsmon does not read",
    "repeated_record": "the same article (same id and text) was read more than once",
    "parse_error": "the parser raised an unexpected error (a bug or an exotic input)",
    "too_late": "--streaming: published before its window closed more than --allowed-lateness ago",
}


@dataclass(frozen=True)
class SourceSpec:
    """One thing to read: a file path or glob, or an http(s) URL.

    `origin` is the command-line value that led here (an --input glob, a --feed, a
    --feeds-file), so every output row can be traced back to what the user asked for.
    `fmt` forces a format ("feed" for --feed files); None means "by file extension".
    """

    kind: str  # "glob" | "url"
    location: str
    origin: str
    fmt: str | None = None


# The tag of the dead-letter output of every stage that can reject a record.
REJECTED = "rejected"


@dataclass(frozen=True)
class Rejected:
    """A record that cannot become an article; it is written to rejected/."""

    source: str
    reason: str
    detail: str
    raw_excerpt: str = ""
    locator: str | None = None

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"unknown reject reason {self.reason!r}")

    def to_row(self, ingested_at: datetime, origin: str) -> dict[str, Any]:
        """The row of the rejected/ table; its id is stable across runs."""
        return {
            "rejected_id": stable_id(self.source, self.locator or "", self.reason, self.detail),
            "source": self.source,
            "reason": self.reason,
            "detail": self.detail,
            "raw_excerpt": self.raw_excerpt,
            "ingested_at": ingested_at,
            "locator": self.locator,
            "origin": origin,
        }


def stable_id(*parts: str) -> str:
    """A deterministic 16-hex-digit id of the given parts (same on every worker and run)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ times as integers

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def micros(moment: datetime) -> int:
    """µs since 1970 (UTC), exactly: an int Beam's coder writes without pickling."""
    return (moment - _EPOCH) // timedelta(microseconds=1)
