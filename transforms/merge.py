"""MergeEvents: mentions from all articles -> versioned rows of the events table.

Mentions of one real-world event share the event type, the date and the actors (air attacks:
attacker and target); within such a group, mentions whose launch counts disagree (126 vs 143
drones) are different events. Mentions from articles without a publication date have no date:
they group by type and actors, and join only when their numbers agree (at least one count
equal, none different); their event_date stays null. Reports are folded in the order they were published: the first
gives version 1, and each later report that changes a field (a new value, a corrected count,
a region more) gives the next version. A report that changes nothing adds itself to
`article_ids` / `source_count` of the current version. event_id is a hash of the group key, so
it is the same on every run and runner.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import apache_beam as beam

from schemas.records import stable_id
from transforms.extraction import ALL_FIELDS

REPORTS = "reports"
LIST_FIELDS = {"regions", "parties"}
DISTINCT_IF_DIFFERENT = ("drones_launched", "missiles_launched")


IDENTIFYING = (
    "drones_launched", "drones_shot_down", "drones_suppressed", "drones_neutralized_total", "missiles_launched",
    "missiles_shot_down", "killed", "injured", "duration_hours", "prisoners_per_side", "location",
)  # fmt: skip
UNDATED = "undated"


def merge_key(m: dict[str, Any]) -> str:
    f = m["fields"]
    actors = (f.get("attacker") or "", f.get("target") or "") if m["event_type"] == "air_attack" else ("", "")
    day = m["event_date"].isoformat() if m["event_date"] else UNDATED
    return "|".join([m["event_type"], day, *actors])


def _compatible(event: dict[str, Any], mention: dict[str, Any], undated: bool) -> bool:
    def differ(k: str) -> bool:
        return event.get(k) is not None and mention.get(k) is not None and event[k] != mention[k]

    if undated:  # nothing but the numbers says it is the same event
        same = any(event.get(k) is not None and event.get(k) == mention.get(k) for k in IDENTIFYING)
        return same and not any(differ(k) for k in IDENTIFYING)
    return not any(differ(k) for k in DISTINCT_IF_DIFFERENT)


def fold(key: str, mentions: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Versioned event rows for the mentions of one group key."""
    ordered = sorted(mentions, key=lambda m: (m["reported_at"], m["article_id"]))
    undated = f"|{UNDATED}|" in key
    clusters: list[list[dict[str, Any]]] = []
    for m in ordered:
        home = next((c for c in clusters if _compatible(_known_values(c), m["fields"], undated)), None)
        if home is None:
            clusters.append([m])
        else:
            home.append(m)
    for n, cluster in enumerate(clusters):
        event_id = stable_id(key, str(n)) if n else stable_id(key)
        yield from _versions(event_id, cluster)
        for m in cluster:  # which article reported this event: how much it said of it, and how early
            first = min((e["start"] for e in m["evidence"]), default=0)
            report = (-len(m["evidence"]), first, event_id, m["reported_at"])
            yield beam.pvalue.TaggedOutput(REPORTS, (m["article_id"], report))


def _known_values(cluster: list[dict[str, Any]]) -> dict[str, Any]:
    """The first value each identifying field has in the cluster."""
    values: dict[str, Any] = {}
    for m in cluster:
        for k in IDENTIFYING:
            if values.get(k) is None:
                values[k] = m["fields"].get(k)
    return values


def _versions(event_id: str, cluster: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    first = cluster[0]
    fields: dict[str, Any] = {}
    evidence: dict[str, list[dict[str, Any]]] = {}
    rows: list[dict[str, Any]] = []
    reported_by: list[str] = []
    for m in cluster:
        if m["article_id"] not in reported_by:
            reported_by.append(m["article_id"])
        changed = False
        for name, value in m["fields"].items():
            if value is None:
                continue
            new = sorted(set(fields.get(name) or []) | set(value)) if name in LIST_FIELDS else value
            if fields.get(name) != new:
                fields[name] = new
                evidence[name] = [e for e in m["evidence"] if e["field"] == name]
                changed = True
            elif name not in LIST_FIELDS:
                evidence[name] += [e for e in m["evidence"] if e["field"] == name and e not in evidence[name]]
        if changed or not rows:
            rows.append(_row(event_id, len(rows) + 1, first, m["reported_at"], fields, evidence))
        rows[-1].update(article_ids=list(reported_by), source_count=len(reported_by))
    return iter(rows)


def story_of_event(event_id: str, first_report: datetime) -> str:
    """The story that begins with the report of an event at `first_report`: articles that
    mainly report the event belong to it (AssignStories starts a new one after a long silence)."""
    return stable_id("story", event_id, first_report.isoformat())


def _row(
    event_id: str,
    version: int,
    first: dict[str, Any],
    updated_at: datetime,
    fields: dict[str, Any],
    evidence: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "version": version,
        "event_type": first["event_type"],
        "event_date": first["event_date"],
        "story_id": story_of_event(event_id, first["reported_at"]),
        "article_ids": [],
        "source_count": 0,
        "evidence": [e for name in sorted(evidence) for e in evidence[name]],
        "first_seen_at": first["reported_at"],
        "updated_at": updated_at,
        **{name: fields.get(name) for name in ALL_FIELDS},
    }


class MergeEvents(beam.PTransform):
    """Event mentions -> {"events": rows of the events table (one per event and version),
    "reports": (article_id, (-evidence count, offset of the first evidence, event_id, reported_at))
    for AssignStories}."""

    def expand(self, mentions: beam.PCollection) -> dict[str, beam.PCollection]:
        merged = (
            mentions
            | "KeyByEvent" >> beam.WithKeys(merge_key)
            | "GroupByEvent" >> beam.GroupByKey()
            | "FoldVersions" >> beam.FlatMapTuple(fold).with_outputs(REPORTS, main="events")
        )
        return {"events": merged.events, "reports": merged[REPORTS]}
