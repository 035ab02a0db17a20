#!/usr/bin/env python3
"""Consistency checks for the newsmon HELD-OUT test set (articles.jsonl).

Run:  python3 tests/data/heldout/validate_heldout.py [path/to/articles.jsonl]

Adapted from tests/data/devset/validate_devset.py and extended. Hard errors make the script
exit 1. Items for a human eye (derived gold numbers, digit numbers in the text that are not
gold values) are printed and do not fail the run.

Extra checks beyond the dev-set script:
  * ids ho-NNN, urls on *.example, published_at in 2025-06..2025-09 with a plausible offset;
  * text 120-260 words, live blogs newest-first with "HH:MM - " updates;
  * number words incl. compounds ("Eighty-four"), "N-day" -> hours, "all but N of the M";
  * relative dates: "late Sunday", "on Friday", "Wednesday evening", "overnight into Tuesday";
  * composition of the set (counts the README promises, required surface forms);
  * originality: no 8-word sequence shared with tests/data/devset/articles.jsonl, and the
    word-3-shingle Jaccard with any dev-set article stays low.
"""

import datetime as dt
import itertools
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
PATH = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "articles.jsonl"
DEVSET = HERE.parent / "devset" / "articles.jsonl"

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from labels import (  # noqa: E402  (the shared label schema, tests/data/labels.py)
    AIR_ATTACK_FIELDS,
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

# UTC offsets an outlet may plausibly use in June-September 2025 (summer time everywhere relevant)
OFFSETS = {"+03:00", "+02:00", "+01:00", "+00:00", "-04:00"}


errors, reviews, notes = [], [], []


def err(aid, msg):
    errors.append(f"ERROR {aid}: {msg}")


def review(aid, msg):
    reviews.append(f"REVIEW {aid}: {msg}")


def numbers_in(text):
    """Integers written in digits (1,234 too) or as number words (incl. 'Eighty-four')."""
    found = Counter()
    for m in re.finditer(r"(?<![\w.-])(\d{1,3}(?:,\d{3})+|\d+)(?![\w])", text):
        found[int(m.group(1).replace(",", ""))] += 1
    for m in re.finditer(WORD_RE, text, re.I):
        found[WORDS[m.group(1).lower()]] += 1
    return found


def word_or_digit(n):
    return [str(n)] + [w for w, i in WORDS.items() if i == n]


def supported(field, value, text):
    """How a gold number is supported by the text: 'literal', 'derived: ...' or None."""
    if field == "duration_hours":
        if re.search(rf"\b{value}[- ]hours?\b", text):
            return "literal"
        if value % 24 == 0:
            days = value // 24
            for w in word_or_digit(days):
                if re.search(rf"\b{w}[- ]day\b", text, re.I):
                    return f"derived: '{w}-day' = {days} x 24 h"
        return None
    if field in ("killed", "injured") and value == 1:
        verbs = r"\b(killed|died|dead)\b" if field == "killed" else r"\b(injured|injuring|wounded|hurt)\b"
        person = (
            r"\b(?:a|an|one)\s+(?:\d+-year-old\s+)?(?:[a-z]+\s+)?"
            r"(?:man|woman|person|worker|employee|guard|boy|girl|mechanic|driver|resident)\b"
        )
        for sent in re.split(r"(?<=[.!?])\s+|\n+", text):
            if re.search(person, sent, re.I) and re.search(verbs, sent, re.I):
                return "derived: " + sent.strip()[:100]
        return None
    if value in numbers_in(text):
        return "literal"
    if field in ("missiles_shot_down", "drones_shot_down"):
        for m in re.finditer(r"all but (\w+) of the (\d+)", text, re.I):
            a = int(m.group(1)) if m.group(1).isdigit() else WORDS.get(m.group(1).lower())
            if a is not None and int(m.group(2)) - a == value:
                return f"derived: 'all but {m.group(1)} of the {m.group(2)}'"
    return None


def local_date(published_at):
    return dt.datetime.fromisoformat(published_at).date()


def check_relative_date(a, ev):
    """event_date must follow from published_at (outlet's own offset) and the text's date words."""
    pub = local_date(a["published_at"])
    ed = dt.date.fromisoformat(ev["event_date"])
    text = a["title"] + "\n" + a["text"]
    if ed > pub:
        err(a["id"], f"event_date {ed} after publication date {pub}")
        return None
    if (pub - ed).days > 6:
        err(a["id"], f"event_date {ed} more than 6 days before publication {pub}")
        return None
    if ed == pub:
        # an air attack dated to the publication day must not be described as happening on an
        # earlier, named weekday ("late Sunday", "on Friday", "overnight into Tuesday")
        if ev["event_type"] == "air_attack":
            for wd in WEEKDAYS:
                if wd == WEEKDAYS[pub.weekday()]:
                    continue
                if re.search(
                    rf"(late|on) {wd}\b|overnight into {wd}|night (to|into) {wd}|{wd} (evening|afternoon)", text
                ):
                    err(a["id"], f"air_attack dated to publication day but text says '{wd}'")
        return "same day as publication"
    wd = WEEKDAYS[ed.weekday()]
    if not re.search(rf"\b{wd}('s)?\b", text):
        err(a["id"], f"event_date {ed} ({wd}) differs from publication {pub} but the text never names {wd}")
        return None
    if ev["event_type"] == "air_attack":
        anchored = re.search(
            rf"(late|on) {wd}\b|overnight into {wd}|night (to|into) {wd}|"
            rf"{wd}('s)? (evening|afternoon|morning|strike|attack)",
            text,
        )
        if not anchored:
            err(a["id"], f"air_attack dated {ed} ({wd}) but no phrase anchors the attack to {wd}")
        elif (
            re.search(r"\bovernight\b", text)
            and not re.search(rf"overnight into {wd}|night (to|into) {wd}", text)
            and not re.search(rf"(late|on) {wd}|{wd} (evening|afternoon)", text)
        ):
            err(a["id"], f"'overnight' article with air_attack dated {ed} != publication {pub}")
        return f"{wd} before publication ({anchored.group(0)!r})" if anchored else None
    return f"{wd} before publication"


def check_live_blog(a):
    paras = a["text"].split("\n\n")
    stamps = [re.match(r"^(\d{2}):(\d{2}) - ", p) for p in paras]
    if not any(stamps):
        return False
    if not all(stamps):
        err(a["id"], "live blog: every update must start with 'HH:MM - '")
        return True
    times = [int(m.group(1)) * 60 + int(m.group(2)) for m in stamps]
    if times != sorted(times, reverse=True) or len(set(times)) != len(times):
        err(a["id"], f"live blog updates not newest first: {[m.group(0) for m in stamps]}")
    pub = dt.datetime.fromisoformat(a["published_at"])
    if times[0] > pub.hour * 60 + pub.minute:
        err(a["id"], "live blog has an update later than published_at")
    return True


def shingles(t, n=3):
    w = re.findall(r"\w+", t.lower())
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


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
    if [a.get("id") for a in arts] != [f"ho-{i:03d}" for i in range(1, len(arts) + 1)]:
        errors.append("ERROR ids are not ho-001.. in file order")

    ev_counter, rel_counter = Counter(), Counter()
    derived, live_blogs = [], []
    for a in arts:
        aid = a.get("id")
        if set(a) != ARTICLE_KEYS:
            err(aid, f"article keys {sorted(set(a) ^ ARTICLE_KEYS)}")
            continue
        if not re.fullmatch(r"ho-\d{3}", aid):
            err(aid, "id format")
        if not re.fullmatch(r"S\d{2}", a["story"]):
            err(aid, "story label format")
        if not re.fullmatch(r"https://[a-z0-9.-]+\.example/\S+", a["url"]):
            err(aid, f"url must be https on an *.example domain: {a['url']}")
        for k in ("outlet", "title", "text"):
            if not isinstance(a[k], str) or not a[k].strip():
                err(aid, f"empty {k}")
        if not isinstance(a["events"], list):
            err(aid, "events must be a list")
            continue
        try:
            pub_dt = dt.datetime.fromisoformat(a["published_at"])
        except ValueError:
            err(aid, "published_at does not parse")
            continue
        if pub_dt.tzinfo is None or not re.search(r"[+-]\d{2}:\d{2}$", a["published_at"]):
            err(aid, "published_at without explicit offset")
        elif a["published_at"][-6:] not in OFFSETS:
            err(aid, f"unexpected offset {a['published_at'][-6:]}")
        if not (dt.date(2025, 6, 1) <= pub_dt.date() <= dt.date(2025, 9, 30)):
            err(aid, f"published_at {pub_dt} outside 2025-06..2025-09")
        nwords = len(a["text"].split())
        if not 120 <= nwords <= 260:
            err(aid, f"text has {nwords} words (want 120-260)")
        if "\n\n" not in a["text"] or "\n\n\n" in a["text"]:
            err(aid, "paragraphs must be separated by exactly one blank line")
        if check_live_blog(a):
            live_blogs.append(aid)
        text = a["title"] + "\n" + a["text"]
        gold_numbers = set()
        for ev in a["events"]:
            et = ev.get("event_type")
            if et not in EVENT_KEYS:
                err(aid, f"event_type {et}")
                continue
            ev_counter[et] += 1
            if set(ev) != EVENT_KEYS[et]:
                err(aid, f"{et} keys differ: {sorted(set(ev) ^ EVENT_KEYS[et])}")
                continue
            try:
                dt.date.fromisoformat(ev["event_date"])
            except (ValueError, TypeError):
                err(aid, f"event_date {ev.get('event_date')!r}")
                continue
            rel = check_relative_date(a, ev)
            if rel:
                rel_counter[rel if rel.startswith("same") else rel.split(" (")[0]] += 1
                if not rel.startswith("same"):
                    notes.append(f"{aid} {et} event_date {ev['event_date']}: {rel}")
            for f, v in ev.items():
                if f in INT_FIELDS and v is not None:
                    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                        err(aid, f"{f}={v!r} not a non-negative int")
                        continue
                    gold_numbers.add(v)
                    how = supported(f, v, text)
                    if how is None:
                        err(aid, f"{et}.{f}={v} not supported by the text")
                    elif how != "literal":
                        derived.append(f"{aid} {et}.{f}={v} <- {how}")
            if et == "air_attack":
                if (
                    ev["attacker"] not in {"RUS", "UKR"}
                    or ev["target"] not in {"RUS", "UKR"}
                    or ev["attacker"] == ev["target"]
                ):
                    err(aid, "attacker/target")
                regs = ev["regions"]
                if not isinstance(regs, list) or regs != sorted(set(regs)):
                    err(aid, f"regions not a sorted unique list {regs}")
                    regs = []
                if not regs:
                    err(aid, "air_attack without regions")
                for r in regs:
                    if r not in REGIONS:
                        err(aid, f"region code {r} not in the dev-set list")
                    if ev["target"] == "UKR" and not r.startswith("UA-"):
                        err(aid, f"Russian region {r} in an attack on Ukraine")
                if ev["claimant"] not in CLAIMANTS:
                    err(aid, f"claimant {ev['claimant']!r}")
                counts = [ev[k] for k in AIR_ATTACK_FIELDS[2:8]]  # the launch and interception figures
                if ev["claimant"] is None and any(c is not None for c in counts):
                    err(aid, "launch/interception figures without a claimant")
                if ev["attacker"] == "UKR":
                    if ev["claimant"] != "Russian Defence Ministry":
                        err(aid, "UKR attack must be a Russian Defence Ministry claim")
                    if ev["drones_launched"] is not None:
                        err(aid, "Russian MoD claim: drones_launched must be null")
                if ev["drones_neutralized_total"] is not None and (
                    ev["drones_shot_down"] is not None or ev["drones_suppressed"] is not None
                ):
                    err(aid, "drones_neutralized_total together with a shot-down/suppressed split")
                dl = ev["drones_launched"]
                parts = sum(ev[k] or 0 for k in ("drones_shot_down", "drones_suppressed", "drones_neutralized_total"))
                if dl is not None and parts > dl:
                    err(aid, f"drones neutralised {parts} > launched {dl}")
                ml, ms = ev["missiles_launched"], ev["missiles_shot_down"]
                if ml is not None and ms is not None and ms > ml:
                    err(aid, "missiles shot down > launched")
            elif et in STATUS:
                if ev["status"] not in STATUS[et]:
                    err(aid, f"{et} status {ev['status']!r}")
            if et == "ceasefire" and not ISO3.match(ev["proposer"] or ""):
                err(aid, "ceasefire proposer must be ISO3")
            if et == "talks":
                p = ev["parties"] or []
                if p != sorted(set(p)) or not all(ISO3.match(x) for x in p) or len(p) < 2:
                    err(aid, f"talks parties {p}")
                if not ev["location"] or not re.search(rf"\b{re.escape(ev['location'])}\b", text):
                    err(aid, f"talks location {ev['location']!r} not in text")
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
    order = [a["story"] for a in arts]
    if order != sorted(order) or any(
        order.index(s) + len(g) - 1 != len(order) - 1 - order[::-1].index(s) for s, g in by_story.items()
    ):
        errors.append("ERROR lines are not grouped by story in label order")
    paraphrase_groups, copies = [], []
    for s, group in sorted(by_story.items()):
        texts = Counter((a["title"], a["text"]) for a in group)
        if any(c > 1 for c in texts.values()):
            copies.append(s)
        if len(group) > 1 and len(texts) == len(group):
            if len({a["outlet"] for a in group}) == len(group):
                paraphrase_groups.append((s, [a["id"] for a in group]))
            else:
                err(s, "multi-article story from a single outlet (update pair not intended here)")
        dates = defaultdict(set)
        for a in group:
            for ev in a["events"]:
                dates[ev["event_type"]].add(ev["event_date"])
        for et, ds in dates.items():
            if len(ds) > 1:
                err(s, f"story has {et} events on different dates {sorted(ds)}")
        if len(group) > 1 and len({tuple(sorted(e["event_type"] for e in a["events"])) for a in group}) > 1:
            err(s, "articles of one story report different event types")
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
                        if f == "regions" or ex[f] is None or ey.get(f) is None:
                            continue
                        if ex[f] != ey[f]:
                            err(s, f"paraphrases {x['id']}/{y['id']} disagree on {f}")
    for s, x, y, j in para_jacc:
        if j > 0.10:
            err(s, f"paraphrases {x}/{y} too similar (word-3 Jaccard {j:.3f})")
    # confounders: same drone count in different stories must have different dates
    conf = []
    air = [(a, ev) for a in arts for ev in a["events"] if ev["event_type"] == "air_attack"]
    for (a1, e1), (a2, e2) in itertools.combinations(air, 2):
        if a1["story"] == a2["story"]:
            continue
        for f in ("drones_launched", "drones_shot_down"):
            if e1[f] is not None and e1[f] == e2[f]:
                if e1["event_date"] == e2["event_date"]:
                    err(a1["id"], f"same {f} and date as {a2['id']} but different story")
                conf.append(
                    f"{a1['id']}({a1['story']},{e1['event_date']}) vs "
                    f"{a2['id']}({a2['story']},{e2['event_date']}): {f}={e1[f]}"
                )
    # nothing identical across stories, no near-duplicates across stories
    for x, y in itertools.combinations(arts, 2):
        if x["story"] != y["story"]:
            sx, sy = shingles(x["text"]), shingles(y["text"])
            j = len(sx & sy) / len(sx | sy)
            if j > 0.10:
                err(x["id"], f"near-duplicate of {y['id']} in another story (Jaccard {j:.3f})")

    # ---- originality against the dev set ----
    max_dev = (0.0, None, None)
    if DEVSET.exists():
        dev = [json.loads(line) for line in DEVSET.read_text(encoding="utf-8").splitlines() if line.strip()]

        def ngrams(t, n=8):
            w = re.findall(r"[a-z0-9]+", t.lower())
            return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}

        dev_8 = set().union(*(ngrams(d["title"] + " " + d["text"]) for d in dev))
        dev_sh = [(d["id"], shingles(d["text"])) for d in dev]
        dev_titles = {d["title"].lower() for d in dev}
        for a in arts:
            if a["title"].lower() in dev_titles:
                err(a["id"], "title identical to a dev-set title")
            shared = ngrams(a["title"] + " " + a["text"]) & dev_8
            if shared:
                err(a["id"], f"shares 8-word sequence(s) with the dev set: {[' '.join(g) for g in list(shared)[:3]]}")
            sa = shingles(a["text"])
            for did, sd in dev_sh:
                j = len(sa & sd) / len(sa | sd)
                if j > max_dev[0]:
                    max_dev = (j, a["id"], did)
        if max_dev[0] > 0.06:
            err(max_dev[1], f"word-3 Jaccard {max_dev[0]:.3f} with {max_dev[2]} (dev set) is too high")
    else:
        notes.append(f"dev set not found at {DEVSET}; originality check skipped")

    # ---- composition the README promises ----
    by_type = defaultdict(list)
    for a in arts:
        for et in {e["event_type"] for e in a["events"]}:
            by_type[et].append(a["id"])
    aa = [ev for _, ev in air]
    expect = {
        "articles": (len(arts), 24),
        "air_attack articles": (len(by_type["air_attack"]), 14),
        "Russian MoD claim articles": (sum(ev["attacker"] == "UKR" for ev in aa), 3),
        "ceasefire articles": (len(by_type["ceasefire"]), 3),
        "talks articles with an event": (len(by_type["talks"]), 2),
        "prisoner_exchange articles": (len(by_type["prisoner_exchange"]), 3),
        "articles without events": (sum(not a["events"] for a in arts), 2),
        "paraphrase pairs": (len(paraphrase_groups), 3),
        "syndicated copies": (len(copies), 0),
        "story labels": (len(by_story), 21),
        "multi-event articles": (sum(len(a["events"]) > 1 for a in arts), 0),
        "live blogs": (len(live_blogs), 1),
    }
    for k, (got, want) in expect.items():
        if got != want:
            errors.append(f"ERROR composition: {k} = {got}, expected {want}")
    statuses = Counter(e["status"] for a in arts for e in a["events"] if e["event_type"] == "prisoner_exchange")
    if set(statuses) != {"agreed", "completed"}:
        errors.append(f"ERROR composition: exchange statuses {dict(statuses)}")
    air_text = "\n".join(a["title"] + "\n" + a["text"] for a in arts if a["id"] in by_type["air_attack"])
    forms = {
        "'X of (the) Y'": r"\b\d+ of the \d+\b|\b(five|six) of the (seven|eight)\b",
        "'all but N of the M'": r"all but \w+ of the \d+",
        "'at least N'": r"at least \d+",
        "single casualty (a man was killed)": r"\ba \d+-year-old man was killed|\ba man was (killed|injured)",
        "vague amount": r"more than \d+ drones|dozens of|roughly \d+",
        "combined 'neutralised' total": r"neutralised \d+",
        "'late Sunday'": r"late Sunday",
        "'on Friday'": r"on Friday",
        "'overnight into Tuesday'": r"overnight into Tuesday",
        "number as a word": r"\b(eight|three|four|seven|six|five)\b (people|residents|Kh-101|Iskander|Kh-59)",
    }
    for k, rx in forms.items():
        if not re.search(rx, air_text):
            errors.append(f"ERROR composition: no air-attack article has {k}")
    if not conf:
        errors.append("ERROR composition: no same-count confounder")

    # ---- report ----
    print(f"file: {PATH}")
    print(f"articles: {len(arts)}; events: {sum(ev_counter.values())} {dict(ev_counter)}")
    print(f"articles with each event type: { {k: len(v) for k, v in by_type.items()} }")
    print(f"air attacks by attacker: {dict(Counter(ev['attacker'] for ev in aa))}")
    ceasefire_status = Counter(e["status"] for a in arts for e in a["events"] if e["event_type"] == "ceasefire")
    print(f"ceasefire status: {dict(ceasefire_status)}")
    print(f"exchange status: {dict(statuses)}")
    print(f"articles without events: {[a['id'] for a in arts if not a['events']]}")
    print(f"story labels: {len(by_story)}; paraphrase pairs: {paraphrase_groups}")
    print(f"live blogs: {live_blogs}")
    print("confounders (same drone count, different story and date):")
    for c in conf:
        print("   ", c)
    if para_jacc:
        print(f"max word-3 Jaccard between paraphrases: {max(j for *_, j in para_jacc):.3f}")
    if max_dev[1]:
        print(f"max word-3 Jaccard with any dev-set article: {max_dev[0]:.3f} ({max_dev[1]} vs {max_dev[2]})")
    print(f"event_date resolution: {dict(rel_counter)}")
    for n in notes:
        print("   ", n)
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
