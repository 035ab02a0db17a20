"""Fewer glibc malloc arenas for the job's process and the workers it starts.

glibc gives a thread that finds the arenas busy an arena of its own, up to 8 per core. A Beam
job's workers run as threads in newsmon's process (the FnApiRunner's in-process worker, Prism's
LOOPBACK workers), with gRPC's threads beside them, so they allocate in up to 16 arenas on a
2-core machine; what a bundle frees in one is kept there for reuse, not given back. After a
burst of 1,000 feed items a stream's process grew about 230 KB an article with glibc's arenas
and about 70 KB with two (README, "Memory after a burst"; bench/stream_memory.py); in a trickle
of one article a second the cap changed nothing measurable, and a batch run's peak about as
little.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform

logger = logging.getLogger(__name__)

ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number (glibc's malloc.h)


def limit_arenas() -> None:
    """Cap the arenas at ARENAS unless MALLOC_ARENA_MAX is set (glibc read it at start). Call
    it before any thread starts: arenas made before stay. Off glibc (musl, macOS) nothing
    changes."""
    if "MALLOC_ARENA_MAX" in os.environ or platform.system() != "Linux":
        return
    os.environ["MALLOC_ARENA_MAX"] = str(ARENAS)  # worker processes started later read it
    libc = ctypes.util.find_library("c")
    try:
        ctypes.CDLL(libc).mallopt(_M_ARENA_MAX, ARENAS)
    except (OSError, AttributeError, TypeError):  # no libc found, or one without mallopt
        logger.debug("mallopt not available (%s): malloc arenas left as they are", libc)
