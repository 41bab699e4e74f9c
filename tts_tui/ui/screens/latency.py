"""F3: per-service latency figures and a histogram per service.

Reads the live StatsBook (the last 100 exchanges of each service) and redraws
every second, so exchanges that finish while it is open show up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tts_tui.core.stats import METRICS, WINDOW, StatsBook, histogram

LABELS = {"ttfb_ms": "TTFB", "ttfa_ms": "TTFA", "total_ms": "total"}
EIGHTHS = " ▏▎▍▌▋▊▉█"
BAR_WIDTH = 32
BINS = 10


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of `fraction` (0..1) of `width` cells, in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[part] if part else "")


TABLE_REST = 56  # the cells after the name column: count, err, three p50/p95 pairs


def figures_table(stats: StatsBook, names: Sequence[str], width: int = 67) -> Text:
    """count, errors, and p50/p95 of TTFB, TTFA and total (ms) for each service.

    The name column takes what `width` leaves (67 cells fit the modal at 80
    columns): a name is cut only when there is no room for it."""
    out = Text(no_wrap=True, overflow="crop")
    longest = max((len(n) for n in names), default=7)
    name_width = max(11, min(longest + 1, width - TABLE_REST - 1))
    out.append(f" {'':<{name_width}}{'':>6}{'':>4}", style="bold")
    for metric in METRICS:
        out.append(f"  {LABELS[metric] + ' ms':^13}", style="bold")
    out.append("\n")
    out.append(f" {'service':<{name_width}}{'count':>6}{'err':>4}", style="bold")
    for _metric in METRICS:
        out.append(f"  {'p50':>6} {'p95':>6}", style="bold")
    for name in names:
        s = stats.service(name)
        out.append("\n")
        shown = name if len(name) < name_width else name[: name_width - 2] + "…"
        out.append(f" {shown:<{name_width}}", style="bold")
        out.append(f"{s.count:>6}")
        out.append(f"{s.errors:>4}", style="red" if s.errors else "")
        for metric in METRICS:
            summary = s.summary(metric)
            out.append(f"  {_ms(summary.p50):>6} {_ms(summary.p95):>6}")
    return out


def histograms(
    stats: StatsBook, names: Sequence[str], metric: str, width: int = BAR_WIDTH, keys: tuple[str, str] = ("F5", "F4")
) -> Text:
    """One histogram of `metric` per service with values, drawn with block characters."""
    out = Text(no_wrap=True, overflow="crop")
    shown = 0
    for name in names:
        values = stats.service(name).values(metric)
        if not values:
            continue
        if shown:
            out.append("\n\n")
        shown += 1
        out.append(f" {name}", style="bold")
        out.append(
            f" · {LABELS[metric]} · {len(values)} exchanges · min {min(values):.0f} ms · max {max(values):.0f} ms",
            style="dim",
        )
        bins = histogram(values, BINS)
        top = max(count for _lo, _hi, count in bins)
        for low, high, count in bins:
            out.append(f"\n {f'{low:.0f}–{high:.0f} ms':>16} ")
            out.append(f"{bar(count / top, width):<{width}}", style="cyan")
            out.append(f" {count}")
    if not shown:
        out.append(f" no {LABELS[metric]} figures yet: speak ({keys[0]}) or check ({keys[1]}) a service", style="dim")
    return out


class LatencyScreen(ModalScreen[None]):
    """The latency figures of every service; `m` switches the histogram's metric."""

    DEFAULT_CSS = """
    LatencyScreen { align: center middle; }
    LatencyScreen > Vertical { width: 96%; max-width: 110; height: 90%; border: round $primary; background: $surface; }
    LatencyScreen Static { text-wrap: nowrap; text-overflow: clip; }
    LatencyScreen #latency-table { height: auto; padding: 0 0 1 0; }
    LatencyScreen #latency-caption { color: $text-muted; height: auto; padding: 0 1 1 1; }
    """
    BINDINGS = [
        Binding("escape,q,f3", "dismiss", "Close"),
        Binding("m", "next_metric", "Metric", id="latency_metric"),
    ]

    def __init__(
        self, stats: StatsBook, names: Callable[[], list[str]], metric: str = "total_ms", keys: tuple[str, str] = ("F5", "F4")
    ) -> None:
        super().__init__()
        self.keys = keys  # speak, check: named as remapped
        self.stats = stats
        self._names = names
        self.metric = metric

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Latency"
            box.border_subtitle = "m: metric · esc: close"
            yield Static(id="latency-table")
            yield Static(f"p50 / p95 over the last {WINDOW} exchanges of each service; failures left out", id="latency-caption")
            with VerticalScroll():
                yield Static(id="latency-histograms")

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(1.0, self.redraw)

    def names(self) -> list[str]:
        """Configured services first, then any other service that has figures."""
        names = list(self._names())
        return names + [n for n in self.stats.names() if n not in names]

    def redraw(self) -> None:
        names = self.names()
        table = self.query_one("#latency-table", Static)
        table.update(figures_table(self.stats, names, width=table.content_size.width or 67))
        self.query_one("#latency-histograms", Static).update(histograms(self.stats, names, self.metric, keys=self.keys))

    def action_next_metric(self) -> None:
        self.metric = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        self.redraw()
