"""Reading the bytes of a source: files through Beam's FileSystems, feeds over HTTP(S).

Both go through transforms/bounded.py, so both hold at most `max_bytes` of decompressed data
(a `.gz` file or a gzip Content-Encoding is inflated step by step and cut at the cap) and both
end by `deadline_s` (--fetch-deadline) whatever the other side does. Local paths that are not
regular files (a FIFO, a device such as /dev/zero, a socket) are refused without being opened
for reading in blocking mode, so nothing waits on a writer that never comes.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
import urllib3
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from requests.adapters import HTTPAdapter

from transforms.bounded import (
    Corrupt,
    Deadline,
    DeadlinePassed,
    ReadError,
    TooLarge,
    compression_of,
    decompressing,
    read_capped,
)

logger = logging.getLogger(__name__)

USER_AGENT = "newsmon/0.1 (+https://github.com/newsmon/newsmon; feed reader)"
CHUNK = 64 * 1024
REDIRECTS = (301, 302, 303, 307, 308)

__all__ = ["USER_AGENT", "FetchConfig", "FetchFailed", "NotAFile", "TooLarge", "fetch_url", "read_file"]


class FetchFailed(Exception):
    pass


class NotAFile(Exception):
    """A path that is a FIFO, a device, a socket or a folder: not read."""


class _ServerError(Exception):
    """A 5xx answer: worth retrying."""


@dataclass(frozen=True)
class FetchConfig:
    max_bytes: int = 10 * 1024 * 1024
    timeout_s: float = 20.0  # per connect and per socket read
    max_redirects: int = 5
    retries: int = 2
    backoff_s: float = 0.5
    user_agent: str = USER_AGENT
    deadline_s: float = 120.0  # the whole fetch or file read, retries and redirects included


# ----------------------------------------------------------------------------- files


def read_file(path: str, size: int | None, config: FetchConfig) -> bytes:
    """The bytes of a file (decompressed by extension, as Beam does), at most `max_bytes`.

    Raises TooLarge, NotAFile, ReadError (open or read failed, a corrupt compressed file, the
    deadline passed) or OSError."""
    if size is not None and size > config.max_bytes:
        raise TooLarge(f"{size} bytes on disk, limit {config.max_bytes}")
    kind = compression_of(path)
    with Deadline(config.deadline_s) as deadline:
        raw = _open_local(path) if "://" not in path else FileSystems.open(path, compression_type=_UNCOMPRESSED)
        with raw:
            try:
                return read_capped(decompressing(raw, kind, deadline), config.max_bytes)
            except Corrupt as e:
                raise ReadError(f"corrupt {kind} file: {e}") from e
            except DeadlinePassed as e:
                raise ReadError(str(e)) from e


_UNCOMPRESSED = CompressionTypes.UNCOMPRESSED


def _open_local(path: str):
    """Open a local path only if it is a regular file: O_NONBLOCK makes opening a FIFO return
    at once instead of waiting for a writer, and fstat on the open descriptor decides."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotAFile(f"not a regular file ({_kind_of(mode)}): not read")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


def _kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device")):
        if test(mode):
            return name
    for test, name in ((stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


# ----------------------------------------------------------------------------- HTTP


def fetch_url(url: str, config: FetchConfig) -> bytes:
    """GET a feed URL: a timeout per read, an overall deadline, a redirect cap (http(s) targets
    only), a size cap on the decompressed body, and retries on 5xx/network errors.

    Raises FetchFailed (with a one-line reason) or TooLarge.
    """
    with Deadline(config.deadline_s) as deadline, requests.Session() as session:
        adapter = _DeadlineAdapter(deadline)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        attempt = 0
        while True:
            attempt += 1
            try:
                return _get(session, url, config, deadline)
            except (requests.ConnectionError, requests.Timeout, _ServerError, ReadError) as e:
                if deadline.expired:
                    raise FetchFailed(deadline.describe()) from e
                if attempt > config.retries:
                    raise FetchFailed(f"{_describe(e)} (after {attempt} attempts)") from e
                pause = config.backoff_s * 2 ** (attempt - 1)
                if pause >= deadline.remaining():
                    raise FetchFailed(f"{_describe(e)} (no time left to retry: {deadline.describe()})") from e
                logger.info("fetch %s failed (%s), retrying", url, _describe(e))
                time.sleep(pause)
            except DeadlinePassed as e:
                raise FetchFailed(str(e)) from e
            except Corrupt as e:
                raise FetchFailed(f"corrupt Content-Encoding: {e}") from e
            except requests.RequestException as e:
                if deadline.expired:
                    raise FetchFailed(deadline.describe()) from e
                raise FetchFailed(_describe(e)) from e


def _get(session: requests.Session, url: str, config: FetchConfig, deadline: Deadline) -> bytes:
    """One attempt: follows redirects itself (requests would read a redirect's whole body into
    memory, and follow any scheme its adapters know) without reading a redirect's body, and
    reads the body through the bounded reader."""
    headers = {
        "User-Agent": config.user_agent,
        "Accept": "application/rss+xml, application/atom+xml, */*",
        "Accept-Encoding": "gzip, deflate",
    }
    for _ in range(config.max_redirects + 1):
        deadline.check()
        read_timeout = max(0.001, min(config.timeout_s, deadline.remaining()))
        response = _send(session, url, headers, read_timeout)
        with response:
            if response.status_code in REDIRECTS and response.headers.get("Location"):
                target = urljoin(url, response.headers["Location"])
                if not target.lower().startswith(("http://", "https://")):
                    raise FetchFailed(f"redirect to a non-HTTP URL {target[:100]!r}: not followed")
                url = target
                continue
            if response.status_code >= 500:
                raise _ServerError(f"HTTP {response.status_code}")
            response.raise_for_status()
            declared = response.headers.get("Content-Length", "")
            encoding = response.headers.get("Content-Encoding", "identity").strip().lower() or "identity"
            if declared.isdigit() and int(declared) > config.max_bytes and encoding == "identity":
                raise TooLarge(f"Content-Length {declared}, limit {config.max_bytes}")
            if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
                raise FetchFailed(f"unsupported Content-Encoding {encoding!r} (asked for gzip or deflate)")
            body = _RawBody(response.raw)
            return read_capped(decompressing(body, encoding, deadline), config.max_bytes)
    raise FetchFailed(f"more than {config.max_redirects} redirects")


def _send(session: requests.Session, url: str, headers: dict[str, str], timeout: float) -> requests.Response:
    """One GET through the transport adapter itself. Not `session.get(allow_redirects=False)`:
    Session.send still reads a redirect's whole body (to prepare `response.next`), and a
    redirect that streams 200 MB would be 200 MB in memory."""
    prepared = session.prepare_request(requests.Request("GET", url, headers=headers))
    settings = session.merge_environment_settings(prepared.url, {}, True, None, None)  # proxies from the env
    return session.get_adapter(prepared.url).send(
        prepared,
        stream=True,
        timeout=(timeout, timeout),
        verify=settings["verify"],
        proxies=settings["proxies"],
        cert=settings["cert"],
    )


class _RawBody:
    """The body as sent (no decoding by urllib3: the bounded reader decodes it)."""

    def __init__(self, raw: urllib3.HTTPResponse):
        self._raw = raw

    def read(self, n: int = -1) -> bytes:
        try:
            return self._raw.read(CHUNK if n is None or n < 0 else n, decode_content=False)
        except (urllib3.exceptions.HTTPError, requests.RequestException) as e:
            raise OSError(f"{type(e).__name__}: {e}") from e


class _DeadlineAdapter(HTTPAdapter):
    """Registers every socket its connections open with the fetch's Deadline, so the deadline
    can shut them down even while the status line or headers are being trickled in."""

    def __init__(self, deadline: Deadline):
        self._deadline = deadline
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **kwargs: object) -> None:
        super().init_poolmanager(connections, maxsize, block, **kwargs)
        deadline = self._deadline

        class Connection(urllib3.connection.HTTPConnection):
            def _new_conn(self):
                sock = super()._new_conn()
                deadline.register(sock)
                return sock

        class TLSConnection(urllib3.connection.HTTPSConnection):
            def _new_conn(self):
                sock = super()._new_conn()
                deadline.register(sock)
                return sock

        class Pool(urllib3.HTTPConnectionPool):
            ConnectionCls = Connection

        class TLSPool(urllib3.HTTPSConnectionPool):
            ConnectionCls = TLSConnection

        self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TLSPool}


def _describe(e: Exception) -> str:
    if isinstance(e, (_ServerError, ReadError)):
        return str(e)
    if isinstance(e, requests.HTTPError) and e.response is not None:
        return f"HTTP {e.response.status_code}"
    if isinstance(e, requests.ConnectionError):
        return f"connection failed: {type(e.__context__ or e).__name__}"
    if isinstance(e, requests.Timeout):
        return "timed out"
    return f"{type(e).__name__}: {e}"
