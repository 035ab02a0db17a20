"""Parsers: each input format, odd encodings and bad input."""

from __future__ import annotations

import json
import tracemalloc

from schemas import Rejected
from transforms.formats import decode_text, format_of, parse_feed, parse_html, parse_json, parse_jsonl, parse_text
from transforms.formats import parse_markdown as parse_md

BODY = "Russia launched 126 drones overnight, the air force said.\n\nAir defence shot down 71 of them."


def one(records):
    records = list(records)
    assert len(records) == 1, records
    return records[0]


def test_text_with_headers_title_and_body():
    data = f"date 2025-03-14\nurl https://kyivwire.example/a\nsource Kyiv Wire\n\nDrones over Kharkiv\n\n{BODY}\n"
    r = one(parse_text(data.encode(), "a.txt"))
    assert (r["published"], r["url"], r["outlet"], r["title"]) == (
        "2025-03-14",
        "https://kyivwire.example/a",
        "Kyiv Wire",
        "Drones over Kharkiv",
    )
    assert r["text"].strip() == BODY


def test_text_date_header_running_into_the_body():
    # One of the seed articles starts like this: the date line and the first paragraph on one line.
    data = ' date 2025-05-12 "We want a ceasefire," an official said on Sunday.\n\nMore text follows here.'
    r = one(parse_text(data.encode(), "a.txt"))
    assert r["published"] == "2025-05-12"
    assert r["title"] is None  # a sentence, not a headline
    assert r["text"].startswith('"We want a ceasefire,"')


def test_text_without_header_or_title_keeps_everything_as_body():
    r = one(parse_text(BODY.encode(), "a.txt"))
    assert r["title"] is None and r["published"] is None
    assert r["text"] == BODY


def test_markdown_title_and_markup_become_html_for_normalization():
    data = "source Baltic Monitor\n\n# Talks in Riyadh\n\nDelegates met **on Monday**, see [the statement](https://x.example).\n"
    r = one(parse_md(data.encode(), "a.md"))
    assert r["title"] == "Talks in Riyadh" and r["outlet"] == "Baltic Monitor" and r["html"] is True
    assert "<strong>on Monday</strong>" in r["text"]


def test_latin1_and_windows_1252_are_decoded_not_rejected():
    assert decode_text("Café in Kyïv".encode("latin-1")) == "Café in Kyïv"
    assert decode_text("“Quoted” – dash".encode("cp1252")) == "“Quoted” – dash"
    r = one(parse_text("Title\n\nSão Paulo café “news”".encode("cp1252"), "a.txt"))
    assert r["text"] == "São Paulo café “news”"


def test_binary_and_utf16():
    assert decode_text(bytes(range(256)) * 10) is None
    assert decode_text("hello".encode("utf-16")) == "hello"
    rejected = one(parse_text(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image.txt"))
    assert isinstance(rejected, Rejected) and rejected.reason == "not_text"


def test_json_array_object_and_bad_items():
    items = [
        {"id": "k-1", "url": "https://a.example/1", "outlet": "A", "title": "T", "text": BODY},
        {"title": "no text"},
        "a string",
    ]
    records = list(parse_json(json.dumps(items).encode(), "a.json"))
    assert records[0]["external_id"] == "k-1" and records[0]["locator"] == "item 0"
    assert [r.reason for r in records[1:]] == ["bad_json", "bad_json"]
    assert one(parse_json(json.dumps(items[0]).encode(), "b.json"))["text"] == BODY
    assert one(parse_json(b'{"text": "unterminated', "c.json")).reason == "bad_json"


def test_jsonl_truncated_line_does_not_lose_the_others():
    lines = [json.dumps({"text": f"Article number {i} about a drone attack."}) for i in range(3)]
    data = "\n".join([lines[0], lines[1][:20], lines[2]]).encode()
    records = list(parse_jsonl(data, "a.jsonl"))
    assert [r["locator"] if isinstance(r, dict) else r.reason for r in records] == ["line 1", "bad_json", "line 3"]
    assert records[1].locator == "line 2"


def test_html_main_text_without_boilerplate():
    page = """<html><head><title>Kharkiv hit | Eastern Dispatch</title>
    <meta property="og:site_name" content="Eastern Dispatch">
    <meta property="article:published_time" content="2025-03-14T07:30:00+02:00">
    <link rel="canonical" href="https://eastern-dispatch.example/kharkiv?utm_source=x"></head>
    <body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
    <div class="cookie">We use cookies to improve your experience.</div>
    <article><h1>Kharkiv hit by drones</h1>
    <p>Russia launched 126 drones overnight, the air force said on Friday, in one of the largest attacks this month.</p>
    <p>Air defence units shot down 71 of them, and 48 were lost to electronic warfare, the statement said.</p>
    </article><footer>© 2025 Eastern Dispatch. All rights reserved.</footer></body></html>"""
    r = one(parse_html(page.encode(), "a.html"))
    assert r["title"] == "Kharkiv hit by drones"
    assert r["outlet"] == "Eastern Dispatch"
    assert r["published"] == "2025-03-14T07:30:00+02:00"
    assert "126 drones" in r["text"] and "48 were lost" in r["text"]
    assert "cookies" not in r["text"] and "rights reserved" not in r["text"]


RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Kyiv Wire</title><link>https://kyivwire.example</link>
<item><title>Drones over Odesa</title><link>https://kyivwire.example/odesa?utm_medium=rss</link>
<guid>kw-1</guid><pubDate>Fri, 14 Mar 2025 06:40:00 +0200</pubDate>
<description>&lt;p&gt;Ten drones were shot down over Odesa.&lt;/p&gt;</description></item>
<item><title>Empty item</title></item>
</channel></rss>"""


def test_rss_entries():
    first, second = list(parse_feed(RSS, "feed.rss"))
    assert first["outlet"] == "Kyiv Wire" and first["external_id"] == "kw-1" and first["locator"] == "entry 0"
    assert "Ten drones were shot down" in first["text"] and first["html"] is True
    assert first["published"] == "Fri, 14 Mar 2025 06:40:00 +0200"  # as stated, for transforms/published.py
    assert tuple(first["published_parsed"][:5]) == (2025, 3, 14, 4, 40)  # feedparser's reading, the fallback
    assert second["text"] == "Empty item"  # a title-only entry keeps its title as text


def test_malformed_feed_recovered_by_the_loose_parser():
    broken = RSS.replace(b"</channel></rss>", b"<item><title>Unclosed & broken")
    records = list(parse_feed(broken, "broken.rss"))
    assert records and isinstance(records[0], dict) and "Ten drones" in records[0]["text"]


def test_not_a_feed_and_empty_feed():
    assert one(parse_feed(b"<html><body><p>hello</p>", "x.xml")).reason in ("malformed_feed", "no_entries")
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    assert one(parse_feed(empty, "e.rss")).reason == "no_entries"


def billion_laughs(depth: int) -> bytes:
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, depth + 1))
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "ha">{entities}]>'
        f'<rss version="2.0"><channel><title>t</title><item><title>&l{depth};</title>'
        f"<description>&l{depth};</description></item></channel></rss>"
    ).encode()


def test_billion_laughs_feed_is_rejected_and_memory_stays_bounded():
    peaks = []
    for depth in (9, 14):  # 2 GB and 200 TB if expanded
        tracemalloc.start()
        rejected = one(parse_feed(billion_laughs(depth), "lol.rss"))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert rejected.reason == "malformed_feed" and "entity expansion" in rejected.detail
    # expat's amplification limit stops the expansion at the same point whatever the depth
    assert max(peaks) < 150 * 1024 * 1024, peaks
    assert abs(peaks[1] - peaks[0]) < 20 * 1024 * 1024, peaks


def test_format_by_extension_then_by_content():
    assert format_of("/a/b.JSONL", b"") == "jsonl"
    assert format_of("/a/b.xml.gz", b"") == "feed"
    assert format_of("/a/noext", b"<!DOCTYPE html><html>") == "html"
    assert format_of("/a/noext", b"plain words") == "text"
    assert format_of("/a/noext", bytes(range(256))) is None
