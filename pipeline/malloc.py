"""Fewer glibc malloc arenas, and fixed mmap and trim thresholds, for the job's process and its workers.

glibc gives a thread that finds the arenas busy an arena of its own, up to 8 per core. A Beam
job's workers run as threads in newsmon's process (the FnApiRunner's in-process worker, Prism's
LOOPBACK workers), with gRPC's threads beside them, so they allocate in up to 16 arenas on a
2-core machine; what a bundle frees in one is kept there for reuse, not given back. After a
burst of 1,000 feed items a stream's process grew about 230 KB an article with glibc's arenas
and about 70 KB with two (bench/RESULTS.md, "Memory after a burst"; bench/stream_memory.py); in a trickle
of one article a second the cap changed nothing measurable, and a batch run's peak about as
little.

Large blocks are also mapped apart and given back when freed (M_MMAP_THRESHOLD and
M_TRIM_THRESHOLD at 128 KiB, glibc's own starting values, kept fixed). By default glibc raises
the mmap threshold to the size of every mapped block freed, up to 32 MiB, after which the
runner's large buffers (a stage's encoded elements, pickled rows) come from the heap, whose
freed memory fragments and stays: 20,000 articles of bench/pipeline.py on one worker peaked at
1,088 MB with glibc's dynamic threshold and 938 MB with it fixed (bench/RESULTS.md, "Memory stage by stage").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform

logger = logging.getLogger(__name__)

ARENAS = 2
MMAP_THRESHOLD = TRIM_THRESHOLD = 128 * 1024
# mallopt's parameter numbers (glibc's malloc.h), with the variables glibc reads at start
_SETTINGS = (
    (-8, "MALLOC_ARENA_MAX", ARENAS),  # M_ARENA_MAX
    (-3, "MALLOC_MMAP_THRESHOLD_", MMAP_THRESHOLD),  # M_MMAP_THRESHOLD
    (-1, "MALLOC_TRIM_THRESHOLD_", TRIM_THRESHOLD),  # M_TRIM_THRESHOLD
)


def tune_malloc() -> None:
    """Cap the arenas at ARENAS and fix the mmap and trim thresholds, each unless its variable
    is set (glibc read it at start). Call it before any thread starts: arenas made before stay.
    The variables are set too, for the worker processes started later. Off glibc (musl, macOS)
    nothing changes."""
    if platform.system() != "Linux":
        return
    libc = ctypes.util.find_library("c")
    for number, variable, value in _SETTINGS:
        if variable in os.environ:
            continue
        os.environ[variable] = str(value)
        try:
            ctypes.CDLL(libc).mallopt(number, value)
        except (OSError, AttributeError, TypeError):  # no libc found, or one without mallopt
            logger.debug("mallopt not available (%s): malloc left as it is", libc)
            return
