"""Record types and the pyarrow schema of every newsmon table, in one place.

Rows travel through the pipeline as plain dicts whose keys are the column names below; the
writer turns them into Arrow tables with exactly these schemas, so every Parquet file of a
table has the same schema (empty windows too).
"""

from schemas.records import REASONS, Rejected, SourceSpec
from schemas.tables import ALERTS, ARTICLES, EVENTS, REJECTED, TABLES, to_arrow

__all__ = ["ALERTS", "ARTICLES", "EVENTS", "REASONS", "REJECTED", "TABLES", "Rejected", "SourceSpec", "to_arrow"]
