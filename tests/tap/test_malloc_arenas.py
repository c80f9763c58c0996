"""The tap keeps glibc's malloc to a few arenas (tap_pipedrive/malloc_arenas.py): threads that
allocate at once share them, so resident memory does not grow with the threads' peaks."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

# Eight threads allocate at once, then glibc's malloc_info tells how many arenas (heaps) exist.
PROBE = """
import ctypes, os, sys, tempfile, threading
from tap_pipedrive.malloc_arenas import limit_malloc_arenas
if sys.argv[1] == "limit":
    assert limit_malloc_arenas()
barrier = threading.Barrier(8)
def work():
    barrier.wait()
    for _ in range(500):
        kept = [bytearray(4096) for _ in range(50)]
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc = ctypes.CDLL(None)
libc.fdopen.restype = ctypes.c_void_p
with tempfile.TemporaryFile() as f:
    stream = ctypes.c_void_p(libc.fdopen(os.dup(f.fileno()), b"w"))
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    f.seek(0)
    print(f.read().decode().count("<heap nr="))
"""


def _arenas(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, check=True
    )
    return int(out.stdout)


def test_threads_that_allocate_at_once_share_two_arenas() -> None:
    # CI and the tap's containers run on glibc; elsewhere there is no arena to limit.
    assert platform.libc_ver()[0] == "glibc", "this machine's libc is not glibc"
    assert _arenas("limit") <= 2
    assert _arenas("plain") > 2  # the probe can tell: without the limit, more arenas


def test_a_user_setting_of_malloc_arena_max_is_left_alone(monkeypatch) -> None:
    from tap_pipedrive.malloc_arenas import limit_malloc_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False
