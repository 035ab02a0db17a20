"""talks: negotiations held (not planned) in a city, and the countries taking part.

One mention per article: the first sentence about talks held that names a city where talks are
held (actors.tsv TALKS_CITY). Identity: the location.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from transforms.extraction.dates import DATELINE, local_date, resolve_date
from transforms.extraction.lexicons import actors
from transforms.extraction.places import parties_in, phrases_re
from transforms.extraction.registry import EventType, Field, Mention, register

if TYPE_CHECKING:
    from transforms.extraction.sentences import Sentence

_CITY_RES = [(ident, phrases_re(phrases)) for label, ident, phrases in actors() if label == "TALKS_CITY"]
HOSTS = {"Istanbul": "TUR", "Ankara": "TUR", "Antalya": "TUR", "Riyadh": "SAU", "Jeddah": "SAU", "Abu Dhabi": "ARE",
         "Doha": "QAT", "Budapest": "HUN", "Minsk": "BLR"}  # fmt: skip
_FUTURE_MEETING = re.compile(
    r"\b(?:will|would|due to|are to|is to|plan(?:s|ned)? to|scheduled to|expected to|set to|could|may|might|"
    r"hope to|hopes to|want to|wants to|ready to|willing to|agreed to|proposed to|invited to)"
    r" (?:\w+ ){0,2}?(?:meet|hold|talk|negotiate|sit down|resume|gather|convene|travel|fly|attend|host)|"
    r"\bnext (?:week|month)\b|\bto be held\b|\bupcoming\b|\bplanned (?:talks|meeting|visit)\b|\bproposed talks\b"
)

_TALKS = re.compile(r"\b(?:talks|negotiations|met|meeting|delegations?|summit|round of)\b")
_HELD = re.compile(
    r"\b(?:met|held|took place|sat down|ended|concluded|opened|wrapped up|lasted|talked|hours of talks|"
    r"round of talks|talks between|after (?:[\w-]+ )?(?:talks|negotiations|meeting)|"
    r"(?:negotiators|delegations|officials|delegates|envoys|diplomats) meeting|"
    r"at (?:the )?(?:talks|negotiations|meeting) in|discussed|negotiated)\b"
)


def about_talks(s: Sentence) -> bool:
    """Talks that took place: planned or proposed meetings are not events."""
    lower = s.span.text.lower()
    return bool(_TALKS.search(lower) and _HELD.search(lower) and not _FUTURE_MEETING.search(lower))


def talks(sentences: list[Sentence], anchor: datetime) -> list[Mention]:
    for s in sentences:
        if "talks" not in s.topics:
            continue
        text = DATELINE.sub("", s.span.text)  # "LONDON — …" names where the story was filed
        held = _HELD.search(text.lower())
        city = next((ident for ident, pattern in _CITY_RES if pattern.search(text)), None)
        if not city:
            continue
        m = Mention("talks", local_date(anchor), {}, [])
        m.set("location", city, s)
        # parties: "between X and Y", else who met, named before the verb of meeting
        between = re.findall(r"\bbetween ([^,.;]+)", text)
        subject = " ".join(between) if between else text[: held.end()]
        parties = [p for p in parties_in(subject) if p != HOSTS.get(city)]
        if parties:
            m.set("parties", parties, s)
        m.event_date = resolve_date([s.lower], anchor, overnight_event=False)
        return [m]
    return []


TALKS = register(
    EventType(
        "talks",
        (
            Field("location", pa.string()),
            Field("parties", pa.list_(pa.string())),
        ),
        identity=(),  # one round of talks a day, wherever outlets place it
        assemble=talks,
        topic=about_talks,
    )
)
