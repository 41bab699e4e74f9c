"""Per-service latency statistics over the most recent exchanges."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tts_tui.core.exchange import Exchange

WINDOW = 100
METRICS = ("ttfb_ms", "ttfa_ms", "total_ms")


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear-interpolated percentile (p in 0..100), like numpy's default; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """min / p50 / p95 / max of one metric; all None when there is no value."""

    n: int
    min: float | None
    p50: float | None
    p95: float | None
    max: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            return cls(0, None, None, None, None)
        return cls(len(values), min(values), percentile(values, 50), percentile(values, 95), max(values))


@dataclass
class ServiceStats:
    """The last `WINDOW` exchanges of one service."""

    name: str
    window: deque[Exchange] = field(default_factory=lambda: deque(maxlen=WINDOW))
    count: int = 0  # every exchange ever, not only the window
    errors: int = 0

    def add(self, exchange: Exchange) -> None:
        self.window.append(exchange)
        self.count += 1
        self.errors += exchange.error is not None

    def values(self, metric: str) -> list[float]:
        """The metric of the successful exchanges in the window, oldest first."""
        out = []
        for ex in self.window:
            value = getattr(ex, metric)
            if ex.error is None and value is not None:
                out.append(float(value))
        return out

    def summary(self, metric: str) -> Summary:
        return Summary.of(self.values(metric))

    @property
    def window_errors(self) -> int:
        return sum(ex.error is not None for ex in self.window)


class StatsBook:
    """Statistics for every service seen; feed it exchanges as they finish."""

    def __init__(self) -> None:
        self._services: dict[str, ServiceStats] = {}

    def add(self, exchange: Exchange) -> None:
        name = exchange.service or "?"
        self._services.setdefault(name, ServiceStats(name)).add(exchange)

    def extend(self, exchanges: Iterable[Exchange]) -> None:
        for exchange in exchanges:
            self.add(exchange)

    def service(self, name: str) -> ServiceStats:
        return self._services.get(name) or ServiceStats(name)

    def names(self) -> list[str]:
        return list(self._services)


def histogram(values: Sequence[float], bins: int = 10) -> list[tuple[float, float, int]]:
    """Equal-width bins over [min, max]: (low, high, count) each; [] when empty."""
    if not values:
        return []
    low, high = min(values), max(values)
    if high == low:
        return [(low, high, len(values))]
    width = (high - low) / bins
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / width))] += 1
    return [(low + i * width, low + (i + 1) * width, c) for i, c in enumerate(counts)]
