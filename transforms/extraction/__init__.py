"""Event extraction: the rules that turn one article's spaCy Doc into event mentions, each value
with its evidence span.

Where things live:
  lexicons.py   gazetteers and word lists (transforms/data/*.tsv loaders) and the count cues
  numbers.py    digits(), normalize_numbers(): number words as digits, non-counts marked '#'
  dates.py      local_date(), resolve_date(): event dates from weekday / "overnight" / date words
  places.py     attack_places() (regions named as hit), countries_in(), parties_in()
  sentences.py  analyse(): per sentence its counts, places, claimants, direction and topics;
                the `newsmon_sentences` spaCy component (transforms/nlp.py adds it to the pipeline)
  registry.py   EventType, Field, Mention, register(), EVENT_TYPES, EVENT_FIELDS, ALL_FIELDS
  types/        one module per event type (air_attack, ceasefire, talks, prisoner_exchange), each
                with its fields and their column types, cues, identity and assembly, registered
  mentions.py   extract_mentions(): the analysed sentences -> every type's mentions

The events table's per-type columns (schemas/tables.py) and ALL_FIELDS follow from the registry.
Importing the package registers the types but does not import spaCy (the schemas read the
registry); extract_mentions, which needs it, is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import transforms.extraction.types  # noqa: F401  (registers the event types, in order)
from transforms.extraction.dates import local_date
from transforms.extraction.numbers import digits, normalize_numbers
from transforms.extraction.registry import (
    ALL_FIELDS,
    BASES,
    EVENT_FIELDS,
    EVENT_TYPES,
    EventType,
    Field,
    Mention,
    register,
)

if TYPE_CHECKING:
    from transforms.extraction.mentions import extract_mentions

__all__ = [
    "ALL_FIELDS",
    "BASES",
    "EVENT_FIELDS",
    "EVENT_TYPES",
    "EventType",
    "Field",
    "Mention",
    "digits",
    "extract_mentions",
    "local_date",
    "normalize_numbers",
    "register",
]


def __getattr__(name: str) -> Any:
    if name == "extract_mentions":  # needs spaCy: imported when first asked for
        from transforms.extraction.mentions import extract_mentions

        return extract_mentions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
