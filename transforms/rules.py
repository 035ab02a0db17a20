"""Rules that turn one article's spaCy Doc into event mentions, each value with its evidence.

The Doc gives sentences and gazetteer entities (places, weapons, claimants). Counts are read
per sentence from a normalized copy of its text (lower case, number words as digits, vague
amounts marked) split into clauses; a count takes the cue nearest to it in its clause
("shot down", "jammed", "killed", …) and the object it counts (drones, missiles, people).
Evidence for a value is the span of the sentence it came from.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from spacy.language import Language
from spacy.tokens import Doc, Span

from transforms.nlp import actors, weapons

KYIV = ZoneInfo("Europe/Kyiv")

# ----------------------------------------------------------------------------- numbers

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
    r"less than|under|at most|well over|just over|just under|upwards of|an estimated|estimated)\s+(\d+)\b"
)
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_MONTH_NUMBER = {m: i + 1 for i, m in enumerate(_MONTHS.split("|"))}
_NOT_COUNT_PATTERNS = [
    re.compile(r"\b\d+-year-old\b|\baged \d+\b"),
    re.compile(r"\b\d{1,2}[:.]\d{2}\b"),
    re.compile(rf"\b\d{{1,2}}(?:\s*(?:-|to|and)\s*\d{{1,2}})?\s+(?:{_MONTHS})\b"),
    re.compile(rf"\b(?:{_MONTHS})\s+\d{{1,2}}(?:\s*(?:-|to|and)\s*\d{{1,2}})?\b(?![:.]\d)"),  # not "march 13:14"
    re.compile(
        r"\b\d+(?:\.\d+)?\s*(?:%|percent|per cent|km|kilometres|kilometers|miles|metres|meters|million|billion|"
        r"tonnes|tons|hryvnias|dollars|euros|hours?|days?|minutes|years|months|weeks|kg|storeys?|floors?)\b"
    ),
    re.compile(r"\b\d{1,2}\s*(?:a\.m\.|p\.m\.|am\b|pm\b)"),
    re.compile(r"\b(?:19|20)\d\d\b(?!\s+(?:drones|missiles|people|uavs))"),
    re.compile(r"\b\d+(?:st|nd|rd|th)\b"),
    re.compile(r"\bno\.\s*\d+\b"),
]
# One pass instead of nine: at each position the first pattern that matches wins.
_NOT_COUNTS = re.compile("|".join(f"(?:{p.pattern})" for p in _NOT_COUNT_PATTERNS))


_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NOT_ONE = re.compile(r"\b(?:one of|no one|not one)\b")  # "one of its largest raids", "no one was hurt"
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
    s = digits(s)
    if not _DIGIT.search(s):
        return s
    if any(w in s for w in _OPEN_ENDED_WORDS):
        s = _OPEN_ENDED.sub(lambda m: "#" * len(m.group(0)), s)
    s = _VAGUE.sub(lambda m: m.group(1) + " " + "#" * len(m.group(2)), s)
    return _NOT_COUNTS.sub(lambda m: _DIGIT.sub("#", m.group(0)), s)


# ----------------------------------------------------------------------------- lexicons

_TOKEN = re.compile(r"#+|\d+|[a-z0-9]+(?:[-'/][a-z0-9]+)*|[^\sa-z0-9#]")

DRONE_WORDS = {"drone", "drones", "uav", "uavs", "decoy", "decoys", "shahed", "shaheds", "geran", "gerans"}
MISSILE_WORDS = {"missile", "missiles"}
PEOPLE_WORDS = {
    "people", "person", "persons", "civilians", "civilian", "residents", "resident", "children", "child",
    "men", "women", "man", "woman", "passengers", "workers", "worker", "employees", "employee", "rescuers",
    "pensioners", "firefighters", "firefighter", "rescuer", "policemen", "police", "officers", "volunteers",
    "medics", "journalists", "teenagers", "adults", "minors", "students", "guards", "dockers", "miners",
}  # fmt: skip
OTHER_WORDS = {
    "targets", "target", "assets", "objects", "aircraft", "bombs", "bomb", "shells", "rockets", "buildings",
    "homes", "houses", "apartments", "cars", "vehicles", "prisoners", "pows", "soldiers", "servicemen",
    "settlements", "towns", "villages", "regions", "districts", "locations", "sites", "times", "attacks",
    "waves", "groups", "jets", "planes", "helicopters", "ships", "boats", "hits", "strikes", "blocks",
}  # fmt: skip

CUES = {
    # order matters only for ties: the more specific outcome first
    "suppressed": r"jammed|jamming|electronic warfare|locationally lost|location(?:ally)? lost|lost location|"
    r"lost (?:from|off) radar|disappeared from radar|vanished|disrupted|suppressed|did not reach|"
    r"failed to reach|without (?:causing )?(?:negative )?consequences|lost due to|lost to|were lost|was lost|"
    r"electronic countermeasures|\bew\b",
    "shot_down": r"shot down|downed|destroyed|intercepted|interception|brought down|taken down|"
    r"eliminated|repelled|were shot|was shot|destroying|shooting down|downing|knocked out",
    "neutralized": r"neutrali[sz]ed|neutrali[sz]ing|taken out",
    "launched": r"launched|launching|launch|fired|firing|sent|used|deployed|unleashed|involved|involving|"
    r"attacked|attacking|took part|comprised|included|a total of|barrage of|salvo of|wave of|attack with|"
    r"attack involving|struck with|targeted (?:with|by)|hit|struck|slammed into",
    "killed": r"killed|killing|dead|died|death toll|toll|lost their lives|deaths|fatalities|bodies",
    "injured": r"injured|injuring|wounded|wounding|hurt|injuries|hospitali[sz]ed",
}
_CUE_RE = {name: re.compile(rf"\b(?:{pattern})") for name, pattern in CUES.items()}
_CLAUSE_BREAKS = {",", ";", ":", "(", ")", "—", "–", "and", "while", "but", "whereas", "which", "who", "after"}

_HISTORICAL = re.compile(
    r"\b(?:since|so far|this year|last year|this month|last month|last week|a week (?:ago|earlier)|"
    r"days? (?:ago|earlier)|weeks? (?:ago|earlier)|previous (?:record|night|week|day|attack|month)|record of|"
    r"in ####|per (?:day|night|month)|on average|an average|average of|in total this|throughout the war|"
    rf"over the (?:past|last)|the (?:past|last) (?:#+|\d+) (?:days|weeks|months)|in (?:{_MONTHS})\b(?!\s*#))"
)
_ATTACK_CONTEXT = re.compile(
    r"\b(?:hit|hits|struck|strike|strikes|attack|attacks|attacked|damag\w*|kill\w*|injur\w*|wound\w*|fire|fires|"
    r"debris|downed|shot down|destroyed|intercept\w*|explosions?|blasts?|target\w*|drones?|missiles?|"
    r"shelling|casualt\w*|dead|died|air defen[cs]e|over the|fell|crashed|shahed\w*|uavs?|shootdowns?)\b"
)

_PERSON = (
    r"(?:man|woman|boy|girl|child|teenager|person|resident|civilian|pensioner|driver|worker|employee|firefighter|"
    r"rescuer|policeman|volunteer|medic|doctor|nurse|journalist|farmer|mother|father|security guard)"
)
_PERSON_SINGULAR_ACTIVE = re.compile(
    rf"\b(killed|injured|wounded|hurt|killing|injuring|wounding) (?:a|an|1) (?:#+-year-old )?(?:[a-z-]+ )?{_PERSON}\b"
)
_PERSON_SINGULAR = re.compile(
    r"\b(?:a|an|1)\s+(?:#+-year-old\s+)?(?:[a-z-]+\s+){0,2}?"
    r"(?:man|woman|boy|girl|child|teenager|person|resident|civilian|pensioner|driver|worker|employee|firefighter|"
    r"rescuer|policeman|volunteer|medic|doctor|nurse|journalist|farmer|mother|father|security guard)\b"
    r"(?: aged #+)?[^.;]*?\b(?:(?:was|has been|were|had been)\s+(?:\w+\s+)?(killed|injured|wounded|hurt)|(died))"
)
# "every one of the missiles was destroyed", "both of which were destroyed": all of them
_ALL_OF = re.compile(
    r"\b(?:every one_of|each of|all of|all(?! but)|both of|both)(?: the| them| which| these)?"
    r"(?: (missiles|drones))?\b[^.;]*?"
    r"\b(?:were|was)\s+(?:\w+\s+)?(?:destroyed|shot down|intercepted|downed|brought down)"
)
_ALL_BUT = re.compile(r"\ball but (\d+) of (?:the |its |their )?(\d+)\b")
_ALL_N = re.compile(r"\ball (\d+)\b")

ATTACKER_RU_CLAIM = re.compile(
    r"\bukrainian (?:[a-z-]+ ){0,2}?(?:drones?|uavs?)\b|\b(?:drones?|uavs?) launched by ukraine\b|\bkyiv regime\b|"
    r"\bkiev regime\b|\bukraine (?:launched|attacked|fired|sent|targeted|struck)\b|\bon russian territory\b"
)

_LAUNCH_AREA = re.compile(
    r"\b(?:bombers?|jets?|aircraft|tu-\d+\w*|mig-\d+\w*|su-\d+\w*|ships?|submarines?|took off|taking off|"
    r"airfields?|launch(?:ed|es|ing)? (?:sites?|areas?|pads?|positions?)|launchers?|directions?)\b"
)
RUSSIA_ATTACKS = re.compile(
    r"\brussia(?:n forces)? (?:attacked|launched|fired|sent|struck|targeted|unleashed|hit)\b|"
    r"\brussian (?:[a-z-]+ ){0,2}?(?:drones?|missiles?|strikes?|attacks?|shaheds?)\b|\b(?:against|at|on) ukraine\b"
)

_WEAPON_WORDS = re.compile(r"drone|missile|uav|shahed")
_BACKGROUND = re.compile(r"\bsince\b|\bfor (?:months|years)\b|\bin recent (?:weeks|months)\b|\brepeatedly\b")
_STRIKE = re.compile(r"\b(?:struck|hit|attacked|targeted|slammed into|set (?:\w+ )?on fire)\b")
_WHEN = re.compile(
    r"\b(?:overnight|last night|this morning|early hours|on (?:monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday)|yesterday|today)\b"
)
_HABITUAL = re.compile(r"\b(?:repeatedly|regularly|often|frequently|almost daily|every night|routinely|have been)\b")

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_WEEKDAY = re.compile(r"\b(late |early )?(" + "|".join(WEEKDAYS) + r")('s)?(?: (night|evening|morning|afternoon))?\b")
_OVERNIGHT = re.compile(r"\bovernight\b|\bthrough the night\b|\bnight-time\b|\bovernight into\b|\bnight of\b")
_DATELINE = re.compile(
    rf"^(?:[a-z/ .-]+, (?:(?:{_MONTHS}|[a-z]{{3}}\.?) \d{{1,2}} )?\([^)]*\) [-–—]|[a-z][a-z .'/-]{{1,30}} [—–])\s*",
    re.IGNORECASE,
)
_NIGHT_OF = re.compile(
    rf"\bnight of (?:(\d{{1,2}}) (?:to|-|–|and|into) (\d{{1,2}}) ({_MONTHS})|"
    rf"({_MONTHS}) (\d{{1,2}}) (?:to|-|–|and|into) (?:\w+ )?(\d{{1,2}}))\b"
)
_EXPLICIT_DATE = re.compile(rf"\b(?:on )?(?:(\d{{1,2}}) ({_MONTHS})|({_MONTHS}) (\d{{1,2}}))\b")


# ----------------------------------------------------------------------------- sentence analysis


@dataclass
class Count:
    slot: str  # launched, shot_down, suppressed, neutralized, killed, injured
    obj: str  # drone, missile, people
    value: int


@dataclass
class Sentence:
    span: Span
    norm: str  # lower case, numbers normalized (normalize_numbers)
    lower: str = ""  # lower case, apostrophes straight: for dates
    counts: list[Count] = field(default_factory=list)
    direction: tuple[str, str] | None = None
    places: list[str] = field(default_factory=list)
    claimants: list[str] = field(default_factory=list)
    # what the sentence is about, so that assembling events only reads the sentences it needs
    historical: bool = False
    attack_context: bool = False
    about_attack: bool = False
    names_weapons: bool = False
    singular_casualties: list[str] = field(default_factory=list)
    ceasefire: bool = False
    talks: bool = False
    exchange: bool = False
    reported_strike: bool = False  # a strike on a named place at a stated time, even without counts

    @property
    def evidence(self) -> tuple[str, int, int]:
        return self.span.text, self.span.start_char, self.span.end_char


_OBJECT_SCAN_STOPS = {
    "when", "after", "as", "in", "at", "on", "over", "near", "by", "killed", "injured", "wounded", "hurt", "dead",
    "shot", "downed", "destroyed", "launched", "fired", "sent", "jammed", "lost",
}  # fmt: skip


def _object_of(tokens: list[str], i: int, through_verb: bool = False) -> str | None:
    """The thing the number at tokens[i] counts: the first object word within a few tokens
    ("8 were cruise missiles" only when `through_verb`)."""
    for tok in tokens[i + 1 : i + 7]:
        if tok in DRONE_WORDS or weapons().get(tok) == "drone":
            return "drone"
        if tok in MISSILE_WORDS:
            return "missile"
        if tok in PEOPLE_WORDS:
            return "people"
        if tok in OTHER_WORDS:
            return "other"
        if tok in {"them", "these", "those", "it"}:
            return None
        if tok in {"were", "was"} and through_verb:
            continue
        if tok in _OBJECT_SCAN_STOPS:
            return None
        if tok in _CLAUSE_BREAKS or _is_number(tok) or tok in {".", "were", "was", "had", "have", "has"}:
            return None
    return None


def _is_number(token: str) -> bool:
    """ASCII digits only: "¹" and "٣" are digits to str.isdigit but not counts."""
    return token.isascii() and token.isdigit()


def _fits(c: Count) -> bool:
    """Casualties count people; the other slots count drones or missiles."""
    return (c.obj == "people") == (c.slot in ("killed", "injured")) and c.obj in ("people", "drone", "missile")


def _clauses(tokens: list[str]) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for i, tok in enumerate(tokens):
        if tok in _CLAUSE_BREAKS and not (tok == "but" and i and tokens[i - 1] == "all"):  # "all but six"
            if i > start:
                bounds.append((start, i))
            start = i + 1
    if start < len(tokens):
        bounds.append((start, len(tokens)))
    return bounds


def _cues_in(text: str) -> list[tuple[int, str, int]]:
    """(start, cue, end) of every cue in a clause's text."""
    found = []
    for name, pattern in _CUE_RE.items():
        found += [(m.start(), name, m.end()) for m in pattern.finditer(text)]
    return sorted(found)


def read_counts(norm: str, last_object: str | None) -> tuple[list[Count], str | None]:
    """Counts in one normalized sentence; `last_object` resolves "35 of them"."""
    tokens = _TOKEN.findall(norm)
    counts: list[Count] = []
    inherited: str | None = None
    pending: list[Count] = []  # counts of a clause without a cue: "79 of the missiles and 35 … were brought down"
    for start, end in _clauses(tokens):
        clause = tokens[start:end]
        text = " ".join(clause)
        cues = _cues_in(text)
        if any(cue == "suppressed" for _, cue, _ in cues):  # "neutralised through electronic jamming"
            cues = [(pos, "suppressed" if cue == "neutralized" else cue, end) for pos, cue, end in cues]
        offsets = []  # char offset of each token in `text`
        pos = 0
        for tok in clause:
            offsets.append(pos)
            pos += len(tok) + 1
        if cues and pending:
            for c in pending:
                c.slot = cues[0][1]
            counts += [c for c in pending if _fits(c)]
            pending = []
        for j, tok in enumerate(clause):
            obj = _object_of(clause, j)
            if obj in ("drone", "missile", "people"):
                last_object = obj
            if not _is_number(tok):
                continue
            value = int(tok)
            prev = clause[max(0, j - 3) : j]
            if obj == "other":
                continue
            if obj is None and j + 2 < len(clause) and clause[j + 1] == "of":
                k = j + 2 if clause[j + 2] not in ("the", "its") else j + 3  # "80 of the 112 drones", "6 of 8"
                if k < len(clause):
                    obj = _object_of(clause, k if _is_number(clause[k]) else k - 1)
            predicate_obj = _object_of(clause, j, through_verb=True) if obj is None else None
            count = Count("", obj or "", value)
            of_number = len(prev) >= 2 and prev[-1] == "of" and _is_number(prev[-2])  # the 60 in "38 of 60"
            if (
                prev[-2:] == ["of", "the"]
                or prev[-3:] == ["out", "of", "the"]
                or prev[-2:] == ["out", "of"]
                or of_number
            ):
                count.slot = "launched"  # "87 of the 143 drones", "out of the 126"
            elif cues:
                here, after_number = offsets[j], offsets[j] + len(tok)
                # the gap between cue and number: "shot down 24 drones launched by" is shot down
                count.slot = min(
                    cues, key=lambda c: (here - c[2] if c[0] < here else c[0] - after_number, c[0] < here)
                )[1]
            elif inherited:
                count.slot = inherited
            if count.slot in ("killed", "injured"):
                count.obj = "people" if count.obj in ("", "people") else count.obj
            elif not count.obj:
                count.obj = predicate_obj or last_object or ""
            if not count.slot:
                pending.append(count)
            elif _fits(count):
                counts.append(count)
        if cues:
            inherited = cues[-1][1]
    for m in _ALL_BUT.finditer(norm):
        except_, total = int(m.group(1)), int(m.group(2))
        for c in counts:
            if c.value == except_ and c.slot != "launched":
                c.value = total - except_
        if not any(c.value == total and c.slot == "launched" for c in counts):
            obj = next((c.obj for c in counts if c.value == total - except_), last_object or "missile")
            counts.append(Count("launched", obj, total))
    for m in _ALL_OF.finditer(norm):
        counts.append(
            Count("shot_down", {"missiles": "missile", "drones": "drone"}.get(m.group(1), last_object or ""), -1)
        )
    for m in _ALL_N.finditer(norm):  # "all 13 drones … were destroyed": launched and shot down
        n = int(m.group(1))
        downed = _CUE_RE["shot_down"].search(norm, m.end())
        for c in list(counts):
            if c.value == n and c.slot in ("shot_down", "neutralized"):
                counts.append(Count("launched", c.obj, n))
            elif c.value == n and c.slot == "launched" and downed:
                counts.append(Count("shot_down", c.obj, n))
    return counts, last_object


# ----------------------------------------------------------------------------- places


_FROM_CHAIN = {"the", "occupied", "and", ",", "regions", "region", "oblast", "oblasts", "of", "direction", "areas"}
_AUTHORITY_AFTER = re.compile(
    r"^\s*(?:\w+ly |also |still |has |have )?"
    r"(?:regime|government|authorities said|officials said|wire|post|independent|times|herald|ledger|"
    r"courier|monitor|dispatch|gazette|'s allies|'s partners|'s western|said|says|has|have|will|would|seldom|"
    r"accused|denied|called|wants|did|does|rejected|accepted|proposed|dismissed|responded|confirmed|insists|"
    r"agreed|urged|welcomed|hopes|argues|declared|announced|ordered|claimed|blamed|is (?:ready|willing)|rejects|"
    r"insists|wants|denies|accuses|claims|blames|calls|confirms|maintains|believes|fears|warns|demands|refuses|"
    r"expects|disputes|condemned|condemns)\b"
)
_REGIME_OR_OUTLET = re.compile(r"^\s*(?:regime|wire|post|independent)")
_POSSESSIVE = re.compile(r"^'s (?!\w+ district)")  # "Moscow's ability", not "Kyiv's Darnytskyi district"
_STREET = re.compile(r"^\s*(?:district|street|avenue|square)\b")
_RIVER_AFTER = re.compile(r"^\s*river\b")
_RIVER_BEFORE = re.compile(r"\b(?:of|across) the\s*$")
_AUTHORITY_BEFORE = re.compile(r"\b(?:officials in|leaders in|government in|told|authorities in|talks in)\s*$")


def attack_places(sent: Span, ents: list[Span], text: str) -> list[str]:
    """ISO codes of places the sentence (with entities `ents`; `text` is the Doc's, which
    Doc.text would rebuild from the tokens on every call) names as hit, not as launch sites or
    seats of power."""
    codes = []
    for ent in ents:
        if ent.label_ != "PLACE":
            continue
        before = sent.doc[max(sent.start, ent.start - 6) : ent.start]
        words = [t.lower_ for t in before]
        if "from" in words:  # a launch site: "from the Kursk and Oryol regions", "from occupied Crimea"
            tail = words[len(words) - words[::-1].index("from") :]
            if all(w in _FROM_CHAIN or _is_place_word(w) for w in tail):
                continue
        if (words and words[-1] in ("towards", "toward")) or words[-2:] == ["en", "route"]:
            continue  # a route, not a target
        after = text[ent.end_char : ent.end_char + 40].lower()
        prefix = text[max(0, ent.start_char - 30) : ent.start_char].lower()
        code = ent.ent_id_
        capital = code in CAPITAL_REGION
        if ent.start_char < 40 and ent.text.isupper() and after.startswith(","):
            continue  # a dateline: "KYIV, March 14 (Reuters) -"
        if _AUTHORITY_AFTER.match(after) and (capital or _REGIME_OR_OUTLET.match(after)):
            continue
        if capital and (_AUTHORITY_BEFORE.search(prefix) or _POSSESSIVE.match(after)):
            continue
        if _STREET.match(after) and not capital:
            continue
        if _RIVER_AFTER.match(after) or (ent.text.lower() == "dnipro" and _RIVER_BEFORE.search(prefix)):
            continue  # the Dnipro river
        if capital and _REGION_LIST_AFTER.match(text[ent.end_char : ent.end_char + 160].lower()):
            code = CAPITAL_REGION[code]  # "the Kyiv, Chernihiv and Sumy regions"
        codes.append(code)
    return codes


CAPITAL_REGION = {"UA-30": "UA-32", "RU-MOW": "RU-MOS"}
_REGION_LIST_AFTER = re.compile(
    r"^(?:\s*(?:,|and|, and)\s*(?:the )?[a-z'-]+(?: [a-z'-]+)?)*\s+(?:regions|region|oblasts)\b"
)


def _is_place_word(word: str) -> bool:
    return any(word == n.lower() for names in _place_names() for n in names)


def _place_names() -> list[list[str]]:
    from transforms.nlp import places

    return [regions + cities for regions, cities in places().values()]


# ----------------------------------------------------------------------------- dates


def local_date(moment: datetime) -> date:
    return moment.astimezone(KYIV).date()


def resolve_date(texts: list[str], anchor: datetime, overnight_event: bool) -> date:
    """The event date from weekday / explicit-date words in `texts` (normalized, in order),
    relative to `anchor` (the article's publication time). Overnight attacks take the date of
    the morning the night ended: "late Monday … overnight" is Tuesday."""
    day = local_date(anchor)
    overnight = overnight_event and any(_OVERNIGHT.search(t) for t in texts)
    for text in texts:
        night = _NIGHT_OF.search(text)
        if night and overnight_event:  # "the night of 17 to 18 September": the morning it ended
            month = _MONTH_NUMBER[night.group(3) or night.group(4)]
            ended = int(night.group(2) or night.group(6))
            try:
                return date(day.year, month, ended)
            except ValueError:
                pass
        if "yesterday" in text or ("last night" in text and not overnight_event):
            return day - timedelta(days=1)
        m = _EXPLICIT_DATE.search(text)
        if m and (m.group(1) or m.group(4)):
            month = _MONTH_NUMBER[m.group(2) or m.group(3)]
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


_ATTACK_WORDS = re.compile(r"\b(?:drones?|missiles?|attack\w*|strikes?|struck|shelling|air raid)\b")
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


# ----------------------------------------------------------------------------- events


AIR_FIELDS = {
    ("launched", "drone"): "drones_launched",
    ("shot_down", "drone"): "drones_shot_down",
    ("suppressed", "drone"): "drones_suppressed",
    ("neutralized", "drone"): "drones_neutralized_total",
    ("launched", "missile"): "missiles_launched",
    ("shot_down", "missile"): "missiles_shot_down",
    ("suppressed", "missile"): None,
    ("neutralized", "missile"): "missiles_shot_down",
    ("killed", "people"): "killed",
    ("injured", "people"): "injured",
}
EVENT_FIELDS = {
    "air_attack": [
        "attacker", "target", "drones_launched", "drones_shot_down", "drones_suppressed",
        "drones_neutralized_total", "missiles_launched", "missiles_shot_down", "killed", "injured",
        "regions", "claimant",
    ],
    "ceasefire": ["proposer", "duration_hours", "status"],
    "talks": ["location", "parties"],
    "prisoner_exchange": ["prisoners_per_side", "status"],
}  # fmt: skip
ALL_FIELDS = sorted({f for fields in EVENT_FIELDS.values() for f in fields})


@dataclass
class Mention:
    """One event as one article reports it."""

    event_type: str
    event_date: date | None  # None when the article has no publication date to resolve it against
    fields: dict[str, Any]
    evidence: list[dict[str, Any]]

    def set(self, name: str, value: Any, sent: Sentence, overwrite: bool = False) -> None:
        if value is None or (self.fields.get(name) is not None and not overwrite):
            return
        self.fields[name] = value
        text, start, end = sent.evidence
        self.evidence = [e for e in self.evidence if e["field"] != name]
        self.evidence.append({"field": name, "text": text, "start": start, "end": end})


def _direction(s: Sentence, previous: tuple[str, str] | None) -> tuple[str, str]:
    norm, places = s.norm, s.places
    ru = any(p.startswith("RU-") for p in places)
    ua = any(p.startswith("UA-") and p not in OCCUPIED for p in places)
    russian_claim = "Russian Defence Ministry" in s.claimants and not ua
    if ATTACKER_RU_CLAIM.search(norm):
        return ("UKR", "RUS")
    if RUSSIA_ATTACKS.search(norm):
        return ("RUS", "UKR")
    if russian_claim or (ru and not ua):
        return ("UKR", "RUS")
    if ua or "russia" in norm or "air force" in norm:
        return ("RUS", "UKR")
    return previous or ("RUS", "UKR")


def analyse(doc: Doc) -> list[Sentence]:
    sentences, last_object, direction = [], None, None
    last_ministry: str | None = None
    text = doc.text
    spans = list(doc.sents)
    starts = [span.start for span in spans]
    ents_by_sentence: dict[int, list[Span]] = {}
    for ent in doc.ents:  # once, by position: Span.ents and Span.sent walk the whole Doc per call
        ents_by_sentence.setdefault(starts[bisect.bisect_right(starts, ent.start) - 1], []).append(ent)
    for span in spans:
        norm = normalize_numbers(span.text)
        s = Sentence(span, norm, _DATELINE.sub("", span.text.lower().replace("’", "'")))
        ents = ents_by_sentence.get(span.start, [])
        s.places = attack_places(span, ents, text)
        s.claimants = []
        for ent in ents:
            if ent.label_ == "CLAIMANT" and ent.ent_id_ == "the ministry":  # the ministry named before
                s.claimants += [last_ministry] if last_ministry else []
            elif ent.label_ == "CLAIMANT":
                s.claimants.append(ent.ent_id_)
                last_ministry = ent.ent_id_ if "Ministry" in ent.ent_id_ else last_ministry
        if _LAUNCH_AREA.search(norm) and not ATTACKER_RU_CLAIM.search(norm):
            s.places = [p for p in s.places if not p.startswith("RU-")]  # "bombers over the Saratov region"
        s.direction = direction = _direction(s, direction)
        s.historical = bool(_HISTORICAL.search(norm))
        if not s.historical:
            s.counts, last_object = read_counts(norm, last_object)
        s.attack_context = bool(_ATTACK_CONTEXT.search(norm))
        s.about_attack = bool(_OVERNIGHT.search(norm) or _ATTACK_WORDS.search(norm))
        s.names_weapons = bool(_WEAPON_WORDS.search(norm))
        if s.attack_context and not s.historical:
            s.singular_casualties = [
                "killed" if m.group(1) == "killed" or m.group(2) else "injured" for m in _PERSON_SINGULAR.finditer(norm)
            ] + [
                "killed" if m.group(1).startswith("kill") else "injured" for m in _PERSON_SINGULAR_ACTIVE.finditer(norm)
            ]
        lower = span.text.lower()
        s.ceasefire = bool(_CEASEFIRE.search(lower))
        s.talks = bool(_TALKS.search(lower) and _HELD.search(lower) and not _FUTURE_MEETING.search(lower))
        s.exchange = bool(_EXCHANGE.search(norm) and _SWAP.search(norm))
        s.reported_strike = bool(
            s.places
            and not s.historical
            and _STRIKE.search(norm)
            and _WHEN.search(norm)
            and not _HABITUAL.search(norm)
            and (ATTACKER_RU_CLAIM.search(norm) or RUSSIA_ATTACKS.search(norm))
        )
        sentences.append(s)
    return sentences


@Language.component("newsmon_sentences")
def sentence_analysis(doc: Doc) -> Doc:
    """The per-sentence rule analysis as a spaCy component, so that nlp.pipe does it in batch;
    extract_mentions then only assembles events (the part that needs the publication date)."""
    doc.user_data["newsmon_sentences"] = analyse(doc)
    return doc


def air_attacks(sentences: list[Sentence], anchor: datetime) -> list[Mention]:
    by_direction: dict[tuple[str, str], Mention] = {}
    used: dict[tuple[str, str], list[Sentence]] = {}
    all_of: list[tuple[Mention, str, Count, Sentence]] = []

    def mention(s: Sentence) -> Mention:
        used.setdefault(s.direction, []).append(s)
        return by_direction.setdefault(s.direction, Mention("air_attack", local_date(anchor), {}, []))

    for s in sentences:
        for c in s.counts:
            name = AIR_FIELDS.get((c.slot, c.obj))
            if not name:
                continue
            m = mention(s)
            if c.value < 0:  # "every one of the missiles was destroyed": as many as were launched
                all_of.append((m, name, c, s))
            elif name in ("killed", "injured"):
                m.set(name, c.value, s, overwrite=c.value > (m.fields.get(name) or 0))
            else:
                m.set(name, c.value, s)
    for m, name, c, s in all_of:
        m.set(name, m.fields.get(AIR_FIELDS[("launched", c.obj)]), s)
    for s in sentences:  # "a 28-year-old woman was killed": one, when no count says otherwise
        for slot in s.singular_casualties:
            mention(s).set(slot, 1, s)
    for s in sentences:  # "Ukrainian drones struck an oil depot in the Rostov region overnight"
        if s.direction not in by_direction and s.reported_strike:
            mention(s)
    mentions = []
    for (attacker, target), m in by_direction.items():
        if m.fields.get("drones_neutralized_total") is not None and (
            m.fields.get("drones_shot_down") is not None or m.fields.get("drones_suppressed") is not None
        ):
            m.fields.pop("drones_neutralized_total")
            m.evidence = [e for e in m.evidence if e["field"] != "drones_neutralized_total"]
        m.fields.update(attacker=attacker, target=target)
        regions, region_sents = [], []
        for s in sentences:
            if s.direction == (attacker, target) and s.attack_context and not _BACKGROUND.search(s.norm):
                new = [p for p in dict.fromkeys(s.places) if _in_country(p, target) and p not in regions]
                if new:
                    regions += new
                    region_sents.append(s)
        if regions:
            m.fields["regions"] = sorted(regions)
            for s in region_sents:
                text, start, end = s.evidence
                m.evidence.append({"field": "regions", "text": text, "start": start, "end": end})
        for s in sentences:
            if s.direction == (attacker, target) and s.claimants and s.names_weapons:
                claimant = next((c for c in s.claimants if _claimant_fits(c, target)), None)
                if claimant:
                    m.set("claimant", claimant, s)
                    break
        about = [s.lower for s in sentences if s.about_attack]
        texts = [s.lower for s in used[(attacker, target)]] + about[:3]
        m.event_date = resolve_date(texts, anchor, overnight_event=True)
        mentions.append(m)
    return mentions


OCCUPIED = {"UA-43", "UA-40"}  # Crimea and Sevastopol: hit by Ukrainian strikes on Russian forces


def _in_country(code: str, target: str) -> bool:
    if target == "RUS":
        return code.startswith("RU-") or code in OCCUPIED
    return code.startswith("UA-")


def _claimant_fits(claimant: str, target: str) -> bool:
    return (claimant == "Russian Defence Ministry") == (target == "RUS")


# ----------------------------------------------------------------------------- other events


def _phrases_re(phrases: list[str]) -> re.Pattern:
    """Case-insensitive, except all-capital phrases ("US" is not "us")."""
    parts = [re.escape(p) if p.isupper() else "(?i:" + re.escape(p) + ")" for p in phrases]
    return re.compile(r"(?<![\w-])(?:" + "|".join(parts) + r")(?![\w-])")


_COUNTRY_RES = [(ident, _phrases_re(phrases)) for label, ident, phrases in actors() if label == "COUNTRY"]
_CITY_RES = [(ident, _phrases_re(phrases)) for label, ident, phrases in actors() if label == "TALKS_CITY"]
HOSTS = {"Istanbul": "TUR", "Ankara": "TUR", "Antalya": "TUR", "Riyadh": "SAU", "Jeddah": "SAU", "Abu Dhabi": "ARE",
         "Doha": "QAT", "Budapest": "HUN", "Minsk": "BLR"}  # fmt: skip
_FUTURE_MEETING = re.compile(
    r"\b(?:will|would|due to|are to|is to|plan(?:s|ned)? to|scheduled to|expected to|set to|could|may|might|"
    r"hope to|hopes to|want to|wants to|ready to|willing to|agreed to|proposed to|invited to)"
    r" (?:\w+ ){0,2}?(?:meet|hold|talk|negotiate|sit down|resume|gather|convene|travel|fly|attend|host)|"
    r"\bnext (?:week|month)\b|\bto be held\b|\bupcoming\b|\bplanned (?:talks|meeting|visit)\b|\bproposed talks\b"
)
_NOT_A_PARTY = re.compile(r"\b(?:in|of|on|against|into|from|across|over|without)\s*$")


def countries_in(text: str) -> list[str]:
    """ISO3 codes of the countries a text names (in the order of ACTORS rows)."""
    return [ident for ident, pattern in _COUNTRY_RES if pattern.search(text)]


def parties_in(text: str) -> list[str]:
    """Countries named as taking part: not after "in", "of", "against" ("the war in Ukraine")."""
    found = set()
    for ident, pattern in _COUNTRY_RES:
        for m in pattern.finditer(text):
            if not _NOT_A_PARTY.search(text[: m.start()].lower()):
                found.add(ident)
    return sorted(found)


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


def ceasefires(sentences: list[Sentence], anchor: datetime) -> list[Mention]:
    relevant = [s for s in sentences if s.ceasefire]
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


_FUTURE_STATUS = re.compile(r"\b(?:could|might|may) (?:accept|reject|declare|propose)|\bwould (?:accept|reject)")


_TALKS = re.compile(r"\b(?:talks|negotiations|met|meeting|delegations?|summit|round of)\b")
_HELD = re.compile(
    r"\b(?:met|held|took place|sat down|ended|concluded|opened|wrapped up|lasted|talked|hours of talks|"
    r"round of talks|talks between|after (?:[\w-]+ )?(?:talks|negotiations|meeting)|"
    r"(?:negotiators|delegations|officials|delegates|envoys|diplomats) meeting)\b"
)


def talks(sentences: list[Sentence], anchor: datetime) -> list[Mention]:
    for s in sentences:
        if not s.talks:
            continue
        text = _DATELINE.sub("", s.span.text)  # "LONDON — …" names where the story was filed
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


def prisoner_exchanges(sentences: list[Sentence], anchor: datetime) -> list[Mention]:
    relevant = [s for s in sentences if s.exchange]
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


def extract_mentions(doc: Doc, published_at: datetime | None, ingested_at: datetime) -> list[Mention]:
    """Every event the article reports, as mentions with evidence spans into its text.
    Without `published_at` the event dates are unknown (None)."""
    anchor = published_at or ingested_at
    anchor = anchor if anchor.tzinfo else anchor.replace(tzinfo=timezone.utc)
    sentences = doc.user_data.get("newsmon_sentences") or analyse(doc)
    mentions = air_attacks(sentences, anchor)
    mentions += ceasefires(sentences, anchor)
    mentions += talks(sentences, anchor)
    mentions += prisoner_exchanges(sentences, anchor)
    for m in mentions:  # every field of the type, None where the article does not say
        m.fields = {name: m.fields.get(name) for name in EVENT_FIELDS[m.event_type]}
        if published_at is None:
            m.event_date = None  # "overnight", "late Monday": relative to a date nobody gave
    return mentions
