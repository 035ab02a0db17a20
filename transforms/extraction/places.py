"""Places and countries in a sentence: which regions it names as hit, which countries take part.

attack_places() reads the gazetteer entities (PLACE, with the ISO 3166-2 code as `ent_id_`) and
drops launch sites ("from the Kursk region"), routes, seats of power ("officials in Kyiv", "a claim
Kyiv rejects"), datelines, the Dnipro river and street names. countries_in() / parties_in() find
countries (actors.tsv COUNTRY rows) in raw text for ceasefires and talks.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from transforms.extraction import lexicons
from transforms.extraction.lexicons import FROM_CHAIN, actors

if TYPE_CHECKING:
    from spacy.tokens import Span

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
            if all(w in FROM_CHAIN or _is_place_word(w) for w in tail):
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
    return [regions + cities for regions, cities in lexicons.places().values()]


OCCUPIED = {"UA-43", "UA-40"}  # Crimea and Sevastopol: hit by Ukrainian strikes on Russian forces


def in_country(code: str, target: str) -> bool:
    """Whether a region is on the target's side: Russian regions and occupied Crimea for RUS."""
    if target == "RUS":
        return code.startswith("RU-") or code in OCCUPIED
    return code.startswith("UA-")


def phrases_re(phrases: list[str]) -> re.Pattern:
    """Case-insensitive, except all-capital phrases ("US" is not "us")."""
    parts = [re.escape(p) if p.isupper() else "(?i:" + re.escape(p) + ")" for p in phrases]
    return re.compile(r"(?<![\w-])(?:" + "|".join(parts) + r")(?![\w-])")


_COUNTRY_RES = [(ident, phrases_re(phrases)) for label, ident, phrases in actors() if label == "COUNTRY"]
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
