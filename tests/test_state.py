"""The output is the state: runs into an OUT that already holds tables continue it.

Real CLI runs on the bundled samples: a first run over part of them, a second over all of them
(overlapping), a third identical one; a run killed with SIGKILL, then run again. Compared with
one run over everything into a fresh folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import CHECK_OUTPUT, ROOT, SAMPLES, read_table

from transforms.state import lock_path

ARTICLES = SAMPLES / "articles"
ALL = ["--input", str(ARTICLES), "--feeds-file", str(SAMPLES / "feeds" / "feeds.opml")]
FIRST = [  # the first run's part: first reports whose rewrites, copies and updates come later
    "2025-03-14_kyivwire_overnight-attack.txt",  # its syndicated copy comes in the second run
    "2025-03-28_dniproherald_night-attack-126-drones.md",  # the feed's earlier report comes later
    "2025-04-02_danube-ledger_zaporizhzhia-strike.txt",  # 9 killed; 12 killed comes later (version 2)
    "2025-04-11_kyivwire_istanbul-talks-planned.txt",
    "riga-tram-line.txt",
]
RULES = """
destinations:
  console: {type: stdout}
  hook: {type: python, target: "alert_sink:record"}
rules:
  - name: deadly
    when: {event_type: air_attack, killed: {gte: 1}}
    notify: [console, hook]
    on: [new, updated]
  - name: deadly-new-only
    when: {event_type: air_attack, killed: {gte: 1}}
    notify: [console]
"""


def run(out: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", *args, "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done


def parquet_files(out: Path) -> set[str]:
    return {str(p.relative_to(out)) for p in out.rglob("*.parquet")}


def check_output(out: Path) -> None:
    if not CHECK_OUTPUT.exists():
        pytest.skip(f"{CHECK_OUTPUT} is absent")
    done = subprocess.run([sys.executable, str(CHECK_OUTPUT), str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def alert_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fresh") / "out"
    run(out, *ALL)
    return out


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory) -> dict:
    """First part, then everything (overlapping), then everything again, into one OUT, with
    alert rules (stdout and a python function that appends each payload to a file)."""
    base = tmp_path_factory.mktemp("three")
    out, rules, sink = base / "out", base / "rules.yaml", base / "sink.jsonl"
    rules.write_text(RULES)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent), ALERT_SINK=str(sink))
    first = run(out, *[a for f in FIRST for a in ("--input", str(ARTICLES / f))], "--alerts", str(rules), env=env)
    after_first = parquet_files(out)
    second = run(out, *ALL, "--alerts", str(rules), env=env)
    after_second = parquet_files(out)
    third = run(out, *ALL, "--alerts", str(rules), env=env)
    return {
        "out": out,
        "runs": [first, second, third],
        "files": [after_first, after_second, parquet_files(out)],
        "sink": [json.loads(line) for line in sink.read_text().splitlines()],
    }


def test_three_runs_meet_the_output_contract(three_runs):
    check_output(three_runs["out"])


def test_no_article_or_event_version_twice_and_the_rows_of_one_run(three_runs, fresh):
    out = three_runs["out"]
    articles, events = read_table(out, "articles"), read_table(out, "events")
    ids = [a["article_id"] for a in articles]
    assert len(ids) == len(set(ids))
    versions = [(e["event_id"], e["version"]) for e in events]
    assert len(versions) == len(set(versions))
    # the same articles and events as one run over everything; the same versions but where
    # a report that changes nothing came in a later run (rows in OUT are never rewritten)
    assert set(ids) == {a["article_id"] for a in read_table(fresh, "articles")}
    assert {e["event_id"] for e in events} == {e["event_id"] for e in read_table(fresh, "events")}


def test_the_second_run_counts_what_out_holds_and_the_third_is_a_no_op(three_runs):
    _, second, third = three_runs["runs"]
    assert "already in" in second.stderr and f": {len(FIRST)} articles" in second.stderr
    assert "already in" in third.stderr and ": 29 articles" in third.stderr  # 18 + 6 + 5
    assert "no rows, so no files" in third.stderr
    assert three_runs["files"][2] == three_runs["files"][1]  # not one file more
    assert not alert_lines(third.stdout)


def by_source(out: Path) -> dict[str, dict]:
    return {Path(a["source"]).name + (a["locator"] or ""): a for a in read_table(out, "articles")}


def test_copies_and_stories_continue_across_runs(three_runs):
    articles = by_source(three_runs["out"])
    original = articles["2025-03-14_kyivwire_overnight-attack.txt"]
    copy = articles["2025-03-14_dniproherald_syndicated-wire.json"]
    assert (copy["duplicate_of"], copy["exact_copy"], copy["similarity"]) == (original["article_id"], True, 1.0)
    # the copy and the feed's report (50 min before the first run's article) join its story
    assert copy["story_id"] == original["story_id"] == articles["kyiv-wire.rssentry 0"]["story_id"]
    # the feed's report of the 28 March night, read in the second run (and 50 min earlier than
    # the first run's report), joins the first run's story
    first_report = articles["2025-03-28_dniproherald_night-attack-126-drones.md"]
    assert articles["eastern-dispatch.atomentry 2"]["story_id"] == first_report["story_id"]


def test_a_known_event_keeps_its_id_and_gets_the_next_version(three_runs, fresh):
    def zaporizhzhia(out: Path) -> list[dict]:
        rows = [e for e in read_table(out, "events") if e["event_type"] == "air_attack" and e["killed"] in (9, 12)]
        return sorted(rows, key=lambda e: e["version"])

    continued, single = zaporizhzhia(three_runs["out"]), zaporizhzhia(fresh)
    assert [(e["version"], e["killed"]) for e in continued] == [(1, 9), (2, 12)]
    assert [e["event_id"] for e in continued] == [e["event_id"] for e in single]
    assert sorted(continued[1]["article_ids"]) == sorted(single[-1]["article_ids"])
    assert continued[1]["first_seen_at"] == continued[0]["first_seen_at"]


def test_alerts_continue_across_runs_new_then_updated(three_runs):
    first, second, _ = three_runs["runs"]
    lines = [(a["data"]["rule"], a["type"], a["data"]["event"]["killed"]) for a in alert_lines(first.stdout)]
    assert ("deadly", "event.new", 9) in lines and ("deadly-new-only", "event.new", 9) in lines
    later = [a for a in alert_lines(second.stdout) if a["data"]["event"]["killed"] in (9, 12)]
    # version 2 (12 killed) alerts again only for the rule with `updated`, listing what changed
    assert [(a["data"]["rule"], a["type"], a["data"]["event"]["version"]) for a in later] == [
        ("deadly", "event.updated", 2)
    ]
    assert "killed" in later[0]["data"]["changed"]
    # the python destination got the same payloads as stdout, once each
    sink = [
        (a["data"]["rule"], a["data"]["event"]["event_id"], a["data"]["event"]["version"]) for a in three_runs["sink"]
    ]
    assert len(sink) == len(set(sink))
    assert {k for k in sink} == {
        (a["data"]["rule"], a["data"]["event"]["event_id"], a["data"]["event"]["version"])
        for r in three_runs["runs"]
        for a in alert_lines(r.stdout)
        if a["data"]["rule"] == "deadly"
    }
    alerts = read_table(three_runs["out"], "alerts")
    assert {a["status"] for a in alerts} == {"delivered"}
    keys = [(a["webhook_id"], a["destination"]) for a in alerts]
    assert len(keys) == len(set(keys))


def test_a_run_killed_with_sigkill_is_completed_by_the_next(tmp_path, fresh):
    out = tmp_path / "out"
    args = [sys.executable, "-m", "pipeline.cli", "run", *ALL, "--output", str(out), "--window", "1m"]
    process = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 300
        while not list(out.glob("events/*/part-*.parquet")) and process.poll() is None:
            assert time.monotonic() < deadline, "no events file after 300 s"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # readable as it is (finished files only; articles are written after the events)
    partial = read_table(out, "events")
    assert partial and len({(e["event_id"], e["version"]) for e in partial}) == len(partial)
    run(out, *ALL, "--window", "1m")
    check_output(out)
    articles, events = read_table(out, "articles"), read_table(out, "events")
    assert sorted(a["article_id"] for a in articles) == sorted(a["article_id"] for a in read_table(fresh, "articles"))
    fresh_versions = sorted((e["event_id"], e["version"]) for e in read_table(fresh, "events"))
    assert sorted((e["event_id"], e["version"]) for e in events) == fresh_versions
    # articles read again, whose reports the events in OUT already hold, still get their stories
    stories = {a["article_id"]: a["story_id"] for a in read_table(fresh, "articles")}
    assert {a["article_id"]: a["story_id"] for a in articles} == stories


def test_two_runs_at_the_same_time_into_one_out_write_no_row_twice(tmp_path, fresh):
    """Overlapping inputs, started together: the second waits for the first (the run lock)
    and continues what it wrote."""
    out = tmp_path / "out"
    part = [a for f in FIRST for a in ("--input", str(ARTICLES / f))]
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "run", *args, "--output", str(out)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in (ALL, part)
    ]
    errors = [p.communicate(timeout=600)[1] for p in runs]
    assert [p.returncode for p in runs] == [0, 0], errors
    check_output(out)
    ids = [a["article_id"] for a in read_table(out, "articles")]
    assert sorted(ids) == sorted(a["article_id"] for a in read_table(fresh, "articles"))
    assert any("waiting for it to finish" in e for e in errors)
    assert not Path(lock_path(str(out))).exists()
