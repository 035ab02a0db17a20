"""Parsers from raw bytes to raw article records, one function per input format.

Every parser takes the bytes of one source and yields, for each record it finds, either a raw
article dict or a `Rejected`. Raw articles carry what the source says, untouched apart from
decoding: `title`, `text`, `url`, `outlet`, `published` (a string, struct_time or None),
`external_id`, `locator`, and `html=True` when `text` is HTML that NormalizeArticles must strip.

Format by file extension (DESIGN, "Input formats"); `sniff_format` looks at the bytes when the
extension says nothing.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import feedparser
import lxml.html
from markdown_it import MarkdownIt

from schemas import Rejected

logger = logging.getLogger(__name__)

Record = dict[str, Any] | Rejected
Parser = Callable[[bytes, str], Iterator[Record]]

EXCERPT_CHARS = 300

FORMAT_BY_EXTENSION = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".html": "html",
    ".htm": "html",
    ".xml": "feed",
    ".rss": "feed",
    ".atom": "feed",
    ".rdf": "feed",
}


def format_of(path: str, data: bytes) -> str | None:
    """The input format of a file: by its extension, else by sniffing its first bytes."""
    name = path.lower()
    for compressed in (".gz", ".bz2", ".zst", ".deflate"):
        name = name.removesuffix(compressed)
    dot = name.rfind(".")
    if dot > name.rfind("/") and name[dot:] in FORMAT_BY_EXTENSION:
        return FORMAT_BY_EXTENSION[name[dot:]]
    return sniff_format(data)


def sniff_format(data: bytes) -> str | None:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "html"
    if head.startswith(b"<?xml") or head.startswith((b"<rss", b"<feed", b"<rdf")):
        return "feed"
    if head.startswith((b"{", b"[")):
        return "json"
    if decode_text(data) is not None:
        return "text"
    return None


# --------------------------------------------------------------------------- decoding

_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def decode_text(data: bytes) -> str | None:
    """Decode text bytes: BOM, else UTF-8, else UTF-16 without a BOM, else Windows-1252.

    UTF-8 that is *mostly* valid (at least 90% of its non-ASCII sequences, say a Ukrainian
    text with one stray 0xFF byte) is decoded as UTF-8 with the bad bytes replaced (U+FFFD),
    not as Windows-1252 mojibake. Text with NUL bytes on every other position is UTF-16
    without a BOM. Windows-1252 comes before Latin-1 because it is what "Latin-1" text usually
    is (curly quotes and dashes at 0x80-0x9F); Latin-1 takes the bytes cp1252 leaves undefined.
    Returns None for binary content (other NUL bytes, or more than 1% control characters).
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                return None
    head = data[:65536]
    if b"\x00" in head:
        text = _utf16_without_bom(data)
    else:
        text = _utf8_mostly(data)
        if text is None:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
    if text is None or len(_CONTROL.findall(text[:65536])) > 0.01 * min(len(text), 65536):
        return None
    return text


_MOSTLY = 0.9


def _utf8_mostly(data: bytes) -> str | None:
    """UTF-8 when it decodes, or when at least 90% of its non-ASCII sequences are valid UTF-8
    (the invalid bytes become U+FFFD); None otherwise."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    good = sum(1 for ch in text if ord(ch) > 0x7F) - text.count("\ufffd")
    return text if good > 0 and good >= _MOSTLY * (good + bad) else None


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 LE or BE without a BOM: the NUL bytes (high bytes of ASCII characters) sit on
    one parity, and the text decodes; anything else with NUL bytes is binary."""
    if len(data) % 2:
        return None
    even, odd = data[0::2].count(0), data[1::2].count(0)
    if min(even, odd) > 0.01 * len(data) or max(even, odd) < 0.1 * len(data) / 2:
        return None
    try:
        return data.decode("utf-16-le" if odd > even else "utf-16-be")
    except UnicodeDecodeError:
        return None


def excerpt(data: bytes | str) -> str:
    """The start of a raw record, printable, for the rejected/ table."""
    if isinstance(data, bytes):
        data = data[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    return _CONTROL.sub("\ufffd", data[:EXCERPT_CHARS])


def _not_text(source: str, data: bytes) -> Rejected:
    return Rejected(source, "not_text", "binary or undecodable content", excerpt(data))


# --------------------------------------------------------------------------- txt / md

_HEADER = re.compile(r"^[ \t]*(date|url|source)[ \t]+(\S.*?)[ \t]*$", re.IGNORECASE)
# A `date` header may run straight into the body on the same line (one seed article does).
_DATE_HEADER = re.compile(
    r"^[ \t]*date[ \t]+(\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)?)(?:[ \t]+(.*))?$",
    re.IGNORECASE,
)
_TITLE_MAX_CHARS = 200


def split_header(text: str) -> tuple[dict[str, str], str]:
    """Leading `date …` / `url …` / `source …` lines, and the rest of the text."""
    headers: dict[str, str] = {}
    lines = text.lstrip("\n").split("\n")
    i = 0
    while i < len(lines):
        date = _DATE_HEADER.match(lines[i])
        header = _HEADER.match(lines[i])
        if date and "date" not in headers:
            headers["date"] = date.group(1)
            if date.group(2):  # the body starts on the header line
                lines[i] = date.group(2)
                break
        elif header and header.group(1).lower() in ("url", "source") and header.group(1).lower() not in headers:
            headers[header.group(1).lower()] = header.group(2)
        else:
            break
        i += 1
    return headers, "\n".join(lines[i:])


def _split_title(body: str) -> tuple[str | None, str]:
    """First non-empty line as the title, when it reads like one (short, no final period)."""
    stripped = body.strip("\n")
    first, _, rest = stripped.partition("\n")
    line = first.strip()
    if line and len(line) <= _TITLE_MAX_CHARS and not line.endswith((".", '."', ".”")) and rest.strip():
        return line, rest.strip("\n")
    return None, stripped


def parse_text(data: bytes, source: str) -> Iterator[Record]:
    text = decode_text(data)
    if text is None:
        yield _not_text(source, data)
        return
    headers, body = split_header(text.replace("\r\n", "\n").replace("\r", "\n"))
    title, body = _split_title(body)
    yield _raw(headers, title, body, html=False)


_MARKDOWN = MarkdownIt("commonmark")


def parse_markdown(data: bytes, source: str) -> Iterator[Record]:
    text = decode_text(data)
    if text is None:
        yield _not_text(source, data)
        return
    headers, body = split_header(text.replace("\r\n", "\n").replace("\r", "\n"))
    title, body = _split_title(body)
    if title:
        title = title.lstrip("#").strip()
    yield _raw(headers, title, _MARKDOWN.render(body), html=True)


def _raw(headers: dict[str, str], title: str | None, text: str, html: bool) -> dict[str, Any]:
    return {
        "title": title,
        "text": text,
        "url": headers.get("url"),
        "outlet": headers.get("source"),
        "published": headers.get("date"),
        "external_id": None,
        "locator": None,
        "html": html,
    }


# --------------------------------------------------------------------------- json / jsonl

ARTICLE_KEYS = ("id", "url", "outlet", "title", "text", "published_at")


def _from_object(obj: Any, source: str, locator: str | None, raw: str) -> Record:
    if not isinstance(obj, dict):
        return Rejected(
            source, "bad_json", f"expected an article object, got {type(obj).__name__}", excerpt(raw), locator
        )
    if not isinstance(obj.get("text"), str):
        return Rejected(source, "bad_json", "article object without a string `text`", excerpt(raw), locator)
    fields = {k: obj.get(k) for k in ARTICLE_KEYS}
    for key, value in fields.items():
        if value is not None and not isinstance(value, (str, int)):
            return Rejected(source, "bad_json", f"`{key}` is a {type(value).__name__}", excerpt(raw), locator)
    return {
        "title": _str_or_none(fields["title"]),
        "text": fields["text"],
        "url": _str_or_none(fields["url"]),
        "outlet": _str_or_none(fields["outlet"]),
        "published": _str_or_none(fields["published_at"]),
        "external_id": _str_or_none(fields["id"]),
        "locator": locator,
        "html": False,
    }


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_json(data: bytes, source: str) -> Iterator[Record]:
    text = decode_text(data)
    if text is None:
        yield _not_text(source, data)
        return
    doc = _loads(text)
    if isinstance(doc, _BadJson):
        yield Rejected(source, "bad_json", doc.detail, excerpt(text))
        return
    if isinstance(doc, list):
        for i, obj in enumerate(doc):
            raw = json.dumps(obj, ensure_ascii=False)[:EXCERPT_CHARS] if isinstance(obj, dict | str) else repr(obj)
            yield _from_object(obj, source, f"item {i}", raw)
    else:
        yield _from_object(doc, source, None, text)


def parse_jsonl(data: bytes, source: str) -> Iterator[Record]:
    text = decode_text(data)
    if text is None:
        yield _not_text(source, data)
        return
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        obj = _loads(line)  # one line's failure is that line's rejection, never the file's
        if isinstance(obj, _BadJson):
            yield Rejected(source, "bad_json", obj.detail, excerpt(line), f"line {n}")
            continue
        yield _from_object(obj, source, f"line {n}", line)


class _BadJson:
    def __init__(self, detail: str):
        self.detail = detail


def _loads(text: str) -> Any:
    """json.loads, with every way it fails as a _BadJson: syntax, nesting deeper than the
    interpreter's recursion limit (a 100k-deep `[[[…` line), numbers too long to convert."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        return _BadJson(str(e))
    except RecursionError:
        return _BadJson("nested too deeply to parse")
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        return _BadJson(f"{type(e).__name__}: {e}"[:300])


# --------------------------------------------------------------------------- html pages

_PUBLISHED_XPATHS = (
    "//meta[@property='article:published_time']/@content",
    "//meta[@name='article:published_time']/@content",
    "//meta[@itemprop='datePublished']/@content",
    "//meta[@name='date']/@content",
    "//time[@datetime]/@datetime",
)


def parse_html(data: bytes, source: str) -> Iterator[Record]:
    """Main text of a web page (trafilatura), with its title, site name, canonical URL and date."""
    import trafilatura  # imported here: it takes ~1 s and only HTML inputs need it

    text = decode_text(data)
    if text is None:
        yield _not_text(source, data)
        return
    doc = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False)
    if doc is None or not (doc.text or "").strip():
        yield Rejected(source, "empty_text", "no main text found in the HTML page", excerpt(text))
        return
    body = doc.text
    if doc.title and body.startswith(doc.title + "\n"):
        body = body[len(doc.title) + 1 :]
    yield {
        "title": doc.title,
        "text": body,
        "url": doc.url,
        "outlet": doc.sitename,
        "published": _published_in_html(text) or doc.date,
        "external_id": None,
        "locator": None,
        "html": False,
    }


def _published_in_html(page: str) -> str | None:
    try:
        tree = lxml.html.fromstring(page)
    except (lxml.etree.ParserError, ValueError):
        return None
    for xpath in _PUBLISHED_XPATHS:
        found = tree.xpath(xpath)
        if found and str(found[0]).strip():
            return str(found[0]).strip()
    return None


# --------------------------------------------------------------------------- RSS / Atom


def parse_feed(data: bytes, source: str) -> Iterator[Record]:
    """Entries of an RSS 0.9x/1.0/2.0 or Atom feed (feedparser, loose parser as fallback).

    feedparser gets the bytes, never a URL, so it does no network access of its own.
    """
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        yield Rejected(source, "unsupported_format", "JSON Feed: feedparser 6 reads RSS and Atom only", excerpt(data))
        return
    unsafe = unsafe_entities(data)
    if unsafe:
        yield Rejected(source, "malformed_feed", unsafe, excerpt(data))
        return
    parsed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=True)
    if parsed.bozo and "amplification" in str(parsed.bozo_exception):  # expat's own limit, as a second net
        # expat stopped an entity-expansion bomb ("billion laughs"); what the loose parser
        # would make of the rest is the unexpanded entity names, not news.
        yield Rejected(
            source, "malformed_feed", f"entity expansion limit breached: {parsed.bozo_exception}", excerpt(data)
        )
        return
    if not parsed.entries:
        if parsed.bozo:
            reason, detail = "malformed_feed", f"{type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}"
        else:
            reason, detail = "no_entries", f"{parsed.get('version') or 'unknown'} feed without entries"
        yield Rejected(source, reason, detail, excerpt(data))
        return
    if parsed.bozo:
        logger.info("%s: malformed feed, %d entries recovered (%s)", source, len(parsed.entries), parsed.bozo_exception)
    outlet = parsed.feed.get("title")
    for i, entry in enumerate(parsed.entries):
        yield {
            "title": entry.get("title"),
            "text": _entry_body(entry) or entry.get("title") or "",
            "url": entry.get("link"),
            "outlet": outlet,
            # the string as the feed states it, for transforms/published.py; feedparser's
            # reading of it only when that parser does not understand the string
            "published": entry.get("published") or entry.get("updated"),
            "published_parsed": entry.get("published_parsed") or entry.get("updated_parsed"),
            "external_id": entry.get("id"),
            "locator": f"entry {i}",
            "html": True,
        }


# <!ENTITY name "value"> or <!ENTITY % name …> or <!ENTITY name SYSTEM "…"> in a DOCTYPE
_ENTITY_DECL = re.compile(rb"<!ENTITY\s+(%\s*)?([^\s\"'>]+)\s*(\"[^\"]*\"|'[^']*'|[^>]*)\s*>", re.DOTALL)
_ENTITY_REF = re.compile(rb"&([A-Za-z_:][\w.:-]*);")
MAX_ENTITY_EXPANSION = 1_000_000  # characters that declared entities may add to a feed
MAX_ENTITIES = 1_000


def unsafe_entities(data: bytes) -> str | None:
    """Why a feed's DOCTYPE is an attack rather than news, or None.

    Feeds have no use for entities of their own beyond a few characters. Entities defined
    through other entities ("billion laughs", in any layout: feedparser drops those it finds
    unsafe and its loose parser then stores "&lol9" as the text), more than 1,000 entities,
    and plain entities whose references would add more than 1,000,000 characters
    ("quadratic blowup": one 100 kB entity referenced 100,000 times, which feedparser's loose
    parser expands in memory) all make the feed `malformed_feed`, before any XML parser runs.
    """
    first_element = re.search(rb"<[A-Za-z]", data)
    head = data[: first_element.start()] if first_element else data
    if b"<!ENTITY" not in head:
        return None
    declarations = _ENTITY_DECL.findall(head)
    if len(declarations) > MAX_ENTITIES:
        return f"DOCTYPE declares {len(declarations)} entities (more than {MAX_ENTITIES})"
    references = Counter(_ENTITY_REF.findall(data, len(head)))  # one pass over the body
    expansion = 0
    for parameter, name, value in declarations:
        if parameter or value[:1] not in (b'"', b"'"):
            continue  # external and parameter entities: expat neither fetches nor expands them here
        if _ENTITY_REF.search(value):
            shown = name.decode("utf-8", "replace")[:40]
            return f"entity expansion attack: entity {shown} is defined through other entities"
        expansion += (len(value) - 2) * references[name]
        if expansion > MAX_ENTITY_EXPANSION:
            return f"entity expansion of more than {MAX_ENTITY_EXPANSION} characters (quadratic blowup)"
    return None


def _entry_body(entry: Any) -> str:
    """The longest of the entry's content and summary (feeds put the article in either)."""
    candidates = [c.get("value", "") for c in entry.get("content", [])]
    candidates.append(entry.get("summary", ""))
    return max(candidates, key=len)


PARSERS: dict[str, Parser] = {
    "text": parse_text,
    "markdown": parse_markdown,
    "json": parse_json,
    "jsonl": parse_jsonl,
    "html": parse_html,
    "feed": parse_feed,
}
