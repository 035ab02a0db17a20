"""Where a FnApiRunner run's wall time goes, stage by stage, and how each stage's work was split.

    .venv/bin/python bench/stages.py [--json FILE] -- SCRIPT [ARGS ...]

Runs SCRIPT (a Python file, e.g. `bench/pipeline.py --child newsmon --workers 2 ...`) in this
process with the FnApiRunner's bundle managers wrapped, and prints, for every fused stage that
took at least `--min` seconds: when it ended (seconds since the start), its wall time, whether
the runner split its input across the workers ("split": ParallelBundleManager) or ran it whole
on one worker ("one": BundleManager, which the runner uses for every stage that holds keyed
state or timers, whatever `--direct_num_workers` says), and for a split stage the wall time of
each worker's part. Found with it (README, "Where the time goes"): AlertOnEvents and
MatchStories ran on one worker of two, and a file's records on the worker that parsed it.

Beam internals (apache_beam.runners.portability.fn_api_runner.fn_runner, Beam 2.77): a
measuring aid, not a benchmark; nothing is compared, and it adds no work to the stages.
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
import time
from pathlib import Path
from typing import Any

from apache_beam.runners.portability.fn_api_runner import fn_runner

_STAGES: list[dict[str, Any]] = []
_SPLIT: dict[str, Any] = {}  # the split stage running now (the runner runs one stage at a time;
# its parts are bundles of their own, run on a thread per worker)
_T0 = time.monotonic()


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
        if kind == "split":
            _SPLIT["stage"] = stage
        try:
            return original(self, inputs, *args, **kwargs)
        finally:
            _SPLIT.clear()
            stage["seconds"] = round(time.monotonic() - start, 2)
            stage["ended_at_s"] = round(time.monotonic() - _T0, 1)
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
    sys.argv = script
    try:
        runpy.run_path(script[0], run_name="__main__")
    finally:
        total = round(time.monotonic() - _T0, 1)
        print(f"{'ended s':>8} {'wall s':>7}  {'how':5} {'parts s':14} stage", file=sys.stderr)
        for s in _STAGES:
            if s["seconds"] >= args.min:
                parts = ", ".join(map(str, s["parts_s"])) if s["kind"] == "split" else ""
                line = f"{s['ended_at_s']:8.1f} {s['seconds']:7.2f}  {s['kind']:5} {parts:14} {s['stage'][:110]}"
                print(line, file=sys.stderr)
        one = sum(s["seconds"] for s in _STAGES if s["kind"] == "one")
        print(f"run {total} s; stages on one worker {one:.1f} s in all", file=sys.stderr)
        if args.json:
            args.json.write_text(json.dumps({"seconds": total, "stages": _STAGES}, indent=1))


if __name__ == "__main__":
    main()
