"""ExchangeList: the exchange log as a Line API view over the model's sequence.

The rows are never copied into the widget: it holds a callable returning the
live sequence (the Workbench's deque) and formats only the rows on screen, so
10,000 exchanges cost the same to draw as 20. Columns are picked by priority to
fit the width: the compact set at 80 columns, every column from 120.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tts_tui.core.exchange import Exchange, human_bytes

DROPPED_NOTE = "audio dropped to save memory"
EMPTY_HINT = "no exchanges yet: {speak} speaks, and every request lands here"


class Column(NamedTuple):
    key: str
    label: str
    width: int  # 0: takes the width that is left (at least MIN_FLEX)
    right: bool  # right-aligned (numbers)
    priority: int  # lower comes first when the width is short


# In display order; `priority` decides which survive a narrow terminal.
COLUMNS = (
    Column("time", "time", 8, False, 0),
    Column("service", "service", 12, False, 1),
    Column("status", "status", 6, True, 2),
    Column("connect", "conn", 7, True, 9),
    Column("ttfb", "TTFB", 7, True, 4),
    Column("ttfa", "TTFA", 7, True, 7),
    Column("total", "total", 7, True, 3),
    Column("bytes", "bytes", 7, True, 6),
    Column("audio", "audio", 7, True, 5),
    Column("rtf", "RTF", 5, True, 8),
    Column("note", "note", 0, False, 10),
)
MIN_FLEX = 12


def fmt_ms(value: float | None) -> str:
    """Milliseconds in at most 7 cells: "812 ms", "9999 ms", "12.3 s"."""
    if value is None:
        return ""
    if value < 9999.5:
        return f"{value:.0f} ms"
    return f"{value / 1000:.1f} s"


def fmt_audio(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.2f} s" if seconds < 99.995 else f"{seconds:.0f} s"


def row_cells(ex: Exchange) -> dict[str, str]:
    """Every column's text for one exchange, keyed by column key.

    status is "…" while in flight, "ERR" for a failure without an HTTP status;
    `note` carries the error or says the audio was dropped.
    """
    if ex.error:
        status = "ERR" if ex.status is None else str(ex.status)
    elif ex.total_ms is None:
        status = "…"
    else:
        status = str(ex.status)
    rtf = ex.rtf
    note = ex.error or (DROPPED_NOTE if ex.body_dropped else "") or "; ".join(ex.notes)
    if ex.part:  # a chunk of a long text: which one, before anything else
        note = f"part {ex.part}" + (f" · {note}" if note else "")
    return {
        "time": time.strftime("%H:%M:%S", time.localtime(ex.started_at)),
        "service": ex.service,
        "status": status,
        "connect": fmt_ms(ex.connect_ms),
        "ttfb": fmt_ms(ex.ttfb_ms),
        # a first audio that could only come after the last byte is marked, not passed off as streamed
        "ttfa": fmt_ms(ex.ttfa_ms) + ("*" if ex.first_audio_after_body and ex.ttfa_ms is not None else ""),
        "total": fmt_ms(ex.total_ms),
        "bytes": human_bytes(ex.bytes, short=True) if ex.bytes or ex.total_ms is not None else "",
        "audio": fmt_audio(ex.audio_s),
        "rtf": "" if rtf is None else f"{rtf:.2f}",
        "note": note.replace("\n", " "),
    }


@lru_cache(maxsize=16)
def fit_columns(width: int) -> list[tuple[Column, int]]:
    """The columns that fit in `width` cells (1-cell gaps), with their widths, in display order."""
    chosen: set[str] = set()
    used = 1  # left padding
    for col in sorted(COLUMNS, key=lambda c: c.priority):
        need = (col.width or MIN_FLEX) + 1
        if used + need <= width:
            chosen.add(col.key)
            used += need
    # Without a note column, what is left widens the service names (up to 20).
    spare = 0 if "note" in chosen else max(0, min(8, width - used))
    out = []
    for col in COLUMNS:
        if col.key in chosen:
            w = col.width or (width - used + MIN_FLEX)
            out.append((col, w + spare if col.key == "service" else w))
    return out


# A failed row's empty timing columns, from which its reason takes over when
# the note column does not fit (80 columns): "ERR connection refused by …".
REASON_AFTER = "status"


def format_line(
    cells: dict[str, str], layout: list[tuple[Column, int]], width: int, *, failed: bool = False
) -> tuple[str, str]:
    """The row cut to `width` cells, as (every column but the note, the note).

    A `failed` row whose note column does not fit shows its note (the reason)
    after the status, shortened with "…", in place of its timings."""
    parts = [" "]
    note = ""
    reason = failed and cells.get("note") and all(col.key != "note" for col, _w in layout)
    for col, w in layout:
        text = cells.get(col.key, "")
        if col.key == "note":
            note = set_cell_size(text, w)
            continue
        parts.append(set_cell_size(text.rjust(w) if col.right else text, w))
        parts.append(" ")
        if reason and col.key == REASON_AFTER:
            note = cells["note"]
            total = cells.get("total")
            if total:
                note = f"{note} ({total})"
            break
    head = "".join(parts)
    room = max(0, width - cell_len(head))
    if cell_len(note) > room:
        note = set_cell_size(note, max(0, room - 1)) + "…" if room else ""
    return head, set_cell_size(note, room)


class ExchangeList(ScrollView, can_focus=True):
    """A scrolling list of exchanges with a row cursor and a fixed header.

    `source()` must return the current sequence (oldest first); call
    `refresh_rows()` after it changes. The cursor follows the newest row while
    it sits on the last one.
    """

    DEFAULT_CSS = """
    ExchangeList {
        height: 1fr;
        overflow-x: hidden;
        background: transparent;
        & > .exchange-list--header { text-style: bold; color: $text-muted; }
        & > .exchange-list--even { background: $surface-lighten-1 50%; }
        & > .exchange-list--error { color: $text-error; }
        & > .exchange-list--note { color: $text-muted; }
        & > .exchange-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .exchange-list--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """
    COMPONENT_CLASSES = {
        "exchange-list--header",
        "exchange-list--even",
        "exchange-list--error",
        "exchange-list--note",
        "exchange-list--cursor",
    }
    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "open", "Details", show=False),
    ]

    class Chosen(Message):
        """Enter (or a double click) on a row."""

        def __init__(self, exchange_id: int) -> None:
            super().__init__()
            self.exchange_id = exchange_id

    def __init__(
        self,
        source: Callable[[], Sequence[Exchange]],
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._source = source
        self.cursor = -1  # index into source(); -1 when empty
        self._cursor_id: int | None = None
        self._count = 0
        self._styles: dict[str, Style] = {}
        self.speak_key = "F5"  # named in the empty log's hint; the app sets it as remapped

    # --- the model ----------------------------------------------------------

    @property
    def row_count(self) -> int:
        return self._count

    def refresh_rows(self) -> None:
        """Pick up added, updated and dropped exchanges; keep the cursor on its exchange."""
        rows = self._source()
        n = len(rows)
        follow = self.cursor < 0 or self.cursor >= self._count - 1
        if n == 0:
            self.cursor = -1
        elif follow:
            self.cursor = n - 1
        else:
            self.cursor = self._relocate(rows, min(self.cursor, n - 1))
        self._count = n
        self._cursor_id = rows[self.cursor].id if n else None
        self.virtual_size = Size(0, n + 1)
        self._scroll_cursor_into_view()
        self.refresh()

    def _relocate(self, rows: Sequence[Exchange], guess: int) -> int:
        """Where the cursor's exchange went: old ones leave at the front of a full log."""
        if self._cursor_id is None or rows[guess].id == self._cursor_id:
            return guess
        for i in range(guess, max(-1, guess - 500), -1):
            if rows[i].id == self._cursor_id:
                return i
        return 0  # it left the log: the oldest row is the nearest

    def current(self) -> Exchange | None:
        """The exchange under the cursor."""
        rows = self._source()
        if 0 <= self.cursor < len(rows):
            return rows[self.cursor]
        return None

    def row_cells(self, index: int) -> dict[str, str]:
        """Every column's text for row `index` (tests and exports read rows this way)."""
        ex = self._source()[index]
        return row_cells(ex)

    def rows_text(self) -> list[str]:
        """Each row as drawn at the current width (without the cursor highlight)."""
        layout = fit_columns(self._width())
        width = self._width()
        return ["".join(format_line(row_cells(ex), layout, width, failed=bool(ex.error))).rstrip() for ex in self._source()]

    def screen_lines(self) -> list[str]:
        """The text of the lines on screen now, header first."""
        return [self.render_line(y).text.rstrip() for y in range(self.scrollable_content_region.height)]

    # --- cursor ---------------------------------------------------------------

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def move_cursor(self, index: int) -> None:
        """Put the cursor on row `index` (clamped) and scroll it into view."""
        if self._count == 0:
            return
        index = max(0, min(self._count - 1, index))
        if index == self.cursor:
            return
        old = self.cursor
        self.cursor = index
        self._cursor_id = self._source()[index].id
        before = self.scroll_offset.y
        self._scroll_cursor_into_view()
        if self.scroll_offset.y == before:
            # no scroll: only the two rows changed
            self.refresh_line(old + 1)
            self.refresh_line(index + 1)

    def _scroll_cursor_into_view(self) -> None:
        if self.cursor < 0:
            return
        top = round(self.scroll_offset.y)
        page = self._page
        if self.cursor < top:
            top = self.cursor
        elif self.cursor > top + page - 1:
            top = self.cursor - page + 1
        else:
            return
        self.scroll_to(y=top, animate=False, force=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor - self._page)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor + self._page)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(self._count - 1)

    def action_open(self) -> None:
        ex = self.current()
        if ex is not None:
            self.post_message(self.Chosen(ex.id))

    def on_resize(self) -> None:
        self._scroll_cursor_into_view()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        index = round(self.scroll_offset.y) + offset.y - 1
        if 0 <= index < self._count:
            self.move_cursor(index)
            if event.chain >= 2:
                self.action_open()

    # --- drawing --------------------------------------------------------------

    def _width(self) -> int:
        return self.scrollable_content_region.width

    def render_lines(self, crop):  # noqa: ANN001 - Textual's signature
        # component styles once per paint, not once per line
        base = self.rich_style
        self._styles = {
            name: base + self.get_component_rich_style(f"exchange-list--{name}")
            for name in ("header", "even", "error", "note", "cursor")
        }
        self._styles["base"] = base
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        styles = self._styles or {"base": self.rich_style}
        base = styles["base"]
        width = self._width()
        layout = fit_columns(width)
        if y == 0:
            head, note = format_line({col.key: col.label for col in COLUMNS}, layout, width)
            return Strip([Segment(head + note, styles.get("header", base))], width)
        index = round(self.scroll_offset.y) + y - 1
        rows = self._source()
        if not 0 <= index < len(rows):
            if y == 1 and not rows:
                hint = set_cell_size(" " + EMPTY_HINT.format(speak=self.speak_key), width)
                return Strip([Segment(hint, styles.get("note", base))], width)
            return Strip.blank(width, base)
        ex = rows[index]
        head, note = format_line(row_cells(ex), layout, width, failed=bool(ex.error))
        if index == self.cursor:
            style = styles.get("cursor", base)
        else:
            style = styles.get("even", base) if index % 2 == 0 else base
            if ex.error:
                style = style + Style(color=styles.get("error", base).color)
        note_style = style
        if ex.body_dropped and not ex.error and index != self.cursor:
            note_style = style + Style(color=styles.get("note", base).color)
        return Strip([Segment(head, style), Segment(note, note_style)], width)
