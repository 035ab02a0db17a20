"""prisoner_exchange: prisoners swapped (completed) or a swap agreed, and how many each side frees.

One mention per article, from the sentences that speak of prisoners being exchanged or freed.
Identity: none beyond the date (exchanges are rare: two reported for one day are one exchange).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from transforms.extraction.dates import local_date, resolve_date
from transforms.extraction.registry import EventType, Field, Mention, register

if TYPE_CHECKING:
    from transforms.extraction.sentences import Sentence

_EXCHANGE = re.compile(r"\b(?:prisoners?|pows?|prisoners of war|captives|servicemen|soldiers|defenders)\b")
_SWAP = re.compile(r"\b(?:exchange[ds]?|swap(?:s|ped)?|released|freed|returned|handed over|brought home)\b")
_PER_SIDE = [
    re.compile(r"\b(\d+)-for-(\d+)\b"),
    re.compile(r"\b(\d+) (?:[a-z]+ ){0,6}?for (\d+)\b"),
    re.compile(r"\b(\d+) [^.;]{0,80}?(?:the same number|an equal number|as many)\b"),
    re.compile(r"\beach (?:side |country )?(?:[a-z]+ ){0,2}?(?:released|freed|handed over|returned|swapped|exchanged|"
               r"gave up|will release|to release|would release)\s+(\d+)\b"),
    re.compile(r"\b(\d+) (?:[a-z-]+ ){0,4}?(?:each|apiece)\b"),
    re.compile(r"\b(\d+) (?:prisoners|pows|captives|servicemen|soldiers) (?:from|on|for) each side\b"),
]  # fmt: skip
_AGREED = re.compile(
    r"\b(?:agreed|agree|agreement|deal|will (?:exchange|swap|release)|to (?:exchange|swap)|are to|is to|"
    r"due to|expected to|planned|scheduled)\b"
)
_COMPLETED = re.compile(
    r"\b(?:exchanged|swapped|released|freed|returned home|were returned|came home|carried out|took place|"
    r"completed|brought home|have returned|handed over)\b"
)


def about_exchange(s: Sentence) -> bool:
    return bool(_EXCHANGE.search(s.norm) and _SWAP.search(s.norm))


def prisoner_exchanges(sentences: list[Sentence], anchor: datetime) -> list[Mention]:
    relevant = [s for s in sentences if "prisoner_exchange" in s.topics]
    if not relevant:
        return []
    m = Mention("prisoner_exchange", local_date(anchor), {}, [])
    status_sent = None
    for s in relevant:
        text = s.norm
        for pattern in _PER_SIDE:
            found = pattern.search(text)
            if found:
                values = [int(g) for g in found.groups() if g]
                if len(set(values)) == 1:
                    m.set("prisoners_per_side", values[0], s)
                    break
        if _COMPLETED.search(text) and not re.search(
            r"\b(?:will|would|to be|are to|is to)\b[^.]*\b(?:released|freed)", text
        ):
            m.set("status", "completed", s, overwrite=True)
            status_sent = status_sent or s
        elif _AGREED.search(text) and m.fields.get("status") is None:
            m.set("status", "agreed", s)
            status_sent = status_sent or s
    if m.fields.get("prisoners_per_side") is None:  # "118 servicemen returned … in return, 118 prisoners"
        numbers = [int(n) for s in relevant for n in re.findall(r"\b(\d+) (?=(?:[a-z]+ ){0,2}(?:prisoners|pows|"
                   r"servicemen|soldiers|defenders|captives))", s.norm)]  # fmt: skip
        repeated = [n for n in numbers if numbers.count(n) > 1]
        if repeated:
            m.set("prisoners_per_side", repeated[0], next(s for s in relevant if str(repeated[0]) in s.norm))
    if m.fields.get("status") is None:
        return []
    m.event_date = resolve_date([s.lower for s in relevant], anchor, overnight_event=False)
    return [m]


PRISONER_EXCHANGE = register(
    EventType(
        "prisoner_exchange",
        (
            Field("prisoners_per_side", pa.int32()),
            Field("status", pa.string()),
        ),
        identity=(),
        assemble=prisoner_exchanges,
        topic=about_exchange,
    )
)
