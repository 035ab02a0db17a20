"""The spaCy pipeline: blank English (or an installed model) + sentencizer + gazetteer EntityRuler.

Gazetteers are data files in transforms/data/, loaded by transforms/extraction/lexicons.py:
places.tsv (ISO 3166-2 regions with their cities and spelling variants), weapons.tsv (families
from the Air Force weapons list), actors.tsv (claimants, countries, cities where talks are
held). Entities get the label PLACE, WEAPON or CLAIMANT and the code / family / name as `ent_id_`.
"""

from __future__ import annotations

from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc

import transforms.extraction.sentences  # noqa: F401  (registers the newsmon_sentences component)
from transforms.extraction.lexicons import actors, places, rows

REGION_SUFFIXES = ("region", "regions", "oblast", "province")
MAX_CHARS = 100_000  # the longest text extraction reads: news articles are far shorter


def clip(text: str) -> str:
    """The part of an article's text that extraction reads (evidence offsets stay valid)."""
    return text[:MAX_CHARS]


def ruler_patterns() -> list[dict[str, Any]]:
    patterns = []
    for code, (regions, cities) in places().items():
        for name in regions:
            patterns.append({"label": "PLACE", "pattern": name, "id": code})
            if not name.lower().endswith(REGION_SUFFIXES) and "around" not in name:
                patterns += [{"label": "PLACE", "pattern": f"{name} {s}", "id": code} for s in REGION_SUFFIXES]
        patterns += [{"label": "PLACE", "pattern": name, "id": code} for name in cities]
    for _family, kind, names in rows("weapons.tsv"):
        patterns += [{"label": "WEAPON", "pattern": name, "id": kind} for name in names.split("|")]
    for label, ident, phrases in actors():
        if label == "CLAIMANT":
            patterns += [{"label": "CLAIMANT", "pattern": p, "id": ident} for p in phrases]
    return patterns


@Language.component("paragraph_breaks")
def paragraph_breaks(doc: Doc) -> Doc:
    """A line break ends a sentence: headlines, datelines and live-blog entries lack a period."""
    for token in doc[1:]:
        if "\n" in doc[token.i - 1].text or "\n" in doc[token.i - 1].whitespace_:
            token.is_sent_start = True
    return doc


def build_nlp(model: str | None = None) -> Language:
    """The extraction pipeline: sentences, gazetteer entities and the per-sentence rule analysis
    (counts, places, claimants, topics; component `newsmon_sentences`, last). With `model` (an
    installed spaCy package), its NER runs after the gazetteer ruler, which wins where they
    overlap (the small model tags Mykolaiv as PERSON)."""
    if model:
        nlp = spacy.load(model, exclude=["parser", "lemmatizer", "attribute_ruler"])
        if "senter" in nlp.pipe_names:
            nlp.enable_pipe("senter")
        else:
            nlp.add_pipe("sentencizer", first=True)
        nlp.add_pipe("paragraph_breaks", first=True)
        before = {"before": "ner"} if "ner" in nlp.pipe_names else {}
        ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"}, **before)
    else:
        nlp = spacy.blank("en")
        nlp.add_pipe("paragraph_breaks")
        nlp.add_pipe("sentencizer")
        ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns(ruler_patterns())
    nlp.add_pipe("newsmon_sentences")
    return nlp
