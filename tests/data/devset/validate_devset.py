#!/usr/bin/env python3
"""Consistency checks for the newsmon labelled dev set (articles.jsonl).

Run:  python3 tests/data/devset/validate_devset.py [path/to/articles.jsonl]

Hard errors make the script exit 1. Items that need a human eye (numbers in gold that
are not literal digits in the text, digit numbers in the text that are not in the gold)
are printed as REVIEW lines and do not fail the run.
"""

import datetime as dt
import itertools
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

PATH = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("articles.jsonl")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from labels import (  # noqa: E402  (the shared label schema, tests/data/labels.py)
    ARTICLE_KEYS,
    CLAIMANTS,
    EVENT_KEYS,
    INT_FIELDS,
    ISO3,
    REGIONS,
    STATUS,
    WEEKDAYS,
    WORD_RE,
    WORDS,
)

errors, reviews = [], []


def err(aid, msg):
    errors.append(f"ERROR {aid}: {msg}")


def review(aid, msg):
    reviews.append(f"REVIEW {aid}: {msg}")


def numbers_in(text):
    """Integers written in digits (1,234 too) or as number words, with their spans."""
    found = Counter()
    for m in re.finditer(r"(?<![\w.-])(\d{1,3}(?:,\d{3})+|\d+)(?![\w])", text):
        found[int(m.group(1).replace(",", ""))] += 1
    for m in re.finditer(WORD_RE, text, re.I):
        found[WORDS[m.group(1).lower()]] += 1
    return found


def supported(field, value, text, ev):
    """Return how a gold number is supported by the text ('literal' or a derivation)."""
    nums = numbers_in(text)
    if field == "duration_hours":
        if re.search(rf"\b{value}[- ]hours?\b", text):
            return "literal"
        if value % 24 == 0:
            days = value // 24
            words = [str(days)] + [w for w, i in WORDS.items() if i == days]
            if any(re.search(rf"\b{w}[- ]day", text, re.I) for w in words):
                return f"derived: {days} days"
        return None
    if field in ("killed", "injured") and value == 1:
        # one casualty: look for a sentence with a single person and the right verb
        verbs = r"\b(killed|died|dead)\b" if field == "killed" else r"\b(injured|injuring|wounded|hurt)\b"
        person = (
            r"\b(?:a|an|one)\s+(?:\d+-year-old\s+)?(?:[a-z]+\s+)?"
            r"(?:man|woman|person|worker|employee|guard|boy|girl)\b|\bwoman aged \d+"
        )
        for sent in re.split(r"(?<=[.!?])\s+|\n+", text):
            if re.search(person, sent, re.I) and re.search(verbs, sent, re.I):
                return "derived: " + sent.strip()[:90]
        return None
    if value in nums:
        return "literal"
    m = re.search(r"all but (\w+) of the (\d+)", text, re.I)
    if field == "missiles_shot_down" and m:
        a = WORDS.get(m.group(1).lower(), None) if not m.group(1).isdigit() else int(m.group(1))
        if a is not None and int(m.group(2)) - a == value:
            return f"derived: 'all but {m.group(1)} of the {m.group(2)}'"
    return None


def local_date(published_at):
    return dt.datetime.fromisoformat(published_at).date()


def check_relative_date(a, ev):
    """event_date must follow from published_at and the relative date words of the text."""
    pub = local_date(a["published_at"])
    ed = dt.date.fromisoformat(ev["event_date"])
    text = a["title"] + "\n" + a["text"]
    if ed > pub:
        err(a["id"], f"event_date {ed} after publication date {pub}")
        return
    if (pub - ed).days > 6:
        err(a["id"], f"event_date {ed} more than 6 days before publication {pub}")
        return
    if ed == pub:
        return "same day as publication"
    wd = WEEKDAYS[ed.weekday()]
    if not re.search(rf"\b{wd}('s)?\b", text):
        err(a["id"], f"event_date {ed} ({wd}) differs from publication date {pub} but the text never names {wd}")
        return
    if (
        ev["event_type"] == "air_attack"
        and re.search(r"\bovernight\b", text)
        and not re.search(rf"(late|on) {wd}|{wd}('s)? (evening|afternoon|morning|strike|attack)", text)
    ):
        err(a["id"], f"'overnight' article with air_attack dated {ed} != publication {pub}")
    return f"{wd} before publication"


def main():
    lines = PATH.read_text(encoding="utf-8").splitlines()
    arts = []
    for n, line in enumerate(lines, 1):
        try:
            arts.append(json.loads(line))
        except json.JSONDecodeError as e:
            errors.append(f"ERROR line {n}: bad JSON: {e}")
    ids, urls = Counter(a.get("id") for a in arts), Counter(a.get("url") for a in arts)
    for k, c in list(ids.items()) + list(urls.items()):
        if c > 1:
            errors.append(f"ERROR duplicate id/url {k}")

    ev_counter, rel_counter = Counter(), Counter()
    derived = []
    for a in arts:
        aid = a.get("id")
        if set(a) != ARTICLE_KEYS:
            err(aid, f"article keys {sorted(set(a) ^ ARTICLE_KEYS)}")
            continue
        if not re.fullmatch(r"dev-\d{3}", aid):
            err(aid, "id format")
        if not re.fullmatch(r"S\d{2}", a["story"]):
            err(aid, "story label format")
        if not a["url"].startswith("https://"):
            err(aid, "url")
        try:
            pub_dt = dt.datetime.fromisoformat(a["published_at"])
            if pub_dt.tzinfo is None:
                err(aid, "published_at without offset")
            if not (dt.date(2024, 10, 1) <= pub_dt.date() <= dt.date(2025, 4, 30)):
                err(aid, f"published_at {pub_dt} outside 2024-10..2025-04")
        except ValueError:
            err(aid, "published_at does not parse")
            continue
        nwords = len(a["text"].split())
        if not 120 <= nwords <= 450:
            err(aid, f"text has {nwords} words (want 120-450)")
        text = a["title"] + "\n" + a["text"]
        gold_numbers = set()
        for ev in a["events"]:
            et = ev.get("event_type")
            if et not in EVENT_KEYS:
                err(aid, f"event_type {et}")
                continue
            ev_counter[et] += 1
            if not set(ev) <= EVENT_KEYS[et] or "event_date" not in ev:
                err(aid, f"{et} keys {sorted(set(ev) - EVENT_KEYS[et])}")
            try:
                dt.date.fromisoformat(ev["event_date"])
            except (ValueError, TypeError):
                err(aid, f"event_date {ev.get('event_date')!r}")
                continue
            rel = check_relative_date(a, ev)
            if rel:
                rel_counter[rel] += 1
            for f, v in ev.items():
                if f in INT_FIELDS and v is not None:
                    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                        err(aid, f"{f}={v!r} not a non-negative int")
                        continue
                    gold_numbers.add(v)
                    how = supported(f, v, text, ev)
                    if how is None:
                        err(aid, f"{et}.{f}={v} not supported by the text")
                    elif how != "literal":
                        derived.append(f"{aid} {et}.{f}={v} <- {how}")
            if et == "air_attack":
                if (
                    ev.get("attacker") not in {"RUS", "UKR"}
                    or ev.get("target") not in {"RUS", "UKR"}
                    or ev.get("attacker") == ev.get("target")
                ):
                    err(aid, "attacker/target")
                regs = ev.get("regions") or []
                if regs != sorted(set(regs)):
                    err(aid, f"regions not sorted/unique {regs}")
                for r in regs:
                    if r not in REGIONS:
                        err(aid, f"region code {r}")
                if ev.get("claimant") not in CLAIMANTS:
                    err(aid, f"claimant {ev.get('claimant')!r}")
                if ev.get("drones_neutralized_total") is not None and (
                    ev.get("drones_shot_down") is not None or ev.get("drones_suppressed") is not None
                ):
                    err(aid, "drones_neutralized_total together with a shot-down/suppressed split")
                dl = ev.get("drones_launched")
                parts = sum(
                    ev.get(k) or 0 for k in ("drones_shot_down", "drones_suppressed", "drones_neutralized_total")
                )
                if dl is not None and parts > dl:
                    err(aid, f"drones neutralised {parts} > launched {dl}")
                ml, ms = ev.get("missiles_launched"), ev.get("missiles_shot_down")
                if ml is not None and ms is not None and ms > ml:
                    err(aid, "missiles shot down > launched")
                if ev["attacker"] == "UKR" and ev.get("claimant") == "Ukrainian Air Force":
                    err(aid, "UKR attack claimed by the Ukrainian Air Force?")
                for r in regs:
                    if ev["target"] == "UKR" and not r.startswith("UA-"):
                        err(aid, f"Russian region {r} in an attack on Ukraine")
            elif et in STATUS:
                if ev.get("status") not in STATUS[et]:
                    err(aid, f"{et} status {ev.get('status')!r}")
            if et == "ceasefire" and not ISO3.match(ev.get("proposer") or ""):
                err(aid, "ceasefire proposer must be ISO3")
            if et == "talks":
                p = ev.get("parties") or []
                if p != sorted(set(p)) or not all(ISO3.match(x) for x in p) or len(p) < 2:
                    err(aid, f"talks parties {p}")
                if not ev.get("location") or not re.search(rf"\b{ev['location']}\b", text):
                    err(aid, f"talks location {ev.get('location')!r} not in text")
        # digit numbers in the text that are not gold values (ages, times, years ... by design)
        extra = sorted(
            n
            for n in numbers_in(text)
            if n not in gold_numbers and re.search(rf"(?<![\w.-]){n:,}(?!\w)|(?<![\w.-]){n}(?!\w)", text)
        )
        if extra:
            review(aid, f"digit numbers not in gold: {extra}")

    # ---- story-level checks ----
    by_story = defaultdict(list)
    for a in arts:
        by_story[a["story"]].append(a)
    copies, paraphrase_groups, update_groups = [], [], []
    for s, group in sorted(by_story.items()):
        texts = Counter((a["title"], a["text"]) for a in group)
        for (title, _), c in texts.items():
            if c > 1:
                members = [a for a in group if (a["title"], a["text"]) == (title, _)]
                if len({a["outlet"] for a in members}) != len(members):
                    err(s, "syndicated copies must come from different outlets")
                if any(m["events"] != members[0]["events"] for m in members):
                    err(s, "syndicated copies with different gold")
                copies.append((s, [m["id"] for m in members]))
        if len(group) > 1 and len(texts) == len(group):
            if len({a["outlet"] for a in group}) == len(group):
                paraphrase_groups.append((s, [a["id"] for a in group]))
            else:
                update_groups.append((s, [a["id"] for a in group]))
        # within a story: same-type events share event_date
        main = defaultdict(set)
        for a in group:
            for ev in a["events"]:
                main[ev["event_type"]].add(ev["event_date"])
        for et, dates in main.items():
            if len(dates) > 1:
                err(s, f"story has {et} events on different dates {sorted(dates)}")
    # identical text must never be split across stories
    seen = {}
    for a in arts:
        key = (a["title"], a["text"])
        if key in seen and seen[key] != a["story"]:
            err(a["id"], "identical text in a different story")
        seen[key] = a["story"]

    # paraphrases: numbers must agree where both articles give them; text overlap must be low
    def shingles(t, n=3):
        w = re.findall(r"\w+", t.lower())
        return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}

    para_jacc = []
    for s, ids_ in paraphrase_groups:
        group = [a for a in arts if a["id"] in ids_]
        for x, y in itertools.combinations(group, 2):
            sx, sy = shingles(x["text"]), shingles(y["text"])
            para_jacc.append((s, x["id"], y["id"], len(sx & sy) / len(sx | sy)))
            for ex in x["events"]:
                for ey in y["events"]:
                    if ex["event_type"] != ey["event_type"]:
                        continue
                    for f in ex:
                        if f in ("regions",) or ex[f] is None or ey.get(f) is None:
                            continue
                        if ex[f] != ey[f]:
                            err(s, f"paraphrases {x['id']}/{y['id']} disagree on {f}")
    # confounders: same drone count in different stories must have different dates
    conf = []
    air = [(a, ev) for a in arts for ev in a["events"] if ev["event_type"] == "air_attack"]
    for (a1, e1), (a2, e2) in itertools.combinations(air, 2):
        if a1["story"] == a2["story"]:
            continue
        for f in ("drones_launched", "drones_shot_down"):
            if e1.get(f) is not None and e1.get(f) == e2.get(f):
                if e1["event_date"] == e2["event_date"]:
                    err(a1["id"], f"same {f} and date as {a2['id']} but different story")
                conf.append(
                    f"{a1['id']}({a1['story']},{e1['event_date']}) vs "
                    f"{a2['id']}({a2['story']},{e2['event_date']}): {f}={e1[f]}"
                )

    # ---- report ----
    n_multi = sum(1 for a in arts if len(a["events"]) > 1)
    n_none = sum(1 for a in arts if not a["events"])
    per_type_articles = Counter(et for a in arts for et in {e["event_type"] for e in a["events"]})
    print(f"file: {PATH}")
    print(f"articles: {len(arts)}; events: {sum(ev_counter.values())} {dict(ev_counter)}")
    print(f"articles with each event type: {dict(per_type_articles)}")
    print(f"multi-event articles: {n_multi}; articles without events: {n_none}")
    print(f"story labels: {len(by_story)}; multi-article stories: {sum(len(g) > 1 for g in by_story.values())}")
    print(f"paraphrase groups ({len(paraphrase_groups)}): {paraphrase_groups}")
    print(f"syndicated copies ({len(copies)}): {copies}")
    print(f"update groups ({len(update_groups)}): {update_groups}")
    print("confounders (same drone count, different story and date):")
    for c in conf:
        print("   ", c)
    print(f"max word-3 Jaccard between paraphrases: {max(j for *_, j in para_jacc):.3f}")
    print(f"event_date resolution: {dict(rel_counter)}")
    print("gold numbers that are derived rather than literal digits/words:")
    for d in derived:
        print("   ", d)
    for r in reviews:
        print(r)
    for e in errors:
        print(e)
    print(f"{len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
