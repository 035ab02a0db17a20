"""Numbers in text: number words as digits, and the digits that are not counts marked.

normalize_numbers() is the text every count rule reads: lower case, "1,200" as 1200, "forty-four"
as 44, and the digits of vague amounts ("more than 100"), open-ended ones ("40-plus") and of
ages, times, dates, measures and years replaced by '#'.
"""

from __future__ import annotations

import re

from transforms.extraction.lexicons import MONTHS

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_WORD_NUMBER = re.compile(
    r"\b(?:(" + "|".join(_TENS) + r")(?:[- ](" + "|".join(k for k in _UNITS if _UNITS[k] < 10) + r"))?"
    r"|(" + "|".join(_UNITS) + r"))\b"
)
_VAGUE = re.compile(
    r"\b(more than|over|nearly|almost|about|around|up to|some|roughly|approximately|close to|fewer than|"
    r"less than|under|at most|well over|just over|just under|upwards of|an estimated|estimated)\s+(\d+)\b(?![:.]\d)"
)
_NOT_COUNT_PATTERNS = [
    # ages, and each age of a list: "men aged 18 and 49, women aged 33, 47, and 53"
    re.compile(r"\b\d+-year-old\b|\baged \d+(?:(?:,? and|,) \d+)*\b"),
    # a model's number after its name: "a Shahed 136/131 drone", "Kh 101", "Tu 95" (joined by "-" above)
    re.compile(r"\b(?:(?:shahed|geran) \d{3}|(?:kh|tu|su|mig) \d{2,3})(?:/\d{2,3})*\b"),
    # an increase is not a count of this event: "the toll is up by 1,660"
    re.compile(r"\b(?:up|rose|risen|rising|increased|grew|climbed) by \d+\b"),
    # a number joined to a word is an adjective, not a count: "three-year war", "one-way drones"
    re.compile(r"\b\d+-(?!plus\b|odd\b)[a-z]+\b"),
    re.compile(r"\b\d{1,2}[:.]\d{2}\b"),
    re.compile(rf"\b\d{{1,2}}(?:\s*(?:-|to|and)\s*\d{{1,2}})?\s+{MONTHS}"),
    re.compile(rf"\b{MONTHS}\s+\d{{1,2}}(?:\s*(?:-|to|and)\s*\d{{1,2}})?\b(?![:.]\d)"),  # not "march 13:14"
    re.compile(
        r"\b\d+(?:\.\d+)?\s*(?:%|percent|per cent|km|kilometres|kilometers|miles|metres|meters|million|billion|"
        r"tonnes|tons|hryvnias|dollars|euros|hours?|days?|minutes|years|months|weeks|kg|storeys?|floors?)\b"
    ),
    re.compile(r"\b\d{1,2}\s*(?:a\.m\.|p\.m\.|am\b|pm\b)"),
    re.compile(r"\b(?:19|20)\d\ds?\b(?!\s+(?:drones|missiles|people|uavs))"),
    re.compile(r"\b\d+(?:st|nd|rd|th)\b"),
    re.compile(r"\bno\.\s*\d+\b"),
]
# One pass instead of nine: at each position the first pattern that matches wins.
_NOT_COUNTS = re.compile("|".join(f"(?:{p.pattern})" for p in _NOT_COUNT_PATTERNS))


_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NOT_ONE = re.compile(
    r"\b(?:one of|no one|not one|one way)\b"
)  # "one of its largest raids", "no one was hurt", "One Way Attack UAVs"
# "a Kh-59 guided missile was destroyed": one missile; not "a missile attack", "a missile strike"
_ONE_MISSILE = re.compile(
    r"\b(?:a|an) (?!(?:downed|intercepted|destroyed|shot-down) )(?=(?:[\"'“”]?(?!of )[\w/-]+[\"'”]? ){0,3}?missile\b"
    r"(?! (?:attacks?|strikes?|barrage|alert|threat|danger|defen[cs]e|systems?|launch|salvo|wave|debris|fragments?|"
    r"wreckage|warning|carrier|component|production|program|programme|shield|units?)))"
)
_VAGUE_AND = re.compile(r"((?<![\w#])#+ (?:[a-z-]+ ){0,3}?(?:drones|uavs|missiles|shaheds) and )(\d+)\b")
_OPEN_ENDED = re.compile(r"\b\d+-(?:plus|odd)\b|\b\d+ or (?:so|more)\b")
_OPEN_ENDED_WORDS = ("-plus", "-odd", " or so", " or more")
_DIGIT = re.compile(r"\d")


def digits(text: str) -> str:
    """Lower-case text with '1,200' -> 1200 and number words as digits ("forty-four" -> 44)."""

    def words(m: re.Match) -> str:
        if m.group(3):
            return str(_UNITS[m.group(3)])
        return str(_TENS[m.group(1)] + (_UNITS[m.group(2)] if m.group(2) else 0))

    return _WORD_NUMBER.sub(words, _THOUSANDS.sub("", text) if "," in text else text)


def normalize_numbers(text: str) -> str:
    """digits(), and vague amounts and non-counts (ages, times, dates, measures, years) have
    their digits replaced by '#'."""
    s = text.lower().replace("’", "'")
    if "one" in s:  # the `in` tests skip a regex scan that cannot match (a scan costs µs a line)
        s = _NOT_ONE.sub(lambda m: {"one of": "one_of"}.get(m.group(0), "nobody"), s)
    if "missile" in s and ("a " in s or "an " in s):
        s = _ONE_MISSILE.sub("1 ", s)
    s = digits(s)
    if not _DIGIT.search(s):
        return s
    if any(w in s for w in _OPEN_ENDED_WORDS):
        s = _OPEN_ENDED.sub(lambda m: "#" * len(m.group(0)), s)
    s = _VAGUE.sub(lambda m: m.group(1) + " " + "#" * len(m.group(2)), s)
    if "#" in s:  # "up to 300 drones and 70 missiles": both are approximate
        s = _VAGUE_AND.sub(lambda m: m.group(1) + "#" * len(m.group(2)), s)
    return _NOT_COUNTS.sub(lambda m: _DIGIT.sub("#", m.group(0)), s)
