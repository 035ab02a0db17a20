"""Give back a finished bundle's output buffer in Beam's Python SDK worker.

Each fused stage writes its outputs through a DataOutputOperation, which encodes them into an
OutputStream (apache_beam/coders/stream.pyx): a C buffer that doubles as it fills, is flushed to
the runner past 10 MB, and is then only rewound, never shrunk, so a stage that output more than
10 MB holds 16 MiB. When the bundle ends the operation closes the stream but keeps it, and the
SDK worker keeps the stage's BundleProcessor for reuse until it has been idle for 60 s or more
(sdk_worker.BundleProcessorCache, Beam 2.77). In a batch job every stage runs once, so each
finished stage went on holding its buffer while the later stages ran: at the peak of 5,000
articles of bench/pipeline.py (memray, blocks of 128 KiB or more alive at once), 227 MB of the
395 MB of large blocks were these buffers; 10,000 articles on one worker peaked at 772 MB with
them and 608 MB without (bench/RESULTS.md, "Output buffers and packed groupings").

`release_output_buffers` makes the operation drop its stream once the bundle is closed (it is
given a new one at the start of each bundle), so the buffer is freed with the bundle. newsmon
calls it in its own process (the FnApiRunner's in-process worker, Prism's LOOPBACK workers) and
names this module in `--beam_plugins`, which every Python SDK worker imports at start
(sdk_worker_main): importing it applies it there too.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

PLUGIN = __name__  # the name SDK workers import (--beam_plugins)


def release_output_buffers() -> bool:
    """Make Beam's DataOutputOperation drop its output stream when it finishes a bundle.
    Idempotent; returns whether it applies (False on a Beam whose operation does not take a
    new stream per bundle, where it changes nothing)."""
    from apache_beam.runners.worker.bundle_processor import DataOutputOperation

    finish = DataOutputOperation.finish
    if getattr(finish, "releases_output_stream", False):
        return True
    if not hasattr(DataOutputOperation, "set_output_stream"):
        logger.debug("Beam's DataOutputOperation has no set_output_stream: output buffers left as they are")
        return False

    def finish_and_release(self: Any) -> None:
        finish(self)
        self.output_stream = None  # set again by set_output_stream before the next bundle

    finish_and_release.releases_output_stream = True  # type: ignore[attr-defined]
    finish_and_release.beams_finish = finish  # type: ignore[attr-defined]
    DataOutputOperation.finish = finish_and_release
    return True


release_output_buffers()  # on import: this module is the SDK workers' plugin
