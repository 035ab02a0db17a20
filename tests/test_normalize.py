"""Normalization: text, URLs, dates, language, stable ids."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from schemas import Rejected
from transforms.normalize import canonical_url, clean_text, content_hash, detect_language, normalize, parse_published

UTC = timezone.utc


def test_clean_text_nfc_whitespace_and_paragraphs():
    decomposed = "Kyi\u0308v"  # i + combining diaeresis
    assert clean_text(f"  {decomposed}\u00a0 city\u200b \r\n\r\n\r\n\tSecond   para ") == "Kyïv city\n\nSecond para"


def test_clean_text_strips_html_and_keeps_blocks_apart():
    html = "<p>First &amp; <b>bold</b>.</p><script>var x=1;</script><p>Second<br>line</p>"
    assert clean_text(html, html=True) == "First & bold.\n\nSecond\nline"


def test_canonical_url():
    assert (
        canonical_url("HTTPS://Kyivwire.Example:443/a/b?utm_source=rss&id=7&fbclid=x#comments")
        == "https://kyivwire.example/a/b?id=7"
    )
    assert canonical_url("http://x.example") == "http://x.example/"
    assert canonical_url("http://x.example:8080/p?utm_medium=feed") == "http://x.example:8080/p"
    assert canonical_url("tag:kyivwire.example,2025:1") == "tag:kyivwire.example,2025:1"
    assert canonical_url("  ") is None


def test_published_at_in_utc_from_every_source_form():
    want = datetime(2025, 3, 14, 5, 30, tzinfo=UTC)
    assert parse_published("2025-03-14T07:30:00+02:00") == want
    assert parse_published("Fri, 14 Mar 2025 07:30:00 +0200") == want
    assert parse_published(time.strptime("2025-03-14 05:30", "%Y-%m-%d %H:%M")) == want
    assert parse_published("2025-03-14") == datetime(2025, 3, 14, tzinfo=UTC)
    assert parse_published("14 March 2025 05:30") == want  # naive -> UTC
    assert parse_published("not a date") is None
    assert parse_published("1066-10-14") is None


def test_language():
    assert detect_language("Russia launched a large drone attack on Ukraine overnight, officials said.") == "en"
    assert detect_language("Росія атакувала Україну ударними дронами вночі, повідомили у Повітряних силах.") == "uk"
    assert detect_language("Hi") is None


def raw(**kw):
    base = {
        "title": "T",
        "text": "Some text about drones.",
        "url": None,
        "outlet": None,
        "published": None,
        "external_id": None,
        "locator": None,
        "html": False,
        "source": "/in/a.txt",
        "origin": "/in/*",
        "ingested_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    return base | kw


def test_article_id_is_stable_and_url_based():
    a = normalize(raw(url="https://a.example/x?utm_source=1"))
    b = normalize(raw(url="https://A.example/x#top", text="Edited text."))
    assert a["article_id"] == b["article_id"]  # same canonical URL
    assert a["outlet"] == "a.example"  # from the URL when the source names none
    c = normalize(raw(outlet="Kyiv Wire"))
    d = normalize(raw(outlet="Kyiv Wire", text="Some   text about\n drones."))
    assert c["article_id"] == d["article_id"]  # same outlet, same text up to whitespace
    assert c["content_hash"] == d["content_hash"] == content_hash("SOME TEXT about drones.")
    assert normalize(raw(outlet="Other"))["article_id"] != c["article_id"]


def test_empty_text_is_rejected():
    r = normalize(raw(text="<p> </p>", html=True))
    assert isinstance(r, Rejected) and r.reason == "empty_text"
