"""Bounded reading: every byte newsmon reads from a file or an HTTP body goes through here.

Two bounds hold for every read (issue 11, items 2 and 3):
- size: at most `max_bytes` of *decompressed* data is ever held; the next byte makes it
  `TooLarge`. Decompression is incremental with an output cap per step, so a 3 MB `.gz` that
  would inflate to 3 GB costs `max_bytes` of memory, not 3 GB (Beam's CompressedFile inflates a
  whole 16 MB compressed chunk at once, which is why files no longer go through it).
- time: a `Deadline` for the whole read (all retries and redirects of a fetch included). When
  it passes, the sockets of the fetch are shut down from a timer thread, so a server that
  trickles one byte a second (which no per-read socket timeout catches) is cut off too.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import socket
import threading
import time
import zlib
from typing import Protocol

CHUNK = 64 * 1024

# Beam's compression names (CompressionTypes), by file suffix as Beam detects them.
SUFFIXES = {".gz": "gzip", ".bz2": "bzip2", ".deflate": "deflate", ".zst": "zstd", ".zstd": "zstd"}
SUFFIXES |= {".xz": "lzma", ".lzma": "lzma"}


class TooLarge(Exception):
    """More than the size cap (after decompression)."""


class Corrupt(Exception):
    """Compressed data that does not decompress."""


class DeadlinePassed(Exception):
    """The overall time for one read or fetch is over."""


class Reader(Protocol):
    def read(self, n: int) -> bytes: ...


def compression_of(path: str) -> str | None:
    lowered = path.lower()
    return next((kind for suffix, kind in SUFFIXES.items() if lowered.endswith(suffix)), None)


class ReadError(Exception):
    """Reading the underlying file or socket failed (not a decompression problem)."""


class _Source:
    """The raw bytes, with the deadline checked before each read and read errors told apart
    from decompression errors (both are OSErrors in the standard library)."""

    def __init__(self, raw: Reader, deadline: Deadline | None):
        self._raw, self._deadline = raw, deadline

    def read(self, n: int = -1) -> bytes:
        if self._deadline is not None:
            self._deadline.check()
        try:
            return self._raw.read(n)
        except OSError as e:
            if self._deadline is not None and self._deadline.expired:
                raise DeadlinePassed(self._deadline.describe()) from e
            raise ReadError(f"{type(e).__name__}: {e}") from e


class _Inflate:
    """A zlib stream (HTTP `deflate`, Beam's `.deflate`) with capped output per read."""

    def __init__(self, raw: Reader):
        self._raw = raw
        self._d = zlib.decompressobj(zlib.MAX_WBITS)
        self._started = False

    def read(self, n: int) -> bytes:
        while not self._d.eof:
            data = self._d.unconsumed_tail or self._raw.read(CHUNK)
            if not data:
                raise EOFError("compressed data ended before the end-of-stream marker")
            try:
                out = self._d.decompress(data, n)
            except zlib.error:
                if self._started:
                    raise
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)  # some servers send raw deflate
                out = self._d.decompress(data, n)
            self._started = True
            if out:
                return out
        return b""


def decompressing(raw: Reader, kind: str | None, deadline: Deadline | None = None) -> Reader:
    """A reader of the decompressed bytes of `raw`; each read(n) inflates at most n bytes."""
    source = _Source(raw, deadline)
    if kind is None or kind in ("identity", "uncompressed"):
        return source
    if kind in ("gzip", "x-gzip"):
        return gzip.GzipFile(fileobj=source, mode="rb")  # type: ignore[arg-type]
    if kind == "bzip2":
        return bz2.BZ2File(source)  # type: ignore[arg-type]
    if kind == "lzma":
        return lzma.LZMAFile(source)  # type: ignore[arg-type]
    if kind == "deflate":
        return _Inflate(source)
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(source, read_across_frames=True)
    raise Corrupt(f"unsupported compression {kind!r}")


def read_capped(reader: Reader, max_bytes: int) -> bytes:
    """All of `reader` (from `decompressing`), at most `max_bytes`: TooLarge beyond, Corrupt
    when decompression fails; ReadError and DeadlinePassed come from the raw source."""
    buffer = io.BytesIO()
    total = 0
    while True:
        try:
            chunk = reader.read(min(CHUNK, max_bytes + 1 - total))
        except (ReadError, DeadlinePassed):
            raise
        except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as e:  # gzip, bz2, lzma, deflate
            raise Corrupt(f"{type(e).__name__}: {e}") from e
        except Exception as e:
            if type(e).__name__ == "ZstdError":
                raise Corrupt(f"zstd: {e}") from e
            raise
        if not chunk:
            return buffer.getvalue()
        total += len(chunk)
        if total > max_bytes:
            raise TooLarge(f"more than {max_bytes} bytes (after decompression), limit {max_bytes}")
        buffer.write(chunk)


class Deadline:
    """The overall time budget of one read or fetch.

    Sockets registered with it are shut down when it passes (from a timer thread), which wakes
    a read blocked on them; `check()` raises DeadlinePassed once it has passed."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Deadline:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            timer = self._timer
        if timer is not None:
            timer.cancel()

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def check(self) -> None:
        if self.expired or self.remaining() <= 0:
            self.expired = True
            raise DeadlinePassed(self.describe())

    def describe(self) -> str:
        return f"not done within the deadline of {self.seconds:g}s (--fetch-deadline)"

    def register(self, sock: socket.socket) -> None:
        """Shut `sock` down when the deadline passes (the timer starts with the first socket:
        a file read has none and needs no thread, its reads are checked between chunks)."""
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
            if self._timer is None and not expired:
                self._timer = threading.Timer(max(0.0, self.remaining()), self.expire)
                self._timer.daemon = True
                self._timer.start()
        if expired:
            _shutdown(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed
