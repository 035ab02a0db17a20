"""NormalizeArticles: raw records -> rows of the articles table (without story fields yet).

Unicode NFC, HTML stripped, whitespace normalized (paragraphs kept as blank lines, because
extraction evidence spans point into this text), canonical URL, published_at in UTC,
language, and the stable `article_id` / `content_hash`.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import apache_beam as beam
import lxml.etree
import lxml.html

from schemas import Rejected
from schemas.records import REJECTED, stable_id
from transforms import published

# ----------------------------------------------------------------------------- text

_BLOCK_TAGS = {
    "p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
    "pre", "table", "tr", "section", "article", "header", "footer", "figure", "figcaption", "hr",
}  # fmt: skip
_DROP_TAGS = ("script", "style", "noscript", "iframe", "template")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment, with a blank line between block elements."""
    if "<" not in fragment:
        return html.unescape(fragment)
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return fragment
    for el in list(root.iter(*_DROP_TAGS)):
        el.drop_tree()
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag.lower() in _BLOCK_TAGS:
            el.tail = "\n\n" + (el.tail or "")
        elif el.tag.lower() == "br":
            el.tail = "\n" + (el.tail or "")
    return root.text_content()


def clean_text(text: str | None, html: bool = False) -> str:
    """NFC, no markup, no invisible or control characters, single spaces, paragraphs kept."""
    if not text:
        return ""
    if html:
        text = html_to_text(text)
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))
    text = _CONTROL.sub(" ", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def content_hash(text: str) -> str:
    """Hash of the text with case and line breaks folded: equal for exact copies."""
    folded = " ".join(text.casefold().split())
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()[:32]


# ----------------------------------------------------------------------------- urls

_TRACKING_PARAMS = {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_ga"}


def canonical_url(url: str | None) -> str | None:
    """Lower-case scheme and host, no default port, no fragment, no utm_* or click-id params."""
    if not url or not url.strip():
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return url
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING_PARAMS
    ]
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query), ""))


def outlet_from_url(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None


# ----------------------------------------------------------------------------- dates


def parse_published(value: Any) -> datetime | None:
    """A publication time in UTC, or None (transforms/published.py says why, and never raises)."""
    return published.parse_published(value)[0]


# ----------------------------------------------------------------------------- language

_MIN_CHARS_FOR_LANGUAGE = 20


def detect_language(text: str) -> str | None:
    """ISO 639-1 code by py3langid (deterministic, model bundled, no download); None when too short."""
    if len(text) < _MIN_CHARS_FOR_LANGUAGE:
        return None
    import py3langid

    return py3langid.classify(text[:1000])[0]  # plenty for prose; the cost grows with length


# ----------------------------------------------------------------------------- records


def article_id(url: str | None, outlet: str | None, text: str) -> str:
    """Stable id: of the canonical URL; without a URL, of the outlet and normalized text."""
    if url:
        return stable_id("url", url)
    return stable_id("text", outlet or "", content_hash(text))


def normalize(raw: dict[str, Any]) -> dict[str, Any] | Rejected:
    """One raw record as a row of the articles table, or the reason it cannot be one."""
    text = clean_text(raw["text"], raw.get("html", False))
    if not text:
        return Rejected(raw["source"], "empty_text", "no text after normalization", "", raw.get("locator"))
    url = canonical_url(raw.get("url"))
    outlet = clean_text(raw.get("outlet")) or outlet_from_url(url)
    published_at, published_problem = published.parse_published(raw.get("published"), raw.get("published_parsed"))
    return {
        "article_id": article_id(url, outlet, text),
        "url": url,
        "outlet": outlet,
        "title": clean_text(raw.get("title"), raw.get("html", False)) or None,
        "text": text,
        "published_at": published_at,
        "published_problem": published_problem,
        "ingested_at": raw["ingested_at"],
        "source": raw["source"],
        "language": detect_language(text),
        "content_hash": content_hash(text),
        "story_id": None,
        "duplicate_of": None,
        "similarity": None,
        "exact_copy": False,
        "external_id": raw.get("external_id"),
        "locator": raw.get("locator"),
        "origin": raw["origin"],
    }


class _Normalize(beam.DoFn):
    def process(self, raw: dict[str, Any]) -> Iterator[Any]:
        row = normalize(raw)
        if isinstance(row, Rejected):
            yield beam.pvalue.TaggedOutput(REJECTED, row.to_row(raw["ingested_at"], raw["origin"]))
        else:
            yield row


class NormalizeArticles(beam.PTransform):
    """Raw records -> {"articles": article rows, "rejected": rejected rows}."""

    def expand(self, raw: beam.PCollection) -> dict[str, beam.PCollection]:
        out = raw | "Normalize" >> beam.ParDo(_Normalize()).with_outputs(REJECTED, main="articles")
        return {"articles": out.articles, "rejected": out[REJECTED]}
