"""What Prism itself keeps per key: a bare Beam stream, no newsmon code, on the same Prism binary.

    .venv/bin/python bench/prism_keys.py [--seconds 240] [--repeat 3]

A stream of newsmon keeps keyed state for `--dedup-horizon` (72 h): per article, three keyed
stages (MarkCopies' same-article fold and same-text step, AssignStories' main-event fold) each
keep a few state cells and an expiry timer for the article's key. This bench runs the same shape
without newsmon: PeriodicImpulse emits one element a second for --seconds, through three
stateful stages shaped like FoldInState (a pending bag and a release timer; then a folded bag,
the last time and an expiry timer 72 h on), then 1-second windows and a GroupByKey, on
PrismRunner with LOOPBACK workers. The modes (--modes; all by default) run at once, each its own job:

  keys       a new key per element (as newsmon keys an article by its id)
  buckets    the same elements and state under 8 keys (element number mod 8)
  stateless  no stateful stage: the windows and the GroupByKey alone
  lateness   the same with 48 h of allowed lateness (WriteTable's default): Prism keeps a
             window's state until the watermark is that far past it

The resident memory of Prism and of the Python process is sampled every second. The figure is
the growth from the mean of the run's second quarter to that of its last quarter (the first
quarter is the start), per element published between them, in KB; median of --repeat rounds.
Prints a table and writes bench/results/prism_keys.json.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.latency import group_rss_mb  # noqa: E402
from bench.record import write_result  # noqa: E402
from pipeline.runners import find_prism  # noqa: E402

MODES = ("keys", "buckets", "stateless", "lateness")
STAGES = 3  # newsmon's keyed stages per article in a stream (README, "What each stage keeps in state")
HORIZON_S = 72 * 3600
START_S = 20  # the job starts its workers before the first element


def job(seconds: int, prism: str, mode: str) -> None:
    """The bare stream (child process)."""
    import apache_beam as beam
    from apache_beam.coders import PickleCoder
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.transforms import window
    from apache_beam.transforms.periodicsequence import PeriodicImpulse
    from apache_beam.transforms.timeutil import TimeDomain
    from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer

    class Fold(beam.DoFn):
        """FoldInState's shape: values wait in `pending` until the watermark passes them, then
        join `folded`; the key's state is dropped a horizon after its last value."""

        PENDING = BagStateSpec("pending", PickleCoder())
        FOLDED = BagStateSpec("folded", PickleCoder())
        LAST = ReadModifyWriteStateSpec("last", PickleCoder())
        RELEASE = TimerSpec("release", TimeDomain.WATERMARK)
        EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)

        def process(
            self,
            kv: Any,
            ts: Any = beam.DoFn.TimestampParam,
            pending: Any = beam.DoFn.StateParam(PENDING),
            release: Any = beam.DoFn.TimerParam(RELEASE),
        ) -> Any:
            pending.add(kv[1])
            release.set(ts)
            return iter(())

        @on_timer(RELEASE)
        def on_release(
            self,
            fired: Any = beam.DoFn.TimestampParam,
            key: Any = beam.DoFn.KeyParam,
            pending: Any = beam.DoFn.StateParam(PENDING),
            folded: Any = beam.DoFn.StateParam(FOLDED),
            last: Any = beam.DoFn.StateParam(LAST),
            expire: Any = beam.DoFn.TimerParam(EXPIRE),
        ) -> Any:
            for value in pending.read():
                folded.add(value)
                yield key, value
            pending.clear()
            last.write(fired.micros)
            expire.set(fired + HORIZON_S)

        @on_timer(EXPIRE)
        def on_expire(
            self,
            folded: Any = beam.DoFn.StateParam(FOLDED),
            last: Any = beam.DoFn.StateParam(LAST),
        ) -> None:
            folded.clear()
            last.clear()

    def keyed(t: Any) -> tuple[str, str]:
        n = int(t)
        return (f"k{n % 8}" if mode == "buckets" else f"k{n}"), "x" * 200

    start = time.time() + START_S
    options = PipelineOptions(
        ["--runner=PrismRunner", f"--prism_location={prism}", "--streaming", "--environment_type=LOOPBACK"]
    )
    with beam.Pipeline(options=options) as p:
        x = p | PeriodicImpulse(start_timestamp=start, stop_timestamp=start + seconds, fire_interval=1)
        x = x | "Key" >> beam.Map(keyed).with_output_types(tuple[str, str])
        for i in range(STAGES if mode in ("keys", "buckets") else 0):
            x = x | f"Fold{i}" >> beam.ParDo(Fold()).with_output_types(tuple[str, str])
        lateness = HORIZON_S * 2 // 3 if mode == "lateness" else 0
        (
            x
            | "Windows" >> beam.WindowInto(window.FixedWindows(1), allowed_lateness=lateness)
            | "Group" >> beam.GroupByKey()
        )


def one_round(seconds: int, prism: str, modes: tuple[str, ...]) -> dict[str, dict]:
    """The modes at once; the memory of each job sampled every second."""
    jobs = {
        mode: subprocess.Popen(
            [sys.executable, __file__, "--child", mode, "--seconds", str(seconds)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for mode in modes
    }
    began = time.time()
    samples: dict[str, list[tuple[float, float, float]]] = {mode: [] for mode in modes}
    while any(j.poll() is None for j in jobs.values()):
        time.sleep(1)
        at = time.time() - began - START_S
        for mode, j in jobs.items():
            if j.poll() is None and 0 <= at <= seconds:
                everything, prism_alone = group_rss_mb(j.pid)
                samples[mode].append((at, prism_alone, everything - prism_alone))
    return {mode: _growth(samples[mode]) for mode in modes}


def _growth(samples: list[tuple[float, float, float]]) -> dict:
    quarter = max(1, len(samples) // 4)
    second, last = samples[quarter : 2 * quarter], samples[-quarter:]
    elements = statistics.mean(s[0] for s in last) - statistics.mean(s[0] for s in second)

    def per_element(column: int) -> float:
        grown_mb = statistics.mean(s[column] for s in last) - statistics.mean(s[column] for s in second)
        return round(grown_mb * 1024 / elements, 2)

    return {
        "prism_mb": [round(samples[quarter][1], 1), round(samples[-1][1], 1)],
        "python_mb": [round(samples[quarter][2], 1), round(samples[-1][2], 1)],
        "prism_kb_per_element": per_element(1),
        "python_kb_per_element": per_element(2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=240)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES), help=f"which of {', '.join(MODES)} (comma-separated)")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, default=ROOT / "bench" / "results" / "prism_keys.json")
    args = parser.parse_args()
    prism = find_prism()
    if prism is None:
        sys.exit("no Prism binary: run `make prism`")
    if args.child:
        return job(args.seconds, prism, args.child)
    modes = tuple(args.modes.split(","))
    if not set(modes) <= set(MODES):
        parser.error(f"--modes {args.modes}: want some of {', '.join(MODES)}")
    rounds = [one_round(args.seconds, prism, modes) for _ in range(args.repeat)]
    median = {
        mode: {
            k: statistics.median(r[mode][k] for r in rounds) for k in ("prism_kb_per_element", "python_kb_per_element")
        }
        for mode in modes
    }
    print(f"{'mode':>10} {'Prism KB/element':>17} {'Python KB/element':>18}   Prism MB (from, to) per round")
    for mode in modes:
        spans = "  ".join(str(tuple(r[mode]["prism_mb"])) for r in rounds)
        m = median[mode]
        print(f"{mode:>10} {m['prism_kb_per_element']:>17} {m['python_kb_per_element']:>18}   {spans}")
    result = {
        "what": f"a bare Beam stream on PrismRunner: one element a second, {STAGES} FoldInState-shaped stateful "
        "stages (a new key per element, or 8 keys), then 1 s windows and a GroupByKey; memory growth per element",
        "seconds": args.seconds,
        "rounds": rounds,
        "median": median,
    }
    write_result(args.result, result)


if __name__ == "__main__":
    main()
