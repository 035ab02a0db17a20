"""The label schema shared by the labelled sets' validators (devset, devset2, heldout).

It restates the event fields of the pipeline (transforms/extraction EVENT_FIELDS, the events
table) without importing the project, so the validators run with a bare python3;
tests/test_extract.py checks that the two agree.
"""

import re

ARTICLE_KEYS = {"id", "outlet", "url", "published_at", "title", "text", "story", "events"}
AIR_ATTACK_FIELDS = (
    "attacker target drones_launched drones_shot_down drones_suppressed drones_neutralized_total "
    "missiles_launched missiles_shot_down killed injured regions claimant"
).split()
EVENT_FIELDS = {
    "air_attack": AIR_ATTACK_FIELDS,
    "ceasefire": ["proposer", "duration_hours", "status"],
    "talks": ["location", "parties"],
    "prisoner_exchange": ["prisoners_per_side", "status"],
}
# every key of a gold event object: the type, the date and the fields of the type
EVENT_KEYS = {t: {"event_type", "event_date", *fields} for t, fields in EVENT_FIELDS.items()}
INT_FIELDS = set(AIR_ATTACK_FIELDS[2:10]) | {"duration_hours", "prisoners_per_side"}
# ISO 3166-2 codes the labelling conventions allow (tests/data/devset/README.md)
REGIONS = set(
    """UA-71 UA-74 UA-77 UA-12 UA-14 UA-26 UA-63 UA-65 UA-68 UA-35 UA-32 UA-30 UA-09 UA-46
UA-48 UA-51 UA-53 UA-56 UA-59 UA-61 UA-05 UA-07 UA-21 UA-23 UA-18 UA-43 UA-40 RU-BEL RU-KRS RU-BRY
RU-ORL RU-VOR RU-ROS RU-KDA RU-MOS RU-MOW RU-IRK RU-MUR RU-LIP RU-TUL RU-KLU RU-SMO RU-TAM RU-SAR
RU-RYA""".split()
)
CLAIMANTS = {"Ukrainian Air Force", "Russian Defence Ministry", None}
STATUS = {"ceasefire": {"proposed", "declared", "accepted", "rejected"}, "prisoner_exchange": {"agreed", "completed"}}
ISO3 = re.compile(r"^[A-Z]{3}$")
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

# numbers written as words, "forty-four" included; WORD_RE tries the longest first
_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
WORDS = {w: i for i, w in enumerate(_UNITS)} | _TENS
WORDS |= {f"{t}-{u}": tv + uv for t, tv in _TENS.items() for u, uv in zip(_UNITS[1:10], range(1, 10), strict=True)}
WORD_RE = r"\b(" + "|".join(sorted(map(re.escape, WORDS), key=len, reverse=True)) + r")\b"
