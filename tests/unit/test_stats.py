"""Per-service statistics: percentiles a user can trust."""

import numpy as np
import pytest

from tts_tui.core.exchange import Exchange, PreparedRequest
from tts_tui.core.stats import WINDOW, StatsBook, Summary, histogram, percentile


def exchange(service: str, total: float | None, *, error: str | None = None) -> Exchange:
    return Exchange(PreparedRequest("POST", "http://127.0.0.1/x"), service=service, total_ms=total, ttfb_ms=total and total / 2, error=error)


@pytest.mark.parametrize("p", [0, 5, 50, 95, 99, 100])
def test_percentile_matches_numpy(p):
    values = [float(v) for v in np.random.default_rng(1).integers(1, 1000, 37)]
    assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))


def test_summary_of_nothing_is_empty():
    assert Summary.of([]) == Summary(0, None, None, None, None)


def test_window_keeps_the_last_100_and_errors_are_counted_apart():
    book = StatsBook()
    for i in range(150):
        book.add(exchange("a", float(i)))
    book.add(exchange("a", None, error="HTTP 500"))
    stats = book.service("a")
    assert stats.count == 151 and stats.errors == 1
    values = stats.values("total_ms")
    assert len(values) == WINDOW - 1 and values[0] == 51.0 and values[-1] == 149.0
    summary = stats.summary("total_ms")
    assert summary.min == 51.0 and summary.max == 149.0 and summary.p50 == 100.0
    assert stats.summary("ttfb_ms").p50 == 50.0
    assert book.service("unknown").count == 0 and book.names() == ["a"]


def test_histogram_bins_cover_every_value():
    bins = histogram([1, 2, 2, 3, 10], bins=3)
    assert sum(c for _lo, _hi, c in bins) == 5
    assert bins[0][0] == 1 and bins[-1][1] == 10
    assert histogram([]) == [] and histogram([5, 5]) == [(5, 5, 2)]
