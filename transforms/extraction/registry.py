"""The event types: what each one is called, its fields and their column types, what identifies
one real-world event of the type, and how its mentions are assembled from an article's sentences.

Every module in transforms/extraction/types/ registers its type here; the package imports them in
a fixed order, which is the order of EVENT_TYPES, EVENT_FIELDS, of the events table's per-type
columns (schemas/tables.py) and of extract_mentions' output. Nothing here needs spaCy, so that
the schemas can read the registry cheaply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from transforms.extraction.sentences import Sentence


@dataclass(frozen=True)
class Field:
    """One field of an event type and the type of its column in the events table."""

    name: str
    type: pa.DataType


@dataclass(frozen=True)
class EventType:
    name: str
    fields: tuple[Field, ...]  # in the order of the events table's columns
    # The fields beyond event_date that tell one real-world event of the type from another.
    # Informative for now: merge.merge_key groups mentions by type, date, attacker and target.
    identity: tuple[str, ...]
    assemble: Callable[[list[Sentence], datetime], list[Mention]]  # (sentences, anchor) -> mentions
    # Whether a sentence speaks of this type; the analysis records it in Sentence.topics, so that
    # assembling reads only those sentences. None: the assembly reads the sentence analysis itself.
    topic: Callable[[Sentence], bool] | None = None
    # A total and the parts it sums: a figure stated for the first part that equals another figure
    # of that part plus one of the others is the total ("intercepted 711" = 296 shot down + 415
    # jammed). The assembly and the merge both read it that way.
    totals: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


# How a figure was read, strongest first: a figure stated as such; a lower bound ("at least 7");
# a number whose object is inferred from the sentence before; the sum of the weapon types named
# ("a Kinzhal and four Iskander-M"), a part that may not be the whole; one region's figure.
# MergeEvents prefers the strongest basis any article gives before it counts articles.
BASES = ("stated", "at_least", "inferred", "part", "regional")


@dataclass
class Mention:
    """One event as one article reports it. Each evidence span also says how its value was
    read (`basis`, one of BASES)."""

    event_type: str
    event_date: date | None  # None when the article has no publication date to resolve it against
    fields: dict[str, Any]
    evidence: list[dict[str, Any]]

    def set(self, name: str, value: Any, sent: Sentence, overwrite: bool = False, basis: str = BASES[0]) -> None:
        if value is None or (self.fields.get(name) is not None and not overwrite):
            return
        self.fields[name] = value
        text, start, end = sent.evidence
        self.evidence = [e for e in self.evidence if e["field"] != name]
        self.evidence.append({"field": name, "text": text, "start": start, "end": end, "basis": basis})


EVENT_TYPES: dict[str, EventType] = {}  # name -> type, in the order they were registered
EVENT_FIELDS: dict[str, list[str]] = {}  # name -> its field names, in order
ALL_FIELDS: list[str] = []  # every field of every type, sorted


def register(event_type: EventType) -> EventType:
    """Adds an event type (EVENT_FIELDS and ALL_FIELDS follow). A field two types share (status)
    must have the same column type in both."""
    if event_type.name in EVENT_TYPES:
        raise ValueError(f"event type {event_type.name!r} is already registered")
    names = event_type.field_names
    if len(set(names)) != len(names) or not set(event_type.identity) <= set(names):
        raise ValueError(f"{event_type.name}: repeated fields, or an identity field that is not a field")
    known = {f.name: f.type for t in EVENT_TYPES.values() for f in t.fields}
    for f in event_type.fields:
        if f.name in known and known[f.name] != f.type:
            raise ValueError(f"{event_type.name}.{f.name} is {f.type}, but {known[f.name]} in another type")
    EVENT_TYPES[event_type.name] = event_type
    EVENT_FIELDS[event_type.name] = names
    ALL_FIELDS[:] = sorted({*ALL_FIELDS, *names})
    return event_type
