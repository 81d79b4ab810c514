"""Work on many cameras at once: threads that wait on sockets and processes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable


def in_parallel(items: list, work: Callable, max_workers: int = 64) -> list:
    """Run `work(item)` for every item at once; results in order. A slow item holds up none."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
        return list(pool.map(work, items))
