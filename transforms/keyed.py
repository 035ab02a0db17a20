"""FoldInState: a GroupByKey-and-fold that also runs in a stream, with keyed state and timers.

A batch GroupByKey waits for the end of its input, which a stream never reaches (in the global
window its default trigger never fires). FoldInState keeps each key's values in keyed state
instead and folds them when the watermark has passed them (an event-time timer), in event-time
order, so the result does not depend on arrival order:

- batch: each key is folded once over all its values: GroupByKey + `fold(key, values)`, which is
  what the keyed state would give when the watermark jumps to the end of the input (and the
  FnApiRunner was seen not to fire every timer set at the end of the global window);
- stream: each time the watermark passes some pending values, the key is folded again over all
  its values so far, and only outputs not emitted before (by `identity`) are emitted. A key's
  state is dropped by an expiry timer once no value has come for `horizon` of event time, so
  memory holds the keys of the last horizon, not the whole stream (counted as
  `state_expired|<name>`).

Values are kept whole until their key expires, and each release reads them all back: this suits
keys with few values (an article's versions or reports; MarkCopies passes `Version`s, not rows).
A key with many values, such as an event reported hundreds of times, keeps what it folded so far
instead (transforms/incremental.py, AcrossPolls).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Hashable, Iterable, Iterator
from datetime import timedelta
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import GlobalWindow, GlobalWindows, TimestampedValue
from apache_beam.utils.timestamp import MIN_TIMESTAMP, Duration, Timestamp

from transforms.counters import NAMESPACE

EXPIRED = "expired"  # the tag of the keys whose state was dropped

_EARLIEST = MIN_TIMESTAMP + Duration(seconds=1)  # a timer at MIN_TIMESTAMP itself is not allowed
_END = GlobalWindow().max_timestamp()


def _output_key(output: Any) -> Any:
    output = output.value if isinstance(output, beam.pvalue.TaggedOutput) else output
    return output.value if isinstance(output, TimestampedValue) else output


def _at_release(output: Any) -> Any:
    """Outputs leave at the release time (the time their values came), not at a timestamp the
    fold gives them: in a stream an article's report time is hours behind the watermark, and a
    stage that windows by arrival would take it for late data."""
    if isinstance(output, beam.pvalue.TaggedOutput) and isinstance(output.value, TimestampedValue):
        return beam.pvalue.TaggedOutput(output.tag, output.value.value)
    return output.value if isinstance(output, TimestampedValue) else output


def hold(value: Any, timestamp: Any, pending: Any, release: Any) -> None:
    """Keep `value` in the `pending` bag, as (time µs, value), and set the `release` watermark
    timer to the earliest pending time. Runners keep timers in milliseconds: a value's time is
    taken down to its millisecond, so that the timer set for it fires at a time the value counts
    as due (a timer at 10:00:00.000999 fires at 10:00:00.000, and a value due after that would
    wait forever)."""
    at = max(Timestamp.of(timestamp), _EARLIEST).micros // 1000 * 1000
    pending.add((at, value))
    release.set(Timestamp(micros=min(t for t, _ in pending.read())))


def split_due(waiting: list[tuple[int, Any]], now_us: int) -> tuple[list[tuple[int, Any]], list[tuple[int, Any]]]:
    """The pending (time µs, value) pairs due at `now_us` and those not yet, each in time order.
    Sorted by time alone: two values of one time keep the order they came in (values such as
    dicts cannot be compared, and a stream that lags holds several of one time)."""
    waiting = sorted(waiting, key=lambda tv: tv[0])
    return [tv for tv in waiting if tv[0] <= now_us], [tv for tv in waiting if tv[0] > now_us]


def hold_again(later: list[tuple[int, Any]], pending: Any, release: Any) -> None:
    """After a release: the `pending` bag holds only the values not yet due (`later`, sorted by
    time), and the timer is set for the first of them."""
    pending.clear()
    for t, v in later:
        pending.add((t, v))
    if later:
        release.set(Timestamp(micros=later[0][0]))


class _FoldInState(beam.DoFn):
    PENDING = BagStateSpec("pending", PickleCoder())  # (timestamp µs, value) not folded yet
    FOLDED = BagStateSpec("folded", PickleCoder())  # values folded so far
    EMITTED = ReadModifyWriteStateSpec("emitted", PickleCoder())  # identities of the outputs so far
    LAST = ReadModifyWriteStateSpec("last", PickleCoder())  # latest value time (µs)
    RELEASE = TimerSpec("release", TimeDomain.WATERMARK)
    EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)

    def __init__(
        self,
        name: str,
        fold: Callable[[Any, list[Any]], Iterable[Any]],
        identity: Callable[[Any], Hashable],
        horizon: timedelta,
    ):
        self._fold = fold
        self._identity = identity
        self._horizon = Duration(micros=horizon // timedelta(microseconds=1))
        self._expired = Metrics.counter(NAMESPACE, f"state_expired|{name}")

    def process(
        self,
        element: tuple[Any, Any],
        timestamp: Any = beam.DoFn.TimestampParam,
        key: Any = beam.DoFn.KeyParam,
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
        folded: Any = beam.DoFn.StateParam(FOLDED),
        emitted: Any = beam.DoFn.StateParam(EMITTED),
        last: Any = beam.DoFn.StateParam(LAST),
        release: Any = beam.DoFn.TimerParam(RELEASE),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> Iterator[Any]:
        due, later = split_due(pending.read(), fired.micros)
        ready = [v for _, v in due]
        if ready:
            values = list(folded.read()) + ready
            seen = emitted.read() or set()
            for output in self._fold(key, values):
                identity = self._identity(_output_key(output))
                if identity not in seen:
                    seen.add(identity)
                    yield _at_release(output)
            emitted.write(seen)
            for value in ready:
                folded.add(value)
            newest = max(due[-1][0], last.read() or 0)
            last.write(newest)
            if Timestamp(micros=newest) + self._horizon < _END:
                expire.set(Timestamp(micros=newest) + self._horizon)
            # else: values at the end of the global window (a batch after BatchElements): the
            # input ends there, and a timer past it would never fire (FnApiRunner loops on it)
        hold_again(later, pending, release)

    @on_timer(EXPIRE)
    def on_expire(
        self,
        fired: Any = beam.DoFn.TimestampParam,
        key: Any = beam.DoFn.KeyParam,
        pending: Any = beam.DoFn.StateParam(PENDING),
        folded: Any = beam.DoFn.StateParam(FOLDED),
        emitted: Any = beam.DoFn.StateParam(EMITTED),
        last: Any = beam.DoFn.StateParam(LAST),
    ) -> Iterator[Any]:
        newest = last.read()
        if newest is None or Timestamp(micros=newest) + self._horizon > fired or list(pending.read()):
            return  # a later value moved the expiry on (its own timer is set)
        folded.clear()
        emitted.clear()
        last.clear()
        self._expired.inc()
        yield beam.pvalue.TaggedOutput(EXPIRED, key)


class FoldInState(beam.PTransform):
    """(key: str, value) -> what `fold(key, values)` yields, each output once (by `identity`), in the
    global window. The output's main tag is "main"; `extra_tags` are fold's tagged outputs;
    EXPIRED carries the keys whose state was dropped. Returns a DoOutputsTuple."""

    def __init__(
        self,
        name: str,
        fold: Callable[[Any, list[Any]], Iterable[Any]],
        identity: Callable[[Any], Hashable],
        horizon: timedelta,
        extra_tags: tuple[str, ...] = (),
    ):
        super().__init__()
        self._name = name
        self._fold = fold
        self._identity = identity
        self._horizon = horizon
        self._tags = extra_tags

    def expand(self, keyed: beam.PCollection) -> Any:
        if not keyed.pipeline.options.view_as(StandardOptions).streaming:
            # Batch: each key is folded once over all its values, which a GroupByKey gives
            # directly (and the FnApiRunner's timers at the end of the global window do not
            # fire reliably: some keys were never folded).
            return (
                keyed
                | "GroupByKey" >> beam.GroupByKey()
                | "Fold" >> beam.FlatMapTuple(self._fold).with_outputs(EXPIRED, *self._tags, main="main")
            )
        return (
            keyed
            | "GlobalWindow" >> beam.WindowInto(GlobalWindows())
            | "Fold"
            >> beam.ParDo(_FoldInState(self._name, self._fold, self._identity, self._horizon))
            .with_input_types(tuple[str, Any])  # string keys: a deterministic key coder
            .with_outputs(EXPIRED, *self._tags, main="main")
        )


def like(pcoll: beam.PCollection) -> beam.WindowInto:
    """A WindowInto that gives a collection the windowing (windows, trigger, lateness) of
    `pcoll`: after a keyed-state step (global window) a stage goes back to its input's windows.
    In batch that is the global window again: nothing changes."""
    w = pcoll.windowing
    return beam.WindowInto(
        w.windowfn,
        trigger=w.triggerfn,
        accumulation_mode=w.accumulation_mode,
        allowed_lateness=w.allowed_lateness,
        timestamp_combiner=w.timestamp_combiner,
    )


# zstd at level 1 (pyarrow's codec): 20,000 bench articles pickle to 71 MB and pack to 38 MB,
# in 0.44 s, unpacked in 0.39 s (zlib at level 1: the same size in 0.98 s and 0.36 s)
_CODEC = pa.Codec("zstd", compression_level=1)
_SIZE = 8  # bytes of the pickle's length, before the compressed pickle


def packed(value: Any) -> bytes:
    """`value` pickled and compressed (for a GroupByKey's buffer)."""
    raw = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    return len(raw).to_bytes(_SIZE, "little") + _CODEC.compress(raw, asbytes=True)


def unpacked(data: bytes) -> Any:
    """The value `packed` made `data` of."""
    size = int.from_bytes(data[:_SIZE], "little")
    return pickle.loads(_CODEC.decompress(memoryview(data)[_SIZE:], decompressed_size=size, asbytes=True))


def as_is(value: Any) -> Any:
    """A value that was never packed, read as it is (where a step takes packed values or not)."""
    return value


def _pack(key: str, value: Any) -> tuple[str, bytes]:
    return key, packed(value)


def _unpack_joined(key: str, grouped: dict[str, Iterable[bytes]]) -> tuple[str, dict[str, list[Any]]]:
    return key, {tag: [unpacked(value) for value in values] for tag, values in grouped.items()}


class CoGroupPacked(beam.PTransform):
    """A CoGroupByKey of string keys whose values wait pickled and compressed (`packed`):
    {tag: (key, value)} -> (key, {tag: [values]}). For joins of article rows (MarkCopies'
    JoinMarks, AssignStories' JoinByDay, the stream's AfterWritten): 20,000 bench articles are
    ~108 MB as dicts, 71 MB pickled and 38 MB packed.

    For batch: the FnApiRunner holds a GroupByKey's whole input before the first group is read,
    and holds it decoded (its GroupingBuffer keeps Python objects, not bytes), then encodes the
    whole grouped output into one buffer and copies it (GroupingBuffer.partition), so a
    grouping's input is held about three times over at its peak. Here the buffer holds
    compressed bytes, and a key's values are unpacked when its group is read, one group at a
    time (bench/RESULTS.md, "Output buffers and packed groupings"). The groupings of rows that are
    written (write.WriteTable) or alerted on (alerts.AlertOnEvents) keep theirs packed beyond
    that, with a sort key beside them, and decode them one at a time. In a stream it is a
    CoGroupByKey like another."""

    def expand(self, inputs: dict[str, beam.PCollection]) -> beam.PCollection:
        packed = {
            tag: pcoll | f"Pack{tag.title()}" >> beam.MapTuple(_pack).with_output_types(tuple[str, bytes])
            for tag, pcoll in inputs.items()
        }
        return packed | "CoGroupByKey" >> beam.CoGroupByKey() | "Unpack" >> beam.MapTuple(_unpack_joined)
