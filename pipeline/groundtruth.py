"""The Ukrainian Air Force's own figures per night, to draw beside newsmon's in the report.

The format is that of `missile_attacks_daily.csv` (the Kaggle data set "Massive Missile Attacks
on Ukraine"): one row per weapon model and report, with `time_start`, `time_end`, `model`,
`launched`, `destroyed` (shot down), `not_reach_goal` (lost to electronic warfare) and `source`.
Only rows whose source starts with `kpszsu` are the Air Force's national totals; the other
sources are regional commands whose figures overlap them, so they are left out when national
rows are present. A night is the date its report's `time_end` falls on: the morning the night
ended, as newsmon's `event_date`.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from datetime import date

from pipeline.report import ReportError

NATIONAL_SOURCE = "kpszsu"
REQUIRED = ("time_end", "model", "launched", "destroyed")
# Model names that are drones when no missiles_and_uavs.csv lies beside the file.
_DRONE_WORDS = ("uav", "shahed", "geran", "gerbera", "drone", "lancet", "orlan", "zala", "supercam", "молнія")


def read_air_force_csv(path: str) -> dict[date, dict[str, int | None]]:
    """Night -> {drones_launched, drones_shot_down, drones_suppressed, missiles_launched}: the sums
    over the night's drone models and missile models (None where the file has no such figure)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise ReportError(f"--groundtruth {path}: not the Air Force format (no column {missing[0]})")
            rows = list(reader)
    except OSError as e:
        raise ReportError(f"--groundtruth {path}: {e.strerror or e}") from e
    except (UnicodeDecodeError, csv.Error) as e:
        raise ReportError(f"--groundtruth {path}: not a UTF-8 CSV ({type(e).__name__})") from e
    if any((r.get("source") or "").startswith(NATIONAL_SOURCE) for r in rows):
        rows = [r for r in rows if (r.get("source") or "").startswith(NATIONAL_SOURCE)]
    categories = _categories(os.path.join(os.path.dirname(path), "missiles_and_uavs.csv"))

    nights: dict[date, dict[str, int | None]] = defaultdict(
        lambda: dict.fromkeys(("drones_launched", "drones_shot_down", "drones_suppressed", "missiles_launched"))
    )
    for n, row in enumerate(rows, start=2):
        try:
            night = date.fromisoformat(row["time_end"].strip()[:10])
        except ValueError as e:
            raise ReportError(f"--groundtruth {path}: line {n}: time_end {row['time_end']!r} is not a date") from e
        kind = _kind(row["model"], categories)
        figures = nights[night]
        if kind == "drone":
            _add(figures, "drones_launched", row.get("launched"))
            _add(figures, "drones_shot_down", row.get("destroyed"))
            _add(figures, "drones_suppressed", row.get("not_reach_goal"))
        elif kind == "missile":
            _add(figures, "missiles_launched", row.get("launched"))
    return dict(nights)


def _add(figures: dict[str, int | None], key: str, value: str | None) -> None:
    if value is None or not value.strip():
        return
    try:
        number = int(float(value))
    except ValueError:
        return
    figures[key] = (figures[key] or 0) + number


def _categories(path: str) -> dict[str, str]:
    """model -> category from the data set's missiles_and_uavs.csv, when it is there."""
    if not os.path.exists(path):
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {r["model"]: r.get("category") or "" for r in csv.DictReader(f) if r.get("model")}


def _kind(model: str, categories: dict[str, str]) -> str | None:
    """'drone', 'missile' or None (guided bombs, unknown kinds: not charted)."""
    category = categories.get(model, "").lower()
    if category:
        if category == "uav":
            return "drone"
        return "missile" if "missile" in category or "ballistic" in category else None
    name = model.lower()
    if any(word in name for word in _DRONE_WORDS):
        return "drone"
    return None if "gbu" in name or "bomb" in name else "missile"
