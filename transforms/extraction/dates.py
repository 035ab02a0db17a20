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

from transforms.extraction.lexicons import MONTH_NUMBER, MONTHS

KYIV = ZoneInfo("Europe/Kyiv")

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_WEEKDAY = re.compile(r"\b(late |early )?(" + "|".join(WEEKDAYS) + r")('s)?(?: (night|evening|morning|afternoon))?\b")
OVERNIGHT = re.compile(r"\bovernight\b|\bthrough the night\b|\bnight-time\b|\bovernight into\b|\bnight of\b")
# "KYIV, March 14 (Reuters) -", "LONDON —": where the story was filed, not where anything happened
DATELINE = re.compile(
    rf"^(?:[a-z/ .-]+, (?:(?:{MONTHS}|[a-z]{{3}}\.?) \d{{1,2}} )?\([^)]*\) [-–—]|[a-z][a-z .'/-]{{1,30}} [—–])\s*",
    re.IGNORECASE,
)
_NIGHT_OF = re.compile(
    rf"\bnight of (?:(\d{{1,2}}) ?(?:to|-|–|and|into) ?(\d{{1,2}}) ({MONTHS})|"
    rf"({MONTHS}) (\d{{1,2}}) ?(?:to|-|–|and|into) ?(?:\w+ )?(\d{{1,2}})\b|"
    rf"({MONTHS}) (\d{{1,2}})\b|(\d{{1,2}}) ({MONTHS}))"
)
_EXPLICIT_DATE = re.compile(rf"\b(?:on )?(?:(\d{{1,2}}) ({MONTHS})|({MONTHS}) ?(\d{{1,2}})\b)")


def local_date(moment: datetime) -> date:
    """The calendar date of `moment` in Kyiv."""
    return moment.astimezone(KYIV).date()


def resolve_date(texts: list[str], anchor: datetime, overnight_event: bool, context: list[str] = ()) -> date:
    """The event date from weekday / explicit-date words in `texts` (normalized, in order),
    relative to `anchor` (the article's publication time). Overnight attacks take the date of
    the morning the night ended: "late Monday … overnight" is Tuesday. A night the article
    names ("the night of 24 May") is looked for in `context` (its other sentences about the
    attack) too."""
    day = local_date(anchor)
    overnight = overnight_event and any(OVERNIGHT.search(t) for t in texts)
    if overnight_event:  # "the night of 17 to 18 September", "the night of 24 May": the morning it ended
        for text in [*texts, *context]:
            for night in _NIGHT_OF.finditer(text):
                g = night.groups()
                month = MONTH_NUMBER[(g[2] or g[3] or g[6] or g[9]).rstrip(".")]
                found = _recent(day, month, int(g[1] or g[5] or g[7] or g[8]))
                if found:
                    return found
    for text in texts:
        if "yesterday" in text or ("last night" in text and not overnight_event):
            return day - timedelta(days=1)
        holiday = _HOLIDAY.search(text)
        named = holiday and _recent(day, *HOLIDAYS[holiday.group(0)])
        if named:
            return named
        for m in _EXPLICIT_DATE.finditer(text):
            if not (m.group(1) or m.group(4)):
                continue
            explicit = _recent(day, MONTH_NUMBER[(m.group(2) or m.group(3)).rstrip(".")], int(m.group(1) or m.group(4)))
            if explicit and overnight_event and _EVENING_BEFORE.search(text[: m.start()]):
                return explicit + timedelta(days=1)  # "since the evening of Friday, November 8": the 9th
            if explicit:  # an older date is an earlier event the text recalls
                return explicit
    mentions = [(rank, n, shift, weekday) for n, text in enumerate(texts) for rank, shift, weekday in _weekdays(text)]
    if not mentions:
        return day
    _, _, shift, weekday = min(mentions)
    back = (day.weekday() - WEEKDAYS.index(weekday)) % 7
    found = day - timedelta(days=back)
    night = overnight_event and shift == 2  # "Monday night's attack" ended on Tuesday
    return found + timedelta(days=1) if ((overnight and shift) or night) and back > 0 else found


# holidays on a fixed date name a day as well as "25 December" does: "a Christmas Day assault"
HOLIDAYS = {
    "christmas eve": (12, 24), "christmas day": (12, 25), "christmas morning": (12, 25), "christmas": (12, 25),
    "new year's eve": (12, 31), "new year's day": (1, 1), "new year's night": (1, 1),
}  # fmt: skip
_HOLIDAY = re.compile("|".join(sorted(map(re.escape, HOLIDAYS), key=len, reverse=True)))
# an evening or a late hour just before a date: the night that followed it
_EVENING_BEFORE = re.compile(
    r"\b(?:evening|late|(?:1[89]|2[0-3]):\d\d|(?:[6-9]|1[01])(?::\d\d)? ?p\.?m\.?)\b[^.;]{0,25}$"
)
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


RECENT = timedelta(days=3)  # how long after an attack an article can date it by its day alone


def _recent(day: date, month: int, dom: int) -> date | None:
    """The date `dom` `month` within RECENT before `day` (the publication day) or the day
    after it, in this year or the last; None when there is none (an event the text recalls)."""
    for year in (day.year, day.year - 1):
        try:
            found = date(year, month, dom)
        except ValueError:
            continue
        if day - RECENT <= found <= day + timedelta(days=1):
            return found
    return None
