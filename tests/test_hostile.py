"""Hostile input (issue 11): one bad record never sinks a run, every read is bounded.

The table CASES builds each hostile input in its own folder (its own --input, so the run
summary has a row per case); HTTP_CASES are feeds served by a real server on 127.0.0.1 that
this module starts. ONE `newsmon run` reads them all (a few seconds instead of one run per
case) and every case is then checked on its own: which rows it produced (articles, rejected
reason codes) and that its summary row balances (read = articles + rejected). Bad usage is a
table of command lines with the exit status and the one line they must give.
"""

from __future__ import annotations

import gzip
import http.server
import json
import os
import threading
import time
import tracemalloc
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import ClassVar

import pytest
from helpers import newsmon, read_table, serving
from test_cli import summary_counts

from transforms.bounded import TooLarge
from transforms.fetch import FetchConfig, FetchFailed, NotAFile, fetch_url, read_file
from transforms.formats import decode_text, parse_feed
from transforms.published import parse_published
from transforms.read import parse_isolated

UKRAINIAN = "Росія атакувала Україну ударними дронами вночі, повідомили у Повітряних силах. " * 12
ENGLISH = "Russia launched 48 drones at Ukraine overnight, the air force said on Monday morning."
MAX_BYTES = 2 * 1024 * 1024  # the run's --max-bytes
DEADLINE_S = 4  # the run's --fetch-deadline


def rss(items: str, doctype: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{doctype}<rss version="2.0"><channel><title>Hostile Wire</title>'
        f"{items}</channel></rss>"
    ).encode()


def item(n: int, pub: str = "Mon, 05 May 2025 06:00:00 +0000", tag: str = "r") -> str:
    """An RSS item; `tag` keeps items of different cases apart (ids are hashes of the link)."""
    return (
        f"<item><title>Report {n}</title><link>http://127.0.0.1/{tag}/{n}</link><pubDate>{pub}</pubDate>"
        f"<description>{ENGLISH} Item {n} of {tag}.</description></item>"
    )


def english(tag: str) -> bytes:
    """A distinct English article per case (equal texts would be one article, read twice)."""
    return f"Report from {tag}\n\n{ENGLISH} ({tag})".encode()


def billion_laughs_one_per_line() -> bytes:
    lines = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return rss(
        "<item><title>x</title><description>&lol9;</description></item>",
        "<!DOCTYPE rss [\n" + "\n".join(lines) + "\n]>\n",
    )


def quadratic_blowup() -> bytes:
    doctype = '<!DOCTYPE rss [\n<!ENTITY a "' + "a" * 20_000 + '">\n]>\n'
    return rss(f"<item><title>x</title><description>{'&a;' * 20_000}</description></item>", doctype)


def gzip_of_zeros(megabytes: int) -> bytes:
    """A gzip stream of `megabytes` MB of zeros, built 1 MB at a time (about 1 kB per MB)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    return b"".join([*(z.compress(block) for _ in range(megabytes)), z.flush()])


def stray_ff() -> bytes:
    data = ("Заголовок\n\n" + UKRAINIAN).encode()
    cut = data.index(b" ", 300)  # between two characters, not inside one
    return data[:cut] + b"\xff" + data[cut:]


def jsonl(*lines: object) -> bytes:
    return "".join((x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n" for x in lines).encode()


BAD_DATES = [
    "2025-05-01T06:00:00+25:00",
    "2025-05-01T06:00:00-24:00",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:00:00-01:00",
    "Mon, 01 Jan 0001 00:00:00 +0100",
]


HTML_PAGE = (
    '<html><head><title>Drones</title><meta property="article:published_time" content="{published}"></head>'
    "<body><article><h1>Drones</h1><p>{body}</p><p>{body} (html)</p><p>{body}</p></article></body></html>"
)


@dataclass
class Case:
    """Files to write into the case's folder (name -> bytes, or a callable that makes the entry
    at the given path), and what must come out: counts of articles and of rejection reasons."""

    name: str
    files: dict[str, bytes | Callable[[Path], None]]
    articles: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


def fifo(path: Path) -> None:
    os.mkfifo(path)


def link_to(target: str) -> Callable[[Path], None]:
    return lambda path: os.symlink(target, path)


CASES = [
    Case("empty", {"empty.txt": b""}, rejected={"empty_text": 1}),
    Case("whitespace", {"blank.txt": b"  \n\t\r\n   \n", "blank.md": b"\n\n \n"}, rejected={"empty_text": 2}),
    Case("binary-as-text", {"photo.txt": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8}, rejected={"not_text": 1}),
    Case("utf16-bom", {"a.txt": ("Title\n\n" + UKRAINIAN).encode("utf-16")}, articles=1),
    Case(
        "utf16-no-bom",
        {
            "le.txt": english("utf-16-le").decode().encode("utf-16-le"),
            "be.txt": ("Без BOM\n\n" + UKRAINIAN + "(BE)").encode("utf-16-be"),
        },
        articles=2,
    ),
    Case("utf8-stray-ff", {"uk.txt": stray_ff()}, articles=1),
    Case("fifo", {"pipe.txt": fifo, "good.txt": english("fifo")}, articles=1, rejected={"special_file": 1}),
    Case(
        "symlinks",
        {
            "loop1.txt": link_to("loop2.txt"),
            "loop2.txt": link_to("loop1.txt"),
            "dangling.txt": link_to("nowhere.txt"),
            "good.txt": english("links"),
        },
        articles=1,
        rejected={"read_failed": 3},
    ),
    Case("gzip-bomb", {"bomb.txt.gz": gzip_of_zeros(300)}, rejected={"too_large": 1}),
    Case(
        "corrupt-gzip",
        {"broken.txt.gz": gzip.compress(ENGLISH.encode())[:-12] + b"garbage!"},
        rejected={"read_failed": 1},
    ),
    Case(
        "deep-jsonl",
        {
            "deep.jsonl": jsonl(
                {"text": ENGLISH + " One."}, "[" * 100_000 + "]" * 100_000, {"text": ENGLISH + " Three."}
            )
        },
        articles=2,
        rejected={"bad_json": 1},
    ),
    Case(
        "json-wrong-types",
        {
            "items.json": json.dumps(
                [{"text": 5}, {"text": ENGLISH, "title": ["a"]}, "str", None, 1, True, {"text": ENGLISH + " Items."}]
            ).encode(),
            "string.json": b'"just a string"',
            "null.json": b"null",
            "nested.json": b'{"text": {"a": 1}}',
            "lines.jsonl": jsonl(5, [], {"text": None}, {"text": ENGLISH + " Lines."}, {"text": "x", "url": {"u": 1}}),
        },
        articles=2,
        rejected={"bad_json": 13},
    ),
    Case(
        "bad-dates-jsonl",
        {
            "dates.jsonl": jsonl(
                *({"text": f"{ENGLISH} Date {d}.", "published_at": d} for d in BAD_DATES),
                {"text": ENGLISH + " Dated.", "published_at": "2025-05-05T06:00:00+03:00"},
            )
        },
        articles=6,
    ),
    Case("bad-date-txt", {"a.txt": f"date 2025-05-01T06:00:00+25:00\n\nTitle\n\n{ENGLISH} (txt)".encode()}, articles=1),
    Case(
        "bad-date-html",
        {"a.html": HTML_PAGE.format(published="9999-12-31T23:00:00-01:00", body=ENGLISH).encode()},
        articles=1,
    ),
    Case(
        "bad-date-rss",
        {
            "a.rss": rss(
                item(1, "Mon, 01 Jan 0001 00:00:00 +0100", "d")
                + item(2, "Thu, 01 May 2025 06:00:00 +2500", "d")
                + item(3, tag="d")
            )
        },
        articles=3,
    ),
    Case("billion-laughs-per-line", {"lol.rss": billion_laughs_one_per_line()}, rejected={"malformed_feed": 1}),
    Case("quadratic-blowup", {"quad.rss": quadratic_blowup()}, rejected={"malformed_feed": 1}),
]

# path on the test server -> (reason code or "articles", count)
HTTP_CASES = {
    "/flaky.rss": ("articles", 2),  # 500, then 200
    "/missing": ("fetch_failed", 1),  # 404
    "/loop": ("fetch_failed", 1),
    "/to-file": ("fetch_failed", 1),  # a redirect to file:///etc/passwd is not followed
    "/redirect-with-endless-body": ("articles", 2),  # the redirect's body is never read
    "/gzip.rss": ("articles", 2),  # Content-Encoding: gzip, decoded
    "/corrupt-gzip": ("fetch_failed", 1),
    "/gzip-bomb": ("too_large", 1),  # 200 MB of zeros as 200 kB of gzip
    "/huge-declared": ("too_large", 1),  # Content-Length: 200 MB
    "/huge-streamed": ("too_large", 1),  # 200 MB, no Content-Length: streamed, cut at --max-bytes
    "/trickle": ("fetch_failed", 1),  # one byte every 0.2 s: cut at --fetch-deadline
    "/trickle-headers": ("fetch_failed", 1),  # the headers themselves trickle in
}


def good_feed(tag: str) -> bytes:
    return rss(item(1, tag=tag) + item(2, tag=tag))


GOOD_FEED = good_feed("trickled")
GZIP_BOMB = gzip_of_zeros(200)


class HostileHandler(http.server.BaseHTTPRequestHandler):
    flaky_calls = 0
    sent: ClassVar[Counter] = Counter()  # bytes of body sent, by path: how much the client really read

    def do_GET(self):
        path = self.path
        try:
            if path == "/flaky.rss":
                HostileHandler.flaky_calls += 1
                self._send(500 if HostileHandler.flaky_calls == 1 else 200, good_feed("flaky"))
            elif path == "/missing":
                self._send(404, b"not found")
            elif path.startswith("/loop"):
                self._redirect(f"/loop{len(path)}")
            elif path == "/to-file":
                self._redirect("file:///etc/passwd")
            elif path == "/redirect-with-endless-body":
                self._redirect("/good.rss", endless=True)
            elif path == "/good.rss":
                self._send(200, good_feed("redirected"))
            elif path == "/gzip.rss":
                self._send(200, gzip.compress(good_feed("gzip")), encoding="gzip")
            elif path == "/corrupt-gzip":
                self._send(200, b"\x1f\x8b\x08\x00" + b"this is not deflate data" * 10, encoding="gzip")
            elif path == "/gzip-bomb":
                self._send(200, GZIP_BOMB, encoding="gzip")
            elif path in ("/huge-declared", "/huge-streamed"):
                self._stream(200 * 1024 * 1024, declared=path == "/huge-declared")
            elif path == "/trickle":
                self._trickle(headers_first=True)
            elif path == "/trickle-headers":
                self._trickle(headers_first=False)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up: that is the point of most of these

    def _send(self, code: int, body: bytes, encoding: str | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/rss+xml")
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str, endless: bool = False) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.end_headers()
        if endless:
            self._chunks(200 * 1024 * 1024)

    def _stream(self, size: int, declared: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        if declared:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        self._chunks(size)

    def _chunks(self, size: int) -> None:
        chunk = b"<item>" + b"x" * (64 * 1024 - 13) + b"</item>"
        for _ in range(size // len(chunk)):  # generated as sent: the server holds 64 kB
            self.wfile.write(chunk)
            HostileHandler.sent[self.path] += len(chunk)

    def _trickle(self, headers_first: bool) -> None:
        self.wfile.write(b"HTTP/1.0 200 OK\r\n")
        if headers_first:
            self.wfile.write(b"Content-Type: application/rss+xml\r\n\r\n")
        else:
            self.wfile.write(b"X-Slow: ")
        self.wfile.flush()
        for byte in GOOD_FEED[:150]:  # 30 s in all, far beyond the deadline
            time.sleep(0.2)
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def hostile_server():
    with serving(HostileHandler) as base:
        yield base


def build(case: Case, folder: Path) -> Path:
    where = folder / case.name
    where.mkdir()
    for name, content in case.files.items():
        if callable(content):
            content(where / name)
        else:
            (where / name).write_bytes(content)
    return where


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, hostile_server):
    folder = tmp_path_factory.mktemp("hostile")
    inputs = [arg for case in CASES for arg in ("--input", str(build(case, folder)))]
    feeds = [arg for path in HTTP_CASES for arg in ("--feed", hostile_server + path)]
    out = folder / "out"
    done = newsmon(
        "run",
        *inputs,
        *("--input", "/dev/zero"),
        *feeds,
        *("--max-bytes", f"{MAX_BYTES}", "--fetch-deadline", f"{DEADLINE_S}s", "--fetch-timeout", "2s"),
        *("--fetch-retries", "1", "--output", str(out)),
    )
    assert done.returncode == 0, done.stderr
    articles = read_table(out, "articles")
    rejected = read_table(out, "rejected")
    return folder, out, summary_counts(done.stderr), articles, rejected


def summary_row(summary: dict[str, tuple[int, int, int]], origin: str) -> tuple[int, int, int]:
    """The summary's row of an origin (long origins are shown as "…" and their end)."""
    (row,) = [v for k, v in summary.items() if k == origin or (k[0] == "…" and origin.endswith(k[1:]))]
    return row


def outcomes(rows_by_origin: tuple[list[dict], list[dict]], origin: str) -> tuple[int, Counter]:
    articles, rejected = rows_by_origin
    return (
        sum(1 for a in articles if a["origin"] == origin),
        Counter(r["reason"] for r in rejected if r["origin"] == origin),
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_file_case(hostile_run, case):
    folder, _out, summary, articles, rejected = hostile_run
    origin = str(folder / case.name)
    n_articles, reasons = outcomes((articles, rejected), origin)
    assert (n_articles, dict(reasons)) == (case.articles, case.rejected)
    read, summary_articles, summary_rejected = summary_row(summary, origin)
    assert read == summary_articles + summary_rejected == n_articles + sum(reasons.values())


@pytest.mark.parametrize("path", list(HTTP_CASES))
def test_hostile_http_case(hostile_run, hostile_server, path):
    _folder, _out, summary, articles, rejected = hostile_run
    origin = hostile_server + path
    n_articles, reasons = outcomes((articles, rejected), origin)
    outcome, count = HTTP_CASES[path]
    assert (n_articles if outcome == "articles" else reasons[outcome]) == count, (n_articles, reasons)
    read, summary_articles, summary_rejected = summary_row(summary, origin)
    assert read == summary_articles + summary_rejected == n_articles + sum(reasons.values())


def test_dev_zero_is_refused(hostile_run):
    _folder, _out, summary, articles, rejected = hostile_run
    assert outcomes((articles, rejected), "/dev/zero") == (0, Counter(special_file=1))
    assert summary_row(summary, "/dev/zero") == (1, 0, 1)


def details(rejected: list[dict], origin: str) -> str:
    return " | ".join(r["detail"] for r in rejected if r["origin"] == origin)


def test_http_rejections_say_why(hostile_run, hostile_server):
    *_, rejected = hostile_run
    assert "deadline of 4s" in details(rejected, hostile_server + "/trickle")
    assert "deadline of 4s" in details(rejected, hostile_server + "/trickle-headers")
    assert "redirect to a non-HTTP URL 'file:///etc/passwd'" in details(rejected, hostile_server + "/to-file")
    assert "corrupt Content-Encoding" in details(rejected, hostile_server + "/corrupt-gzip")
    assert "after decompression" in details(rejected, hostile_server + "/gzip-bomb")
    assert "HTTP 404" in details(rejected, hostile_server + "/missing")


def test_big_bodies_are_not_read_past_the_cap(hostile_run, hostile_server):
    """The server counts what it could send before the client hung up: a redirect's endless
    body is not read at all, a 200 MB body only up to --max-bytes (plus socket buffers)."""
    sent = HostileHandler.sent
    assert sent["/redirect-with-endless-body"] < 32 * 1024 * 1024, sent
    assert sent["/huge-streamed"] < MAX_BYTES + 32 * 1024 * 1024, sent
    assert sent["/huge-declared"] < 32 * 1024 * 1024, sent  # refused on its Content-Length


# ----------------------------------------------------------------------------- item 1: dates


def test_bad_dates_keep_the_article_with_a_null_date_and_the_reason(hostile_run):
    folder, *_, articles, _rejected = hostile_run
    dated = {a["text"]: a for a in articles if a["origin"] == str(folder / "bad-dates-jsonl")}
    for stated in BAD_DATES:
        row = dated[f"{ENGLISH} Date {stated}."]
        assert row["published_at"] is None and repr(stated) in row["published_problem"], row
    good = dated[ENGLISH + " Dated."]
    assert good["published_at"] == datetime(2025, 5, 5, 3, tzinfo=timezone.utc) and good["published_problem"] is None
    for case in ("bad-date-txt", "bad-date-html"):
        (row,) = [a for a in articles if a["origin"] == str(folder / case)]
        assert row["published_at"] is None and row["published_problem"], row
    feed = {a["title"]: a for a in articles if a["origin"] == str(folder / "bad-date-rss")}
    assert feed["Report 1"]["published_at"] is None  # year 0001, not 2000-12-31
    assert "0001" in feed["Report 1"]["published_problem"]
    assert feed["Report 2"]["published_at"] is None and "+25 h" in feed["Report 2"]["published_problem"]
    assert feed["Report 3"]["published_at"] == datetime(2025, 5, 5, 6, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "stated, utc",
    [
        ("2025-05-01T06:00:00+23:59", datetime(2025, 4, 30, 6, 1, tzinfo=timezone.utc)),
        ("Mon, 01 Jan 0001 00:00:00 +0100", None),
        ("Fri, 14 Mar 25 07:30:00 GMT", datetime(2025, 3, 14, 7, 30, tzinfo=timezone.utc)),
        ("1 May 2025 06:00 UTC+25", None),  # dateutil's tzoffset of 25 h: caught, not raised
        ("2025-02-30", None),
        ("x" * 10_000, None),
    ],
)
def test_parse_published_never_raises(stated, utc):
    moment, problem = parse_published(stated)
    assert moment == utc and (problem is None) == (utc is not None)


def test_two_years_ahead_on_29_february():
    leap_day = datetime(2028, 2, 29, 12, tzinfo=timezone.utc)
    assert parse_published("2030-02-28", now=leap_day)[0] == datetime(2030, 2, 28, tzinfo=timezone.utc)
    assert parse_published("2030-03-01", now=leap_day)[0] is None


# ----------------------------------------------------------------------------- items 2, 3: time and memory


def test_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    outcome: list[object] = []

    def read() -> None:
        try:
            read_file(str(tmp_path / "pipe.txt"), 0, FetchConfig())
        except NotAFile as e:
            outcome.append(e)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(60)  # a generous liveness bound, not a speed check: before the fix it blocked forever
    assert not reader.is_alive() and isinstance(outcome[0], NotAFile)


def test_trickling_server_is_cut_at_the_deadline(hostile_server):
    with pytest.raises(FetchFailed, match="deadline of 1s"):
        fetch_url(hostile_server + "/trickle", FetchConfig(deadline_s=1, timeout_s=5, retries=3, backoff_s=0.01))


def test_gzip_bomb_memory_is_bounded_by_max_bytes(tmp_path):
    bomb = tmp_path / "bomb.txt.gz"
    bomb.write_bytes(gzip_of_zeros(100))  # 100 MB inflated
    tracemalloc.start()
    with pytest.raises(TooLarge, match="after decompression"):
        read_file(str(bomb), bomb.stat().st_size, FetchConfig(max_bytes=1024 * 1024))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, peak  # the cap and a few chunks, not the 100 MB


# ----------------------------------------------------------------------------- items 4, 5: records


def test_every_good_line_of_a_partly_bad_jsonl_lands(hostile_run):
    folder, *_, articles, _rejected = hostile_run
    texts = {a["text"] for a in articles if a["origin"] == str(folder / "deep-jsonl")}
    assert texts == {ENGLISH + " One.", ENGLISH + " Three."}


def test_a_parser_failing_half_way_keeps_the_records_before(monkeypatch):
    from transforms import read

    def half(data: bytes, source: str):
        yield {"title": None, "text": "first"}
        raise RuntimeError("a parser bug")

    monkeypatch.setitem(read.PARSERS, "text", half)
    records = parse_isolated("text", b"x", "a.txt")
    assert records[0]["text"] == "first" and records[1].reason == "parse_error"


def test_mostly_utf8_text_is_utf8_with_the_bad_byte_replaced(hostile_run):
    folder, *_, articles, _rejected = hostile_run
    (row,) = [a for a in articles if a["origin"] == str(folder / "utf8-stray-ff")]
    assert row["language"] == "uk" and "\ufffd" in row["text"] and "Росія атакувала" in row["text"]
    assert decode_text("Café in Kyïv".encode("latin-1")) == "Café in Kyïv"  # Latin-1 stays Latin-1


def test_utf16_without_bom_is_text():
    assert decode_text(UKRAINIAN.encode("utf-16-le")) == UKRAINIAN
    assert decode_text(ENGLISH.encode("utf-16-be")) == ENGLISH
    assert decode_text(b"\x00\x01\x02\x03" * 100) is None  # NULs on both parities: binary


def test_ten_thousand_entry_feed_gives_ten_thousand_records():
    records = parse_isolated("feed", rss("".join(item(n) for n in range(10_000))), "big.rss")
    assert len(records) == 10_000 and all(isinstance(r, dict) for r in records)


def test_entity_attacks_are_malformed_feeds():
    for data in (billion_laughs_one_per_line(), quadratic_blowup()):
        (rejected,) = parse_feed(data, "attack.rss")
        assert rejected.reason == "malformed_feed" and "entity expansion" in rejected.detail
    ok = rss(item(1), '<!DOCTYPE rss [\n<!ENTITY nbsp "&#160;">\n]>\n')  # a harmless entity is fine
    assert [type(r) for r in parse_feed(ok, "ok.rss")] == [dict]


# ----------------------------------------------------------------------------- items 6, 7: exit status

SAMPLE = ["--input", "samples/articles"]


def feeds_list(tmp: Path) -> tuple[Path, Path]:
    listed = tmp / "feeds.txt"
    listed.write_text("# my feeds\nhttp://127.0.0.1:9/a.rss\n\nno/such/feed.rss\n")
    opml = tmp / "feeds.opml"
    opml.write_text(
        '<?xml version="1.0"?>\n<opml version="2.0"><body>\n<outline xmlUrl="http://127.0.0.1:9/a.rss"/>\n'
        '<outline xmlUrl="ftp://example.org/feed"/>\n</body></opml>\n'
    )
    return listed, opml


USAGE_CASES = [
    (["--runner=Nonsense"], "--runner=Nonsense: Unexpected pipeline runner"),
    (["--window", "-1h"], "--window '-1h': want a positive duration"),
    (["--max-bytes", "-5MB"], "--max-bytes '-5MB': want a positive size"),
    (["--fetch-deadline", "0s"], "--fetch-deadline '0s'"),
    (
        ["--runner=DataflowRunner", "--project=p", "--region=us-central1", "--temp_location=gs://"],
        "Beam option validation: Invalid GCS path (gs://)",
    ),
    (["--output={file}"], "is a file, not a folder"),
    (["--output={file}/sub"], "not a folder newsmon can write"),
    (["--output=/sys/newsmon-out"], "not a folder newsmon can write"),
    (["--feeds-file={list}"], "feeds.txt line 4: 'no/such/feed.rss' is neither an http(s) URL nor an existing file"),
    (["--feeds-file={opml}"], "feeds.opml line 4: 'ftp://example.org/feed' is neither"),
]


@pytest.fixture(scope="module")
def usage_runs(tmp_path_factory):
    """Every USAGE_CASES command line, three at a time (each is its own `newsmon` process, as
    a user would run it, so stray warnings on stderr would show), with its folder for --output."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> tuple[Path, str, int]:
        tmp = tmp_path_factory.mktemp(f"usage{i}")
        afile = tmp / "afile"
        afile.write_text("not a folder")
        listed, opml = feeds_list(tmp)
        args = [a.format(file=afile, list=listed, opml=opml) for a in USAGE_CASES[i][0]]
        output = [] if any(a.startswith("--output") for a in args) else ["--output", str(tmp / "out")]
        done = newsmon("run", *SAMPLE, *output, *args)
        return tmp, done.stderr, done.returncode

    with ThreadPoolExecutor(3) as pool:
        return list(pool.map(one, range(len(USAGE_CASES))))


USAGE_IDS = [f"{args[0].split('=')[0]}-{i}" for i, (args, _) in enumerate(USAGE_CASES)]


@pytest.mark.parametrize("i", range(len(USAGE_CASES)), ids=USAGE_IDS)
def test_bad_usage_exits_2_with_one_line_before_any_work(usage_runs, i):
    tmp, stderr, status = usage_runs[i]
    lines = stderr.strip().splitlines()
    assert status == 2 and len(lines) == 1 and USAGE_CASES[i][1] in lines[0], stderr
    assert not (tmp / "out").exists()  # nothing was run


def test_every_source_failed_exits_3(tmp_path, hostile_server):
    done = newsmon(
        "run",
        *("--feed", hostile_server + "/missing", "--feed", hostile_server + "/to-file"),
        *("--output", str(tmp_path / "out")),
    )
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "newsmon: every source failed: no article read (exit 3)"
    assert len(read_table(tmp_path / "out", "rejected")) == 2  # the rejections are written all the same
