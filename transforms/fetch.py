"""Reading the bytes of a source: files through Beam's FileSystems, feeds over HTTP(S).

Both enforce a size cap without holding more than the cap in memory, so a 50 MB file or an
endless HTTP response is rejected as `too_large` rather than read.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import requests
from apache_beam.io.filesystems import FileSystems

logger = logging.getLogger(__name__)

USER_AGENT = "newsmon/0.1 (+https://github.com/newsmon/newsmon; feed reader)"
CHUNK = 64 * 1024


class TooLarge(Exception):
    pass


class FetchFailed(Exception):
    pass


class _ServerError(Exception):
    """A 5xx answer: worth retrying."""


@dataclass(frozen=True)
class FetchConfig:
    max_bytes: int = 10 * 1024 * 1024
    timeout_s: float = 20.0
    max_redirects: int = 5
    retries: int = 2
    backoff_s: float = 0.5
    user_agent: str = USER_AGENT


def read_file(path: str, size: int | None, max_bytes: int) -> bytes:
    """The bytes of a file (decompressed by extension, as Beam does), at most `max_bytes`."""
    if size is not None and size > max_bytes:
        raise TooLarge(f"{size} bytes on disk, limit {max_bytes}")
    with FileSystems.open(path) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TooLarge(f"more than {max_bytes} bytes, limit {max_bytes}")
    return data


def fetch_url(url: str, config: FetchConfig) -> bytes:
    """GET a feed URL with a timeout, a redirect cap, a size cap and retries on 5xx/network errors.

    Raises FetchFailed (with a one-line reason) or TooLarge.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return _get(url, config)
        except (requests.ConnectionError, requests.Timeout, _ServerError) as e:
            if attempt > config.retries:
                raise FetchFailed(f"{_describe(e)} (after {attempt} attempts)") from e
            logger.info("fetch %s failed (%s), retrying", url, _describe(e))
            time.sleep(config.backoff_s * 2 ** (attempt - 1))
        except requests.TooManyRedirects as e:
            raise FetchFailed(f"more than {config.max_redirects} redirects") from e
        except requests.HTTPError as e:
            raise FetchFailed(_describe(e)) from e
        except requests.RequestException as e:
            raise FetchFailed(_describe(e)) from e


def _get(url: str, config: FetchConfig) -> bytes:
    with requests.Session() as session:
        session.max_redirects = config.max_redirects
        with session.get(
            url,
            timeout=config.timeout_s,
            stream=True,
            headers={"User-Agent": config.user_agent, "Accept": "application/rss+xml, application/atom+xml, */*"},
        ) as response:
            if response.status_code >= 500:
                raise _ServerError(f"HTTP {response.status_code}")
            response.raise_for_status()
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > config.max_bytes:
                raise TooLarge(f"Content-Length {declared}, limit {config.max_bytes}")
            chunks, total = [], 0
            for chunk in response.iter_content(CHUNK):
                total += len(chunk)
                if total > config.max_bytes:
                    raise TooLarge(f"more than {config.max_bytes} bytes, limit {config.max_bytes}")
                chunks.append(chunk)
            return b"".join(chunks)


def _describe(e: Exception) -> str:
    if isinstance(e, _ServerError):
        return str(e)
    if isinstance(e, requests.HTTPError) and e.response is not None:
        return f"HTTP {e.response.status_code}"
    if isinstance(e, requests.ConnectionError):
        return f"connection failed: {type(e.__context__ or e).__name__}"
    if isinstance(e, requests.Timeout):
        return "timed out"
    return f"{type(e).__name__}: {e}"
