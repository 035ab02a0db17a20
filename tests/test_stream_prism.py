"""A real streaming run on Prism, end to end.

A feed server on 127.0.0.1 publishes items over time; `newsmon run --streaming --alerts` polls
it every second on PrismRunner (the binary `make prism` builds), writes Parquet and posts
Standard Webhooks to a receiver on 127.0.0.1 (tests/test_alerts.Receiver, which verifies each
signature with the `standardwebhooks` package). The test checks the rows and the deliveries as
they come, kills the job's whole process group with SIGKILL, publishes more, starts it again on
the same OUT, and checks that nothing was lost and nothing is there twice — articles, event
versions, alerts — and that the restarted job continued what OUT holds: the next version of an
event written before (not version 1 again), its story, copies of articles written before. Then
it stops the job with SIGTERM, which ends it cleanly. Every wait has a deadline: the test
cannot hang.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from helpers import ROOT, read_table, serving
from test_alerts import ENV, Receiver, ok, webhook

from pipeline.runners import find_prism

PRISM = find_prism()
pytestmark = pytest.mark.skipif(PRISM is None, reason="no Prism binary: run `make prism` (make test does)")

DEADLINE_S = 240  # for one expected change to reach OUT (Prism and spaCy start in the first)

# Yesterday 05:00-09:00 UTC (08:00-12:00 in Kyiv): all on one Kyiv day, so "overnight" is one
# night; windows long closed, so the watermark (the clock) passes them at once; within the
# default 48 h allowed lateness.
BASE = datetime.now(timezone.utc).replace(hour=5, minute=0, second=0, microsecond=0) - timedelta(days=1)

ATTACK = (
    "Russia attacked Ukraine overnight with 126 Shahed-type drones and four Iskander-M ballistic missiles, "
    "the Air Force said on {day} morning. Air defence shot down 71 drones and two missiles. "
    "{killed} people were killed and 14 injured in the Kharkiv region."
)


class Feed:
    """An RSS feed whose items the test publishes over time; it answers conditional GETs (ETag)
    with 304, and can fail its first `fail_first` requests with 500."""

    def __init__(self, title: str, fail_first: int = 0):
        self.title = title
        self.items: dict[str, tuple[str, str, datetime]] = {}  # link -> (title, text, published)
        self.fail_first = fail_first
        self.requests = self.not_modified = self.failed = 0
        self.lock = threading.Lock()

    def publish(self, link: str, title: str, text: str, published: datetime) -> None:
        with self.lock:
            self.items[link] = (title, text, published)

    def body(self) -> bytes:
        with self.lock:
            items = sorted(self.items.items(), key=lambda kv: kv[1][2], reverse=True)
        xml = "".join(
            f"<item><title>{escape(t)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
            f"<pubDate>{format_datetime(p)}</pubDate><description>{escape(text)}</description></item>"
            for link, (t, text, p) in items
        )
        channel = f"<channel><title>{self.title}</title><link>http://127.0.0.1/</link>{xml}</channel>"
        return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0">{channel}</rss>'.encode()


@pytest.fixture
def feeds():
    feeds = {"/wire.rss": Feed("Loopback Wire"), "/flaky.rss": Feed("Flaky Post", fail_first=3)}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            feed = feeds.get(self.path)
            if feed is None:
                self.send_response(404)
                self.end_headers()
                return
            feed.requests += 1
            if feed.requests <= feed.fail_first:
                feed.failed += 1
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = feed.body()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                feed.not_modified += 1
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with serving(Handler) as base:
        yield {f"{base}{path}": feed for path, feed in feeds.items()}


def start(out: Path, urls: list[str], log: Path, rules: Path | None = None) -> subprocess.Popen:
    args = [sys.executable, "-m", "pipeline.cli", "run", "--streaming", "--output", str(out)]
    args += ["--alerts", str(rules)] if rules else []
    args += [a for url in urls for a in ("--feed", url)] + [
        "--poll-interval",
        "1s",
        "--window",
        "5s",
        f"--prism_location={PRISM}",
    ]
    return subprocess.Popen(
        args, cwd=ROOT, env=ENV, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


def kill_group(job: subprocess.Popen) -> None:
    """SIGKILL the job's process group (the CLI, Prism and its workers), if any is left."""
    try:
        os.killpg(job.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def rows(out: Path, table: str) -> list[dict]:
    return read_table(out, table) if (out / table).is_dir() else []


def wait_for(what: str, check, job: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if check():
            return
        if job.poll() is not None:
            pytest.fail(f"the job ended ({job.returncode}) before {what}:\n{log.read_text()[-3000:]}")
        time.sleep(1)
    kill_group(job)
    pytest.fail(f"no {what} after {DEADLINE_S}s:\n{log.read_text()[-3000:]}")


def texts(out: Path) -> list[str]:
    return [r["text"] for r in rows(out, "articles")]


def has_text(out: Path, *needles: str) -> bool:
    found = texts(out)
    return all(any(n in t for t in found) for n in needles)


@pytest.fixture
def receiver():
    receiver = Receiver(ok)
    yield receiver
    receiver.stop()


def test_a_stream_on_prism_survives_kill_9_and_loses_nothing(feeds, receiver, tmp_path):
    out, log, rules = tmp_path / "out", tmp_path / "job.log", tmp_path / "rules.yaml"
    rules.write_text(
        f"""
destinations:
  hook: {webhook(receiver.url)}
rules:
  - name: attacks
    when: {{event_type: air_attack}}
    notify: [hook]
    on: [new, updated]
"""
    )
    (wire_url, wire), (flaky_url, flaky) = feeds.items()
    day = (BASE + timedelta(hours=3)).strftime("%A")
    first = ATTACK.format(day=day, killed="Three")
    wire.publish("http://127.0.0.1/attack", "Overnight attack: 126 drones", first, BASE)
    library = "The national library put 40,000 pages of 19th-century newspapers online, librarians said."
    wire.publish("http://127.0.0.1/library", "Library scans", library, BASE + timedelta(minutes=10))
    flaky.publish("http://127.0.0.1/flaky-1", "Power back", "Engineers restored power in Poltava.", BASE)

    def alerted(version: int) -> bool:
        return any(g["payload"]["data"]["event"]["version"] == version for g in receiver.got)

    job = start(out, [wire_url, flaky_url], log, rules)
    try:
        wait_for("first two articles", lambda: has_text(out, "126 Shahed", "national library"), job, log)
        wait_for("the attack event", lambda: len(rows(out, "events")) >= 1, job, log)
        wait_for("the alert of its version 1", lambda: alerted(1), job, log)
        # the flaky feed failed its first polls (500), was retried at the next poll, and its item came
        wait_for("the flaky feed's item", lambda: has_text(out, "restored power in Poltava"), job, log)

        # a rewrite of the first item in place (same link, new text), a revised toll elsewhere,
        # and the library text syndicated by another outlet: a copy of an earlier poll's article
        rewrite = first + " Emergency crews worked through the night to clear the debris."
        wire.publish("http://127.0.0.1/attack", "Overnight attack: 126 drones (updated)", rewrite, BASE)
        revised = ATTACK.format(day=day, killed="Five")
        wire.publish("http://127.0.0.1/attack-toll", "Toll rises", revised, BASE + timedelta(hours=2))
        wire.publish("http://127.0.0.1/library-copy", "Library scans", library, BASE + timedelta(minutes=40))
        wait_for("the rewrite and the revised toll", lambda: has_text(out, "debris", "Five people"), job, log)
        wait_for("event version 2", lambda: any(r["version"] == 2 for r in rows(out, "events")), job, log)
        wait_for("the alert of version 2", lambda: alerted(2), job, log)
        wait_for("the library copy", lambda: texts(out).count(library) == 2, job, log)
    finally:
        kill_group(job)  # kill -9 the CLI, the Prism runner and the workers
        job.wait(timeout=30)

    before = rows(out, "articles")
    posts_before = len(receiver.got)
    # published while the job is down, and after it is back
    talks = "Delegations from Ukraine and Turkey met in Istanbul on Tuesday for talks on a prisoner exchange."
    wire.publish("http://127.0.0.1/talks", "Talks in Istanbul", talks, BASE + timedelta(hours=3))
    job = start(out, [wire_url, flaky_url], log, rules)
    try:
        wait_for("the item published during the outage", lambda: has_text(out, "Delegations from Ukraine"), job, log)
        # a third toll of the attack written before the kill, a copy of its second toll and an
        # edited copy of the library text: all continue what OUT holds
        third = ATTACK.format(day=day, killed="Seven")
        wire.publish("http://127.0.0.1/attack-toll-2", "Toll rises again", third, BASE + timedelta(hours=3))
        wire.publish("http://127.0.0.1/attack-copy", "Toll rises", revised, BASE + timedelta(hours=2, minutes=30))
        edited = library.replace("librarians said", "the librarians said on Monday")
        wire.publish("http://127.0.0.1/library-edit", "Library", edited, BASE + timedelta(hours=1))
        wire.publish("http://127.0.0.1/grain", "Grain", "A grain ship left Odesa port on Wednesday.", BASE)
        wait_for("the items published after the restart", lambda: has_text(out, "grain ship", "Seven people"), job, log)
        wait_for("the alert of version 3", lambda: alerted(3), job, log)
        wait_for("the copies", lambda: texts(out).count(revised) == 2 and has_text(out, "on Monday"), job, log)
        time.sleep(5)  # a few more polls: nothing already written may come again
    except BaseException:  # a wait_for that failed says why; a clean stop is not asked then
        kill_group(job)
        raise
    job.send_signal(signal.SIGTERM)  # Ctrl-C / SIGTERM stop the job cleanly
    try:
        assert job.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        kill_group(job)

    articles = rows(out, "articles")
    ids = [a["article_id"] for a in articles]
    assert len(ids) == len(set(ids)), "an article written twice"
    assert {a["article_id"] for a in before} <= set(ids), "an article lost"
    assert len(articles) == 11  # 10 items, the first in two versions
    first_row = next(a for a in articles if a["url"] == "http://127.0.0.1/attack" and a["text"] == first)
    edit = next(a for a in articles if "debris" in a["text"])
    assert edit["duplicate_of"] == first_row["article_id"] and edit["article_id"] != first_row["article_id"]
    assert 0.5 < edit["similarity"] < 1.0
    # copies across polls, before and across the restart
    by_url = {a["url"]: a for a in articles}
    library_row = by_url["http://127.0.0.1/library"]
    assert library_row["duplicate_of"] is None
    copy = by_url["http://127.0.0.1/library-copy"]
    assert (copy["duplicate_of"], copy["exact_copy"], copy["similarity"]) == (library_row["article_id"], True, 1.0)
    copy = by_url["http://127.0.0.1/attack-copy"]
    assert (copy["duplicate_of"], copy["exact_copy"]) == (by_url["http://127.0.0.1/attack-toll"]["article_id"], True)
    near = by_url["http://127.0.0.1/library-edit"]
    assert near["duplicate_of"] == library_row["article_id"] and not near["exact_copy"]
    assert 0.5 <= near["similarity"] < 1.0

    events = rows(out, "events")
    keys = [(e["event_id"], e["version"]) for e in events]
    assert len(keys) == len(set(keys)), "an event version written twice"
    attack = sorted((e for e in events if e["event_type"] == "air_attack"), key=lambda e: e["version"])
    tolls = [(e["version"], e["drones_launched"], e["killed"]) for e in attack]
    assert tolls == [(1, 126, 3), (2, 126, 5), (3, 126, 7)]
    assert len({e["event_id"] for e in attack}) == 1
    # the restarted job's report of the attack joined the attack's story
    assert by_url["http://127.0.0.1/attack-toll-2"]["story_id"] == first_row["story_id"] == attack[0]["story_id"]

    # one alert per event version, each delivered once, across the kill and the restart
    event_id = attack[0]["event_id"]
    expected = {f"attacks:{event_id}:{v}" for v in (1, 2, 3)}
    assert receiver.delivered() == dict.fromkeys(expected, 1)
    assert [g["payload"]["type"] for g in sorted(receiver.got, key=lambda g: g["id"])] == [
        "event.new",
        "event.updated",
        "event.updated",
    ]
    assert posts_before == 2
    recorded = rows(out, "alerts")
    assert sorted((a["webhook_id"], a["status"]) for a in recorded) == [(i, "delivered") for i in sorted(expected)]

    # conditional GET: unchanged feeds answered 304; the flaky feed's failures were retried
    assert wire.not_modified > 0 and flaky.failed == 3
    lines = log.read_text()
    assert "polled " + wire_url in lines and "not modified" in lines
    assert "failed (HTTP 500), retried next poll" in lines
    assert f"alert attacks:{event_id}:3 to hook: delivered after 1 attempt(s)" in lines
