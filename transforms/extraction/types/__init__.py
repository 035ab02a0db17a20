"""One module per event type, each registering it (transforms/extraction/registry.py).

The order of the imports below is the order of the types everywhere: EVENT_FIELDS, the events
table's columns, extract_mentions' output. A new type: a module here and a line below.
"""

# isort: off
from transforms.extraction.types import air_attack  # noqa: F401
from transforms.extraction.types import ceasefire  # noqa: F401
from transforms.extraction.types import talks  # noqa: F401
from transforms.extraction.types import prisoner_exchange  # noqa: F401

# isort: on
