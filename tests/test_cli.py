"""End to end: the `newsmon run` command on the bundled samples, bad input, bad usage, runners."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from helpers import CHECK_OUTPUT, SAMPLES, by_origin, newsmon, read_table

SAMPLE_ARGS = ["--input", str(SAMPLES / "articles"), "--feeds-file", str(SAMPLES / "feeds" / "feeds.opml")]
PORTABLE = ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"]


def summary_counts(stderr: str) -> dict[str, tuple[int, int, int]]:
    """The per-source table of the run summary: origin -> (read, articles, rejected)."""
    rows = re.findall(r"^  (\S.*?)\s+(\d+)\s+(\d+)\s+(\d+)$", stderr, re.MULTILINE)
    return {origin: (int(r), int(a), int(j)) for origin, r, a, j in rows}


def check_contract(out: Path) -> None:
    if not CHECK_OUTPUT.exists():
        pytest.skip(f"{CHECK_OUTPUT} is absent")
    done = subprocess.run([sys.executable, str(CHECK_OUTPUT), str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("samples") / "out"
    done = newsmon("run", *SAMPLE_ARGS, "--output", str(out))
    assert done.returncode == 0, done.stderr
    return out, done.stderr


def test_samples_run_meets_the_output_contract(sample_run):
    out, _ = sample_run
    check_contract(out)
    partitions = {p.name for p in (out / "articles").iterdir()}
    assert partitions and all(re.fullmatch(r"window_start=\d{8}T\d{6}Z", p) for p in partitions)


def listed_tables(stderr: str) -> set[str]:
    """The folders the summary's last line names."""
    return set(re.search(r"^output: (.*)$", stderr, re.MULTILINE).group(1).split())


def test_summary_names_the_tables_that_were_written(sample_run, bad_input_run):
    for out, stderr in (sample_run, bad_input_run[1:]):
        assert listed_tables(stderr) == {str(table) for table in out.iterdir()}
    assert not (sample_run[0] / "rejected").exists()  # the samples have nothing to reject


def test_samples_every_record_accounted_for(sample_run):
    out, stderr = sample_run
    articles = read_table(out, "articles")
    counts = summary_counts(stderr)
    # 18 articles in 14 files, 6 RSS items, 5 Atom entries (samples/README.md)
    assert counts[str(SAMPLES / "articles")][0] == 18
    assert {k.rsplit("/", 1)[-1]: v[0] for k, v in counts.items() if "feeds" in k} == {
        "kyiv-wire.rss": 6,
        "eastern-dispatch.atom": 5,
    }
    written = by_origin(articles)
    rejected = by_origin(read_table(out, "rejected")) if (out / "rejected").exists() else {}
    for origin, (read, n_articles, n_rejected) in counts.items():
        assert read == n_articles + n_rejected == written.get(origin, 0) + rejected.get(origin, 0), origin
    assert len({a["article_id"] for a in articles}) == len(articles)


def by_file(out: Path) -> dict[str, dict]:
    return {Path(a["source"]).name + (a["locator"] or ""): a for a in read_table(out, "articles")}


def test_samples_syndicated_copy_and_rewrites(sample_run):
    out, _ = sample_run
    articles = by_file(out)
    original = articles["2025-03-14_kyivwire_overnight-attack.txt"]
    copy = articles["2025-03-14_dniproherald_syndicated-wire.json"]
    rewrite = articles["2025-03-14_baltic-monitor_kharkiv-odessa-strikes.html"]
    assert copy["duplicate_of"] == original["article_id"] and copy["similarity"] == 1.0
    assert copy["url"] == "https://dniproherald.example/wire/2025/03/14/russia-fires-126-drones-four-ballistic-missiles"
    assert original["duplicate_of"] is None
    assert rewrite["duplicate_of"] is None  # a rewrite is not an exact copy: near-duplicates come later


def test_samples_normalized_fields(sample_run):
    out, _ = sample_run
    articles = by_file(out)
    assert {a["language"] for a in articles.values()} == {"en"}
    html = articles["2025-03-14_baltic-monitor_kharkiv-odessa-strikes.html"]
    assert html["outlet"] == "Baltic Monitor" and html["title"] and "Most read" not in html["text"]
    assert html["published_at"].isoformat() == "2025-03-14T08:05:00+00:00"
    no_header = articles["riga-tram-line.txt"]
    assert no_header["published_at"] is None and no_header["url"] is None  # windowed by ingestion time
    assert no_header["title"].startswith("Riga council approves")
    live = articles["2025-04-10_eastern-dispatch_kyiv-attack-live.md"]
    assert live["url"] == "https://eastern-dispatch.example/live/2025/04/10/kyiv-missile-drone-attack-live"
    assert "**" not in live["text"] and live["title"].startswith("LIVE:")
    dated = articles["2025-04-02_danube-ledger_zaporizhzhia-strike.txt"]
    assert dated["published_at"].isoformat() == "2025-04-02T00:00:00+00:00"  # a bare date is midnight UTC


def test_output_reads_in_duckdb_and_pyarrow(sample_run):
    out, _ = sample_run
    con = duckdb.connect()
    query = f"""
        SELECT window_start, count(*) AS n, count(duplicate_of) AS copies
        FROM read_parquet('{out}/articles/**/*.parquet', hive_partitioning=true)
        GROUP BY window_start ORDER BY window_start"""
    rows = con.sql(query).fetchall()
    assert sum(n for _, n, _ in rows) == len(read_table(out, "articles")) == 29
    assert sum(c for _, _, c in rows) == 1
    assert rows[0][0] == "20250310T060000Z"


BAD_FILES = {
    "empty.txt": b"",
    "photo.txt": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
    "latin1.txt": "Nachrichten aus Köln\n\nDie Straße war gesperrt, sagte die Polizei am Montag.".encode("latin-1"),
    "cp1252.md": "# “Smart quotes” – a dash\n\nThe mayor’s office said the café would reopen.".encode("cp1252"),
    "export.jsonl": b'{"text": "Sirens sounded across Chernihiv overnight."}\n{"text": "Truncated li\n'
    b'{"text": "Sirens sounded in Sumy as well.", "url": "https://x.example/sumy"}\n',
    "notes.pdf": b"%PDF-1.4\n" + bytes(range(256)) * 4,
}


@pytest.fixture(scope="module")
def bad_input_run(tmp_path_factory, feed_server):
    folder = tmp_path_factory.mktemp("bad")
    for name, data in BAD_FILES.items():
        (folder / name).write_bytes(data)
    with open(folder / "huge.txt", "wb") as f:  # 50 MB, sparse: size is known without reading it
        f.truncate(50 * 1024 * 1024)
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    (folder / "lol.rss").write_text(
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "ha">{lol}]><rss version="2.0"><channel>'
        "<title>t</title><item><title>&l9;</title></item></channel></rss>"
    )
    base = feed_server["base"]
    out = folder / "out"
    done = newsmon(
        "run",
        "--input",
        str(folder),
        *["--feed", f"{base}/feed.rss", "--feed", f"{base}/error", "--feed", f"{base}/loop"],
        *["--feed", feed_server["refused"], "--fetch-retries", "1", "--fetch-timeout", "2s"],
        "--output",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    return folder, out, done.stderr


def test_bad_input_is_rejected_with_reasons_and_nothing_is_lost(bad_input_run):
    _folder, out, stderr = bad_input_run
    check_contract(out)
    rejected = {(Path(r["source"]).name, r["locator"]): r for r in read_table(out, "rejected")}
    articles = read_table(out, "articles")
    reasons = {k: r["reason"] for k, r in rejected.items()}
    assert reasons[("empty.txt", None)] == "empty_text"
    assert reasons[("photo.txt", None)] == "not_text"
    assert reasons[("notes.pdf", None)] == "unsupported_format"
    assert reasons[("huge.txt", None)] == "too_large"
    assert reasons[("lol.rss", None)] == "malformed_feed"
    assert reasons[("export.jsonl", "line 2")] == "bad_json"
    fetch = {k[0]: r["detail"] for k, r in rejected.items() if r["reason"] == "fetch_failed"}
    assert fetch == {
        "error": "HTTP 500 (after 2 attempts)",
        "loop": "more than 5 redirects",
        "feed.rss": fetch["feed.rss"],
    }
    assert "connection failed" in fetch["feed.rss"]
    texts = {Path(a["source"]).name + (a["locator"] or ""): a["text"] for a in articles}
    assert texts["latin1.txt"] == "Die Straße war gesperrt, sagte die Polizei am Montag."
    assert "The mayor’s office" in texts["cp1252.md"]
    assert {"export.jsonlline 1", "export.jsonlline 3"} <= texts.keys()
    assert sum(1 for a in articles if a["outlet"] == "Loopback Wire") == 2
    read = sum(r for r, _, _ in summary_counts(stderr).values())
    assert read == len(articles) + len(rejected) == 6 + 9  # 2 files + 2 JSONL lines + 2 feed items; 9 rejects


@pytest.mark.parametrize(
    "args, message",
    [
        (["--input", "samples/articles", "--output", "o", "--bogus-flag", "1"], "unknown flag --bogus-flag"),
        (["--input", "samples/articles"], "--output is required"),
        (["--input", "no/such/*.txt", "--output", "o"], "--input no/such/*.txt: matches no file"),
        (["--output", "o"], "nothing to read"),
        (["--input", "samples/articles", "--output", "o", "--window", "soon"], "--window 'soon'"),
        (["--input", "samples/articles", "--output", "o", "--dedup-horizon", "forever"], "--dedup-horizon 'forever'"),
        (["--input", "samples/articles", "--output", "o", "--spacy-model", "no_such_model"], "not installed"),
        (["--input", "samples/articles", "--output", "o", "--lsh-partitions", "0"], "--lsh-partitions '0'"),
        (["--input", "samples/articles", "--output", "o", "--lsh-partitions", "many"], "--lsh-partitions 'many'"),
        (["--feeds-file", "samples/articles/riga-tram-line.txt", "--output", "o"], "line 1: "),
        (
            ["--input", "samples/articles", "--output", "o", "--streaming", "--prism_location=no/such/prism"],
            "make prism",
        ),
        (["--input", "samples/articles", "--output", "o", "--streaming", "--runner=FnApiRunner"], "PrismRunner"),
    ],
)
def test_bad_usage_exits_2_with_one_line(args, message):
    done = newsmon("run", *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("newsmon: error:"), done.stderr


def test_unknown_command_and_help():
    assert newsmon("frobnicate").returncode == 2
    helped = newsmon("run", "--help")
    assert helped.returncode == 0 and "--output" in helped.stdout


def comparable(out: Path, table: str) -> list[str]:
    rows = sorted(read_table(out, table), key=lambda r: json.dumps(r, default=str, sort_keys=True))
    return [json.dumps({k: v for k, v in r.items() if k != "ingested_at"}, default=str, sort_keys=True) for r in rows]


def test_same_rows_on_fnapi_and_portable_runner_and_across_runs(sample_run, tmp_path):
    out_fnapi, _ = sample_run
    runs = {"portable": PORTABLE, "fnapi-again": ["--runner=FnApiRunner"]}
    for name, runner in runs.items():
        done = newsmon("run", *SAMPLE_ARGS, "--output", str(tmp_path / name), *runner)
        assert done.returncode == 0, done.stderr
    # the one sample without a date is windowed by ingestion time, which may differ by run
    dated = [r for r in comparable(out_fnapi, "articles") if '"published_at": null' not in r]
    for name in runs:
        assert [r for r in comparable(tmp_path / name, "articles") if '"published_at": null' not in r] == dated
        assert comparable(tmp_path / name, "events") == comparable(out_fnapi, "events")
        files = sorted(p.name for p in (tmp_path / name / "articles").rglob("*.parquet"))
        assert files == sorted(p.name for p in (out_fnapi / "articles").rglob("*.parquet"))


def test_window_flag_sets_the_partition_length(tmp_path):
    done = newsmon("run", "--input", str(SAMPLES / "articles"), "--output", str(tmp_path), "--window", "1d")
    assert done.returncode == 0, done.stderr
    parts = [p.name for p in (tmp_path / "articles").iterdir()]
    assert parts and all(p.endswith("T000000Z") for p in parts)


def events_of(out: Path) -> list[dict]:
    return read_table(out, "events")


def latest(events: list[dict]) -> dict[str, dict]:
    """The latest version of each event, as readers are told to take it."""
    best: dict[str, dict] = {}
    for e in events:
        if e["event_id"] not in best or e["version"] > best[e["event_id"]]["version"]:
            best[e["event_id"]] = e
    return best


def test_samples_events(sample_run):
    out, stderr = sample_run
    articles = by_file(out)
    events = latest(events_of(out))
    attacks = {
        (e["event_date"].isoformat(), e["attacker"]): e for e in events.values() if e["event_type"] == "air_attack"
    }
    # Story A: two rewrites, the syndicated copy and the RSS brief are one event
    a = attacks[("2025-03-14", "RUS")]
    assert (a["drones_launched"], a["drones_shot_down"], a["drones_suppressed"]) == (126, 71, 48)
    assert (a["missiles_launched"], a["missiles_shot_down"], a["killed"], a["injured"]) == (4, 2, 3, 14)
    assert a["regions"] == ["UA-12", "UA-51", "UA-63"] and a["claimant"] == "Ukrainian Air Force"
    wanted = ["2025-03-14_kyivwire_overnight-attack.txt", "2025-03-14_dniproherald_syndicated-wire.json"]
    assert {articles[f]["article_id"] for f in wanted} <= set(a["article_ids"]) and a["source_count"] >= 3
    # Story B: another night with the same 126 drones is another event
    b = attacks[("2025-03-28", "RUS")]
    assert (b["drones_launched"], b["drones_shot_down"], b["drones_suppressed"]) == (126, 89, 30)
    assert b["event_id"] != a["event_id"]
    # the Russian claim is Ukraine attacking Russia
    f = attacks[("2025-03-20", "UKR")]
    assert (f["target"], f["drones_shot_down"], f["claimant"]) == ("RUS", 41, "Russian Defence Ministry")
    # the analysis piece and the tram story report no event
    for quiet in ("2025-04-05_baltic-monitor_analysis-drone-war.md", "riga-tram-line.txt"):
        assert not any(articles[quiet]["article_id"] in e["article_ids"] for e in events.values())
    # the exact copy reused its original's extraction: spaCy read every article but the copy
    assert "spaCy read 28 articles" in stderr


def test_samples_casualty_update_is_version_2(sample_run):
    out, _ = sample_run
    versions = sorted(
        (e for e in events_of(out) if e["event_type"] == "air_attack" and e["regions"] == ["UA-23"]),
        key=lambda e: e["version"],
    )
    assert [(v["version"], v["killed"], v["injured"]) for v in versions] == [(1, 9, 31), (2, 12, 44)]
    assert len({v["event_id"] for v in versions}) == 1
    assert versions[1]["updated_at"] > versions[0]["updated_at"] == versions[0]["first_seen_at"]


def test_samples_evidence_points_into_article_text(sample_run):
    out, _ = sample_run
    texts = {a["article_id"]: a["text"] for a in read_table(out, "articles")}
    for event in events_of(out):
        fields = {e["field"] for e in event["evidence"]}
        stated = {k for k in ("drones_launched", "killed", "regions", "status", "location") if event.get(k) is not None}
        assert stated <= fields, event["event_id"]
        for e in event["evidence"]:
            assert texts[e["article_id"]][e["start"] : e["end"]] == e["text"]


def test_events_read_latest_version_in_duckdb(sample_run):
    out, _ = sample_run
    rows = (
        duckdb.connect()
        .sql(f"""
        SELECT event_id, version, killed FROM read_parquet('{out}/events/**/*.parquet', hive_partitioning=true)
        QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY version DESC) = 1""")
        .fetchall()
    )
    assert len(rows) == len(latest(events_of(out))) and (12 in {k for _, _, k in rows})
