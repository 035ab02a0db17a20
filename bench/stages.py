"""Where a FnApiRunner run's wall time goes, stage by stage, and how each stage's work was split.

    .venv/bin/python bench/stages.py [--json FILE] -- SCRIPT [ARGS ...]

Runs SCRIPT (a Python file, e.g. `bench/pipeline.py --child newsmon --workers 2 ...`) in this
process with the FnApiRunner's bundle managers wrapped, and prints, for every fused stage that
took at least `--min` seconds: when it ended (seconds since the start), its wall time, whether
the runner split its input across the workers ("split": ParallelBundleManager) or ran it whole
on one worker ("one": BundleManager, which the runner uses for every stage that holds keyed
state or timers, whatever `--direct_num_workers` says), and for a split stage the wall time of
each worker's part. It also gives the process's resident memory: its peak while the stage ran
and what was left when it ended (one worker runs inside this process; with more, the workers'
own memory is not counted), and the runner's buffers alive when it ended: the bytes of encoded
elements waiting in ListBuffers and the number of decoded values a GroupingBuffer (a
GroupByKey's input, held as Python objects until the group is read) holds. Found with it
(bench/RESULTS.md, "Where the time goes"): AlertOnEvents and MatchStories ran on one worker of two, and a
file's records on the worker that parsed it.

Beam internals (apache_beam.runners.portability.fn_api_runner.fn_runner, Beam 2.77): a
measuring aid, not a benchmark; nothing is compared, and it adds no work to the stages.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from apache_beam.runners.portability.fn_api_runner import execution, fn_runner

_STAGES: list[dict[str, Any]] = []
_SPLIT: dict[str, Any] = {}  # the split stage running now (the runner runs one stage at a time;
# its parts are bundles of their own, run on a thread per worker)
_T0 = time.monotonic()
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20
_PEAK = {"mb": 0.0}  # the largest resident memory sampled since the running stage began
_BUFFERS: weakref.WeakSet = weakref.WeakSet()


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE_MB


def _sample() -> None:
    while True:
        _PEAK["mb"] = max(_PEAK["mb"], _rss_mb())
        time.sleep(0.05)


def _track_buffers() -> None:
    """Note every buffer the runner makes, to sum what they hold when a stage ends."""
    for cls in (execution.ListBuffer, execution.GroupingBuffer):
        original = cls.__init__

        def init(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> None:
            _original(self, *args, **kwargs)
            _BUFFERS.add(self)

        cls.__init__ = init


def _buffered() -> tuple[float, int]:
    """(MB of encoded elements in live ListBuffers, values held decoded by GroupingBuffers)."""
    encoded, decoded = 0, 0
    for buffer in list(_BUFFERS):
        if isinstance(buffer, execution.ListBuffer) and not buffer.cleared:
            encoded += sum(len(b) for b in buffer._inputs)
        elif isinstance(buffer, execution.GroupingBuffer):
            decoded += sum(len(values) for values in buffer._table.values())
    return encoded / 2**20, decoded


def _wrap(cls: type, kind: str) -> None:
    original = cls.process_bundle

    def process_bundle(self: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        if kind == "one" and _SPLIT:  # one worker's part of the split stage running now
            try:
                return original(self, inputs, *args, **kwargs)
            finally:
                _SPLIT["stage"]["parts_s"].append(round(time.monotonic() - start, 2))
        stage = {"stage": self.bundle_context_manager.stage.name, "kind": kind, "parts_s": []}
        _PEAK["mb"] = _rss_mb()
        if kind == "split":
            _SPLIT["stage"] = stage
        try:
            return original(self, inputs, *args, **kwargs)
        finally:
            _SPLIT.clear()
            stage["seconds"] = round(time.monotonic() - start, 2)
            stage["ended_at_s"] = round(time.monotonic() - _T0, 1)
            stage["peak_rss_mb"] = round(max(_PEAK["mb"], _rss_mb()))
            stage["rss_end_mb"] = round(_rss_mb())
            encoded, decoded = _buffered()
            stage["buffered_mb"], stage["grouped_values"] = round(encoded, 1), decoded
            _STAGES.append(stage)

    cls.process_bundle = process_bundle


def main() -> None:
    ours, script = sys.argv[1:], []
    if "--" in ours:
        ours, script = ours[: ours.index("--")], ours[ours.index("--") + 1 :]
    parser = argparse.ArgumentParser(
        usage="%(prog)s [--min S] [--json FILE] -- SCRIPT [ARGS ...]",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--min", type=float, default=0.3, help="print stages of at least this many seconds")
    parser.add_argument("--json", type=Path, help="write every stage's figures here")
    args = parser.parse_args(ours)
    if not script:
        parser.error("give the script to run after --")
    _wrap(fn_runner.ParallelBundleManager, "split")
    _wrap(fn_runner.BundleManager, "one")
    _track_buffers()
    threading.Thread(target=_sample, daemon=True).start()
    sys.argv = script
    try:
        runpy.run_path(script[0], run_name="__main__")
    finally:
        total = round(time.monotonic() - _T0, 1)
        head = f"{'ended s':>8} {'wall s':>7} {'peak MB':>7} {'end MB':>6} {'buf MB':>6} {'grouped':>7}"
        print(f"{head}  {'how':5} {'parts s':14} stage", file=sys.stderr)
        for s in _STAGES:
            if s["seconds"] >= args.min:
                parts = ", ".join(map(str, s["parts_s"])) if s["kind"] == "split" else ""
                mem = f"{s['peak_rss_mb']:7} {s['rss_end_mb']:6} {s['buffered_mb']:6} {s['grouped_values']:7}"
                line = f"{s['ended_at_s']:8.1f} {s['seconds']:7.2f} {mem}  {s['kind']:5} {parts:14} {s['stage'][:90]}"
                print(line, file=sys.stderr)
        one = sum(s["seconds"] for s in _STAGES if s["kind"] == "one")
        print(f"run {total} s; stages on one worker {one:.1f} s in all", file=sys.stderr)
        if args.json:
            args.json.write_text(json.dumps({"seconds": total, "stages": _STAGES}, indent=1))


if __name__ == "__main__":
    main()
