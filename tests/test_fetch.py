"""Fetching feeds over HTTP from a real server on 127.0.0.1."""

from __future__ import annotations

import pytest

from transforms.fetch import USER_AGENT, FetchConfig, FetchFailed, TooLarge, fetch_url

FAST = FetchConfig(timeout_s=1.0, retries=1, backoff_s=0.01, max_redirects=5)


def test_fetches_the_feed_with_our_user_agent(feed_server):
    assert b"Loopback Wire" in fetch_url(feed_server["base"] + "/feed.rss", FAST)
    assert USER_AGENT in feed_server["agents"]


@pytest.mark.parametrize(
    "path, message",
    [("/error", "HTTP 500 (after 2 attempts)"), ("/missing", "HTTP 404"), ("/loop", "more than 5 redirects")],
)
def test_http_failures(feed_server, path, message):
    with pytest.raises(FetchFailed, match=message.replace("(", r"\(").replace(")", r"\)")):
        fetch_url(feed_server["base"] + path, FAST)


def test_refused_connection_and_timeout(feed_server):
    with pytest.raises(FetchFailed, match="connection failed"):
        fetch_url(feed_server["refused"], FAST)
    with pytest.raises(FetchFailed, match=r"timed out|connection failed"):
        fetch_url(feed_server["base"] + "/slow", FetchConfig(timeout_s=0.3, retries=0))


def test_endless_response_is_cut_at_the_size_cap(feed_server):
    with pytest.raises(TooLarge):
        fetch_url(feed_server["base"] + "/endless", FetchConfig(max_bytes=1_000_000, retries=0))
