"""One bounded parser for the publication times that sources state, used by every input format.

Sources give times as ISO 8601 (JSON, HTML meta, txt `date` headers), RFC 822 (RSS), a
feedparser struct_time (what feedparser made of an exotic format) or free text. Whatever they
give, `parse_published` returns a UTC datetime inside [1900-01-01, now + 730 days] or None
together with the reason the stated time was not used. It never raises: a time that Python's
datetime cannot represent (an offset of 24 h or more, year 1 minus an hour, year 9999 plus an
hour) is a problem of that one record, not a failed run (issue 11, item 1). The article keeps
its text, its `published_at` is null (it is windowed by ingestion time) and the reason is in
its `published_problem` column.

Why its own RFC 822 reader: `email.utils.parsedate_to_datetime` reads the year "0001" as 2001
(its two-digit-year rule is applied to any year below 100), so `Mon, 01 Jan 0001 00:00 +0100`
became 2000-12-31. Here a year written with four digits is taken as written.
"""

from __future__ import annotations

import calendar
import re
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any

from dateutil import parser as dateutil_parser

UTC = timezone.utc
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
AHEAD = timedelta(days=730)  # "two years ahead", without replace(year=…), which fails on 29 February
MAX_CHARS = 200  # longer strings are not dates (and dateutil's cost grows with them)

_ISO = re.compile(
    r"^(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_RFC822 = re.compile(
    r"^(?:[A-Za-z]{3,9},?\s*)?(\d{1,2})\s+([A-Za-z]{3})[A-Za-z]*\.?\s+(\d{2,4})"
    r"(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
    r"\s*([+-]\d{2}:?\d{2}|[A-Za-z]{1,5})?\s*$"
)
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_ZONES = {"UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "EST": -300, "EDT": -240, "CST": -360, "CDT": -300}
_ZONES |= {"MST": -420, "MDT": -360, "PST": -480, "PDT": -420}

Parsed = tuple[datetime | None, str | None]


def parse_published(value: Any, fallback: Any = None, now: datetime | None = None) -> Parsed:
    """(UTC datetime, None), or (None, why the stated time is not used), or (None, None) when
    the source states no time. `fallback` (feedparser's struct_time of the same field) is tried
    only when `value` is not understood at all; `now` is for tests of the upper bound."""
    moment, problem = _parse(value)
    if moment is None and problem and problem.startswith("unparseable") and fallback is not None:
        moment, fallback_problem = _parse(fallback)
        problem = fallback_problem if moment is None else None
    if moment is None:
        return None, problem
    latest = (now or datetime.now(UTC)) + AHEAD
    if not EARLIEST <= moment <= latest:
        return None, f"out of range (before 1900 or over 2 years ahead): {_shown(value)}"
    return moment, None


def _parse(value: Any) -> Parsed:
    if value is None or value == "":
        return None, None
    if isinstance(value, time.struct_time):
        try:
            return datetime(*value[:6], tzinfo=UTC), None  # feedparser's struct_time is UTC
        except (ValueError, OverflowError) as e:
            return None, f"unparseable struct_time {tuple(value[:6])}: {e}"
    if isinstance(value, datetime):
        return _to_utc(value, value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC), None
    text = str(value).strip()
    if len(text) > MAX_CHARS:
        return None, f"unparseable: {len(text)} characters is no date: {_shown(text)}"
    for reader in (_iso, _rfc822):
        parts = reader(text)
        if parts is not None:
            return _from_parts(text, *parts)
    try:
        return _to_utc(dateutil_parser.parse(text), text)
    except (ValueError, OverflowError, TypeError, IndexError, LookupError):
        return None, f"unparseable: {_shown(text)}"


def _iso(text: str) -> tuple[tuple[int, ...], int | None] | None:
    m = _ISO.match(text)
    if not m:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    fields = (int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro)
    return fields, _offset_minutes(zone)


def _rfc822(text: str) -> tuple[tuple[int, ...], int | None] | None:
    m = _RFC822.match(text)
    if not m or m.group(2).lower() not in _MONTHS:
        return None
    day, month, year, hour, minute, second, zone = m.groups()
    y = int(year)
    if len(year) == 2:  # RFC 2822 4.3: 00-49 are 2000-2049, 50-99 are 1950-1999
        y += 2000 if y < 50 else 1900
    elif len(year) == 3:
        y += 1900
    fields = (y, _MONTHS[month.lower()], int(day), int(hour or 0), int(minute or 0), int(second or 0), 0)
    return fields, _offset_minutes(zone)


def _offset_minutes(zone: str | None) -> int | None:
    """Minutes east of UTC; None for no zone (taken as UTC); a named zone we do not know is UTC."""
    if zone is None:
        return None
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
        return -minutes if zone[0] == "-" else minutes
    return _ZONES.get(zone.upper(), 0)


def _from_parts(text: str, fields: tuple[int, ...], offset: int | None) -> Parsed:
    if offset is not None and abs(offset) >= 24 * 60:
        return None, f"offset of {offset / 60:+g} h is no UTC offset (under 24 h): {_shown(text)}"
    if not 1900 <= fields[0] <= 9998:  # decided before any arithmetic that could overflow
        return None, f"out of range (before 1900 or over 2 years ahead): {_shown(text)}"
    try:
        local = datetime(*fields, tzinfo=UTC)
    except ValueError as e:
        return None, f"unparseable: {e}: {_shown(text)}"
    return local - timedelta(minutes=offset or 0), None


def _to_utc(moment: datetime, shown: Any) -> Parsed:
    """A datetime from another parser in UTC; its offset may be one Python cannot apply."""
    try:
        if moment.tzinfo is None or moment.utcoffset() is None:
            return moment.replace(tzinfo=UTC), None
        offset = moment.utcoffset()
        if not 1900 <= moment.year <= 9998:
            return None, f"out of range (before 1900 or over 2 years ahead): {_shown(shown)}"
        return (moment.replace(tzinfo=None) - offset).replace(tzinfo=UTC), None
    except (ValueError, OverflowError) as e:
        return None, f"offset Python cannot apply ({e}): {_shown(shown)}"


def _shown(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")
