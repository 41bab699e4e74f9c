"""The Log pane: one row per HTTP exchange, newest at the bottom and followed."""

from __future__ import annotations

import time

from rich.text import Text
from textual import on
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable

from tts_tui.core.exchange import Exchange, human_bytes

COLUMNS = (("time", 8), ("service", 12), ("status", 6), ("TTFB", 8), ("total", 8), ("bytes", 7), ("audio", 7))


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.0f} ms"


def row_cells(ex: Exchange) -> list[Text]:
    """The cells of an exchange's row; failed exchanges in the error colour."""
    stamp = time.strftime("%H:%M:%S", time.localtime(ex.started_at))
    if ex.error:
        status = "ERR" if ex.status is None else str(ex.status)
    elif ex.total_ms is None:
        status = "…"
    else:
        status = str(ex.status)
    audio = "" if ex.audio_s is None else f"{ex.audio_s:.2f} s"
    cells = [stamp, ex.service, status, _ms(ex.ttfb_ms), _ms(ex.total_ms), human_bytes(ex.bytes, short=True), audio]
    style = "red" if ex.error else ""
    return [Text(c, style=style) for c in cells]


class LogPane(Vertical):
    class Open(Message):
        def __init__(self, exchange_id: int) -> None:
            super().__init__()
            self.exchange_id = exchange_id

    def __init__(self) -> None:
        super().__init__(classes="pane", id="log")
        self.border_title = "Log"
        self._rows: dict[int, Exchange] = {}

    def compose(self):
        table: DataTable = DataTable(id="log-table", cursor_type="row", zebra_stripes=True)
        for label, width in COLUMNS:
            table.add_column(label, width=width)
        yield table

    def show(self, exchanges: list[Exchange]) -> None:
        """Add new exchanges and refresh changed ones; follow the newest."""
        table = self.query_one(DataTable)
        follow = table.row_count == 0 or table.cursor_row >= table.row_count - 1
        added = False
        for ex in exchanges:
            key = str(ex.id)
            cells = row_cells(ex)
            if ex.id in self._rows:
                for column, cell in zip(table.columns, cells):
                    table.update_cell(key, column, cell)
            else:
                table.add_row(*cells, key=key)
                self._rows[ex.id] = ex
                added = True
        if added and follow:
            table.move_cursor(row=table.row_count - 1)
        self.border_subtitle = f"{table.row_count} exchanges · enter: details" if table.row_count else ""

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.post_message(self.Open(int(event.row_key.value)))

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key
            self.post_message(self.Open(int(key.value)))
