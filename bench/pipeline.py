"""End-to-end benchmark: the whole batch pipeline against a plain loop of the same functions.

    .venv/bin/python bench/pipeline.py [--articles 20000] [--runs 3] [--workers 1 2]

Corpus (deterministic, seed CORPUS_SEED): N articles of 300-600 words over 60 days (1 March to
29 April 2025), built from the project's own samples (samples/: the 18 articles and 11 feed
entries, parsed and cleaned by newsmon's own parsers). Each day has three stories (three
samples, drawn per day, the dates they state moved to that day); an original takes most
sentences of one of them (in order) and fills up with sentences of the other samples that state
no event (no number, no attack, casualty, ceasefire, talks or exchange word); ~10 % are exact
copies of a recent article under another URL and outlet (syndication), ~10 % edited copies (a
sentence dropped, an update line added: near-duplicates). JSONL files of 1,000 lines.

Each measurement runs in its own process:
  newsmon   `newsmon run --input IN --output OUT --alerts RULES` as the CLI assembles it
            (create_pipeline on FnApiRunner; with 2 workers `--direct_num_workers=2
            --direct_running_mode=multi_processing`), alerts to stdout; time per stage from
            Beam's own `ptransform_execution_time` metrics, summed per top-level transform
  loop      the same work with newsmon's own functions in a plain Python loop: parse_jsonl,
            normalize, the copy decisions of transforms.copies (versions, same article, same
            text, near-duplicates, apply marks), the extracting DoFn's own methods (nlp.pipe,
            extract_mentions, copies re-pointed), merge.fold per event key, the story rules of
            transforms.stories, the alert rules and stdout delivery of transforms.alerts, and
            WriteTable's Parquet writer; with 2 workers, a process pool of 2 for parse +
            normalize, extraction, merging and writing (each pool process loads spaCy once)
The runs are interleaved (run 1 of every configuration, then run 2, …) so a change in the
machine's load hits both sides alike; every figure is the median of --runs (3). Peak RSS is
the largest sum of the resident memory of the measured process and all its descendants,
sampled every 0.1 s. After each run the bench checks that both sides wrote the same articles/,
events/ and alerts/ (every column but ingested_at and the alerts' send times, ids and hour
folders) and the same alert lines on stdout; it stops with an error if they differ.

Prints a table and writes bench/results/pipeline.json: per worker count `articles_per_s`,
`baseline_articles_per_s`, `ratio` (newsmon / loop), `peak_rss_mb`, `baseline_peak_rss_mb`,
the seconds per stage of both sides, the CPU seconds of both (user + system, the process and
everything it waited for: less moved by other jobs than wall time, `cpu_ratio`), and the load
average (`uptime`) before each run: figures taken while other jobs share the cores are noise.
Develop at `--articles 5000`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "pipeline.json"
CORPUS_SEED = 20251128
START = datetime(2025, 3, 1, 4, 0, tzinfo=timezone.utc)
DAYS = 60
PER_FILE = 1000
NEWS_PER_DAY = 3  # stories a day: every original reports one of them
WINDOW_S = 3600  # newsmon's default --window
PLACES = ("Kyiv", "Dnipro", "Baltic", "Danube", "Eastern", "Carpathian", "Black Sea", "Lviv")
OUTLETS = [f"{place} {kind}" for place in PLACES for kind in ("Wire", "Herald", "Post", "Courier", "Ledger")]
RULES = """\
destinations:
  console: {type: stdout}
rules:
  - name: air-attacks
    when: {event_type: air_attack}
    notify: [console]
    on: [new, updated]
  - name: large-attacks
    when: {event_type: air_attack, drones_launched: {gte: 100}}
    notify: [console]
  - name: ceasefires
    when: {event_type: ceasefire}
    notify: [console]
    on: [new, updated]
"""
# Top-level transforms of create_pipeline -> the stage they belong to (time per stage)
STAGES = {
    "ReadArticles": "read+parse",
    "NormalizeArticles": "normalize",
    "MarkCopies": "copies",
    "ExtractEvents": "extraction",
    "MergeEvents": "merge",
    "AssignStories": "stories",
    "AlertOnEvents": "alerts",
    "WriteEvents": "write",
    "WriteArticles": "write",
    "WriteRejected": "write",
}


# --------------------------------------------------------------------------------- the corpus


def _samples() -> list[dict[str, Any]]:
    """The bundled samples (articles and feed entries) as newsmon parses and cleans them."""
    from transforms.formats import PARSERS, format_of
    from transforms.normalize import clean_text, parse_published

    found = []
    for folder in ("articles", "feeds"):
        for path in sorted((ROOT / "samples" / folder).iterdir()):
            data = path.read_bytes()
            fmt = format_of(str(path), data)
            if fmt not in PARSERS or path.suffix == ".opml":
                continue
            for r in PARSERS[fmt](data, str(path)):
                if isinstance(r, dict) and r.get("text"):
                    published = parse_published(r.get("published"))
                    day = published.date() if published else None
                    found.append({"title": r.get("title"), "text": clean_text(r["text"], r["html"]), "day": day})
    return found


_MONTHS = "January February March April May June July August September October November December".split()
_MONTH = "|".join(_MONTHS)
# "14 March", "6 to 7 April 2025", "March 14": a date the story states, moved with the article
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:( to )(\d{{1,2}}))? ({_MONTH})\b( 2025)?")
_MONTH_DAY = re.compile(rf"\b({_MONTH}) (\d{{1,2}})\b")
_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_WEEKDAY = re.compile(rf"\b({'|'.join(_WEEKDAYS)})\b")


def _moved(sentence: str, days: int) -> str:
    """The sentence with every date and weekday it states moved by `days` (2025), so that a story
    re-told on another day reports that day's events, not one event of the samples' for 60
    days ("the night from Thursday to Friday" of an article read a week later is another night)."""
    if not days:
        return sentence

    def move(day: str, month: str) -> tuple[int, str]:
        d = date(2025, _MONTHS.index(month) + 1, int(day)) + timedelta(days=days)
        return d.day, _MONTHS[d.month - 1]

    def day_month(m: re.Match) -> str:
        first, month = move(m.group(1), m.group(4))
        if m.group(3):
            last, month = move(m.group(3), m.group(4))
            return f"{first}{m.group(2)}{last} {month}{m.group(5) or ''}"
        return f"{first} {month}{m.group(5) or ''}"

    def month_day(m: re.Match) -> str:
        day, month = move(m.group(2), m.group(1))
        return f"{month} {day}"

    def weekday(m: re.Match) -> str:
        return _WEEKDAYS[(_WEEKDAYS.index(m.group(1)) + days) % 7]

    try:
        moved = _MONTH_DAY.sub(month_day, _DAY_MONTH.sub(day_month, sentence))
    except ValueError:  # not a date ("31 March" of another reading): left as it is
        moved = sentence
    return _WEEKDAY.sub(weekday, moved)


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[A-Z0-9\"“‘'(])")


def _sentences(text: str) -> list[str]:
    return [s.strip() for para in text.split("\n\n") for s in _SENTENCE_END.split(para) if s.strip()]


# what an event statement needs: a fill sentence has none of it (it adds words, not events)
_EVENTFUL = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?)\b|drone|missile|shahed"
    r"|kill|injur|dead|died|wound|ceasefire|truce|prisoner|exchange|talks|attack|strike|struck|shot|intercept",
    re.IGNORECASE,
)


def _words(sentences: list[str]) -> int:
    return sum(len(s.split()) for s in sentences)


def _text(sentences: list[str]) -> str:
    """Paragraphs of three sentences."""
    return "\n\n".join(" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3))


def build_corpus(n: int) -> list[dict[str, Any]]:
    """N article objects ({id, url, outlet, title, text, published_at}), the same for the same N."""
    rng = random.Random(CORPUS_SEED)
    samples = [(s["title"], _sentences(s["text"]), s["day"]) for s in _samples()]
    leads = [s for s in samples if _words(s[1]) >= 60]
    pool = [sentence for _, sents, _ in samples for sentence in sents if not _EVENTFUL.search(sentence)]
    made: list[dict[str, Any]] = []  # {"sentences", "title"} of the originals so far
    news: dict[int, list] = {}
    corpus = []
    step = DAYS * 86400 / max(n, 1)
    for i in range(n):
        published = START + timedelta(seconds=i * step + rng.randrange(int(step) + 1))
        outlet = OUTLETS[rng.randrange(len(OUTLETS))]
        roll = rng.random()
        if made and roll < 0.10:  # syndicated: the same text under another URL and outlet
            source = made[-1 - rng.randrange(min(len(made), 200))]
            title, sentences = source["title"], source["sentences"]
        elif made and roll < 0.20:  # edited copy: a sentence dropped, an update line added
            source = made[-1 - rng.randrange(min(len(made), 200))]
            sentences = list(source["sentences"])
            del sentences[1 + rng.randrange(len(sentences) - 1)]
            stamp = published.strftime("%H:%M")
            sentences.append(f"This story was updated at {stamp} with comment from {outlet}'s correspondents.")
            title = source["title"]
        else:  # an original: most of one of the day's stories, filled up with sentences of the others
            day = (published - START).days
            if day not in news:  # the day's news: three of the samples' stories
                news[day] = rng.sample(leads, NEWS_PER_DAY)
            title, story, told = news[day][rng.randrange(NEWS_PER_DAY)]
            shift = (published.date() - told).days if told else 0
            story = [_moved(sentence, shift) for sentence in story]
            keep = rng.uniform(0.55, 0.8)
            sentences = [story[0]] + [s for s in story[1:] if rng.random() < keep]
            target = rng.randint(300, 600)
            while _words(sentences) > target and len(sentences) > 2:
                sentences.pop()
            while _words(sentences) < target:
                sentences.insert(1 + rng.randrange(len(sentences)), pool[rng.randrange(len(pool))])
            made.append({"title": title, "sentences": sentences})
        slug = outlet.lower().replace(" ", "-")
        corpus.append(
            {
                "id": f"bench-{i}",
                "url": f"https://{slug}.example/news/{i}",
                "outlet": outlet,
                "title": title,
                "text": _text(sentences),
                "published_at": published.isoformat(),
            }
        )
    return corpus


def write_corpus(n: int, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    articles = build_corpus(n)
    for k in range(0, n, PER_FILE):
        lines = "\n".join(json.dumps(a, ensure_ascii=False) for a in articles[k : k + PER_FILE])
        (folder / f"part-{k // PER_FILE:04d}.jsonl").write_text(lines + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------ newsmon


def run_newsmon(inputs: Path, out: Path, rules: Path, workers: int) -> dict[str, float]:
    """The batch job as `newsmon run` assembles it; returns seconds per stage (Beam's metrics)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.assemble import create_pipeline
    from pipeline.options import check_beam_options, check_flags
    from pipeline.runners import choose_runner

    args = ["--input", str(inputs), "--output", str(out), "--alerts", str(rules)]
    if workers > 1:
        args += [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]
    options = PipelineOptions(check_flags(args))
    choose_runner(options)
    check_beam_options(options)
    result = create_pipeline(options).run()
    result.wait_until_finish()
    stages: dict[str, float] = defaultdict(float)
    for c in result.monitoring_metrics().query()["counters"]:
        if c.key.metric.name.endswith("ptransform_execution_time:total_msecs:v1") and c.key.step:
            top = c.key.step.split("/")[0]
            stages[STAGES.get(top, "other")] += (c.committed or c.attempted or 0) / 1000
    return dict(stages)


# --------------------------------------------------------------------------------- plain loop

_NLP: dict[str, Any] = {}


def _extractor() -> Any:
    """The extracting DoFn of ExtractEvents, set up once per process (spaCy loaded once)."""
    if "dofn" not in _NLP:
        from transforms.extract import _Extract

        dofn = _Extract(None)
        dofn.setup()
        _NLP["dofn"] = dofn
    return _NLP["dofn"]


def _parse_file(path: str, origin: str, ingested_at: datetime) -> list[Any]:
    from schemas import Rejected
    from transforms.formats import parse_jsonl
    from transforms.normalize import normalize

    rows = []
    for raw in parse_jsonl(Path(path).read_bytes(), path):
        if isinstance(raw, Rejected):
            rows.append(raw)
            continue
        raw.update(source=path, origin=origin, ingested_at=ingested_at)
        rows.append(normalize(raw))
    return rows


def _extract_batch(batch: list[dict], copies: dict[str, list[dict]]) -> list[dict]:
    return list(_extractor().process(batch, _Multimap(copies)))


class _Multimap(dict):
    """What AsMultiMap gives the DoFn: [] for a key without values."""

    def __missing__(self, key: str) -> list:
        return []


def _fold_keys(groups: list[tuple[str, list[dict]]]) -> list[Any]:
    from transforms.merge import fold

    return [out for key, mentions in groups for out in fold(key, mentions)]


def _write(table: str, out: str, chunks: list[tuple[str, list[dict]]]) -> int:
    from transforms.write import _WriteWindow

    writer = _WriteWindow(table, out)
    return sum(len(writer.write_rows(folder, rows)) for folder, rows in chunks)


def _copy_marks(rows: list[dict]) -> list[dict]:
    """MarkCopies' decisions, made by its own functions in dicts instead of shuffles."""
    import apache_beam as beam

    from transforms.copies import (
        BATCH,
        _apply_marks,
        _bucket_entries,
        _mark_same_text,
        _near_in_partition,
        _resolve_same_article,
        _versions,
    )

    size = BATCH["max_batch_size"]
    versions = [kv for k in range(0, len(rows), size) for kv in _versions(rows[k : k + size])]
    by_id: dict[str, list] = defaultdict(list)
    for aid, v in versions:
        by_id[aid].append(v)
    by_text: dict[str, list] = defaultdict(list)
    for aid, vs in by_id.items():
        for content, v in _resolve_same_article((aid, vs)):
            by_text[content].append(v)
    marked = [kv for content, vs in by_text.items() for kv in _mark_same_text((content, vs))]
    partitions: dict[int, list] = defaultdict(list)
    for k in range(0, len(marked), size):
        for p, chunk in _bucket_entries(marked[k : k + size], 1):
            partitions[p].append(chunk)
    near: dict[str, list] = defaultdict(list)
    for p, chunks in partitions.items():
        for aid, found in _near_in_partition((p, chunks)):
            near[aid].append(found)
    joined: dict[str, dict[str, list]] = defaultdict(lambda: {"rows": [], "versions": [], "near": []})
    for row in rows:
        joined[row["article_id"]]["rows"].append(row)
    for aid, v in marked:
        joined[aid]["versions"].append(v)
    for aid, found in near.items():
        joined[aid]["near"] += found
    return [r for kv in joined.items() for r in _apply_marks(kv) if not isinstance(r, beam.pvalue.TaggedOutput)]


def _stories(articles: list[dict], reports: list[tuple[str, tuple]], horizon: timedelta) -> list[dict]:
    """AssignStories' rules: each event's reports in time order (a new story after a silence of
    more than the horizon), the main event's story, fingerprint groups for the rest, per day."""
    from transforms.extract import reported_at
    from transforms.stories import _assign_day, _reports, follow, story_day

    by_article: dict[str, list] = defaultdict(list)
    for aid, report in reports:
        by_article[aid].append(report)
    by_event: dict[str, list] = defaultdict(list)
    for aid, rs in by_article.items():
        for tv in _reports((aid, rs)):
            event_id, (at, article_id, main) = tv.value
            by_event[event_id].append((at, article_id, event_id, main))
    leads: dict[str, list] = defaultdict(list)
    for pending in by_event.values():
        for at, article_id, story_id in follow(None, sorted(pending), horizon)[1]:
            leads[story_day(at)].append((article_id, story_id))
    days: dict[str, list] = defaultdict(list)
    for a in articles:
        days[story_day(reported_at(a))].append(a)
    return [a for day, rows in days.items() for a in _assign_day((day, {"articles": rows, "leads": leads[day]}))]


def _alerts(events: list[dict], rules_path: Path, out: Path) -> int:
    """AlertOnEvents' step per event, as the batch job runs it (`_AlertsOfEvent`): new /
    updated, changed fields, one delivery per rule and destination (stdout here), each
    delivery's rows written at once. The rows are handed over as they are (the batch job's
    grouping holds them packed)."""
    from transforms.alerts import _AlertsOfEvent
    from transforms.keyed import as_is
    from transforms.rules import load_rules

    alerter = _AlertsOfEvent(load_rules(str(rules_path)), str(out), WINDOW_S)
    alerter.setup()
    by_event: dict[str, list] = defaultdict(list)
    for row in events:
        by_event[row["event_id"]].append(("row", row["version"], row))
    sent = sum(len(alerter.alerts_of_event(values, as_is)) for _, values in sorted(by_event.items()))
    alerter.teardown()
    return sent


def run_loop(inputs: Path, out: Path, rules: Path, workers: int) -> dict[str, float]:
    """The pipeline's work with its own functions, no Beam runner; seconds per stage."""
    import apache_beam as beam
    from apache_beam.transforms.window import IntervalWindow

    from schemas import Rejected
    from transforms.copies import ORIGINAL_IN_OUT, is_exact_copy
    from transforms.extract import BATCH, _copy_fields
    from transforms.merge import REPORTS, merge_key
    from transforms.write import event_time, window_folder

    stages: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        stages[name] = stages.get(name, 0.0) + now - clock
        clock = now

    pool = None
    if workers > 1:
        from multiprocessing import get_context

        pool = get_context("spawn").Pool(workers, initializer=_extractor)

    def each(fn: Any, jobs: list[tuple]) -> list[Any]:
        return pool.starmap(fn, jobs) if pool else [fn(*job) for job in jobs]

    ingested_at = datetime.now(timezone.utc)
    files = sorted(str(p) for p in inputs.iterdir())
    parsed = [r for chunk in each(_parse_file, [(f, str(inputs), ingested_at) for f in files]) for r in chunk]
    rows = [r for r in parsed if not isinstance(r, Rejected)]
    assert len(rows) == len(parsed), "the corpus has no rejected records"
    lap("read+parse+normalize")

    articles = _copy_marks(rows)
    lap("copies")

    originals = [a for a in articles if not (is_exact_copy(a) and not a.get(ORIGINAL_IN_OUT))]
    copies: dict[str, list[dict]] = defaultdict(list)
    for a in articles:
        if is_exact_copy(a) and not a.get(ORIGINAL_IN_OUT):
            copies[a["duplicate_of"]].append(_copy_fields(a))
    size = BATCH["max_batch_size"] if workers == 1 else BATCH["max_batch_size"] // 2
    batches = [originals[k : k + size] for k in range(0, len(originals), size)]
    jobs = [(b, {a["article_id"]: copies[a["article_id"]] for a in b if a["article_id"] in copies}) for b in batches]
    mentions = [m for chunk in each(_extract_batch, jobs) for m in chunk]
    lap("extraction")

    by_key: dict[str, list] = defaultdict(list)
    for m in mentions:
        by_key[merge_key(m)].append(m)
    keys = sorted(by_key.items())
    outputs = [o for chunk in each(_fold_keys, [(keys[i::workers],) for i in range(workers)]) for o in chunk]
    events = [o for o in outputs if not isinstance(o, beam.pvalue.TaggedOutput)]
    reports = [o.value for o in outputs if isinstance(o, beam.pvalue.TaggedOutput) and o.tag == REPORTS]
    lap("merge")

    articles = _stories(articles, reports, timedelta(hours=72))
    lap("stories")

    _alerts(events, rules, out)
    lap("alerts")

    for table, table_rows in (("events", events), ("articles", articles)):
        windows: dict[str, list] = defaultdict(list)
        for row in table_rows:
            start = event_time(table, row).micros // 1_000_000 // WINDOW_S * WINDOW_S
            windows[window_folder(IntervalWindow(start, start + WINDOW_S))].append(row)
        chunks = sorted(windows.items())
        each(_write, [(table, str(out), chunks[i::workers]) for i in range(workers)])
    lap("write")
    if pool:
        pool.close()
        pool.join()
    return stages


# ---------------------------------------------------------------------------- checking output


def canonical(out: Path, alert_lines: Path) -> dict[str, Any]:
    """Row counts and a digest of each table (sorted rows; without the columns that hold the
    time of the run), and of the alert lines on stdout (without their send time)."""
    import pyarrow.dataset as ds

    # alerts are filed by the hour they were sent (window_start): not the same for two runs
    skip = {"articles": {"ingested_at"}, "events": set(), "alerts": {"alert_id", "sent_at", "window_start"}}
    found: dict[str, Any] = {}
    for table, dropped in skip.items():
        folder = out / table
        if not folder.exists():
            found[table] = {"rows": 0, "digest": None}
            continue
        t = ds.dataset(str(folder), format="parquet", partitioning="hive").to_table()
        rows = [{k: v for k, v in r.items() if k not in dropped} for r in t.to_pylist()]
        lines = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
        found[table] = {"rows": len(lines), "digest": hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]}
    alerts = []
    for line in alert_lines.read_text().splitlines():
        if line.startswith("{"):
            body = json.loads(line)
            body.pop("timestamp", None)
            alerts.append(json.dumps(body, sort_keys=True))
    alerts.sort()
    found["stdout_alerts"] = {
        "rows": len(alerts),
        "digest": hashlib.sha256("\n".join(alerts).encode()).hexdigest()[:16],
    }
    return found


# ------------------------------------------------------------------------------- measurement


def child(mode: str, inputs: Path, out: Path, rules: Path, workers: int, result_path: Path) -> None:
    from pipeline.malloc import tune_malloc

    tune_malloc()  # as `newsmon run` does first; both sides alike
    start = time.perf_counter()
    stages = run_newsmon(inputs, out, rules, workers) if mode == "newsmon" else run_loop(inputs, out, rules, workers)
    seconds = time.perf_counter() - start
    result_path.write_text(json.dumps({"seconds": seconds, "stages": stages}))


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (kB), from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as f:
                rss[int(entry)] = int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
        except (OSError, ValueError, IndexError):
            continue
        children[parent].append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total


def measure(mode: str, inputs: Path, rules: Path, workers: int, work: Path) -> dict[str, Any]:
    """One run in a fresh process: seconds, stages, peak RSS of its process tree, its output."""
    out = work / f"out-{mode}-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    result_path = work / "result.json"
    alert_lines = work / f"stdout-{mode}-{workers}.txt"
    load = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [sys.executable, __file__, "--child", mode, "--workers", str(workers)]
    cmd += ["--inputs", str(inputs), "--out", str(out), "--rules", str(rules), "--result", str(result_path)]
    with alert_lines.open("w") as stdout:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
        peak = [0]

        def sample() -> None:
            while proc.poll() is None:
                peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, stderr = proc.communicate()
        sampler.join()
    if proc.returncode != 0:
        sys.exit(f"{mode} run with {workers} worker(s) failed:\n{stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the run and every process it waited for
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    done = json.loads(result_path.read_text())
    done.update(
        cpu_seconds=cpu,
        peak_rss_mb=peak[0] / 1024,
        load_before=[round(x, 2) for x in load],
        output=canonical(out, alert_lines),
    )
    shutil.rmtree(out, ignore_errors=True)
    return done


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000, help="corpus size (develop at 5000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration; medians are reported")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to measure")
    parser.add_argument(
        "--write-corpus", type=Path, metavar="DIR", help="only write the corpus (and rules.yaml) into DIR"
    )
    parser.add_argument("--child", choices=["newsmon", "loop"], help=argparse.SUPPRESS)
    for hidden in ("--inputs", "--out", "--rules", "--result"):
        parser.add_argument(hidden, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.inputs, args.out, args.rules, args.workers[0], args.result)
        return
    if args.write_corpus:  # for profiling one side by hand (bench/RESULTS.md, "Where the time goes")
        write_corpus(args.articles, args.write_corpus / "in")
        (args.write_corpus / "rules.yaml").write_text(RULES)
        return

    with tempfile.TemporaryDirectory(prefix="newsmon-bench-") as tmp:
        work = Path(tmp)
        inputs, rules = work / "in", work / "rules.yaml"
        write_corpus(args.articles, inputs)
        rules.write_text(RULES)
        runs: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        for n in range(args.runs):
            for workers in args.workers:
                for mode in ("newsmon", "loop"):
                    r = measure(mode, inputs, rules, workers, work)
                    runs[(mode, workers)].append(r)
                    print(
                        f"run {n + 1}/{args.runs}  {mode:7} {workers} worker(s): {r['seconds']:7.1f} s "
                        f"({r['cpu_seconds']:.0f} s CPU) {r['peak_rss_mb']:7.0f} MB  load before {r['load_before']}",
                        file=sys.stderr,
                    )
                ours, theirs = runs[("newsmon", workers)][-1]["output"], runs[("loop", workers)][-1]["output"]
                if ours != theirs:
                    sys.exit(f"newsmon and the loop wrote different output ({workers} workers):\n{ours}\n{theirs}")

    n = args.articles
    result: dict[str, Any] = {
        "benchmark": "whole batch pipeline (newsmon run, alerts to stdout) vs the same functions in a plain loop",
        "articles": n,
        "runs": args.runs,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "command": " ".join(["bench/pipeline.py", *sys.argv[1:]]),
        "output": runs[("newsmon", args.workers[0])][0]["output"],
    }
    for workers in args.workers:
        ours, theirs = runs[("newsmon", workers)], runs[("loop", workers)]
        a, b = median_run(ours), median_run(theirs)
        stage_names = sorted({s for r in ours for s in r["stages"]})
        loop_names = sorted({s for r in theirs for s in r["stages"]})
        result[f"{workers}_worker{'s' if workers > 1 else ''}"] = {
            "articles_per_s": round(n / a["seconds"], 1),
            "baseline_articles_per_s": round(n / b["seconds"], 1),
            "ratio": round(b["seconds"] / a["seconds"], 3),
            "seconds": round(a["seconds"], 1),
            "baseline_seconds": round(b["seconds"], 1),
            # CPU seconds (user + system) of the process tree: less moved by other jobs than wall time
            "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in ours), 1),
            "baseline_cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in theirs), 1),
            "cpu_ratio": round(
                statistics.median(r["cpu_seconds"] for r in theirs) / statistics.median(r["cpu_seconds"] for r in ours),
                3,
            ),
            "peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in ours), 1),
            "baseline_peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in theirs), 1),
            "stage_seconds": {s: round(statistics.median(r["stages"].get(s, 0) for r in ours), 1) for s in stage_names},
            "baseline_stage_seconds": {
                s: round(statistics.median(r["stages"].get(s, 0) for r in theirs), 1) for s in loop_names
            },
            "all_seconds": [round(r["seconds"], 1) for r in ours],
            "baseline_all_seconds": [round(r["seconds"], 1) for r in theirs],
            "load_before_runs": [r["load_before"] for r in ours],
            "baseline_load_before_runs": [r["load_before"] for r in theirs],
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{n} articles, median of {args.runs} interleaved runs; output identical on both sides: {result['output']}")
    head = f"{'':10} {'newsmon art/s':>14} {'loop art/s':>11} {'ratio':>6} {'CPU ratio':>9}"
    print(f"{head} {'newsmon MB':>11} {'loop MB':>8}")
    for workers in args.workers:
        r = result[f"{workers}_worker{'s' if workers > 1 else ''}"]
        cells = (r["articles_per_s"], r["baseline_articles_per_s"], r["ratio"], r["cpu_ratio"])
        cells += (r["peak_rss_mb"], r["baseline_peak_rss_mb"])
        line = f"{cells[0]:>14} {cells[1]:>11} {cells[2]:>6} {cells[3]:>9} {cells[4]:>11} {cells[5]:>8}"
        print(f"{workers} worker(s) {line}")
        print(f"           newsmon s/stage: {r['stage_seconds']}")
        print(f"           loop s/stage:    {r['baseline_stage_seconds']}")
    print(f"-> {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
