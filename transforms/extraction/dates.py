"""Event dates: weekday, "yesterday", "overnight" and explicit-date words resolved against the
article's publication time, in Kyiv time.

An overnight attack takes the date of the morning the night ended ("late Monday … overnight" is
Tuesday, "the night into Friday" Friday); a strike "on Sunday" or "Wednesday's strike" that day;
"yesterday" the day before.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from transforms.extraction.lexicons import MONTHS

KYIV = ZoneInfo("Europe/Kyiv")

MONTH_NUMBER = {m: i + 1 for i, m in enumerate(MONTHS.split("|"))}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_WEEKDAY = re.compile(r"\b(late |early )?(" + "|".join(WEEKDAYS) + r")('s)?(?: (night|evening|morning|afternoon))?\b")
OVERNIGHT = re.compile(r"\bovernight\b|\bthrough the night\b|\bnight-time\b|\bovernight into\b|\bnight of\b")
# "KYIV, March 14 (Reuters) -", "LONDON —": where the story was filed, not where anything happened
DATELINE = re.compile(
    rf"^(?:[a-z/ .-]+, (?:(?:{MONTHS}|[a-z]{{3}}\.?) \d{{1,2}} )?\([^)]*\) [-–—]|[a-z][a-z .'/-]{{1,30}} [—–])\s*",
    re.IGNORECASE,
)
_NIGHT_OF = re.compile(
    rf"\bnight of (?:(\d{{1,2}}) (?:to|-|–|and|into) (\d{{1,2}}) ({MONTHS})|"
    rf"({MONTHS}) (\d{{1,2}}) (?:to|-|–|and|into) (?:\w+ )?(\d{{1,2}}))\b"
)
_EXPLICIT_DATE = re.compile(rf"\b(?:on )?(?:(\d{{1,2}}) ({MONTHS})|({MONTHS}) (\d{{1,2}}))\b")


def local_date(moment: datetime) -> date:
    """The calendar date of `moment` in Kyiv."""
    return moment.astimezone(KYIV).date()


def resolve_date(texts: list[str], anchor: datetime, overnight_event: bool) -> date:
    """The event date from weekday / explicit-date words in `texts` (normalized, in order),
    relative to `anchor` (the article's publication time). Overnight attacks take the date of
    the morning the night ended: "late Monday … overnight" is Tuesday."""
    day = local_date(anchor)
    overnight = overnight_event and any(OVERNIGHT.search(t) for t in texts)
    for text in texts:
        night = _NIGHT_OF.search(text)
        if night and overnight_event:  # "the night of 17 to 18 September": the morning it ended
            month = MONTH_NUMBER[night.group(3) or night.group(4)]
            ended = int(night.group(2) or night.group(6))
            try:
                return date(day.year, month, ended)
            except ValueError:
                pass
        if "yesterday" in text or ("last night" in text and not overnight_event):
            return day - timedelta(days=1)
        m = _EXPLICIT_DATE.search(text)
        if m and (m.group(1) or m.group(4)):
            month = MONTH_NUMBER[m.group(2) or m.group(3)]
            try:
                explicit = date(day.year, month, int(m.group(1) or m.group(4)))
            except ValueError:
                explicit = None
            if explicit and explicit <= day + timedelta(days=1):
                return explicit + timedelta(days=1) if overnight and "night of" in text else explicit
    mentions = [(rank, n, shift, weekday) for n, text in enumerate(texts) for rank, shift, weekday in _weekdays(text)]
    if not mentions:
        return day
    _, _, shift, weekday = min(mentions)
    back = (day.weekday() - WEEKDAYS.index(weekday)) % 7
    found = day - timedelta(days=back)
    night = overnight_event and shift == 2  # "Monday night's attack" ended on Tuesday
    return found + timedelta(days=1) if ((overnight and shift) or night) and back > 0 else found


_INTO_WEEKDAY = re.compile(r"\b(?:night|overnight) (?:from \w+ )?(?:to|into) (" + "|".join(WEEKDAYS) + r")\b")
_RANGE_BEFORE = re.compile(r"\b(?:until|till|through|to|ending|starting|from|by|next|before)\b[^,.;]{0,15}$")
_SAID_BEFORE = re.compile(r"\b(?:said|says|reported|announced|told|statement|update|added)\b[^,.;]{0,20}$")


def _weekdays(text: str) -> list[tuple[int, int, str]]:
    """(rank, shift, weekday) of each weekday in a text. Rank 0: tied to the event ("late
    Monday", "Monday night", "Wednesday's strike", "the night into Friday"); 1: "on Monday";
    2: when something was said. shift 1: the evening that starts an overnight attack."""
    found = [(0, 0, m.group(1)) for m in _INTO_WEEKDAY.finditer(text)]
    for m in _WEEKDAY.finditer(text):
        late, weekday, possessive, part = m.groups()
        if any(m.start() <= n < m.end() for n in [text.find(w, m.start()) for _, _, w in found]):
            continue
        if part == "night":
            found.append((0, 2, weekday))
        elif late == "late " or part == "evening":
            found.append((0, 1, weekday))
        elif late == "early " or part == "morning":
            found.append((0, 0, weekday))  # the morning an overnight attack ended
        elif possessive:
            found.append((0, 0, weekday))
        elif _RANGE_BEFORE.search(text[: m.start()]):
            found.append((3, 0, weekday))  # "until the end of Sunday": a boundary, not the date
        elif _SAID_BEFORE.search(text[: m.start()]):
            found.append((2, 0, weekday))
        else:
            found.append((1, 0, weekday))
    return found
