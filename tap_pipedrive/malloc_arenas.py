"""Keep glibc's malloc to a few arenas, so the tap's memory stays flat as the data grows.

glibc gives each thread that allocates at the same time as another an arena of its own, up to 8
per CPU, and an arena keeps what it once held. The tap reads ahead and in time windows on many
threads, so its resident memory grew with the run (the scale benchmark, 100k to 1M records:
110 to 139 MB) while the objects it held did not (tracemalloc: a 47 to 52 MB peak). With two
arenas it stayed at 98 to 107 MB, as fast. The documented way is the MALLOC_ARENA_MAX variable;
a user who sets it is left alone.
"""

from __future__ import annotations

import ctypes
import os
import platform

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's malloc.h


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Whether the limit was set: only on glibc, and only if MALLOC_ARENA_MAX is not set. Call
    it before the threads start: arenas already made stay."""
    if os.environ.get("MALLOC_ARENA_MAX") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return mallopt(_M_ARENA_MAX, arenas) == 1
