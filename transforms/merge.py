"""MergeEvents: mentions from all articles -> versioned rows of the events table.

One real-world event is one group key: the event type, the date and the type's identity fields
(IDENTITY: an air attack is one event per night and attacker -> target; a ceasefire, talks or a
prisoner exchange one per type and day). Outlets that give different figures for it (a
preliminary and a final count, another claimant, a misprint) give *claims* of that one event,
not new events.

Claims: every scalar value a mention states (counts, claimant, status, proposer, location, …;
not the identity fields, which every mention of the group shares) is a claim {field, value (as
a string: str(int) for counts), claimant (the mention's claimant, if any), article_id, start,
end (its evidence span)}. List fields (regions, parties) give no claims: their value is the
union of every report, with every report's spans in `evidence`.

Resolution, recomputed after each report is folded in, in publication order:
- killed, injured: the latest report that states it (a rising toll takes the latest figure);
- every other scalar: the value with the strongest basis (a claim says how its figure was read,
  registry.BASES: a figure stated as such beats a lower bound, the hits on one target, a sum of
  weapon types and one region's figure, however many articles repeat those), then the value
  stated by the most distinct articles, then one whose source the article names, then the value
  reported latest (one outlier does not override what the other sources agree on, and a later
  count is usually the final one);
- a type's totals (EventType.totals): a figure claimed for the first part that equals another
  claim of it plus a claim of another part is read as the total ("intercepted 711" beside "296
  shot down and 415 jammed" is drones_neutralized_total 711); its claim keeps the field the
  article's sentence gave, its evidence backs the total;
- lists: the union.
The first report gives version 1; a report that changes a resolved value (or adds one, or a
region) gives the next version, with `updated_at` its report time. A report that changes
nothing adds itself to `article_ids` / `source_count`, and its claims (and the spans of those
that support a resolved value) to `claims` / `evidence`, of the current version. `evidence`
holds the spans of the claims that support each resolved value.

Mentions from articles without a publication date have no date: they group by type and
identity, and join only when their numbers agree (at least one count equal, none different);
their event_date stays null. event_id is a hash of the group key (and, for the second and later
undated events of a key, their index), so it is the same on every run and runner.
"""

from __future__ import annotations

import itertools
import logging
import pickle
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.options.pipeline_options import StandardOptions

from schemas.records import stable_id
from schemas.tables import EVENTS
from transforms.extraction import ALL_FIELDS, BASES, EVENT_FIELDS, EVENT_TYPES
from transforms.incremental import AcrossPolls

logger = logging.getLogger(__name__)

REPORTS = "reports"
CONTINUED = "continued"  # the tag of the latest rows in OUT of the events a run continues
HORIZON = timedelta(hours=72)  # an event key's mentions are kept this long after its last one
# What identifies an event besides its type and date: each event type declares it (registry).
IDENTITY: dict[str, tuple[str, ...]] = {name: t.identity for name, t in EVENT_TYPES.items()}
KEY_SLOTS = 2  # identity slots in every key (empty ones too): the keys, hence the event_ids, of earlier outputs
LIST_FIELDS = {"regions", "parties"}
LATEST_WINS = {"killed", "injured"}  # a rising toll: the latest report's figure


IDENTIFYING = (
    "drones_launched", "drones_shot_down", "drones_suppressed", "drones_neutralized_total", "missiles_launched",
    "missiles_shot_down", "killed", "injured", "duration_hours", "prisoners_per_side", "location",
)  # fmt: skip
UNDATED = "undated"
NO_EVIDENCE = 2**31 - 1  # the text offset of a report that points at no span: after any other


def merge_key(m: dict[str, Any]) -> str:
    """type|date|identity values (`air_attack|2025-03-14|RUS|UKR`, `talks|2025-03-11||`): the
    mentions of one event (undated ones are split further)."""
    f = m["fields"]
    day = m["event_date"].isoformat() if m["event_date"] else UNDATED
    identity = [f.get(k) or "" for k in IDENTITY[m["event_type"]]]
    return "|".join([m["event_type"], day, *identity, *[""] * (KEY_SLOTS - len(identity))])


def _compatible(event: dict[str, Any], mention: dict[str, Any]) -> bool:
    """Whether an undated mention is the event: nothing but the numbers says so."""
    same = any(event.get(k) is not None and event.get(k) == mention.get(k) for k in IDENTIFYING)
    differ = any(
        event.get(k) is not None and mention.get(k) is not None and event[k] != mention[k] for k in IDENTIFYING
    )
    return same and not differ


def fold(
    key: str, mentions: Iterable[dict[str, Any]], prior: Iterable[Any] = (), carried: list[_Event] | None = None
) -> Iterator[Any]:
    """Versioned event rows for the mentions of one group key, and (REPORTS) which article
    reported which event.

    `prior`: the versions in OUT of the events of this key (transforms.state.PriorEvent: an
    `event_id`, a `version`, called to read the row). The run continues them (see
    "Continuing the events in OUT" below).

    `carried`: the key's events as an earlier poll of a stream left them (_Event); the mentions
    are folded on top of them, and the list is updated in place (events folded further, new ones
    added) for the next poll. Without it (batch) the key's events start from `prior`."""
    events = carried if carried is not None else []
    in_out: dict[str, dict[str, Any]] = {}
    if not events:
        for row in _latest_in_out(prior):
            event = _Event(row["event_id"], mentions_from_row(row), in_out=row)
            events.append(event)
            in_out[event.event_id] = row
    folded_in = {a: event.event_id for event in events for a in event.reporters}
    mentions = list(mentions)
    for m in mentions:  # read again (a run killed before its articles were written): not folded twice
        if m["article_id"] in folded_in:
            yield beam.pvalue.TaggedOutput(REPORTS, (m["article_id"], _report(m, folded_in[m["article_id"]])))
    ordered = sorted(
        (m for m in mentions if m["article_id"] not in folded_in), key=lambda m: (m["reported_at"], m["article_id"])
    )
    new: dict[str, list[dict[str, Any]]] = {}  # event_id -> its mentions in this fold
    if key.split("|")[1] == UNDATED:
        for m in ordered:
            home = next((e for e in events if _compatible(e.known, m["fields"])), None)
            if home is None:
                home = _Event(_free_id(key, len(events), {e.event_id for e in events}), [m])
                events.append(home)
            else:
                home.note(m)
            new.setdefault(home.event_id, []).append(m)
    elif ordered:  # one night, one attacker and target (one day, one type): one event, whatever the figures
        del events[1:]
        if not events:
            events.append(_Event(stable_id(key), ordered[:1]))
        new[events[0].event_id] = ordered
    for event in events:
        if event.event_id not in new:
            continue  # an event in OUT (or of an earlier poll) that this fold does not report again
        rows = event.versions(new[event.event_id])
        yield from rows
        if event.event_id in in_out:  # the version in OUT that these follow (alerts: what changed)
            # even when these reports change nothing: in a stream the key's next poll folds on
            # top of the kept event and does not read OUT again, and its versions' alerts need
            # this row (the rule's first match in OUT, and what changed since)
            yield beam.pvalue.TaggedOutput(CONTINUED, in_out[event.event_id])
        for m in new[event.event_id]:
            yield beam.pvalue.TaggedOutput(REPORTS, (m["article_id"], _report(m, event.event_id)))


def _report(m: dict[str, Any], event_id: str) -> tuple[int, int, str, datetime]:
    """Which article reported which event: how many facts it gave of it, and how early."""
    first = min((e["start"] for e in m["evidence"]), default=NO_EVIDENCE)
    facts = {e["field"] for e in m["evidence"]} - {"claimant"}  # a list of regions is one fact
    return (-len(facts), first, event_id, m["reported_at"])


def claims_of(m: dict[str, Any]) -> list[dict[str, Any]]:
    """The claims a mention makes: one per scalar value it states (and evidence span of it)."""
    identity = IDENTITY[m["event_type"]]
    claimant = m["fields"].get("claimant")
    claims = []
    for name, value in m["fields"].items():
        if value is None or name in identity or name in LIST_FIELDS:
            continue
        spans = [e for e in m["evidence"] if e["field"] == name] or [{"start": None, "end": None}]
        for e in spans:
            claims.append(
                {
                    "field": name,
                    "value": str(value),
                    "claimant": claimant,
                    "article_id": m["article_id"],
                    "start": e["start"],
                    "end": e["end"],
                    "basis": e.get("basis") or BASES[0],
                }
            )
    return claims


@dataclass
class _Claim:
    value: Any
    article_id: str
    position: int  # in publication order
    basis: int  # index in BASES: 0 is a figure stated as such
    named: bool  # the article names who gives the figure
    spans: list[dict[str, Any]]


@dataclass
class _Said:
    """The claims of one value of one scalar field so far (only ever appended to), with what
    resolution weighs of them kept up to date, so that resolving after each report costs the
    number of distinct values, not the number of reports."""

    claims: list[_Claim] = field(default_factory=list)
    basis: int = len(BASES)  # the strongest basis (lowest index)
    articles: set[str] = field(default_factory=set)
    named: bool = False  # some article names who gives it
    position: int = -1  # the latest report of it

    def add(self, claim: _Claim) -> None:
        self.claims.append(claim)
        self.basis = min(self.basis, claim.basis)
        self.articles.add(claim.article_id)
        self.named = self.named or claim.named
        self.position = max(self.position, claim.position)


# One field's tally as resolution reads it after some report: value -> the parts saying it, each
# (claims of the value, how many of them there were then, the field its spans back, when moved
# to a total). Parts only point at the claims, which only grow: a tally is cheap to keep.
_Part = tuple[_Said, int, "str | None"]
_Tally = dict[Any, list[_Part]]


def _strength(parts: list[_Part]) -> tuple:
    """A stated figure over a bound, a part or a region's; then the most articles; then one
    whose source is named; then the latest."""
    articles = parts[0][0].articles if len(parts) == 1 else set().union(*(said.articles for said, _, _ in parts))
    return (
        -min(said.basis for said, _, _ in parts),
        len(articles),
        any(said.named for said, _, _ in parts),
        max(said.position for said, _, _ in parts),
    )


def _resolve(name: str, tally: _Tally) -> Any:
    if name in LATEST_WINS:  # the value of the latest report
        return max(tally, key=lambda value: max(said.position for said, _, _ in tally[value]))
    return max(tally, key=lambda value: _strength(tally[value]))  # the first value on a tie


def _span_key(span: dict[str, Any]) -> frozenset:
    return frozenset(span.items())


class _Kept:
    """Evidence spans, each kept once (the first of equal ones), in the order they came."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self._seen: set[frozenset] = set()

    def add(self, spans: list[dict[str, Any]]) -> None:
        new = [e for e in spans if _span_key(e) not in self._seen]
        self.spans += new
        self._seen.update(map(_span_key, new))


def _evidence(parts: list[_Part]) -> list[dict[str, Any]]:
    """The spans of the claims behind a value, as they stood when its tally was taken."""
    kept = _Kept()
    for said, count, moved_to in parts:
        for claim in itertools.islice(said.claims, count):
            kept.add([dict(e, field=moved_to) for e in claim.spans] if moved_to else claim.spans)
    return kept.spans


def _as_totals(event_type: str, tallies: dict[str, _Tally]) -> dict[str, _Tally]:
    """The event type's totals (EventType.totals): a claim on the first part that equals another
    claim of that part plus a claim of another part is a claim of the total."""
    for total, (part, *others) in EVENT_TYPES[event_type].totals.items():
        if part not in tallies:
            continue
        sums = {a + b for a in tallies[part] for o in others if o in tallies for b in tallies[o]}
        moved = [value for value in tallies[part] if value in sums]
        if moved:  # their evidence now backs the total; their claims stay as the articles put them
            tallies = dict(tallies)
            into = dict(tallies.get(total, {}))
            for value in moved:
                into[value] = into.get(value, []) + [(said, count, total) for said, count, _ in tallies[part][value]]
            tallies[total] = into
            tallies[part] = {value: parts for value, parts in tallies[part].items() if value not in sums}
            if not tallies[part]:
                del tallies[part]
    return tallies


@dataclass
class _State:
    """What is resolved after some report: the fields, and (computed only when a row needs it)
    the evidence of each resolved value."""

    fields: dict[str, Any]
    tallies: dict[str, _Tally]
    lists: dict[str, tuple[_Kept, int]]  # a list field's spans, and how many there were then

    def evidence(self) -> dict[str, list[dict[str, Any]]]:
        scalars = {name: self.fields[name] for name in self.tallies}
        evidence = {name: _evidence(self.tallies[name][value]) for name, value in scalars.items()}
        return evidence | {name: kept.spans[:count] for name, (kept, count) in self.lists.items()}


class _Event:
    """One event, folded report by report in publication order: per scalar field and value the
    claims so far (_Said), the list fields' union and spans, its reports and claims, and the
    values and version of its latest row. A run into OUT rebuilds it from the event's latest row
    there (mentions_from_row); a stream keeps it in state between polls
    (transforms.incremental.AcrossPolls), so a poll folds only its new reports.

    `first`: the event's first mentions (an undated event's identifying values come from them):
    with `in_out` (the event's latest row in OUT) the row's, folded in without writing a row;
    otherwise only noted, and folded by versions()."""

    def __init__(self, event_id: str, first: list[dict[str, Any]], in_out: dict[str, Any] | None = None):
        m = first[0]
        self.event_id = event_id
        self.first = {"event_type": m["event_type"], "event_date": m["event_date"], "reported_at": m["reported_at"]}
        self.identity = {k: m["fields"].get(k) for k in IDENTITY[m["event_type"]]}
        self.known: dict[str, Any] = {}  # the first value of each identifying field (undated keys)
        self.said: dict[str, dict[Any, _Said]] = {}
        self.lists: dict[str, list[Any]] = {}
        self.list_evidence: dict[str, _Kept] = {}
        self.reported_by: list[str] = []
        self.reporters: set[str] = set()
        self.claims: list[dict[str, Any]] = []
        self.position = 0
        self.version = in_out["version"] if in_out else 0
        self.last = {name: in_out.get(name) for name in ALL_FIELDS} if in_out else None  # the latest row's values
        for m in first:
            self.note(m)
            if in_out:
                self._take(m)

    def note(self, m: dict[str, Any]) -> None:
        """A mention that joins the event: its identifying values (for an undated key's next mentions)."""
        for k in IDENTIFYING:
            if self.known.get(k) is None:
                self.known[k] = m["fields"].get(k)

    def versions(self, mentions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Fold the mentions in: the new version rows (a report that changes a resolved value
        gives one). A row holds what was known after the last report before the next version
        (or the last report): its reports, claims and evidence are filled in then, once per row,
        so an event with many reports costs about as many steps, not their square."""
        rows: list[dict[str, Any]] = []
        latest = None  # what the latest row holds so far: (state, reports, claims)
        for m in mentions:
            state = self._take(m)
            if self.last is None or state.fields != {name: self.last[name] for name in state.fields}:
                if latest:
                    _fill(rows[-1], *latest, self.reported_by, self.claims)
                self.version += 1
                rows.append(_row(self.event_id, self.version, self.first, m["reported_at"], state.fields))
                self.last = {name: rows[-1][name] for name in ALL_FIELDS}
            if rows:  # else: changes nothing of the latest row, which is not written again
                latest = (state, len(self.reported_by), len(self.claims))
        if latest:
            _fill(rows[-1], *latest, self.reported_by, self.claims)
        if len(rows) > 1:
            logger.debug("event %s: %d versions from %d reports", self.event_id, len(rows), len(mentions))
        return rows

    def _take(self, m: dict[str, Any]) -> _State:
        """Fold one mention in: what is resolved after it."""
        if m["article_id"] not in self.reporters:
            self.reporters.add(m["article_id"])
            self.reported_by.append(m["article_id"])
        self.claims += m[IN_OUT_CLAIMS] if IN_OUT_CLAIMS in m else claims_of(m)
        named = m["fields"].get("claimant") is not None
        for name, value in m["fields"].items():
            if value is None or name in self.identity:
                continue
            spans = [e for e in m["evidence"] if e["field"] == name]
            if name in LIST_FIELDS:
                self.lists[name] = sorted(set(self.lists.get(name, [])) | set(value))
                self.list_evidence.setdefault(name, _Kept()).add(spans)
            else:
                basis = min((BASES.index(e.get("basis") or BASES[0]) for e in spans), default=0)
                claim = _Claim(value, m["article_id"], self.position, basis, named, spans)
                self.said.setdefault(name, {}).setdefault(value, _Said()).add(claim)
        self.position += 1
        tallies = {
            name: {value: [(s, len(s.claims), None)] for value, s in values.items()}
            for name, values in self.said.items()
        }
        tallies = _as_totals(self.first["event_type"], tallies)
        resolved = {name: _resolve(name, tally) for name, tally in tallies.items()}
        kept = {name: (spans, len(spans.spans)) for name, spans in self.list_evidence.items()}
        return _State({**self.identity, **resolved, **self.lists}, tallies, kept)


def _fill(row: dict[str, Any], state: _State, reports: int, n_claims: int, reported_by: list, claims: list) -> None:
    """A row's reports, claims and evidence: the first `reports` / `n_claims` of those folded."""
    evidence = state.evidence()
    row.update(
        article_ids=reported_by[:reports],
        source_count=reports,
        evidence=[e for name in sorted(evidence) for e in evidence[name]],
        claims=claims[:n_claims],
    )


def story_of_event(event_id: str, first_report: datetime) -> str:
    """The story that begins with the report of an event at `first_report`: articles that
    mainly report the event belong to it (AssignStories starts a new one after a long silence)."""
    return stable_id("story", event_id, first_report.isoformat())


class VersionRow(dict):
    """An event version row: a dict that pickles compressed (zlib, level 1).

    A version lists every claim and evidence span of its event so far, so an event's rows grow
    with the square of its reports. In the fold they share those dicts; a runner encodes each
    row on its own (Beam's coders pickle a dict subclass whole) and keeps the bytes of every
    stage's input, so the same sentences were held once per version and per buffer: 20,000
    articles of bench/pipeline.py peaked at 3.8 GB where the plain loop, whose rows share them,
    took 0.7 GB. Compressed, the repeats cost little (3,000 articles: 15.0 MB of rows pickled one
    by one, 2.2 MB compressed). Code that reads a row sees a dict.

    A row decoded from those bytes keeps them, and encodes as them again while it is unchanged:
    a row passes through several stages (alerts, the barrier before events/, the GroupByKeys'
    packing), and each stage boundary decoded it only to pickle and compress the same dict again
    (20,000 articles: 17 s of a 190 s run in encoding and decoding these rows, bench/RESULTS.md,
    "Where the time goes"). Setting, deleting or updating a key drops the bytes; the rows' nested lists and
    dicts are not changed after the fold (nothing downstream writes into a row)."""

    __slots__ = ("_packed",)

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        packed = getattr(self, "_packed", None)
        if packed is None:
            packed = zlib.compress(pickle.dumps(dict(self), pickle.HIGHEST_PROTOCOL), 1)
        return _version_row, (packed,)

    def _changed(self) -> None:
        self._packed = None

    def __setitem__(self, key: str, value: Any) -> None:
        self._changed()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._changed()
        super().__delitem__(key)

    def __ior__(self, other: Any) -> VersionRow:
        self._changed()
        return super().__ior__(other)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._changed()
        super().update(*args, **kwargs)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._changed()
        return super().setdefault(key, default)

    def pop(self, *args: Any) -> Any:
        self._changed()
        return super().pop(*args)

    def popitem(self) -> tuple[str, Any]:
        self._changed()
        return super().popitem()

    def clear(self) -> None:
        self._changed()
        super().clear()


def _version_row(packed: bytes) -> VersionRow:
    row = VersionRow(pickle.loads(zlib.decompress(packed)))
    row._packed = packed
    return row


def _row(
    event_id: str, version: int, first: dict[str, Any], updated_at: datetime, fields: dict[str, Any]
) -> VersionRow:
    return VersionRow(
        {
            "event_id": event_id,
            "version": version,
            "event_type": first["event_type"],
            "event_date": first["event_date"],
            "story_id": story_of_event(event_id, first["reported_at"]),
            "article_ids": [],
            "source_count": 0,
            "evidence": [],
            "claims": [],
            "first_seen_at": first["reported_at"],
            "updated_at": updated_at,
            **{name: fields.get(name) for name in ALL_FIELDS},
        }
    )


class MergeEvents(beam.PTransform):
    """Event mentions -> {"events": rows of the events table (one per event and version),
    "reports": (article_id, (-number of fields stated, offset of the first evidence, event_id, reported_at))
    for AssignStories, "continued": the latest row in OUT of each event the run continues}.

    `prior`: (merge key, PriorEvent) of the event versions already in OUT
    (transforms.state.ReadState); the events this run reports again continue from them."""

    def __init__(self, prior: beam.PCollection | None = None, horizon: timedelta = HORIZON):
        super().__init__()
        self._prior = prior
        self._horizon = horizon

    def expand(self, mentions: beam.PCollection) -> dict[str, beam.PCollection]:
        # Keyed by event key, so the same stage runs in a stream. In batch each key is folded
        # once, over all its mentions (and, with `prior`, the key's versions in OUT, which a key
        # this run does not report leaves untouched). In a stream each key keeps its events
        # (_Event) in keyed state: when the watermark passes new mentions they are folded on top
        # and only the new versions are emitted, so a poll costs its own reports, not the event's
        # whole history; a key is dropped `horizon` after its last mention.
        keyed = mentions | "KeyByEvent" >> beam.WithKeys(merge_key) | "TagMentions" >> beam.MapTuple(_tag(MENTION))
        if self._prior is not None:
            prior = self._prior | "TagPrior" >> beam.MapTuple(_tag(PRIOR))
            keyed = (keyed, prior) | "WithPrior" >> beam.Flatten()
        tags = (REPORTS, CONTINUED)
        if keyed.pipeline.options.view_as(StandardOptions).streaming:
            merged = keyed | "FoldVersions" >> AcrossPolls("events", _fold_across_polls, self._horizon, extra_tags=tags)
        else:
            merged = (
                keyed
                | "GroupByEvent" >> beam.GroupByKey()
                | "FoldVersions" >> beam.FlatMapTuple(_fold_tagged).with_outputs(*tags, main="main")
            )
        return {"events": merged.main, "reports": merged[REPORTS], "continued": merged[CONTINUED]}


MENTION, PRIOR = "mention", "prior"


def _tag(tag: str) -> Any:
    return lambda key, value: (key, (tag, value))


def _fold_tagged(key: str, values: Iterable[tuple[str, Any]]) -> Iterator[Any]:
    """fold() over a key's mentions and its versions in OUT; nothing for a key only OUT has."""
    values = list(values)
    mentions = [v for tag, v in values if tag == MENTION]
    if mentions:
        yield from fold(key, mentions, [v for tag, v in values if tag == PRIOR])


def _fold_across_polls(key: str, new: list[tuple[str, Any]], kept: list[Any]) -> tuple[list[Any], list[Any]]:
    """fold() in a stream (transforms.incremental.AcrossPolls): a poll's mentions folded on top of
    the key's events kept from earlier polls (_Event), or of its versions in OUT (PriorEvent,
    kept until the key is reported). Keeps the events."""
    mentions = [v for tag, v in new if tag == MENTION]
    prior = [v for v in kept if not isinstance(v, _Event)] + [v for tag, v in new if tag == PRIOR]
    events = [v for v in kept if isinstance(v, _Event)]
    if not mentions:
        return [], events + prior
    return list(fold(key, mentions, prior, events)), events


# ------------------------------------------------------------- continuing the events in OUT
#
# A run into an OUT that holds events continues them: a key's events in OUT are folded first,
# rebuilt from their latest rows (every report's claims and evidence are in the row), then this
# run's reports, in order. A report already folded (its article is in the row's article_ids) is
# not folded again; a version is written only when a resolved value changes, numbered on from
# the row's; an event in OUT keeps its event_id. A report that changes nothing is not in OUT's
# row (rows in OUT are never rewritten) until a later version carries it.

IN_OUT_CLAIMS = "claims_in_out"  # a rebuilt mention carries its article's claims as the row has them


def _latest_in_out(prior: Iterable[Any]) -> list[dict[str, Any]]:
    """The latest row in OUT of each event (by event_id), read from its file."""
    latest: dict[str, Any] = {}
    for ref in prior:
        if ref.event_id not in latest or ref.version > latest[ref.event_id].version:
            latest[ref.event_id] = ref
    return [latest[event_id]() for event_id in sorted(latest)]


def _free_id(key: str, n: int, used: set[str]) -> str:
    """The n-th event id of a key (the first is the hash of the key), or the next one not used
    by an event of the key in OUT."""
    event_id = stable_id(key, str(n)) if n else stable_id(key)
    while event_id in used:
        n += 1
        event_id = stable_id(key, str(n))
    return event_id


def _typed(name: str, value: str) -> Any:
    """A claim's value (a string) as the column's type."""
    kind = EVENTS.field(name).type
    if pa.types.is_integer(kind):
        return int(value)
    if pa.types.is_floating(kind):
        return float(value)
    if pa.types.is_boolean(kind):
        return value == "True"
    return value


def mentions_from_row(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The reports folded into an events row, rebuilt from its claims and evidence in the order
    they were folded (article_ids): one mention per article (more when it stated two values of
    a field), its scalar values from its claims, the evidence the row keeps of them (a claim
    the row has no evidence text for keeps its span), the list fields (their union) and their
    evidence on the first. Resolving them again gives the row's values."""
    event_type = row["event_type"]
    identity = {name: row[name] for name in IDENTITY[event_type]}
    spans = {(e["article_id"], e["field"], e["start"], e["end"]): e for e in row["evidence"] or []}
    mentions = []
    for n, article_id in enumerate(row["article_ids"] or []):
        claims = [c for c in row["claims"] or [] if c["article_id"] == article_id]
        values: dict[str, list[Any]] = {}
        for c in claims:
            stated = values.setdefault(c["field"], [])
            if _typed(c["field"], c["value"]) not in stated:
                stated.append(_typed(c["field"], c["value"]))
        for i in range(max([len(v) for v in values.values()] + [1])):
            fields = dict.fromkeys(EVENT_FIELDS[event_type]) | identity
            evidence = []
            for name, stated in values.items():
                if i >= len(stated):
                    continue
                fields[name] = stated[i]
                for c in claims:
                    if c["field"] == name and _typed(name, c["value"]) == stated[i] and c["start"] is not None:
                        span = (article_id, name, c["start"], c["end"])
                        made = dict(zip(("article_id", "field", "start", "end"), span, strict=True))
                        basis = c.get("basis") or BASES[0]  # how it was read; older rows have no basis
                        evidence.append(dict(spans.get(span) or made, basis=basis))
            if n == 0 and i == 0:
                for name in LIST_FIELDS & set(fields):
                    fields[name] = row[name]
                evidence += [e for e in row["evidence"] or [] if e["field"] in LIST_FIELDS]
            mentions.append(
                {
                    "article_id": article_id,
                    "reported_at": row["first_seen_at"] if not mentions else row["updated_at"],
                    "event_type": event_type,
                    "event_date": row["event_date"],
                    "fields": fields,
                    "evidence": [dict(e, text=e.get("text")) for e in evidence],
                    IN_OUT_CLAIMS: claims if i == 0 else [],
                }
            )
    return mentions
