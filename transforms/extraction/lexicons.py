"""What extraction knows about words: the gazetteers and word lists in transforms/data/, and the cues.

Data files (tab-separated, `#` lines are comments, lists `|`-separated): places.tsv (ISO 3166-2
regions with their cities and spelling variants), weapons.tsv (families from the Air Force
weapons list), actors.tsv (claimants, countries, cities where talks are held), words.tsv (the
word lists of the count rules: what a number counts, where a clause ends). Cues are patterns
(alternations with optional parts), so they stay in code here.
"""

from __future__ import annotations

import functools
import re
from importlib import resources


def rows(name: str) -> list[list[str]]:
    """The rows of transforms/data/`name`, split at tabs, without blank and `#` lines."""
    text = resources.files("transforms").joinpath("data", name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")]


@functools.lru_cache(maxsize=1)
def places() -> dict[str, tuple[list[str], list[str]]]:
    """ISO 3166-2 code -> (region names, city names)."""
    out = {}
    for code, names in rows("places.tsv"):
        regions, _, cities = names.partition(";")
        out[code] = ([n for n in regions.split("|") if n], [n for n in cities.split("|") if n])
    return out


@functools.lru_cache(maxsize=1)
def weapons() -> dict[str, str]:
    """Lower-cased weapon name -> kind ("drone" or "missile")."""
    return {name.lower(): kind for _, kind, names in rows("weapons.tsv") for name in names.split("|")}


@functools.lru_cache(maxsize=1)
def actors() -> list[tuple[str, str, list[str]]]:
    """(label, id, phrases) rows: CLAIMANT, COUNTRY, TALKS_CITY."""
    return [(label, ident, phrases.split("|")) for label, ident, phrases in rows("actors.tsv")]


_WORDS = {name: set(words.split("|")) for name, words in rows("words.tsv")}

# what the number before the word counts
DRONE_WORDS = _WORDS["drone"]
MISSILE_WORDS = _WORDS["missile"]
PEOPLE_WORDS = _WORDS["people"]
OTHER_WORDS = _WORDS["other"]
CLAUSE_BREAKS = _WORDS["clause_breaks"]  # tokens that end a clause
OBJECT_SCAN_STOPS = _WORDS["object_scan_stops"]  # tokens that end the look-ahead for the counted object
FROM_CHAIN = _WORDS["from_chain"]  # tokens between "from" and a launch site ("from the occupied")

MONTH_NAMES = "january|february|march|april|may|june|july|august|september|october|november|december"
MONTH_NUMBER = {m: i + 1 for i, m in enumerate(MONTH_NAMES.split("|"))}
MONTH_NUMBER.update({m[:3]: n for m, n in MONTH_NUMBER.items()} | {"sept": 9})
# a month: its name, or an abbreviation with an optional period ("Jan. 2", "Nov 25"); no \b needed after it
MONTHS = rf"(?:(?:{MONTH_NAMES})\b|(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)(?:\.|\b))"

# the cues of a count, the nearest in its clause: what happened to what it counts
CUES = {
    # order matters only for ties: the more specific outcome first
    "suppressed": r"jammed|jamming|electronic warfare|locationally lost|location(?:ally)? lost|lost location|"
    r"lost (?:from|off) radar|disappeared from radar|vanished|disrupted|suppressed|did not reach|"
    r"failed to reach|without (?:causing )?(?:negative )?consequences|lost due to|lost to|were lost|was lost|"
    r"electronic countermeasures|\bew\b|lost\b(?! their lives| power| contact)|locally lost|went astray|"
    r"(?:fell|fallen|crashed) on their own|unaccounted for|went missing|dropped off (?:the )?radars?|disappeared",
    "shot_down": r"shot down|downed|destroyed|intercepted|interception|brought down|taken down|"
    r"eliminated|repelled|were shot|was shot|destroying|shooting down|downing|knocked out|shoot down|downs\b|"
    r"destroy\b|intercept\b|to down\b",
    # "intercepted or jammed 405 drones": all that were stopped, however
    "neutralized": r"neutrali[sz]ed|neutrali[sz]ing|taken out|neutrali[sz]e\b|"
    r"(?:intercepted|shot down|downed|destroyed) or (?:[a-z]+ ){0,3}?"
    r"(?:jammed|suppressed|disabled|lost|neutrali[sz]ed)|"
    r"intercepting or (?:jamming|disabling)",
    # "13 missiles and 60 drones hit their targets": not intercepted; no field of its own
    "reached": r"hit (?:their |its )?targets?|reached (?:their |its )?targets?|were not intercepted|got through",
    # "eight others were rescued from the rubble": alive; no field of its own
    "rescued": r"rescued|evacuated|saved|pulled (?:out|alive)",
    "launched": r"launched|launching|launch|fired|firing|sent|used|deployed|unleashed|involved|involving|"
    r"attacked|attacking|took part|participated|flew in\b|comprised|included|a total of|barrage of|salvo of|"
    r"wave of|attack with|attack involving|struck with|targeted (?:with|by)|hit|struck|slammed into|consisted of|"
    r"detected|spotted|tracked|were seen",
    "killed": r"killed|killing|dead|died|death toll|toll|lost their lives|deaths|fatalities|bodies",
    "injured": r"injured|injuring|wounded|wounding|hurt|injuries|hospitali[sz]ed",
}
CUE_RE = {name: re.compile(rf"(?<![\w-])(?:{pattern})") for name, pattern in CUES.items()}  # not "air-launched"
