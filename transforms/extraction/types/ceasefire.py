"""ceasefire: a truce proposed, declared, accepted or rejected; who proposed it and for how long.

One mention per article, from the sentences that speak of a ceasefire.
Identity: the proposer (two proposals the same day are two events only if different countries
made them).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from transforms.extraction.dates import local_date, resolve_date
from transforms.extraction.numbers import digits
from transforms.extraction.places import countries_in
from transforms.extraction.registry import EventType, Field, Mention, register

if TYPE_CHECKING:
    from transforms.extraction.sentences import Sentence

_CEASEFIRE = re.compile(r"\b(?:ceasefire|cease-fire|truce|cessation of hostilities|moratorium on strikes)\b")
_DURATION = re.compile(r"\b(\d+)[- ](day|hour)s?\b|\bmonth-long\b|\b(\d+)-month\b")
_CEASEFIRE_STATUS = [
    ("rejected", re.compile(r"\b(?:rejected|rejects|rejecting|dismissed|dismisses|turned down|refused|refuses)\b")),
    (
        "accepted",
        re.compile(
            r"\b(?:accepted|accepts|agreed to|agrees to|backed|endorsed|signed up|supports|"
            r"(?:ready|willing) to accept)\b"
        ),
    ),
    ("declared", re.compile(r"\b(?:declared|declares|announced|announces|ordered|orders)\b")),
    (
        "proposed",
        re.compile(
            r"\b(?:proposed|proposes|proposal|offered|called for|calls for|suggested|put forward|"
            r"(?:would|will) (?:order|declare|agree to|observe))\b"
        ),
    ),
]
_PROPOSER = re.compile(
    r"\b([a-z.]+(?: [a-z]+)?)(?:-proposed|-brokered|'s proposal| proposed| proposes| declared| declares|"
    r" announced| offered| ordered| put forward| called for| proposal)\b|\bproposed by ([a-z.]+(?: [a-z]+)?)|"
    r"\b(?:proposal (?:from|by)|put forward by|offered by|declared by|announced by) ([a-z.]+(?: [a-z]+)?)",
    re.IGNORECASE,
)


_FUTURE_STATUS = re.compile(r"\b(?:could|might|may) (?:accept|reject|declare|propose)|\bwould (?:accept|reject)")


def about_ceasefire(s: Sentence) -> bool:
    return bool(_CEASEFIRE.search(s.span.text.lower()))


def ceasefires(sentences: list[Sentence], anchor: datetime) -> list[Mention]:
    relevant = [s for s in sentences if "ceasefire" in s.topics]
    if not relevant:
        return []
    m = Mention("ceasefire", local_date(anchor), {}, [])
    raw = [(s, s.span.text.replace("’", "'")) for s in relevant]
    for s, text in raw:
        d = _DURATION.search(digits(text.lower()))
        if d:
            hours = int(d.group(1)) * (24 if d.group(2) == "day" else 1) if d.group(1) else 720
            m.set("duration_hours", hours, s)
        for name, pattern in _CEASEFIRE_STATUS:
            if pattern.search(text.lower()) and not _FUTURE_STATUS.search(text.lower()):
                m.set("status", name, s)
                break
        p = _PROPOSER.search(text)
        if p:
            who = countries_in(next(g for g in p.groups() if g))
            if who:
                m.set("proposer", who[0], s)
    if not (m.fields.get("status") or m.fields.get("duration_hours")):
        return []
    m.fields.setdefault("status", "proposed")
    m.event_date = resolve_date([s.lower for s in relevant], anchor, overnight_event=False)
    return [m]


CEASEFIRE = register(
    EventType(
        "ceasefire",
        (
            Field("proposer", pa.string()),
            Field("duration_hours", pa.int32()),
            Field("status", pa.string()),
        ),
        identity=(),  # one ceasefire a day: proposals and answers to it are its claims
        assemble=ceasefires,
        topic=about_ceasefire,
    )
)
