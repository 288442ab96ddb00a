"""What the benchmark scripts share: timing a call many times, and showing the spread."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

#: Runs of each per-call figure.
REPEATS = 7


def per_call(fn: Callable[[], Any], number: int, repeats: int = REPEATS) -> list[float]:
    """Seconds per call of *fn*, one figure for each of *repeats* runs of *number* calls."""
    figures = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        figures.append((time.perf_counter() - start) / number)
    return figures


def spread(
    figures: list[float], scale: float = 1.0, *, digits: int = 2, width: int = 9, unit: str = ""
) -> str:
    """``median unit  (range low-high)`` of *figures* multiplied by *scale*."""
    low, median, high = (
        min(figures) * scale,
        statistics.median(figures) * scale,
        max(figures) * scale,
    )
    return f"{median:{width}.{digits}f}{unit}  (range {low:.{digits}f}-{high:.{digits}f})"
