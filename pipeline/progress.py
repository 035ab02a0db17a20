"""Live progress of a run on stderr: records read, articles through extraction, articles/s, elapsed.

On a terminal it is one line redrawn in place (tqdm-style); otherwise (a log file, CI) plain
lines every `line_interval` seconds. Nothing is shown for a small run (under `min_records`
records read), so the samples' run prints only its summary. The figures are the process-local
tallies of `transforms.counters` that the workers of a local run tick; a runner whose workers
run elsewhere (Dataflow, a remote job server) shows no progress, only the summary at the end.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TextIO

from transforms.counters import PROGRESS


def elapsed_text(seconds: float) -> str:
    """'0:03:07'."""
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Progress:
    """`with Progress(sys.stderr): pipeline.run()` — a daemon thread reports while the block runs."""

    def __init__(
        self,
        stream: TextIO,
        min_records: int = 300,
        tty_interval: float = 0.5,
        line_interval: float = 10.0,
    ) -> None:
        self._stream = stream
        self._min_records = min_records
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._interval = tty_interval if self._tty else line_interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="newsmon-progress", daemon=True)
        self._start = 0.0
        self._base: dict[str, int] = {}
        self.shown = 0  # progress lines written so far

    def counts(self) -> dict[str, int]:
        """The tallies since this run started (a process may run more than one pipeline)."""
        return {k: PROGRESS[k] - self._base.get(k, 0) for k in ("read", "extracted", "articles")}

    def line(self, final: bool = False) -> str:
        c = self.counts()
        seconds = max(time.monotonic() - self._start, 1e-9)
        done = c["articles"] if final and c["articles"] else c["extracted"]
        rate = done / seconds
        return (
            f"newsmon: {'done: ' if final else ''}{c['read']:,} records read, {c['extracted']:,} articles through "
            f"extraction, {c['articles']:,} written | {rate:,.1f} articles/s | elapsed {elapsed_text(seconds)}"
        )

    def __enter__(self) -> Progress:
        self._start = time.monotonic()
        self._base = dict(PROGRESS)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        if self.counts()["read"] >= self._min_records:
            self._write(self.line(final=kind is None), end=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            if self.counts()["read"] >= self._min_records:
                self._write(self.line())

    def _write(self, text: str, end: bool = False) -> None:
        if self._tty:  # redraw one line in place; the final one ends it
            self._stream.write("\r" + text + "\x1b[K" + ("\n" if end else ""))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()
        self.shown += 1
