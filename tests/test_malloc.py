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
    from pipeline.malloc import tune_malloc
    tune_malloc()
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
    return int(run(THREADS, mode, env))


def run(script: str, mode: str, env: dict[str, str]) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | env
    done = subprocess.run(
        [sys.executable, "-c", script, mode], cwd=ROOT, env=environ, capture_output=True, text=True, check=True
    )
    return done.stdout


# A 4 MiB block is mapped and freed; then 1 MiB blocks: how many of them glibc maps apart
# (mallinfo2's hblks), which it gives back to the system when they are freed.
BLOCKS = """
import ctypes, ctypes.util, sys
if sys.argv[1] == "limit":
    from pipeline.malloc import tune_malloc
    tune_malloc()
FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in FIELDS.split()]
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(4 << 20))
before = libc.mallinfo2().hblks
kept = [libc.malloc(1 << 20) for _ in range(8)]
print(libc.mallinfo2().hblks - before)
"""


def test_busy_threads_share_two_arenas_once_limited():
    assert arenas("limit") == 2
    assert arenas("none") > 2  # glibc's default: a new arena for a thread that finds them busy


def test_a_malloc_arena_max_the_user_set_is_kept():
    assert arenas("limit", MALLOC_ARENA_MAX="4") == 4


def test_large_blocks_stay_mapped_apart_once_tuned():
    # glibc raises its mmap threshold to the size of a mapped block freed (here 4 MiB), so the
    # 1 MiB blocks after it come from the heap, where what is freed fragments and stays
    assert int(run(BLOCKS, "none", {})) == 0
    assert int(run(BLOCKS, "limit", {})) == 8
    assert int(run(BLOCKS, "limit", {"MALLOC_MMAP_THRESHOLD_": str(8 << 20)})) == 0  # the user's value is kept
