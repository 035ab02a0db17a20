"""Assembly of the newsmon pipeline: options, create_pipeline(options), the CLI."""

import logging


class _DropBeamImportNoise(logging.Filter):
    """Beam without the [gcp] extra logs "apitools not found" at import; it is harmless."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "apitools not found" not in record.getMessage()


logging.getLogger().addFilter(_DropBeamImportNoise())

from pipeline.assemble import create_pipeline  # noqa: E402  (after the filter, which must see Beam's import)
from pipeline.options import NewsmonOptions, UsageError  # noqa: E402

__all__ = ["NewsmonOptions", "UsageError", "create_pipeline"]
