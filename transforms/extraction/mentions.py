"""extract_mentions: an analysed Doc -> the mentions of every registered event type."""

from __future__ import annotations

from datetime import datetime, timezone

from spacy.tokens import Doc

from transforms.extraction.registry import EVENT_FIELDS, EVENT_TYPES, Mention
from transforms.extraction.sentences import analyse


def extract_mentions(doc: Doc, published_at: datetime | None, ingested_at: datetime) -> list[Mention]:
    """Every event the article reports, as mentions with evidence spans into its text.
    Without `published_at` the event dates are unknown (None)."""
    anchor = published_at or ingested_at
    anchor = anchor if anchor.tzinfo else anchor.replace(tzinfo=timezone.utc)
    # Taken out of the Doc, not read: its Sentences hold Spans of the Doc, so a Doc that kept them
    # would be a reference cycle, freed only by Python's full collections, which a long Beam run
    # seldom makes (up to 500 Docs, ~140 KB each, were alive in a batch run: bench/RESULTS.md, "Where the memory went").
    sentences = doc.user_data.pop("newsmon_sentences", None) or analyse(doc)
    mentions: list[Mention] = []
    for event_type in EVENT_TYPES.values():
        mentions += event_type.assemble(sentences, anchor)
    for m in mentions:  # every field of the type, None where the article does not say
        m.fields = {name: m.fields.get(name) for name in EVENT_FIELDS[m.event_type]}
        if published_at is None:
            m.event_date = None  # "overnight", "late Monday": relative to a date nobody gave
    return mentions
