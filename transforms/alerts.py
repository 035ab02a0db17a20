"""AlertOnEvents: event versions that match a rule -> deliveries, each attempt a row of alerts/.

An event alerts for a rule when a version first matches it (`event.new`), and again when a
later version that still matches changes a field (`event.updated`, with `changed` listing the
fields; only for rules with `on: [.., updated]`). Exactly one delivery per (rule, event,
version) and destination: the webhook-id `<rule>:<event_id>:<version>` is the key.

Per event (keyed by event_id: a GroupByKey in batch, `_AlertsOfEvent`; keyed state in a stream,
`_AlertsPerEvent`), with seeds from OUT so that a rerun, or a restarted stream, sends nothing
twice:
- the event's latest row in OUT (MergeEvents' "continued"): what the first new version changed,
  and whether the event already matched a rule;
- the event's delivery history in alerts/ (`AlertHistory`): a (rule, version, destination)
  delivered is never sent again; one that failed is sent again (with the attempts counted on),
  also when its version is not produced again by this run: the row is read from OUT.
Versions are handled in version order; in a stream they wait in state until the watermark
passes them.

Each delivery's attempt rows are written to alerts/ as soon as the delivery ends (a file per
delivery, under a temporary name and renamed), not at the end of the run: a run killed after a
delivery does not send it again. A destination that answers 410 gets nothing more in this run
(per worker; the next run tries it again).
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import requests
from apache_beam.coders import PickleCoder
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import FixedWindows
from apache_beam.utils.timestamp import Duration, Timestamp

from schemas import EVENTS, to_arrow
from schemas.records import stable_id
from transforms.counters import NAMESPACE, count_written
from transforms.delivery import Attempt, deliver
from transforms.extraction import ALL_FIELDS
from transforms.keyed import as_is, packed, unpacked
from transforms.rules import Rule, Rules
from transforms.state import rows_of, table_files
from transforms.stories import due
from transforms.stream import progress
from transforms.write import window_folder, write_parquet

logger = logging.getLogger(__name__)

NEW, UPDATED = "event.new", "event.updated"
HANDLED = "handled"  # the tag of this run's event versions whose alerts are recorded
CHANGEABLE = ["event_date", *ALL_FIELDS]  # the fields whose change `changed` lists
HISTORY_COLUMNS = ["rule", "event_id", "event_version", "destination", "status", "attempts", "webhook_id"]
HISTORY_COLUMNS += ["alert_type", "changed"]


def webhook_id(rule: str, event_id: str, version: int) -> str:
    return f"{rule}:{event_id}:{version}"


@dataclass
class Delivery:
    """What one (rule, event version, destination) has had so far, in OUT and in this run."""

    rule: str
    event_id: str
    version: int
    destination: str
    alert_type: str
    changed: list[str]
    attempts: int = 0
    delivered: bool = False


@dataclass
class AlertHistory:
    """The deliveries recorded in OUT's alerts/, per event id (small: one entry per alert and
    destination, not per article), and the rows of the event versions whose delivery failed."""

    by_event: dict[str, list[Delivery]] = field(default_factory=dict)
    failed_rows: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)

    def seeds(self) -> list[tuple[str, tuple[str, Any]]]:
        """(event_id, ("history", deliveries)) and (event_id, ("row", row)) elements that seed
        _AlertsPerEvent's state."""
        seeds: list[tuple[str, tuple[str, Any]]] = [(e, ("history", d)) for e, d in sorted(self.by_event.items())]
        seeds += [(e, ("retry_row", row)) for (e, _), row in sorted(self.failed_rows.items())]
        return seeds


def alert_history(output: str) -> AlertHistory:
    """Reads alerts/ (its key columns) and, for the deliveries that never succeeded, their event
    rows from events/ (only the files and rows of those events)."""
    history = AlertHistory()
    deliveries: dict[tuple[str, str], Delivery] = {}
    for f in table_files(output, "alerts"):
        with FileSystems.open(f.path) as stream:
            for row in pq.read_table(stream, columns=HISTORY_COLUMNS).to_pylist():
                key = (row["webhook_id"], row["destination"])
                d = deliveries.setdefault(
                    key,
                    Delivery(
                        row["rule"],
                        row["event_id"],
                        row["event_version"],
                        row["destination"],
                        row["alert_type"],
                        row["changed"] or [],
                    ),
                )
                d.attempts = max(d.attempts, row["attempts"])
                d.delivered = d.delivered or row["status"] == "delivered"
    for d in deliveries.values():
        history.by_event.setdefault(d.event_id, []).append(d)
    failed = {(d.event_id, d.version) for d in deliveries.values() if not d.delivered}
    if failed:
        wanted = {event_id for event_id, _ in failed}
        value_set = pa.array(sorted(wanted), pa.string())
        for f in table_files(output, "events"):
            with FileSystems.open(f.path) as stream:  # the id column first: most files hold none of them
                if not pc.any(pc.is_in(pq.read_table(stream, columns=["event_id"]).column(0), value_set)).as_py():
                    continue
            with FileSystems.open(f.path) as stream:
                table = pq.read_table(stream)
            table = table.filter(pc.is_in(table.column("event_id"), value_set=value_set))
            for row in rows_of(table):
                if (row["event_id"], row["version"]) in failed:
                    history.failed_rows[(row["event_id"], row["version"])] = row
    return history


def _changed(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    if before is None:
        return []
    return [name for name in CHANGEABLE if before.get(name) != after.get(name)]


def _values(row: dict[str, Any]) -> dict[str, Any]:
    """What AlertOnEvents keeps of an event's latest version: its number and the fields whose
    change `changed` lists, not its claims and evidence (which grow with its reports)."""
    return {"version": row["version"], **{name: row.get(name) for name in CHANGEABLE}}


def payload(alert_type: str, rule: str, row: dict[str, Any], changed: list[str]) -> dict[str, Any]:
    """The Standard Webhooks payload (DESIGN, "Alert hooks"): the event's row, its columns only."""
    event = {name: row.get(name) for name in EVENTS.names}
    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return {"type": alert_type, "timestamp": now, "data": {"rule": rule, "event": event, "changed": changed}}


SEEDS = ("continued", "history")  # the kinds of value that come from OUT, not from this run


def _take_seed(
    kind: str,
    value: Any,
    rules: Rules,
    last: dict[str, Any] | None,
    known: dict[tuple[str, str], Delivery],
    done: set[str],
) -> dict[str, Any] | None:
    """Adds one seed from OUT to what is known of an event; returns its latest version handled.
    "continued": its latest row in OUT (the version this run's first one follows), "history":
    its deliveries in alerts/."""
    if kind == "continued":
        done |= {r.name for r in rules.rules if r.matches(value)}
        return _values(value) if last is None or last["version"] < value["version"] else last
    for d in value:
        known[(webhook_id(d.rule, d.event_id, d.version), d.destination)] = d
    done |= {d.rule for d in value}
    return last


class _Deliverer(beam.DoFn):
    """What both forms of the stage share: the decision per event version (new / updated, for
    which rules and destinations), the deliveries (one HTTP session per worker) and their rows."""

    def __init__(self, rules: Rules, output: str, window_seconds: int, streaming: bool = False):
        self._rules = rules
        self._output = output
        self._window = FixedWindows(window_seconds)
        self._streaming = streaming

    def setup(self) -> None:
        self._session = requests.Session()
        self._rng = random.Random()
        self._disabled: set[str] = set()

    def teardown(self) -> None:
        self._session.close()

    def _alert(
        self,
        ready: list[tuple[str, int, Any]],
        known: dict[tuple[str, str], Delivery],
        done: set[str],
        previous: dict[str, Any] | None,
        decode: Callable[[Any], Any],
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Delivers what an event's versions `ready` ((kind, version, row as `decode` reads it):
        "row", this run's, or "retry_row", one whose delivery failed before) call for, in
        version order, given what is known of its latest version handled (`previous`,
        `_values`), its deliveries (`known`) and the rules it matched (`done`), which are
        updated. A version row lists every claim so far, so packed rows are decoded one at a
        time, when they are read (the 130 versions of the largest event of the 20,000-article
        bench are ~100 MB as dicts). Returns the alerts/ rows and the values of the latest
        version now handled."""
        todo: dict[tuple[str, str], tuple[Delivery, Any]] = {}
        retries = [(version, blob) for kind, version, blob in ready if kind == "retry_row"]
        out: list[dict[str, Any]] = []
        for _, version, blob in sorted((r for r in ready if r[0] == "row"), key=lambda r: r[1]):
            if previous is not None and version <= previous["version"]:
                continue  # a version handled already
            row = decode(blob)
            changed = _changed(previous, row)
            for rule in self._rules.rules:
                if not rule.matches(row):
                    continue
                alert_type = UPDATED if rule.name in done else NEW
                done.add(rule.name)
                if not _wanted(rule, alert_type, changed):
                    continue
                for destination in rule.notify:
                    key = (webhook_id(rule.name, row["event_id"], version), destination)
                    d = known.get(key) or Delivery(
                        rule.name, row["event_id"], version, destination, alert_type, changed
                    )
                    todo.setdefault(key, (d, blob))
            previous = _values(row)
            if not retries:  # nothing of an earlier version left to send: this one goes now
                out += self._send(todo, known, decode, (blob, row))
        for version, blob in retries:  # failed before, its version in OUT
            for key, d in known.items():
                if d.version == version and not d.delivered and key not in todo and self._still_wanted(d):
                    todo[key] = (d, blob)
        return out + self._send(todo, known, decode), previous

    def _send(
        self,
        todo: dict[tuple[str, str], tuple[Delivery, Any]],
        known: dict[tuple[str, str], Delivery],
        decode: Callable[[Any], Any],
        decoded: tuple[Any, dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """Delivers `todo` in version order (and empties it); a row is decoded again unless it is
        `decoded` (the value as it came, the row)."""
        out: list[dict[str, Any]] = []
        for key in sorted(todo, key=lambda k: (todo[k][0].version, k)):
            d, blob = todo[key]
            if d.delivered:
                continue
            if decoded is None or decoded[0] is not blob:
                decoded = (blob, decode(blob))
            out += self._deliver(d, decoded[1])
            known[key] = d
        todo.clear()
        return out

    def _still_wanted(self, d: Delivery) -> bool:
        """A failed delivery is retried only while its rule still sends to that destination."""
        rule = next((r for r in self._rules.rules if r.name == d.rule), None)
        return rule is not None and d.destination in rule.notify

    def _deliver(self, d: Delivery, row: dict[str, Any]) -> list[dict[str, Any]]:
        """One delivery (or a record that its destination is disabled): rows written at once."""
        msg_id = webhook_id(d.rule, d.event_id, d.version)
        destination = self._rules.destinations[d.destination]
        if d.destination in self._disabled:
            attempts = [Attempt("failed", datetime.now(timezone.utc), None, "destination disabled (410) in this run")]
            outcome_disable = False
        else:
            outcome = deliver(
                destination, msg_id, payload(d.alert_type, d.rule, row, d.changed), self._session, self._rng
            )
            attempts, outcome_disable = outcome.attempts, outcome.disable
        if outcome_disable:
            self._disabled.add(d.destination)
        rows = []
        for attempt in attempts:
            number = d.attempts + 1 if attempt.error != "destination disabled (410) in this run" else d.attempts
            d.attempts = number
            rows.append(
                {
                    "alert_id": stable_id(msg_id, d.destination, str(number), attempt.sent_at.isoformat()),
                    "rule": d.rule,
                    "event_id": d.event_id,
                    "event_version": d.version,
                    "destination": d.destination,
                    "status": attempt.status,
                    "attempts": number,
                    "sent_at": attempt.sent_at,
                    "response_code": attempt.response_code,
                    "webhook_id": msg_id,
                    "alert_type": d.alert_type,
                    "changed": list(d.changed),
                    "error": attempt.error,
                }
            )
            d.delivered = d.delivered or attempt.status == "delivered"
        self._journal(rows)
        if self._streaming and rows:  # a stream: one line per delivery, so a user sees alerts go out
            outcome = "delivered" if d.delivered else f"failed ({rows[-1]['error'] or rows[-1]['response_code']})"
            progress(f"alert {msg_id} to {d.destination}: {outcome} after {len(rows)} attempt(s)")
        return rows

    def _journal(self, rows: list[dict[str, Any]]) -> None:
        """The rows of one delivery, written now (a file per window they fall in)."""
        by_folder: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            window = self._window.assign(_Context(Timestamp.from_utc_datetime(row["sent_at"])))[0]
            by_folder[window_folder(window)].append(row)
        for folder, chunk in by_folder.items():
            digest = stable_id(*(r["alert_id"] for r in chunk))
            write_parquet(
                to_arrow("alerts", chunk),
                FileSystems.join(self._output, "alerts", folder, f"part-{digest}-000.parquet"),
            )
            for row in chunk:
                count_written("alerts", row)


class _AlertsOfEvent(_Deliverer):
    """Batch: (event_id, all its values) -> rows of alerts/. The values are this run's versions
    ("row"), and the seeds from OUT ("continued", "history", "retry_row": a version whose
    delivery failed); every version is there at once, so one pass handles the event, and events
    are handled in parallel (a stateful step runs on one worker on the FnApiRunner)."""

    def process(self, element: tuple[str, Iterable[tuple[str, int, bytes]]]) -> Iterator[dict[str, Any]]:
        _, values = element
        return iter(self.alerts_of_event(values, unpacked))

    def alerts_of_event(
        self, values: Iterable[tuple[str, int, Any]], decode: Callable[[Any], Any]
    ) -> list[dict[str, Any]]:
        """The alerts/ rows of one event's values: (kind, version, value as `decode` reads it;
        packed in the batch job, `_pack_of_event`)."""
        last, known, done, ready = None, {}, set(), []
        for kind, version, value in values:
            if kind in SEEDS:
                last = _take_seed(kind, decode(value), self._rules, last, known, done)
            else:
                ready.append((kind, version, value))
        return self._alert(ready, known, done, last, decode)[0]


class _AlertsPerEvent(_Deliverer):
    """A stream: the same per event id, in keyed state. Versions wait until the watermark passes
    their update time (a poll's versions of an event are handled together, in version order);
    what is known of the event (its latest version's values, deliveries and matched rules) is
    kept between polls. Each version handled goes on (HANDLED) to be written after its alerts."""

    # this run's versions, waiting for the watermark: (kind, updated_at, row); a row from
    # MergeEvents pickles compressed (merge.VersionRow)
    PENDING = BagStateSpec("pending", PickleCoder())
    LAST = ReadModifyWriteStateSpec("last", PickleCoder())  # the latest version handled (or in OUT): _values()
    HISTORY = ReadModifyWriteStateSpec("history", PickleCoder())  # {(webhook_id, destination): Delivery}
    MATCHED = ReadModifyWriteStateSpec("matched", PickleCoder())  # the rules a version has matched
    FLUSH = TimerSpec("flush", TimeDomain.WATERMARK)
    FORGET = TimerSpec("forget", TimeDomain.WATERMARK)  # drops LAST a horizon after the last version

    def __init__(self, rules: Rules, output: str, window_seconds: int, horizon: timedelta = timedelta(hours=72)):
        super().__init__(rules, output, window_seconds, streaming=True)
        self._horizon = Duration(micros=horizon // timedelta(microseconds=1))
        self._forgotten = Metrics.counter(NAMESPACE, "state_expired|alerts")

    def process(
        self,
        element: tuple[str, tuple[str, Any]],
        pending: Any = beam.DoFn.StateParam(PENDING),
        last: Any = beam.DoFn.StateParam(LAST),
        history: Any = beam.DoFn.StateParam(HISTORY),
        matched: Any = beam.DoFn.StateParam(MATCHED),
        flush: Any = beam.DoFn.TimerParam(FLUSH),
        timestamp: Any = beam.DoFn.TimestampParam,
        forget: Any = beam.DoFn.TimerParam(FORGET),
    ) -> Iterator[dict[str, Any]]:
        _, (kind, value) = element
        if kind in SEEDS:
            known, done = history.read() or {}, set(matched.read() or ())
            latest = _take_seed(kind, value, self._rules, last.read(), known, done)
            if latest is not None:
                last.write(latest)
            history.write(known)
            matched.write(done)
            return
        pending.add((kind, value["updated_at"], value))  # "row" or "retry_row"
        times = [updated_at for _, updated_at, _ in pending.read()]
        # versions come at their arrival time, hours after their update time: a timer behind
        # the watermark is not fired by every runner (stories.MatchStories)
        flush.set(max(due(min(times)), Timestamp.of(timestamp)))
        forget.set(Timestamp.of(timestamp) + self._horizon)

    @on_timer(FLUSH)
    def on_flush(
        self,
        fired: Any = beam.DoFn.TimestampParam,
        pending: Any = beam.DoFn.StateParam(PENDING),
        last: Any = beam.DoFn.StateParam(LAST),
        history: Any = beam.DoFn.StateParam(HISTORY),
        matched: Any = beam.DoFn.StateParam(MATCHED),
        flush: Any = beam.DoFn.TimerParam(FLUSH),
    ) -> Iterator[Any]:
        waiting = list(pending.read())
        ready = [(k, r) for k, t, r in waiting if due(t) <= fired]
        later = [(k, t, r) for k, t, r in waiting if due(t) > fired]
        known: dict[tuple[str, str], Delivery] = history.read() or {}
        done: set[str] = set(matched.read() or ())
        versions = [(k, r["version"], r) for k, r in ready]
        out, previous = self._alert(versions, known, done, last.read(), as_is)
        history.write(known)
        matched.write(done)
        if previous is not None:
            last.write(_values(previous))
        pending.clear()
        for item in later:
            pending.add(item)
        if later:
            flush.set(due(min(t for _, t, _ in later)))
        yield from out
        yield from (beam.pvalue.TaggedOutput(HANDLED, r) for k, r in ready if k == "row")

    @on_timer(FORGET)
    def on_forget(
        self,
        pending: Any = beam.DoFn.StateParam(PENDING),
        last: Any = beam.DoFn.StateParam(LAST),
    ) -> Iterator[Any]:
        """No version of the event for a horizon (MergeEvents has dropped its key too): the
        values of its latest version, the big part of the state, are dropped. Its deliveries and
        the rules it matched are kept for the job's life (a few names and ids), so that a
        webhook-id delivered is never sent again, even when a report after the horizon gives the
        event's version 1 again."""
        if last.read() is not None and not list(pending.read()):
            last.clear()
            self._forgotten.inc()
        return iter(())


def _pack_of_event(event_id: str, value: tuple[str, Any]) -> tuple[str, tuple[str, int, bytes]]:
    """(event_id, (kind, its version, the value packed)): an event's values wait compressed, and
    its versions are put in order without being decoded ("history": a list of deliveries, 0)."""
    kind, value = value
    return event_id, (kind, value["version"] if kind != "history" else 0, packed(value))


class _Context:
    """What WindowFn.assign reads of its context: the timestamp."""

    def __init__(self, timestamp: Timestamp):
        self.timestamp = timestamp


def _wanted(rule: Rule, alert_type: str, changed: list[str]) -> bool:
    if alert_type == NEW:
        return "new" in rule.on
    return "updated" in rule.on and bool(changed)


class AlertOnEvents(beam.PTransform):
    """{"events": this run's event rows, "continued": MergeEvents' latest rows in OUT of the
    events it continued} -> rows of alerts/ (already written: see the module docstring).

    In a stream it returns {"alerts": those rows, "events": the event rows, each passed on once
    its alerts are recorded}: the stream writes a version to events/ only after that, so a
    version in OUT has had its alerts (pipeline/assemble.py; batch orders the whole tables)."""

    def __init__(
        self,
        rules: Rules,
        output: str,
        window_seconds: int,
        history: AlertHistory | None = None,
        horizon: timedelta = timedelta(hours=72),
    ):
        super().__init__()
        self._rules = rules
        self._output = output
        self._window_seconds = window_seconds
        self._history = history or AlertHistory()
        self._horizon = horizon  # a stream: how long an event's latest row is kept after its last version

    def expand(self, inputs: dict[str, beam.PCollection]) -> Any:
        streaming = inputs["events"].pipeline.options.view_as(StandardOptions).streaming
        rows = inputs["events"] | "VersionRows" >> beam.Map(lambda r: (r["event_id"], ("row", r)))
        continued = inputs["continued"] | "ContinuedRows" >> beam.Map(lambda r: (r["event_id"], ("continued", r)))
        seeds = inputs["events"].pipeline | "HistorySeeds" >> beam.Create(self._history.seeds())
        everything = (rows, continued, seeds) | "AllOfEvent" >> beam.Flatten()
        if not streaming:  # every version at once: one pass per event, events in parallel
            return (
                everything
                | "Pack" >> beam.MapTuple(_pack_of_event).with_output_types(tuple[str, tuple[str, int, bytes]])
                | "GroupByEvent" >> beam.GroupByKey()
                | "AlertsOfEvent" >> beam.ParDo(_AlertsOfEvent(self._rules, self._output, self._window_seconds))
            )
        # in a stream the versions stay at their arrival time (the watermark follows it)
        alerted = everything | "AlertsPerEvent" >> beam.ParDo(
            _AlertsPerEvent(self._rules, self._output, self._window_seconds, self._horizon)
        ).with_input_types(tuple[str, tuple]).with_outputs(HANDLED, main="alerts")
        return {"alerts": alerted.alerts, "events": alerted[HANDLED]}
