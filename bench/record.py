"""Where a bench's figures go: its JSON in bench/results/, with the machine and the time."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def write_result(path: Path, result: dict[str, Any]) -> None:
    """Write `result` as JSON to `path`, with the machine it ran on and the time (UTC)."""
    result = {
        **result,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
