"""Sending one alert to one destination: a Standard Webhooks (v1) POST, a JSON line on stdout,
or a call of a Python function. Each attempt's outcome is an `Attempt`, which AlertOnEvents
writes as a row of alerts/.

Webhooks (https://www.standardwebhooks.com, v1): the body is the JSON payload; the headers are
`webhook-id` (`<rule>:<event_id>:<version>`, the same on every attempt and every run: the
receiver's idempotency key), `webhook-timestamp` (Unix seconds of this attempt) and, with a
secret, `webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>` where the
key is the base64-decoded part of the `whsec_` secret. Each request has its own timeout; 5xx,
429 (waiting what `Retry-After` says), timeouts and refused or broken connections are retried
with exponential backoff and full jitter until the destination's deadline; any other status
(2xx aside) is final; 410 also disables the destination for the rest of the run.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import logging
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import requests

from transforms.rules import Destination, import_target

logger = logging.getLogger(__name__)

USER_AGENT = "newsmon/0.1 (alert hooks; Standard Webhooks v1)"
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0


@dataclass(frozen=True)
class Attempt:
    status: str  # delivered | failed
    sent_at: datetime
    response_code: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Outcome:
    attempts: list[Attempt]
    disable: bool = False  # 410: send nothing more to this destination in this run


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def body_of(payload: dict[str, Any]) -> bytes:
    """The payload as the JSON bytes that are sent and signed."""
    return json.dumps(payload, default=_json_default, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<signature>` per Standard Webhooks."""
    key = base64.b64decode(secret.removeprefix("whsec_") + "==")
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def backoff(attempt: int, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(cap, base·2^(attempt-1))], at least a tenth of a second."""
    return max(0.1, rng.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def post_webhook(
    destination: Destination,
    msg_id: str,
    body: bytes,
    session: requests.Session,
    rng: random.Random,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """POSTs until delivered, a final status, or the deadline (module docstring)."""
    deadline = time.monotonic() + destination.deadline_s
    attempts: list[Attempt] = []
    while True:
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
        }
        if destination.secret:
            headers["webhook-signature"] = sign(destination.secret, msg_id, timestamp, body)
        sent_at = _now()
        remaining = max(0.1, deadline - time.monotonic())
        wait = None
        try:
            response = session.post(
                destination.url,
                data=body,
                headers=headers,
                timeout=min(destination.timeout_s, remaining),
                allow_redirects=False,
            )
        except (requests.Timeout, requests.ConnectionError) as e:
            attempts.append(Attempt("failed", sent_at, None, f"{type(e).__name__}"))
            retry = True
        except requests.RequestException as e:
            attempts.append(Attempt("failed", sent_at, None, f"{type(e).__name__}: {e}"))
            return Outcome(attempts)
        else:
            code = response.status_code
            response.close()
            if 200 <= code < 300:
                attempts.append(Attempt("delivered", sent_at, code))
                return Outcome(attempts)
            attempts.append(Attempt("failed", sent_at, code, f"HTTP {code}"))
            if code == 410:
                logger.warning("alerts: %s answered 410 Gone: nothing more is sent to it in this run", destination.name)
                return Outcome(attempts, disable=True)
            retry = code >= 500 or code == 429
            if code in (429, 503):
                wait = retry_after(response.headers.get("Retry-After"), time.time())
        if not retry:
            return Outcome(attempts)
        delay = wait if wait is not None else backoff(len(attempts), rng)
        if time.monotonic() + delay >= deadline:
            logger.warning(
                "alerts: %s to %s failed after %d attempts (deadline)", msg_id, destination.name, len(attempts)
            )
            return Outcome(attempts)
        sleep(delay)


def deliver(
    destination: Destination,
    msg_id: str,
    payload: dict[str, Any],
    session: requests.Session,
    rng: random.Random,
) -> Outcome:
    """One alert to one destination, whatever its type."""
    body = body_of(payload)
    if destination.type == "webhook":
        return post_webhook(destination, msg_id, body, session, rng)
    sent_at = _now()
    if destination.type == "stdout":  # the destination *is* standard output: one JSON line per alert
        sys.stdout.write(body.decode("utf-8") + "\n")
        sys.stdout.flush()
        return Outcome([Attempt("delivered", sent_at)])
    try:
        import_target(destination.target)(json.loads(body))  # the same payload, as JSON types
    except Exception as e:
        logger.warning("alerts: %s raised %s for %s", destination.target, type(e).__name__, msg_id, exc_info=True)
        return Outcome([Attempt("failed", sent_at, None, f"{type(e).__name__}: {e}")])
    return Outcome([Attempt("delivered", sent_at)])
