"""Fixtures: a real HTTP feed server on 127.0.0.1."""

from __future__ import annotations

import pytest

FEED_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Loopback Wire</title><link>http://127.0.0.1/</link>
<item><title>Drones downed over Sumy</title><link>http://127.0.0.1/sumy?utm_source=rss</link>
<pubDate>Sat, 15 Mar 2025 05:10:00 +0000</pubDate>
<description>Air defence units downed 14 drones over the Sumy region overnight, the governor said.</description></item>
<item><title>Power restored in Poltava</title><link>http://127.0.0.1/poltava</link>
<pubDate>Sat, 15 Mar 2025 09:00:00 +0000</pubDate>
<description>Engineers restored power to most homes in Poltava after a strike on a substation.</description>
</item>
</channel></rss>"""


@pytest.fixture(scope="session")
def feed_server():
    """A real HTTP server on 127.0.0.1 with a good feed and the usual ways for a fetch to fail."""
    import socket
    import time
    from http.server import BaseHTTPRequestHandler

    from helpers import serving

    seen_agents: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen_agents.append(self.headers.get("User-Agent", ""))
            if self.path == "/feed.rss":
                self._send(200, FEED_XML, "application/rss+xml")
            elif self.path == "/error":
                self._send(500, b"internal error", "text/plain")
            elif self.path == "/missing":
                self._send(404, b"not found", "text/plain")
            elif self.path.startswith("/loop"):
                self.send_response(302)
                self.send_header("Location", f"/loop{len(self.path)}")
                self.end_headers()
            elif self.path == "/endless":  # no Content-Length, never ends on its own
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.end_headers()
                try:
                    for _ in range(100_000):
                        self.wfile.write(b"<item>" + b"x" * 65536 + b"</item>")
                except (BrokenPipeError, ConnectionResetError):
                    pass
            elif self.path == "/slow":
                time.sleep(3)
                self._send(200, FEED_XML, "application/rss+xml")

        def _send(self, code, body, ctype):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with socket.socket() as s:  # a port nobody listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        refused = s.getsockname()[1]
    with serving(Handler) as base:
        yield {"base": base, "refused": f"http://127.0.0.1:{refused}/feed.rss", "agents": seen_agents}


@pytest.fixture(scope="session")
def samples_output(tmp_path_factory):
    """OUT of `newsmon run` on the bundled samples (as `make run` makes it), and the run's stderr:
    shared by the report and README tests, which only read it."""
    from helpers import SAMPLES, newsmon

    out = tmp_path_factory.mktemp("samples-output") / "out"
    done = newsmon(
        "run",
        "--input",
        str(SAMPLES / "articles"),
        "--feeds-file",
        str(SAMPLES / "feeds" / "feeds.opml"),
        "--output",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    return out, done.stderr
