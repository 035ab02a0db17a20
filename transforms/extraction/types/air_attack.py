"""air_attack: drones and missiles launched at a country, how many were shot down or jammed,
the dead and injured, the regions hit and who gives the figures.

One mention per direction (attacker, target) the article's sentences speak of; the counts come
from the sentence analysis (Sentence.counts), the regions from the places named as hit.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from transforms.extraction.dates import local_date, resolve_date
from transforms.extraction.places import in_country
from transforms.extraction.registry import BASES, EventType, Field, Mention, register

if TYPE_CHECKING:
    from transforms.extraction.sentences import Count, Sentence

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
# a figure for one region or city: "In Dnipropetrovsk Oblast, defenses downed six drones, Governor … said"
_REGIONAL = re.compile(
    r"^(?:in|over|near|around) (?!addition|total|all\b|response|particular|general|short|turn|contrast|the meantime)"
    r"(?:the )?[a-z'’ -]+?(?: oblast| region| city| district)?,|^there\b|"
    r"\b(?:governor|regional (?:military )?administration|city (?:military )?administration|mayor|"
    r"over (?:the )?(?:capital|city)|in the capital|capital's airspace|targeting the (?:city|capital)|"
    r"in the sky over)\b"
)
_BACKGROUND = re.compile(r"\bsince\b|\bfor (?:months|years)\b|\bin recent (?:weeks|months)\b|\brepeatedly\b")


def air_attacks(sentences: list[Sentence], anchor: datetime) -> list[Mention]:
    by_direction: dict[tuple[str, str], Mention] = {}
    used: dict[tuple[str, str], list[Sentence]] = {}
    all_of: list[tuple[Mention, str, Count, Sentence]] = []

    def mention(s: Sentence, direction: tuple[str, str] | None = None) -> Mention:
        direction = direction or s.direction
        used.setdefault(direction, []).append(s)
        return by_direction.setdefault(direction, Mention("air_attack", local_date(anchor), {}, []))

    candidates: dict[tuple[tuple[str, str], str], list[tuple[tuple, int, Count, Sentence]]] = {}
    for n, s in enumerate(sentences):
        regional = bool(_REGIONAL.search(s.norm))
        for c in s.counts:
            name = AIR_FIELDS.get((c.slot, c.obj))
            if not name:
                continue
            m = mention(s, c.direction)
            if c.value < 0:  # "every one of the missiles was destroyed": as many as were launched
                all_of.append((m, name, c, s))
            elif name in ("killed", "injured"):
                m.set(name, c.value, s, overwrite=c.value > (m.fields.get(name) or 0))
            else:  # the national figure before a region's, a stated object before an inferred one
                rank = (regional, c.typed or c.hit, not c.word, c.bound)
                candidates.setdefault((c.direction, name), []).append((rank, n, c, s))
    for (direction, name), found in candidates.items():
        rank, n, c, s = min(found, key=lambda f: f[:2])
        value = c.value
        if c.typed and not c.hit:  # only weapon types named: "a Kinzhal, four Iskander-M and nine Iskander-K" are 14
            value = sum(f[2].value for f in found if f[1] == n and f[0] == rank)
        basis = next((b for b, weak in zip(BASES[:0:-1], rank, strict=True) if weak), BASES[0])
        by_direction[direction].set(name, value, s, basis=basis)
    for (direction, name), found in candidates.items():  # "intercepted 711" beside "296 … and 415 jammed"
        for total, (part, *others) in AIR_ATTACK.totals.items():
            m = by_direction[direction]
            if name == part and m.fields.get(part) is not None:
                sums = {m.fields[part] + (m.fields.get(o) or 0): o for o in others if m.fields.get(o) is not None}
                for _, _, c, s in found:
                    if c.value in sums and c.value != m.fields[part]:
                        m.set(total, c.value, s)
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
        m.fields.update(attacker=attacker, target=target)
        regions, region_sents = [], []
        for s in sentences:
            if s.direction == (attacker, target) and s.attack_context and not _BACKGROUND.search(s.norm):
                new = [p for p in dict.fromkeys(s.places) if in_country(p, target) and p not in regions]
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
        m.event_date = resolve_date(texts, anchor, overnight_event=True, context=about)
        mentions.append(m)
    return mentions


def _claimant_fits(claimant: str, target: str) -> bool:
    return (claimant == "Russian Defence Ministry") == (target == "RUS")


AIR_ATTACK = register(
    EventType(
        "air_attack",
        (
            Field("attacker", pa.string()),
            Field("target", pa.string()),
            Field("drones_launched", pa.int32()),
            Field("drones_shot_down", pa.int32()),
            Field("drones_suppressed", pa.int32()),
            Field("drones_neutralized_total", pa.int32()),
            Field("missiles_launched", pa.int32()),
            Field("missiles_shot_down", pa.int32()),
            Field("killed", pa.int32()),
            Field("injured", pa.int32()),
            Field("regions", pa.list_(pa.string())),
            Field("claimant", pa.string()),
        ),
        identity=("attacker", "target"),
        assemble=air_attacks,
        totals={"drones_neutralized_total": ("drones_shot_down", "drones_suppressed")},
    )
)
