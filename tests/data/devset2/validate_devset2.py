#!/usr/bin/env python3
"""Consistency checks for the second newsmon dev set (tests/data/devset2/articles.jsonl).

Adapted from ../devset/validate_devset.py (same schema and conventions). Run:
    python3 tests/data/devset2/validate_devset2.py [path/to/articles.jsonl]
Errors exit 1. REVIEW lines (digit numbers that are not gold values) and derived values are printed only.
"""

import datetime as dt
import itertools
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).parent
PATH = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "articles.jsonl"
DEVSET1 = HERE.parent / "devset" / "articles.jsonl"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from labels import (  # noqa: E402  (the shared label schema, tests/data/labels.py)
    ARTICLE_KEYS,
    CLAIMANTS,
    EVENT_KEYS,
    INT_FIELDS,
    REGIONS,
    STATUS,
    WEEKDAYS,
    WORD_RE,
    WORDS,
)

errors, notes = [], []


def err(aid, msg):
    errors.append(f"ERROR {aid}: {msg}")


def numbers_in(text):
    digits = re.finditer(r"(?<![\w.-])(\d{1,3}(?:,\d{3})+|\d+)(?!\w)", text)
    found = Counter(int(m.group(1).replace(",", "")) for m in digits)
    found.update(WORDS[m.group(1).lower()] for m in re.finditer(WORD_RE, text, re.I))
    return found


def support(field, value, text):
    """'literal', a derivation string, or None."""
    if value in numbers_in(text):
        return "literal"
    if field == "duration_hours" and value % 24 == 0:
        days = [str(value // 24)] + [w for w, i in WORDS.items() if i == value // 24]
        if any(re.search(rf"\b{d}[- ]day", text, re.I) for d in days):
            return f"derived: {value // 24} days"
    if field in ("killed", "injured") and value == 1:
        verb = r"\b(killed|died|dead)\b" if field == "killed" else r"\b(injured|wounded|hurt)\b"
        person = r"\b(?:a|an|one)\s+(?:\d+-year-old\s+)?(?:[a-z]+\s+)?(?:man|woman|person|worker|guard|boy|girl)\b"
        for sent in re.split(r"(?<=[.!?])\s+", text):
            if re.search(person, sent, re.I) and re.search(verb, sent, re.I):
                return "derived: " + sent[:90]
    return None


def date_phrases(day):
    month = day.strftime("%B")
    return rf"{day.day} {month}|{month} {day.day}\b|to {day.day} {month}"


def check_date(a, ev):
    pub = dt.datetime.fromisoformat(a["published_at"]).date()
    day = dt.date.fromisoformat(ev["event_date"])
    text = a["title"] + "\n" + a["text"]
    if day > pub or (pub - day).days > 6:
        return err(a["id"], f"event_date {day} vs publication {pub}")
    night = re.search(r"night of (\d+) to (\d+) (June|July|August|September)", text)
    if ev["event_type"] == "air_attack" and night and f"{day.day} {day:%B}" != " ".join(night.groups()[1:]):
        err(a["id"], f"event_date {day} does not match '{night.group(0)}'")
    if day == pub:
        return "same day"
    wd = WEEKDAYS[day.weekday()]
    if not re.search(rf"\b{wd}\b|{date_phrases(day)}", text):
        return err(a["id"], f"event_date {day} ({wd}) but the text names neither {wd} nor the date")
    context = rf"(late|early|on) {wd}|early hours of {wd}|{wd}('s)? (night|evening|afternoon|morning)"
    context += "|" + date_phrases(day)
    if ev["event_type"] == "air_attack" and "overnight" in text and not re.search(context, text):
        err(a["id"], f"'overnight' article with air_attack dated {day} != publication {pub}")
    return "named weekday or date"


def check_event(a, ev, text, gold_numbers, derived):
    aid, et = a["id"], ev.get("event_type")
    if et not in EVENT_KEYS or set(ev) != EVENT_KEYS[et]:
        return err(aid, f"{et} keys differ: {sorted(set(ev) ^ EVENT_KEYS.get(et, set()))}")
    for f, v in ev.items():
        if f in INT_FIELDS and v is not None:
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                err(aid, f"{f}={v!r} not a non-negative int")
                continue
            gold_numbers.add(v)
            how = support(f, v, text)
            if how is None:
                err(aid, f"{et}.{f}={v} not supported by the text")
            elif how != "literal":
                derived.append(f"{aid} {et}.{f}={v} <- {how}")
    if et in STATUS and ev["status"] not in STATUS[et]:
        err(aid, f"{et} status {ev['status']!r}")
    if et == "ceasefire" and not re.fullmatch(r"[A-Z]{3}", ev["proposer"] or ""):
        err(aid, "ceasefire proposer must be ISO3")
    if et == "talks":
        parties = ev["parties"] or []
        iso3 = all(re.fullmatch(r"[A-Z]{3}", p) for p in parties)
        if parties != sorted(set(parties)) or len(parties) < 2 or not iso3:
            err(aid, f"talks parties {parties}")
        if not ev["location"] or ev["location"] not in text:
            err(aid, f"talks location {ev['location']!r} not in text")
    if et != "air_attack":
        return
    if {ev["attacker"], ev["target"]} != {"RUS", "UKR"}:
        err(aid, "attacker/target")
    regs = ev["regions"]
    if regs != sorted(set(regs)) or set(regs) - REGIONS:
        err(aid, f"regions {regs}")
    if ev["target"] == "UKR" and any(r.startswith("RU-") for r in regs):
        err(aid, f"Russian region in an attack on Ukraine {regs}")
    if ev["claimant"] not in CLAIMANTS or (ev["attacker"] == "UKR" and ev["claimant"] == "Ukrainian Air Force"):
        err(aid, f"claimant {ev['claimant']!r}")
    split = ev["drones_shot_down"] is not None or ev["drones_suppressed"] is not None
    if ev["drones_neutralized_total"] is not None and split:
        err(aid, "drones_neutralized_total together with a shot-down/suppressed split")
    parts = sum(ev[k] or 0 for k in ("drones_shot_down", "drones_suppressed", "drones_neutralized_total"))
    if ev["drones_launched"] is not None and parts > ev["drones_launched"]:
        err(aid, "more drones neutralised than launched")
    ml, ms = ev["missiles_launched"], ev["missiles_shot_down"]
    if None not in (ml, ms) and ms > ml:
        err(aid, "missiles shot down > launched")


def check_article(a, devset1_sentences, derived, dates):
    aid = a.get("id")
    if set(a) != ARTICLE_KEYS:
        return err(aid, f"article keys {sorted(set(a) ^ ARTICLE_KEYS)}")
    if not re.fullmatch(r"d2-\d{3}", aid) or not re.fullmatch(r"S\d{2}", a["story"]):
        err(aid, "id/story format")
    if not re.fullmatch(r"https://[a-z0-9-]+\.example/\S+", a["url"]):
        err(aid, "url must be https://*.example/...")
    pub = dt.datetime.fromisoformat(a["published_at"])
    if pub.tzinfo is None or not dt.date(2024, 6, 1) <= pub.date() <= dt.date(2024, 9, 30):
        err(aid, f"published_at {pub} lacks an offset or is outside 2024-06..2024-09")
    if not 120 <= len(a["text"].split()) <= 260:
        err(aid, f"text has {len(a['text'].split())} words (want 120-260)")
    for sent in re.split(r"(?<=[.!?])\s+", a["text"]):
        if len(sent.split()) >= 6 and sent in devset1_sentences:
            err(aid, f"sentence reused from devset: {sent[:60]}")
    text, gold_numbers = a["title"] + "\n" + a["text"], set()
    for ev in a["events"]:
        check_event(a, ev, text, gold_numbers, derived)
        if ev.get("event_date") and (how := check_date(a, ev)):
            dates[how] += 1
    extra = sorted(n for n in numbers_in(a["text"]) if n not in gold_numbers and re.search(rf"\b{n:,}\b|\b{n}\b", text))
    if extra:
        notes.append(f"REVIEW {aid}: digit numbers not in gold: {extra}")


def shingles(text, n=3):
    w = re.findall(r"\w+", text.lower())
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def check_stories(arts):
    by_story, seen = defaultdict(list), {}
    for a in arts:
        by_story[a["story"]].append(a)
        if seen.setdefault((a["title"], a["text"]), a["story"]) != a["story"]:
            err(a["id"], "identical text in a different story")
    pairs, jacc = [], []
    for s, group in sorted(by_story.items()):
        dates = defaultdict(set)
        for ev in (ev for a in group for ev in a["events"]):
            dates[ev["event_type"]].add(ev["event_date"])
        for et, d in dates.items():
            if len(d) > 1:
                err(s, f"{et} events on different dates {sorted(d)}")
        if len(group) > 1:
            pairs.append((s, [a["id"] for a in group]))
        for x, y in itertools.combinations(group, 2):
            if x["outlet"] == y["outlet"]:
                err(s, "rewrites must come from different outlets")
            sx, sy = shingles(x["text"]), shingles(y["text"])
            jacc.append(len(sx & sy) / len(sx | sy))
            for ex, ey in itertools.product(x["events"], y["events"]):
                if ex["event_type"] == ey["event_type"]:
                    for f in ex:
                        if f != "regions" and None not in (ex[f], ey[f]) and ex[f] != ey[f]:
                            err(s, f"rewrites {x['id']}/{y['id']} disagree on {f}")
    air = [(a, e) for a in arts for e in a["events"] if e["event_type"] == "air_attack"]
    conf = set()
    for (a1, e1), (a2, e2) in itertools.combinations(air, 2):
        for f in ("drones_launched", "drones_shot_down"):
            if a1["story"] != a2["story"] and e1[f] is not None and e1[f] == e2[f]:
                if e1["event_date"] == e2["event_date"]:
                    err(a1["id"], f"same {f} and date as {a2['id']} but a different story")
                conf.add(f"{a1['story']} {e1['event_date']} vs {a2['story']} {e2['event_date']}: {f}={e1[f]}")
    return by_story, pairs, max(jacc, default=0), sorted(conf)


def main():
    arts = [json.loads(line) for line in PATH.read_text(encoding="utf-8").splitlines()]
    for key in ("id", "url"):
        for k, c in Counter(a.get(key) for a in arts).items():
            if c > 1:
                err(k, f"duplicate {key}")
    devset1_text = " ".join(json.loads(line)["text"] for line in DEVSET1.read_text(encoding="utf-8").splitlines())
    devset1_sentences = set(re.split(r"(?<=[.!?])\s+", devset1_text))
    derived, dates = [], Counter()
    for a in arts:
        check_article(a, devset1_sentences, derived, dates)
    if errors:  # story checks assume well-formed records
        print(*errors, sep="\n")
        return 1
    by_story, pairs, max_jacc, conf = check_stories(arts)
    events = Counter(e["event_type"] for a in arts for e in a["events"])
    print(f"file: {PATH}\narticles: {len(arts)}; events: {sum(events.values())} {dict(events)}")
    print(f"multi-event articles: {[a['id'] for a in arts if len(a['events']) > 1]}")
    print(f"articles without events: {[a['id'] for a in arts if not a['events']]}")
    print(f"story labels: {len(by_story)}; rewrite groups: {pairs}; max word-3 Jaccard in a group: {max_jacc:.3f}")
    print("confounders (same drone count, different story and date):", *conf, sep="\n    ")
    print(f"event_date resolution: {dict(dates)}")
    print("derived gold values:", *derived, sep="\n    ")
    print(*notes, *errors, f"{len(errors)} errors", sep="\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
