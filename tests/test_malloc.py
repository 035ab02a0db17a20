"""pipeline.malloc: `newsmon run` caps glibc's malloc arenas before its worker threads start."""

from __future__ import annotations

import ctypes.util
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or not ctypes.util.find_library("c") or platform.libc_ver()[0] != "glibc",
    reason="malloc arenas are glibc's",
)

# 16 threads allocate at once, then glibc's malloc_info says how many arenas (<heap nr=…>) exist.
THREADS = """
import ctypes, ctypes.util, sys, tempfile, threading
if sys.argv[1] == "limit":
    from pipeline.malloc import limit_arenas
    limit_arenas()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.fopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
barrier = threading.Barrier(16)
def work():
    barrier.wait()
    for p in [libc.malloc(4096) for _ in range(2000)]:
        libc.free(p)
threads = [threading.Thread(target=work) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
with tempfile.NamedTemporaryFile("r") as f:
    fp = libc.fopen(f.name.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    print(f.read().count("<heap nr="))
"""


def arenas(mode: str, **env: str) -> int:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    done = subprocess.run(
        [sys.executable, "-c", THREADS, mode], cwd=ROOT, env=environ, capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def test_busy_threads_share_two_arenas_once_limited():
    assert arenas("limit") == 2
    assert arenas("none") > 2  # glibc's default: a new arena for a thread that finds them busy


def test_a_malloc_arena_max_the_user_set_is_kept():
    assert arenas("limit", MALLOC_ARENA_MAX="4") == 4
