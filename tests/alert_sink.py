"""A `python` alert destination for the tests: appends each payload, as a JSON line, to the
file named by the ALERT_SINK environment variable."""

from __future__ import annotations

import json
import os
from typing import Any


def record(payload: dict[str, Any]) -> None:
    with open(os.environ["ALERT_SINK"], "a", encoding="utf-8") as f:
        f.write(json.dumps(payload) + "\n")
