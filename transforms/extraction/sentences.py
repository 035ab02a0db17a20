"""The per-sentence analysis: what each sentence of an article states, done once in nlp.pipe.

The Doc gives sentences and gazetteer entities (places, weapons, claimants). Counts are read
per sentence from a normalized copy of its text (lower case, number words as digits, vague
amounts marked) split into clauses; a count takes the cue nearest to it in its clause
("shot down", "jammed", "killed", …) and the object it counts (drones, missiles, people).
Evidence for a value is the span of the sentence it came from. Each sentence also gets the
places it names as hit, its claimants, the direction of the attack and the event types it
speaks of (Sentence.topics); the event types' modules then assemble mentions from these.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace

from spacy.language import Language
from spacy.tokens import Doc, Span

from transforms.extraction.dates import DATELINE, OVERNIGHT
from transforms.extraction.lexicons import (
    CLAUSE_BREAKS,
    CUE_RE,
    CUES,
    DRONE_WORDS,
    MISSILE_WORDS,
    MONTHS,
    OBJECT_SCAN_STOPS,
    OTHER_WORDS,
    PEOPLE_WORDS,
    weapons,
)
from transforms.extraction.numbers import normalize_numbers
from transforms.extraction.places import OCCUPIED, attack_places
from transforms.extraction.registry import EVENT_TYPES

_TOKEN = re.compile(r"#+|\d+|[a-z0-9]+(?:[-'/][a-z0-9]+)*|[^\sa-z0-9#]")

_HISTORICAL = re.compile(
    r"\b(?:since|so far|this year|last year|this month|last month|last week|a week (?:ago|earlier)|"
    r"days? (?:ago|earlier)|weeks? (?:ago|earlier)|previous (?:record|night|week|day|attack|month)|record of|"
    r"in ####|per (?:day|night|month)|on average|an average|average of|in total this|throughout the war|"
    rf"over the (?:past|last)|the (?:past|last) (?:#+|\d+) (?:days|weeks|months)|in {MONTHS}(?!\s*#)|"
    r"within (?:a|one|the (?:past|last)) (?:week|month)|this (?:one )?week|"
    # a period's tally: "during the winter months", "during the week"
    r"(?:during|over|throughout) the (?:[\w#]+ )?(?:winter|summer|spring|autumn|week|month|year)s?\b)"
)
# "the largest attack since the start of the war" compares with the past; it does not count it
_RECORD_SINCE = re.compile(r"\b(?:largest|biggest|heaviest|most [a-z]+|worst|deadliest|record|first)\b[^.;]*?\bsince\b")
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
# "destroyed all of them", "destroying 28 drones and both missiles", "destroyed the missile" (the
# one launched): as many as were launched, said with the verb first
_ALL_DOWNED = re.compile(
    r"\b(?:destroy(?:ed|ing)|sh(?:ot|ooting) down|intercept(?:ed|ing)|down(?:ed|ing)|br(?:ought|inging) down)\b"
    r"(?: [\w-]+){0,4}? (?:all(?: of)? (?:them|the (missiles|drones))|"
    r"both(?: of)?(?: them| the)?(?: (missiles|drones))?|"
    r"the (missile|drone)(?! \w*(?:attack|strike|debris|wreckage|fragment)))\b"
)
# "8 Shahed drones and 3 cruise missiles which were shot down": each of them launched and shot down
_WHICH_DOWNED = re.compile(
    r"((?:\b\d+ (?:[\w-]+ ){0,3}?(?:drones|missiles|uavs|shaheds)\b(?:,? and )?)+),? (?:which|that|all of which) "
    r"(?:were|was) (?:\w+ )?(?:shot down|destroyed|intercepted|downed|brought down)\b"
)
_ALL_BUT = re.compile(r"\ball but (\d+) of (?:the |its |their )?(\d+)\b")
_ALL_N = re.compile(r"\ball (?:of )?(?:the |its )?(\d+)\b")

ATTACKER_RU_CLAIM = re.compile(
    r"\bukrainian (?:[a-z-]+ ){0,2}?(?:drones?|uavs?)\b|\b(?:drones?|uavs?) launched by ukraine\b|\bkyiv regime\b|"
    r"\bkiev regime\b|\bukraine (?:launched|attacked|fired|sent|targeted|struck)\b|\bon russian territory\b|"
    r"\bukraine drones\b|\bover (?:its|russian) territory\b|"
    r"\b(?:dispatched|launched|sent) by (?:kyiv|kiev|ukraine)\b|"  # "2 UAVs dispatched by Kyiv to Moscow"
    r"\b(?:russia|russian air defen[cs]es?) (?:downs|shoots down|shot down|intercepts|intercepted)\b"  # the defender
)

_LAUNCH_AREA = re.compile(
    r"\b(?:bombers?|jets?|aircraft|tu-\d+\w*|mig-\d+\w*|su-\d+\w*|ships?|submarines?|took off|taking off|"
    r"airfields?|launch(?:ed|es|ing)? (?:sites?|areas?|pads?|positions?)|launchers?|directions?)\b"
)
RUSSIA_ATTACKS = re.compile(
    r"\b(?:russia|russians|moscow|the enemy|the occupiers|the invaders|"
    r"russian (?:[a-z-]+ )?(?:forces|troops|army|military|invaders|occupiers|federation)) (?:[a-z]+ ){0,2}?"
    r"(?:attacked|launched|fired|sent|struck|targeted|unleashed|hit|used|deployed|pummel+ed|bombarded)\b|"
    r"\brussian (?:[a-z-]+ ){0,2}?(?:drones?|missiles?|strikes?|attacks?|shaheds?)\b|\b(?:against|at|on) ukraine\b|"
    r"\bat (?:targets |cities |sites )?(?:in|across) ukraine\b|"
    r"\bukrain(?:ian|e's) (?:air[- ])?defen[cs]es?\b"  # the defender is the target
)

_WEAPON_WORDS = re.compile(r"drone|missile|uav|shahed")
_STRIKE = re.compile(r"\b(?:struck|hit|attacked|targeted|slammed into|set (?:\w+ )?on fire)\b")
_WHEN = re.compile(
    r"\b(?:overnight|last night|this morning|early hours|on (?:monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday)|yesterday|today)\b"
)
# "launching over 70 missiles and 100 drones" (normalize_numbers hides vague amounts as #): an
# attack reported without exact figures is still an attack, so its article joins the night's event
_VAGUE_COUNT = re.compile(r"(?<![\w#])#+ (?:[a-z-]+ ){0,3}?(?:drones|uavs|missiles|shaheds)\b")
# a tally over a period, not one attack: "over the same three months", "this year", "since May"
_PERIOD = re.compile(
    r"\b(?:over|in|during|for) the (?:same |past |last |previous )?(?:#+ |few |several )?(?:days|weeks|months|years)\b|"
    r"\bthis (?:week|month|year)\b|\bsince\b|\bbetween the\b|\bso far\b|\bin total\b"
)
# another country's airspace: "two decoy drones violated Moldovan airspace", "drones shot down over Poland"
_ELSEWHERE = re.compile(
    r"\b(?:polish|moldovan|romanian|belarusian|lithuanian|latvian|estonian|hungarian|slovak) "
    r"(?:air ?space|territory)\b|"
    r"\b(?:in|into|over|entered|crossed into) (?:poland|moldova|romania|belarus|lithuania|latvia|estonia)\b|"
    r"\bviolations? of (?:\w+ )?air ?space\b"
)
_HABITUAL = re.compile(r"\b(?:repeatedly|regularly|often|frequently|almost daily|every night|routinely|have been)\b")
_ATTACK_WORDS = re.compile(r"\b(?:drones?|missiles?|attack\w*|strikes?|struck|shelling|air raid)\b")


@dataclass
class Count:
    slot: str  # launched, shot_down, suppressed, neutralized, killed, injured (reached: no field)
    obj: str  # drone, missile, people
    value: int  # -1: "all of them", as many as were launched
    word: str = ""  # the word that says what it counts ("" when inherited from the context)
    typed: bool = False  # counts one missile type ("10 Kinzhals"), a part of the missiles
    # who attacked whom: the clause's own when it says ("Russia says it shot down 110 Ukraine drones,
    # but fired 298 drones at Ukraine" holds two attacks), else the sentence's (set by analyse)
    direction: tuple[str, str] | None = None
    bound: bool = False  # "at least 93 missiles": a lower bound, taken when no count is exact
    hit: bool = False  # "8 missiles struck the dam": the hits on one target, maybe a part of the launches


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
    topics: set[str] = field(default_factory=set)  # the event types it speaks of (EventType.topic)
    # a strike on a named place at a stated time, or an attack with vague amounts: no counts, but an attack
    reported_strike: bool = False

    @property
    def evidence(self) -> tuple[str, int, int]:
        return self.span.text, self.span.start_char, self.span.end_char


# Words between a number and what it counts: "465 strike and decoy drones", "41 Russian bombers"
MODIFIERS = {
    "russian", "ukrainian", "iranian", "iranian-made", "iranian-designed", "north", "korean", "enemy", "hostile",
    "attack", "strike", "kamikaze", "explosive", "ballistic", "cruise", "guided", "air-launched", "aeroballistic",
    "hypersonic", "anti-aircraft", "long-range", "jet-powered", "unmanned", "aerial", "combat", "various",
    "different", "more", "additional", "other", "further", "new", "imitator", "imitation", "reconnaissance",
    "type", "types", "one-way", "loitering", "suicide", "surface-to-air", "sea-based", "air", "of", "the", "its",
    "and", "or", "a", "an", "\"", "“", "”", "'", "-", "guided-missile", "decoy", "assault", "light", "heavy",
}  # fmt: skip
_ANAPHORA = {"them", "these", "those", "it", "others"}
_NOT_PLURAL_NOUNS = {"various", "previous", "its", "this", "was", "has", "is", "us", "as", "across", "towards",
                     "afterwards", "perhaps", "always", "thus", "plus", "less", "unless", "whereas"}  # fmt: skip


def weapon_kind(token: str) -> tuple[str | None, bool]:
    """("drone" | "missile" | None, whether it names a type) for a token: "shahed-131/136"
    and "kh-59/69" are looked up as "shahed-131" and "kh-59"."""
    if token in DRONE_WORDS:
        return "drone", token.startswith(("shahed", "geran"))
    if token in MISSILE_WORDS:
        return "missile", False
    while token:
        kind = weapons().get(token)
        if kind:
            return kind, True
        cut = max(token.rfind("/"), token.rfind("-"))
        if cut <= 0:
            break
        token = token[:cut]
    return None, False


def _object_of(tokens: list[str], i: int, through_verb: bool = False) -> str | None:
    """The thing the number at tokens[i] counts: the first object word within a few tokens
    ("8 were cruise missiles" only when `through_verb`). A plural noun that is none of the
    known objects, right after the number or its modifiers, counts something else ("two
    nations", "390 combatants", "41 Russian bombers")."""
    return _find_object(tokens, i, through_verb)[0]


def _find_object(tokens: list[str], i: int, through_verb: bool = False) -> tuple[str | None, str]:
    """(_object_of, the word that said it)."""
    modifiers_only = True
    in_noun_phrase = True  # only plain words since the number: "136 energy infrastructure facilities"
    window = tokens[i + 1 : i + 7]
    for n, tok in enumerate(window):
        kind, _ = weapon_kind(tok)
        if kind:
            if _counts_attacks(window, n) or _combined(window, n):
                return "other", tok
            return kind, tok
        if tok in PEOPLE_WORDS:
            return "people", tok
        if n and (window[n - 1], tok) in _DRONE_PHRASES:  # "unmanned aerial vehicles", "barrage munitions"
            return "drone", tok
        if tok in OTHER_WORDS:
            return "other", tok
        if tok in _ANAPHORA:
            return None, ""
        if tok not in MODIFIERS:
            modifiers_only = False
            if in_noun_phrase and len(tok) > 3 and tok.isalpha() and tok.endswith("s") and not tok.endswith("ss"):
                if tok not in _NOT_PLURAL_NOUNS:
                    return "other", tok
            in_noun_phrase = (
                in_noun_phrase
                and n < 2
                and tok.isalpha()
                and tok not in _NOT_NOUN_PHRASE
                and not tok.endswith(("ed", "ly"))  # a verb or an adverb: "46 dropped off radars"
            )
        if tok in ("and", "or") and modifiers_only:  # "13 cruise and ballistic missiles"
            continue
        if tok in {"were", "was"} and through_verb:
            continue
        if tok in OBJECT_SCAN_STOPS:
            return None, ""
        if tok in CLAUSE_BREAKS or _is_number(tok) or tok in {".", "were", "was", "had", "have", "has"}:
            return None, ""
    return None, ""


_DRONE_PHRASES = {
    (a, b) for a in ("aerial", "barrage", "loitering") for b in ("vehicle", "vehicles", "munition", "munitions")
}
_CASUALTY_CUE = re.compile(rf"(?<![\w-])(?:{CUES['killed']}|{CUES['injured']})")
_PEOPLE_ENDINGS = ("ers", "ors", "ists", "ians", "ants", "ents")
# words that end the noun phrase after a number: what follows is not what it counts
_NOT_NOUN_PHRASE = CLAUSE_BREAKS | OBJECT_SCAN_STOPS | {"of", "from", "to", "into", "across", "during", "for", "with"}


def _counts_attacks(window: list[str], n: int) -> bool:
    """A weapon word used as a modifier of a word that counts something else: "12 missile
    strikes on Zaporizhzhia", "30 drone and missile attacks" count strikes, not missiles."""
    rest = window[n:]
    while len(rest) > 2 and rest[1] in ("and", "or") and weapon_kind(rest[2])[0]:
        rest = rest[2:]
    return len(rest) > 1 and not rest[0].endswith("s") and rest[1] in OTHER_WORDS


_MISSILE_CLASSES = {"ballistic", "cruise", "aeroballistic", "hypersonic", "anti-aircraft", "guided", "air-launched"}


def _of_a_class(clause: list[str], j: int, word: str) -> bool:
    """Missiles of one class ("one ballistic missile and seven cruise missiles") are a part of the
    missiles, as a named type is: summed when no count of all of them is given."""
    try:
        at = clause.index(word, j + 1)
    except ValueError:
        return False
    return clause[at - 1] in _MISSILE_CLASSES


def _combined(window: list[str], n: int) -> bool:
    """One number for two kinds: "a barrage of 99 drones and missiles" counts both together."""
    rest = window[n:]
    return (
        len(rest) > 2
        and rest[1] in ("and", "or")
        and weapon_kind(rest[2])[0] not in (None, weapon_kind(rest[0])[0])
        and rest[0].endswith("s")
    )


def _is_number(token: str) -> bool:
    """ASCII digits only: "¹" and "٣" are digits to str.isdigit but not counts."""
    return token.isascii() and token.isdigit()


def _fits(c: Count) -> bool:
    """Casualties count people; the other slots count drones or missiles."""
    return (c.obj == "people") == (c.slot in ("killed", "injured")) and c.obj in ("people", "drone", "missile")


def _clauses(tokens: list[str]) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for i, tok in enumerate(tokens):
        if tok in CLAUSE_BREAKS and not (_all_but(tokens, i) or _of_which(tokens, i) or _joins_modifiers(tokens, i)):
            if i > start:
                bounds.append((start, i))
            start = i + 1
    if start < len(tokens):
        bounds.append((start, len(tokens)))
    return bounds


def _all_but(tokens: list[str], i: int) -> bool:
    """The "but" of "all but six": no clause break, no contrast."""
    return tokens[i] == "but" and i > 0 and tokens[i - 1] == "all"


def _of_which(tokens: list[str], i: int) -> bool:
    """The "which" of "10 of which were downed": the number and its verb are one clause."""
    return tokens[i] == "which" and i > 0 and tokens[i - 1] == "of"


def _joins_modifiers(tokens: list[str], i: int) -> bool:
    """ "and" between two modifiers of one noun: "ballistic and cruise missiles", "Shahed and
    decoy drones" (not "88 drones and 128 decoys")."""
    if tokens[i] not in ("and", "or") or i == 0 or i + 1 >= len(tokens) or _is_number(tokens[i + 1]):
        return False
    before = tokens[i - 1]
    if weapon_kind(before)[0] and weapon_kind(tokens[i + 1])[0]:
        return True  # "drone and missile attacks", "99 drones and missiles" (both together)
    return (before in MODIFIERS or (weapon_kind(before)[1] and not before.endswith("s"))) and before not in (
        "and",
        "of",
        "the",
    )


# "N missiles hit/struck X": the count is the subject, so it counts the hits on X, which may be
# fewer than the launches ("struck Ukraine with 8 missiles" has the cue first: launched)
_HIT = re.compile(r"hit|hitting|struck|striking|slammed into")


def _cues_in(text: str) -> list[tuple[int, str, int]]:
    """(start, cue, end) of every cue in a clause's text."""
    found = []
    for name, pattern in CUE_RE.items():
        found += [(m.start(), name, m.end()) for m in pattern.finditer(text)]
    return sorted(found)


def read_counts(
    norm: str, last_object: str | None, carried: str | None = None
) -> tuple[list[Count], str | None, str | None]:
    """Counts in one normalized sentence; `last_object` resolves "35 of them", `carried` (the
    last cue of the sentence before) the slot of "Among them were 405 drones". Returns the
    counts, the last object and the last cue."""
    tokens = _TOKEN.findall(norm)
    if not tokens:  # a blank line between paragraphs: "Among them" still refers to the sentence before
        return [], last_object, carried
    counts: list[Count] = []
    continues = bool(_CONTINUES.match(norm))
    inherited: str | None = carried if continues else None
    last_cue: str | None = None
    pending: list[Count] = []  # counts of a clause without a cue: "79 of the missiles and 35 … were brought down"
    sides = _sides(tokens)
    clauses = _clauses(tokens)
    elsewhere = False
    for index, (start, end) in enumerate(clauses):
        clause = tokens[start:end]
        # another country's airspace, and what goes "with" it: not an attack on Ukraine
        elsewhere = bool(_ELSEWHERE.search(" ".join(clause))) or (elsewhere and clause[0] in ("with", "including"))
        if elsewhere:
            continue
        if start and tokens[start - 1] in _CONTRAST:  # "88 were shot down, while 128 vanished": not shot down
            inherited = None
        text = " ".join(clause)
        cues = _cues_in(text)
        # a cue overlapping a longer one is part of it: "jammed" in "intercepted or jammed", "were
        # shot" in "were shot down or neutralised"
        cues = [c for c in cues if not any(o[0] < c[2] and c[0] < o[2] and o[2] - o[0] > c[2] - c[0] for o in cues)]
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
            counts += [c for c in map(_decoys_lost, pending) if _fits(c)]
            pending = []
        for j, tok in enumerate(clause):
            obj, word = _find_object(clause, j)
            if obj in ("drone", "missile", "people"):
                last_object = obj
            if not _is_number(tok):
                continue
            value = int(tok)
            prev = clause[max(0, j - 3) : j]
            if obj == "other" and word.endswith(_PEOPLE_ENDINGS) and _CASUALTY_CUE.search(text):
                obj = "people"  # "2 truck drivers were injured" (not "10 strategic bombers")
            if obj == "other":
                continue
            of = j + 1 + (clause[j + 1 : j + 3] == ["out", "of"])  # "24 out of 52 drones", "80 of the 112"
            if obj is None and of + 1 < len(clause) and clause[of] == "of":
                k = of + 2 if _determiner(clause[of + 1]) else of + 1
                if k < len(clause):
                    obj, word = _find_object(clause, k if _is_number(clause[k]) else k - 1)
            predicate_obj = _object_of(clause, j, through_verb=True) if obj is None else None
            if not word and continues:  # "Of them, 74 were destroyed": them, named before
                word = "them"
            direction = _stated_direction(text) or sides.get(start)
            typed = obj == "missile" and (weapon_kind(word)[1] or _of_a_class(clause, j, word))
            count = Count("", obj or "", value, word, typed, direction)
            count.bound = prev[-2:] == ["at", "least"]
            of_number = len(prev) >= 2 and prev[-1] == "of" and _is_number(prev[-2])  # the 60 in "38 of 60"
            if (
                (len(prev) >= 2 and prev[-2] == "of" and _determiner(prev[-1]))  # "of the 143", "of Russia's 27"
                or (prev[-2:-1] and prev[-2] in _SHARE_WORDS and prev[-1] == "of")  # "the majority of 135 drones"
                or prev[-3:] == ["out", "of", "the"]
                or prev[-2:] == ["out", "of"]
                or of_number
            ):
                count.slot = "launched"  # "87 of the 143 drones", "out of the 126"
            elif cues and _pairs(clause, j) and not any(c[0] < offsets[j] for c in cues):
                count.slot = inherited or ""  # "81 out of 94 missiles and 80 out of the 193 drones launched"
            elif cues:
                here, after_number = offsets[j], offsets[j] + len(tok)
                # the gap between cue and number: "shot down 24 drones launched by" is shot down
                # a verb before a participle describing the drones: "12 drones used by Russia were shot down"
                verbs = [c for c in cues if not _describes_weapon(text, c[0])] or cues
                cue = min(verbs, key=lambda c: (here - c[2] if c[0] < here else c[0] - after_number, c[0] < here))
                count.slot = cue[1]
                # "8 missiles struck the power plant": those that hit it, maybe not all that were launched
                count.hit = cue[0] > here and bool(_HIT.fullmatch(text, cue[0], cue[2]))
            elif inherited and not _verb_follows(tokens, clauses, index):
                count.slot = inherited
            if count.slot in ("killed", "injured"):
                count.obj = "people" if count.obj in ("", "people") else count.obj
            elif not count.obj:
                count.obj = predicate_obj or last_object or ""
            if not count.slot:
                pending.append(count)
            elif _fits(_decoys_lost(count)):
                counts.append(count)
        if cues:
            inherited = last_cue = _main_cue(text, cues)
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
    for m in _ALL_DOWNED.finditer(norm):
        kind = m.group(1) or m.group(2) or m.group(3)
        counts.append(
            Count("shot_down", {"missiles": "missile", "drones": "drone"}.get(kind, kind or last_object or ""), -1)
        )
    for m in _WHICH_DOWNED.finditer(norm):
        listed = {int(n) for n in re.findall(r"\b\d+\b", m.group(1))}
        counts += [replace(c, slot="shot_down") for c in counts if c.slot == "launched" and c.value in listed]
    for m in _ALL_N.finditer(norm):  # "all 13 drones … were destroyed": launched and shot down
        n = int(m.group(1))
        downed = CUE_RE["shot_down"].search(norm)
        for c in list(counts):
            if c.value == n and c.slot in ("shot_down", "neutralized"):
                counts.append(Count("launched", c.obj, n, c.word, c.typed))
            elif c.value == n and c.slot == "launched" and downed:
                counts.append(Count("shot_down", c.obj, n, c.word, c.typed))
    return counts, last_object, last_cue


_CONTRAST = {"while", "whereas", "but"}


def _determiner(token: str) -> bool:
    """The word between "of" and the whole: "22 of the 27", "22 of Russia's 27", "41 of these"."""
    return token in ("the", "its", "their", "these", "those") or token.endswith("'s")


_SHARE_WORDS = {"majority", "most", "bulk", "half", "part", "many"}


def _main_cue(text: str, cues: list[tuple[int, str, int]]) -> str:
    """The cue the next clauses inherit: the clause's last, unless it only describes a weapon
    ("shot down 10 missiles fired from the Caspian Sea, 23 Shahed drones and …": shot down)."""
    verbs = [cue for start, cue, _ in cues if not _describes_weapon(text, start)]
    return (verbs or [cues[-1][1]])[-1]


def _describes_weapon(text: str, start: int) -> bool:
    """The cue at `start` follows a weapon word: a participle describing it ("missiles fired
    from the Caspian Sea", "drones used by Russian forces"), not the clause's verb."""
    return bool(weapon_kind(text[:start].rstrip().rpartition(" ")[2])[0])


def _verb_follows(tokens: list[str], clauses: list[tuple[int, int]], index: int) -> bool:
    """The clause's verb comes in a later clause: "274 drones and 33 missiles were shot down"
    (the 274 are shot down, whatever the sentence before was about), "eight others — including a
    child — were rescued" (not killed, as the one before)."""
    after = index + 1
    while after < len(clauses) and tokens[clauses[after][0]] == "including":  # an aside
        after += 1
    if after >= len(clauses):
        return False
    start, end = clauses[after]
    text = " ".join(tokens[start:end])
    if not [c for c in _cues_in(text) if not _describes_weapon(text, c[0])]:
        return False  # "… and 67 missiles fired by Russia": a participle, not the list's verb
    if tokens[start] in ("were", "was", "are", "is", "have", "has", "had") and tokens[start - 1] not in (
        "which",
        "who",
    ):
        return bool(_cues_in(text))  # not a relative clause: "3 missiles, which were shot down"
    if after != index + 1 or tokens[clauses[index][1]] != "and":
        return False
    first_number = next((i for i in range(start, end) if _is_number(tokens[i])), None)
    if first_number is None:
        return False
    before_cue = " ".join(tokens[start : first_number + 1])
    return bool(_cues_in(text)) and not _cues_in(before_cue)


def _sides(tokens: list[str]) -> dict[int, tuple[str, str]]:
    """The stated direction of each side of a contrast, by the start of each of its clauses:
    "Russia says it shot down 110 Ukraine drones, but fired 298 drones and 69 missiles at
    Ukraine": the 298 drones are in a clause of their own that names no target, yet on the side
    that does. Empty when the sentence has no contrast (the sentence's direction holds)."""
    cuts = [i for i, tok in enumerate(tokens) if tok in _CONTRAST and not _all_but(tokens, i)]
    if not cuts:
        return {}
    sides: dict[int, tuple[str, str]] = {}
    for lo, hi in zip([0, *(c + 1 for c in cuts)], [*cuts, len(tokens)], strict=True):
        direction = _stated_direction(" ".join(tokens[lo:hi]))
        if direction:
            sides.update({start: direction for start, _ in _clauses(tokens) if lo <= start < hi})
    return sides


def _pairs(clause: list[str], j: int) -> bool:
    """The number at clause[j] is the X of "X (out) of (the) Y": its cue comes before it, and a
    cue after Y is Y's ("80 out of the 193 drones launched by Russia")."""
    rest = clause[j + 1 : j + 5]
    rest = rest[1:] if rest[:1] == ["out"] else rest
    return rest[:1] == ["of"] and any(_is_number(t) for t in rest[1:3])


# "Among them were 405 Shahed drones, …": the counts of the sentence before, by kind
_CONTINUES = re.compile(r"^\s*(?:among them|of them|of these|of those|including|these included|they included)\b")
DECOY_WORDS = {"decoy", "decoys", "imitator", "imitators", "imitation"}


def _decoys_lost(c: Count) -> Count:
    """Decoys counted apart from the attack drones that were shot down ("88 Shaheds and 128
    decoys were downed") are the ones lost: the Air Force reports them as suppressed."""
    if c.word in DECOY_WORDS and c.slot in ("shot_down", "neutralized"):
        c.slot = "suppressed"
    return c


def _stated_direction(text: str) -> tuple[str, str] | None:
    if ATTACKER_RU_CLAIM.search(text):
        return ("UKR", "RUS")
    if RUSSIA_ATTACKS.search(text):
        return ("RUS", "UKR")
    return None


def _direction(s: Sentence, previous: tuple[str, str] | None) -> tuple[str, str]:
    norm, places = s.norm, s.places
    ru = any(p.startswith("RU-") for p in places)
    ua = any(p.startswith("UA-") and p not in OCCUPIED for p in places)
    # the Ministry reports what was shot down over Russia, whatever Ukrainian city the text names
    russian_claim = "Russian Defence Ministry" in s.claimants and (not ua or bool(CUE_RE["shot_down"].search(norm)))
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
    """The analysis of each of the Doc's sentences, in order (the direction and "35 of them" carry over)."""
    sentences, last_object, direction, last_cue = [], None, None, None
    last_ministry: str | None = None
    text = doc.text
    spans = list(doc.sents)
    starts = [span.start for span in spans]
    ents_by_sentence: dict[int, list[Span]] = {}
    for ent in doc.ents:  # once, by position: Span.ents and Span.sent walk the whole Doc per call
        ents_by_sentence.setdefault(starts[bisect.bisect_right(starts, ent.start) - 1], []).append(ent)
    for span in spans:
        norm = normalize_numbers(span.text)
        s = Sentence(span, norm, DATELINE.sub("", span.text.lower().replace("’", "'")))
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
        s.historical = bool(_HISTORICAL.search(_RECORD_SINCE.sub("", norm)))
        if not s.historical:
            s.counts, last_object, last_cue = read_counts(norm, last_object, last_cue)
            for c in s.counts:
                c.direction = c.direction or direction
        s.attack_context = bool(_ATTACK_CONTEXT.search(norm))
        s.about_attack = bool(OVERNIGHT.search(norm) or _ATTACK_WORDS.search(norm))
        s.names_weapons = bool(_WEAPON_WORDS.search(norm))
        if s.attack_context and not s.historical:
            s.singular_casualties = [
                "killed" if m.group(1) == "killed" or m.group(2) else "injured" for m in _PERSON_SINGULAR.finditer(norm)
            ] + [
                "killed" if m.group(1).startswith("kill") else "injured" for m in _PERSON_SINGULAR_ACTIVE.finditer(norm)
            ]
        s.topics = {t.name for t in EVENT_TYPES.values() if t.topic and t.topic(s)}
        s.reported_strike = bool(
            not s.historical
            and (
                (s.places and _STRIKE.search(norm) and _WHEN.search(norm))
                or (_VAGUE_COUNT.search(norm) and not _PERIOD.search(norm))
            )
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
