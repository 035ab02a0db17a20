"""AssignStories: each article gets the `story_id` of the story it reports.

Two outlets rewriting one wire story share facts, not sentences (word-3 Jaccard 0.03), so
stories come from what articles report, not from their wording:

- an article that reports events belongs to the story of the event it mainly reports: the one
  it gives most evidence for (the earliest in its text on a tie); that story is
  `merge.story_of_event(event_id)`, the same `story_id` the event has in events/;
- an article without events is grouped with the other event-less articles of the same day
  (Kyiv time) whose fingerprint — the numbers it states and the places it names — has a Jaccard
  of at least STORY_SIMILARITY with it; each group is a story of its own.

Exact copies report their original's events, so they land in its story.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam

from schemas.records import stable_id
from transforms.copies import first_report_order
from transforms.merge import story_of_event
from transforms.nlp import places
from transforms.rules import local_date, normalize_numbers

STORY_SIMILARITY = 0.5
UNDATED = "undated"
WITHOUT_EVENTS = "without_events"  # the tag of the articles that report no event


@functools.lru_cache(maxsize=1)
def _place_pattern() -> tuple[re.Pattern, dict[str, str]]:
    codes = {name.lower(): code for code, (regions, cities) in places().items() for name in regions + cities}
    names = sorted(codes, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(n) for n in names) + r")\b"), codes


def fingerprint(text: str) -> frozenset[str]:
    """The numbers (≥ 2; not years, dates, times or ages) and places an article names."""
    pattern, codes = _place_pattern()
    lower = text.lower()
    numbers = {f"n:{n}" for n in re.findall(r"(?<![\d#.,])(\d+)(?![\d#])", normalize_numbers(text)) if int(n) >= 2}
    return frozenset(numbers | {f"p:{codes[m]}" for m in pattern.findall(lower)})


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _main_story(element: tuple[str, Iterable[tuple[int, int, str]]]) -> tuple[str, str]:
    article_id, reports = element
    *_, event_id = min(reports)
    return article_id, story_of_event(event_id)


def _split(element: tuple[str, dict[str, list]]) -> Iterator[Any]:
    """Articles with a story from their events go on; the others are keyed by day for grouping."""
    _, grouped = element
    story = next(iter(grouped["story"]), None)
    for article in grouped["articles"]:
        if story:
            yield dict(article, story_id=story)
        else:
            day = local_date(article["published_at"]).isoformat() if article["published_at"] else UNDATED
            yield beam.pvalue.TaggedOutput(WITHOUT_EVENTS, (day, article))


def _group_by_fingerprint(element: tuple[str, Iterable[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    """Greedy, in order of first report: an article joins the first group it is similar to."""
    _, articles = element
    groups: list[tuple[frozenset[str], str]] = []
    for article in sorted(articles, key=first_report_order):
        features = fingerprint(article["text"])
        story = next((s for f, s in groups if features and _jaccard(f, features) >= STORY_SIMILARITY), None)
        if story is None:
            story = stable_id("story", "article", article["article_id"])
            groups.append((features, story))
        yield dict(article, story_id=story)


class AssignStories(beam.PTransform):
    """{"articles": article rows, "reports": MergeEvents' reports} -> article rows with story_id."""

    def expand(self, inputs: dict[str, beam.PCollection]) -> beam.PCollection:
        leads = inputs["reports"] | "GroupReports" >> beam.GroupByKey() | "MainEvent" >> beam.Map(_main_story)
        split = (
            {"articles": inputs["articles"] | "KeyById" >> beam.WithKeys(lambda a: a["article_id"]), "story": leads}
            | "JoinStories" >> beam.CoGroupByKey()
            | "Split" >> beam.FlatMap(_split).with_outputs(WITHOUT_EVENTS, main="with_events")
        )
        grouped = (
            split[WITHOUT_EVENTS]
            | "GroupByDay" >> beam.GroupByKey()
            | "GroupByFingerprint" >> beam.FlatMap(_group_by_fingerprint)
        )
        return (split.with_events, grouped) | "AllArticles" >> beam.Flatten()
