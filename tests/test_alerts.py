"""Alert hooks: the rules file, and Standard Webhooks deliveries to real receivers on 127.0.0.1.

Receivers are real HTTP servers started here; they verify every signature with the
`standardwebhooks` package (not newsmon's code) and record what they got, and the assertions
are on that: no alert lost, none twice.
"""

from __future__ import annotations

import base64
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import ROOT, SAMPLES, SHARED_DATA, read_table
from standardwebhooks.webhooks import Webhook

from transforms.rules import RulesError, load_rules

SECRET = "whsec_" + base64.b64encode(b"newsmon test secret, 32 bytes!!").decode()
ENV = dict(os.environ, NEWSMON_WEBHOOK_SECRET=SECRET)
TWO_ATTACKS = [  # two nights with 126 drones each: two events that match `drones_launched >= 100`
    "--input",
    str(SAMPLES / "articles" / "2025-03-14_kyivwire_overnight-attack.txt"),
    "--input",
    str(SAMPLES / "articles" / "2025-03-28_dniproherald_night-attack-126-drones.md"),
]


class Receiver:
    """A webhook receiver on 127.0.0.1. `script(webhook_id, n)` -> (status, headers) for the
    n-th request (from 1) with that id; None: never answer (hold the connection)."""

    def __init__(self, script, port: int = 0, start: bool = True, delay: float = 0):
        self.script = script
        self.delay = delay  # seconds before answering; a sender gone meanwhile got no answer
        self.got: list[dict] = []  # every request: id, status answered, verified payload
        self.release = threading.Event()
        self._counts: Counter = Counter()
        self._lock = threading.Lock()
        self.port = port or free_port()
        self.server = None
        if start:
            self.start()

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                msg_id = self.headers["webhook-id"]
                payload = Webhook(SECRET).verify(body, dict(self.headers))  # raises if the signature is wrong
                if receiver.delay:
                    time.sleep(receiver.delay)
                    if sender_gone(self.connection):  # killed meanwhile: it never got an answer
                        receiver.got.append({"id": msg_id, "status": None, "payload": payload})
                        return
                with receiver._lock:
                    receiver._counts[msg_id] += 1
                    answer = receiver.script(msg_id, receiver._counts[msg_id])
                    receiver.got.append({"id": msg_id, "status": answer and answer[0], "payload": payload})
                if answer is None:
                    receiver.release.wait(60)
                    return
                status, headers = answer
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def delivered(self) -> Counter:
        """webhook-id -> how many times it was answered 2xx."""
        return Counter(g["id"] for g in self.got if g["status"] and 200 <= g["status"] < 300)

    def stop(self) -> None:
        self.release.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def sender_gone(connection: socket.socket) -> bool:
    """Whether the peer closed the connection (a killed process's sockets are closed)."""
    ready, _, _ = select.select([connection], [], [], 0)
    return bool(ready) and connection.recv(1, socket.MSG_PEEK) == b""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ok(_id, _n):
    return 200, {}


def newsmon_run(out: Path, rules: Path, *inputs: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", *inputs, "--output", str(out), "--alerts", str(rules)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=ENV,
    )
    assert done.returncode == 0, done.stderr
    return done


def webhook(url: str, timeout: float = 2, deadline: float = 15) -> str:
    return (
        f'{{type: webhook, url: "{url}", secret_env: NEWSMON_WEBHOOK_SECRET, timeout: {timeout}, deadline: {deadline}}}'
    )


# ------------------------------------------------------------------------------------ faults


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    """Two runs of the same two attacks, each alerting five receivers (one rule):
    a-busy (429 Retry-After: 1, then 200), b-downup (refused until shortly after a-busy's 200),
    c-flaky (500, 500, 200), d-gone (410), e-hang (never answers in the first run; 200 in the
    second)."""
    base = tmp_path_factory.mktemp("faults")
    out, rules = base / "out", base / "rules.yaml"
    hang_answers = threading.Event()
    busy = Receiver(lambda i, n: (429, {"Retry-After": "1"}) if n == 1 else (200, {}))
    downup = Receiver(ok, start=False)
    flaky = Receiver(lambda i, n: (500, {}) if n <= 2 else (200, {}))
    gone = Receiver(lambda i, n: (410, {}))
    hang = Receiver(lambda i, n: (200, {}) if hang_answers.is_set() else None)

    def bring_up():  # up 1 s after a-busy's first 200: b-downup's first attempt is refused
        while not busy.delivered():
            time.sleep(0.01)
        time.sleep(1.0)
        downup.start()

    threading.Thread(target=bring_up, daemon=True).start()
    rules.write_text(
        f"""
destinations:
  a-busy: {webhook(busy.url)}
  b-downup: {webhook(downup.url)}
  c-flaky: {webhook(flaky.url)}
  d-gone: {webhook(gone.url)}
  e-hang: {webhook(hang.url, timeout=1, deadline=2.5)}
rules:
  - name: large-drone-attack
    when: {{event_type: air_attack, drones_launched: {{gte: 100}}}}
    notify: [a-busy, b-downup, c-flaky, d-gone, e-hang]
"""
    )
    receivers = {"a-busy": busy, "b-downup": downup, "c-flaky": flaky, "d-gone": gone, "e-hang": hang}
    first = newsmon_run(out, rules, *TWO_ATTACKS)
    got_first = {name: list(r.got) for name, r in receivers.items()}
    alerts_first = read_table(out, "alerts")
    hang.release.set()
    hang_answers.set()
    second = newsmon_run(out, rules, *TWO_ATTACKS)
    yield {
        "out": out,
        "receivers": receivers,
        "got_first": got_first,
        "alerts_first": alerts_first,
        "runs": (first, second),
    }
    for r in receivers.values():
        r.stop()


def ids_of(faults) -> set[str]:
    return {g["id"] for g in faults["receivers"]["c-flaky"].got}


def test_two_events_two_alerts_with_the_idempotency_key(faults):
    ids = ids_of(faults)
    assert len(ids) == 2 and all(i.startswith("large-drone-attack:") and i.endswith(":1") for i in ids)
    payloads = [g["payload"] for g in faults["receivers"]["c-flaky"].got]
    assert {p["type"] for p in payloads} == {"event.new"}
    assert {p["data"]["event"]["drones_launched"] for p in payloads} == {126}
    assert all(p["data"]["rule"] == "large-drone-attack" and p["data"]["changed"] == [] for p in payloads)


def test_500_twice_then_200_is_delivered_once_after_three_attempts(faults):
    flaky = faults["receivers"]["c-flaky"]
    assert flaky.delivered() == dict.fromkeys(ids_of(faults), 1)
    assert Counter(g["id"] for g in flaky.got) == dict.fromkeys(ids_of(faults), 3)  # nothing in the second run
    rows = [a for a in faults["alerts_first"] if a["destination"] == "c-flaky"]
    for msg_id in ids_of(faults):
        mine = sorted((a["attempts"], a["status"], a["response_code"]) for a in rows if a["webhook_id"] == msg_id)
        assert mine == [(1, "failed", 500), (2, "failed", 500), (3, "delivered", 200)]


def test_429_waits_for_retry_after_then_delivers(faults):
    busy = faults["receivers"]["a-busy"]
    assert busy.delivered() == dict.fromkeys(ids_of(faults), 1)
    rows = sorted(
        (a["webhook_id"], a["attempts"], a["sent_at"]) for a in faults["alerts_first"] if a["destination"] == "a-busy"
    )
    for (id1, n1, t1), (id2, n2, t2) in zip(rows[::2], rows[1::2], strict=True):
        assert id1 == id2 and (n1, n2) == (1, 2)
        assert (t2 - t1).total_seconds() >= 1.0  # Retry-After: 1 honoured


def test_a_destination_down_at_first_then_up_gets_each_alert_once(faults):
    downup = faults["receivers"]["b-downup"]
    assert downup.delivered() == dict.fromkeys(ids_of(faults), 1)
    assert len(downup.got) == 2
    refused = [a for a in faults["alerts_first"] if a["destination"] == "b-downup" and a["status"] == "failed"]
    assert refused and all(a["response_code"] is None and "ConnectionError" in a["error"] for a in refused)


def test_410_disables_the_destination_for_the_run(faults):
    gone = faults["receivers"]["d-gone"]
    first = faults["got_first"]["d-gone"]
    assert len(first) == 1 and first[0]["status"] == 410  # the second alert was not sent to it
    rows = [a for a in faults["alerts_first"] if a["destination"] == "d-gone"]
    assert len(rows) == 2 and {(a["status"], a["response_code"]) for a in rows} == {("failed", None), ("failed", 410)}
    assert any("disabled" in (a["error"] or "") for a in rows)
    assert len(gone.got) == 2  # the next run tries it again (once: it is disabled again)
    assert not gone.delivered()


def test_a_receiver_that_never_answers_gets_the_alerts_in_the_next_run(faults):
    hang = faults["receivers"]["e-hang"]
    first = faults["got_first"]["e-hang"]
    assert first and all(g["status"] is None for g in first)
    failed = [a for a in faults["alerts_first"] if a["destination"] == "e-hang"]
    assert failed and {a["status"] for a in failed} == {"failed"} and all("Timeout" in a["error"] for a in failed)
    assert hang.delivered() == dict.fromkeys(ids_of(faults), 1)  # by the second run
    alerts = read_table(faults["out"], "alerts")
    delivered = [a for a in alerts if a["destination"] == "e-hang" and a["status"] == "delivered"]
    last_failed = {a["webhook_id"]: a["attempts"] for a in failed}
    assert all(a["attempts"] > last_failed[a["webhook_id"]] for a in delivered)  # attempts counted on


def test_every_attempt_is_a_row_and_nothing_was_sent_twice(faults):
    alerts = read_table(faults["out"], "alerts")
    for name, receiver in faults["receivers"].items():
        assert len([a for a in alerts if a["destination"] == name and a["response_code"] is not None]) == len(
            [g for g in receiver.got if g["status"] is not None]
        ), name
        assert all(count == 1 for count in receiver.delivered().values()), name
    assert len({a["alert_id"] for a in alerts}) == len(alerts)
    assert "alert attempts:" in faults["runs"][0].stderr


# ------------------------------------------------------------------------------------- seeds


@pytest.mark.skipif(not (SHARED_DATA / "seeds").is_dir(), reason=f"{SHARED_DATA / 'seeds'} is absent")
def test_five_seeds_three_posts_and_none_on_a_second_run(tmp_path):
    receiver = Receiver(ok)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        f"""
destinations:
  ops: {webhook(receiver.url)}
rules:
  - name: large-drone-attack
    when: {{event_type: air_attack, drones_launched: {{gte: 100}}}}
    notify: [ops]
"""
    )
    try:
        newsmon_run(tmp_path / "out", rules, "--input", str(SHARED_DATA / "seeds"))
        events = [g["payload"]["data"]["event"] for g in receiver.got]
        assert len(receiver.got) == 3 and receiver.delivered() == {g["id"]: 1 for g in receiver.got}
        # the 12 May night, the 19-20 May night (reported twice: one event), the 273-drone night
        assert sorted((e["drones_launched"], e["source_count"]) for e in events) == [(108, 1), (108, 2), (273, 1)]
        newsmon_run(tmp_path / "out", rules, "--input", str(SHARED_DATA / "seeds"))
        assert len(receiver.got) == 3
    finally:
        receiver.stop()


# ----------------------------------------------------------------------------------- SIGKILL


def test_sigkill_during_deliveries_then_rerun_sends_each_alert_once(tmp_path):
    receiver = Receiver(ok, delay=1.5)
    out, rules = tmp_path / "out", tmp_path / "rules.yaml"
    rules.write_text(
        f"""
destinations:
  ops: {webhook(receiver.url, timeout=5, deadline=20)}
rules:
  - name: any-attack
    when: {{event_type: air_attack}}
    notify: [ops]
"""
    )
    inputs = ["--input", str(SAMPLES / "articles"), "--feeds-file", str(SAMPLES / "feeds" / "feeds.opml")]
    args = [sys.executable, "-m", "pipeline.cli", "run", *inputs, "--output", str(out), "--alerts", str(rules)]
    process = subprocess.Popen(
        args, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 300
        while not list(out.glob("alerts/*/part-*.parquet")):
            assert process.poll() is None and time.monotonic() < deadline, "no alert written before the run ended"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    sent_before = len(receiver.got)
    try:
        assert not (out / "articles").exists()  # articles are written after the events, after the alerts
        newsmon_run(out, rules, *inputs)
        events = read_table(out, "events")
        attacks = {(e["event_id"], e["version"]) for e in events if e["event_type"] == "air_attack"}
        expected = {f"any-attack:{event_id}:{version}" for event_id, version in attacks if version == 1}
        assert sent_before < len(expected)  # the kill came half-way
        assert receiver.delivered() == dict.fromkeys(expected, 1)  # none lost, none twice
    finally:
        receiver.stop()


# ------------------------------------------------------------------------------- rules file

GOOD = """
destinations:
  ops: {type: webhook, url: "https://hooks.example.org/newsmon", secret_env: NEWSMON_WEBHOOK_SECRET}
  console: {type: stdout}
  custom: {type: python, target: "json:dumps"}
rules:
  - name: large-drone-attack
    when: {event_type: air_attack, drones_launched: {gte: 100}}
    notify: [ops, console]
  - name: kyiv
    when: {regions: {contains: UA-30}, killed: {gt: 0}, event_type: {in: [air_attack]}}
    notify: [custom]
    on: [new, updated]
"""


def test_the_designs_rules_file_loads(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD)
    rules = load_rules(str(path), {"NEWSMON_WEBHOOK_SECRET": SECRET})
    assert [r.name for r in rules.rules] == ["large-drone-attack", "kyiv"]
    big, kyiv = rules.rules
    assert big.matches({"event_type": "air_attack", "drones_launched": 100})
    assert not big.matches({"event_type": "air_attack", "drones_launched": 99})
    assert not big.matches({"event_type": "air_attack", "drones_launched": None})
    assert kyiv.matches({"event_type": "air_attack", "regions": ["UA-30", "UA-32"], "killed": 1})
    assert not kyiv.matches({"event_type": "air_attack", "regions": ["UA-32"], "killed": 1})
    assert kyiv.on == {"new", "updated"} and big.on == {"new"}


@pytest.mark.parametrize(
    ("edit", "line", "problem"),
    [
        (("gte: 100}", "gte: 100"), 9, "not valid YAML"),
        (("type: stdout", "type: sms"), 4, "unknown type 'sms'"),
        (("drones_launched: {gte", "drones_lunched: {gte"), 8, "unknown events column 'drones_lunched'"),
        (("{gte: 100}", "{gtee: 100}"), 8, "unknown operator 'gtee'"),
        (("{gte: 100}", "{gte: many}"), 8, "'many' is not a value of it"),
        (("notify: [ops, console]", "notify: [ops, pager]"), 9, "'pager', which is not under destinations"),
        (("    on: [new, updated]", "    on: [new, changed]"), 13, "unknown 'changed'"),
        (("  - name: kyiv", "  - name: kyiv\n    severity: high"), 11, "unknown key 'severity'"),
        (("json:dumps", "nosuchmodule_xyz:run"), 5, "cannot be imported"),
    ],
)
def test_a_bad_rules_file_names_the_line_and_the_problem(tmp_path, edit, line, problem):
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD.replace(*edit))
    with pytest.raises(RulesError) as caught:
        load_rules(str(path), {"NEWSMON_WEBHOOK_SECRET": SECRET})
    assert str(caught.value).startswith(f"{path}:{line}: ") and problem in str(caught.value), str(caught.value)


def test_an_unset_secret_exits_2_with_one_line_before_any_work(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD)
    env = {k: v for k, v in os.environ.items() if k != "NEWSMON_WEBHOOK_SECRET"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "run",
            *TWO_ATTACKS,
            "--output",
            str(tmp_path / "out"),
            "--alerts",
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"newsmon: error: {path}:3: destination 'ops': environment variable NEWSMON_WEBHOOK_SECRET is not set"
    ]
    assert not (tmp_path / "out").exists()
    bad = dict(env, NEWSMON_WEBHOOK_SECRET="hunter2")
    with pytest.raises(RulesError, match="not a Standard Webhooks secret"):
        load_rules(str(path), bad)
