"""AcrossPolls: a keyed step that decides each new value against what the key kept before, in a
stream, with the kept values dropped `horizon` after they came.

FoldInState (transforms/keyed.py) folds a key again over all its values, which suits a key
with few values (an article's versions or reports). Here a new value is decided against what
the key kept before, and what was decided is never decided again (it is written): MarkCopies
keeps the original of a text and the candidates of an LSH partition, MergeEvents an event's
fold so far (transforms.merge._Event: its claims, reports and latest values), so that a poll
costs its own values, not the key's whole history. This step keeps, per key, the values a
`step` function chose to keep, each with the time it came, and calls

    step(key, new values, kept values) -> (outputs, values to keep from now on)

when the watermark has passed the new values (an event-time timer, so the order in which
values come within a poll does not matter). A kept value is dropped once the watermark is
`horizon` past the time it came, or past the time its key's newest value came (`per_value`;
counted per value as `state_expired|<name>`, and the key on the EXPIRED output when its last
kept value goes), so memory holds the last horizon, not the whole stream.

Only streams use it: in batch each key has all its values at once (a GroupByKey), and the
caller runs its batch step instead (MarkCopies, MergeEvents), so batch results do not change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import GlobalWindow, GlobalWindows
from apache_beam.utils.timestamp import Timestamp

from transforms.counters import NAMESPACE
from transforms.keyed import hold, hold_again, split_due

EXPIRED = "expired"  # the tag of the keys whose last kept value was dropped

Step = Callable[[Any, list[Any], list[Any]], tuple[Iterable[Any], list[Any]]]
_END = GlobalWindow().max_timestamp()


class _AcrossPolls(beam.DoFn):
    PENDING = BagStateSpec("pending", PickleCoder())  # (time µs, value) not decided yet
    KEPT = ReadModifyWriteStateSpec("kept", PickleCoder())  # [(time µs, value)] decided and kept
    RELEASE = TimerSpec("release", TimeDomain.WATERMARK)
    EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)

    def __init__(self, name: str, step: Step, horizon: timedelta, per_value: bool):
        self._step = step
        self._per_value = per_value
        self._horizon_us = horizon // timedelta(microseconds=1)
        self._expired = Metrics.counter(NAMESPACE, f"state_expired|{name}")

    def process(
        self,
        element: tuple[Any, Any],
        timestamp: Any = beam.DoFn.TimestampParam,
        pending: Any = beam.DoFn.StateParam(PENDING),
        release: Any = beam.DoFn.TimerParam(RELEASE),
    ) -> Iterator[Any]:
        hold(element[1], timestamp, pending, release)
        return iter(())

    @on_timer(RELEASE)
    def on_release(
        self,
        fired: Any = beam.DoFn.TimestampParam,
        key: Any = beam.DoFn.KeyParam,
        pending: Any = beam.DoFn.StateParam(PENDING),
        kept: Any = beam.DoFn.StateParam(KEPT),
        release: Any = beam.DoFn.TimerParam(RELEASE),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> Iterator[Any]:
        ready, later = split_due(pending.read(), fired.micros)
        if ready:
            held = kept.read() or []
            before = self._alive(held, fired.micros)
            if len(before) < len(held):
                self._expired.inc(len(held) - len(before))
            outputs, keep = self._step(key, [v for _, v in ready], [v for _, v in before])
            yield from outputs
            newest = ready[-1][0]
            if self._per_value:  # a value kept again (the object step was given) keeps its time
                came = {id(v): t for t, v in before}
                now_kept = [(came.get(id(v), newest), v) for v in keep]
            else:  # the key's values expire together, a horizon after its newest one
                now_kept = [(newest, v) for v in keep]
            kept.write(now_kept)
            self._arm(expire, now_kept)
        hold_again(later, pending, release)

    @on_timer(EXPIRE)
    def on_expire(
        self,
        fired: Any = beam.DoFn.TimestampParam,
        key: Any = beam.DoFn.KeyParam,
        kept: Any = beam.DoFn.StateParam(KEPT),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> Iterator[Any]:
        before = kept.read() or []
        alive = self._alive(before, fired.micros)
        if len(alive) == len(before):
            return
        self._expired.inc(len(before) - len(alive))
        if alive:
            kept.write(alive)
            self._arm(expire, alive)
        else:
            kept.clear()
            yield beam.pvalue.TaggedOutput(EXPIRED, key)

    def _alive(self, kept: list[tuple[int, Any]], now_us: int) -> list[tuple[int, Any]]:
        return [(t, v) for t, v in kept if t + self._horizon_us > now_us]

    def _arm(self, expire: Any, kept: list[tuple[int, Any]]) -> None:
        if kept:
            at = Timestamp(micros=min(t for t, _ in kept) + self._horizon_us)
            if at < _END:
                expire.set(at)


class AcrossPolls(beam.PTransform):
    """(key: str | int, value) -> what `step` outputs, in the global window; EXPIRED carries the
    keys whose kept values were all dropped. Returns a DoOutputsTuple (main tag "main").

    `per_value`: each kept value is dropped a horizon after it came (a key that never goes
    quiet, like an LSH partition); otherwise a key's values are dropped together, a horizon
    after its newest value came (a content hash: its original goes with its copies).
    `extra_tags`: the tagged outputs of `step`."""

    def __init__(
        self,
        name: str,
        step: Step,
        horizon: timedelta,
        key_type: type = str,
        per_value: bool = False,
        extra_tags: tuple[str, ...] = (),
    ):
        super().__init__()
        self._name = name
        self._step = step
        self._horizon = horizon
        self._key_type = key_type
        self._per_value = per_value
        self._tags = extra_tags

    def expand(self, keyed: beam.PCollection) -> Any:
        return (
            keyed
            | "GlobalWindow" >> beam.WindowInto(GlobalWindows())
            | "Decide"
            >> beam.ParDo(_AcrossPolls(self._name, self._step, self._horizon, self._per_value))
            .with_input_types(tuple[self._key_type, Any])  # a deterministic key coder
            .with_outputs(EXPIRED, *self._tags, main="main")
        )
