"""The Log pane: one row per HTTP exchange, newest at the bottom and followed.

The rows live in the model (the Workbench's log); the pane draws only what is
visible, so a full log of 10,000 exchanges scrolls as quickly as an empty one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual import on
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message

from tts_tui.core.exchange import Exchange
from tts_tui.ui.exchange_list import ExchangeList, row_cells

__all__ = ["LogPane", "row_cells"]


class LogPane(Vertical):
    BINDINGS = [
        Binding("l", "app.latency", "Latency", id="log_latency", show=False),
    ]

    class Open(Message):
        """Open the detail of exchange `exchange_id`."""

        def __init__(self, exchange_id: int) -> None:
            super().__init__()
            self.exchange_id = exchange_id

    def __init__(
        self,
        source: Callable[[], Sequence[Exchange]] = tuple,
    ) -> None:
        super().__init__(classes="pane", id="log")
        self.border_title = "Log"
        self._source = source
        self._latency_key = "F3"

    def compose(self):
        yield ExchangeList(self._source, id="log-table")

    @property
    def exchange_list(self) -> ExchangeList:
        return self.query_one(ExchangeList)

    def show(self) -> None:
        """Pick up new and changed exchanges from the source; follow the newest."""
        table = self.exchange_list
        table.refresh_rows()
        n = table.row_count
        noun = "exchange" if n == 1 else "exchanges"
        subtitle = f"{n:,} {noun} · enter: details · {self._latency_key}: latency" if n else ""
        if subtitle != self.border_subtitle:
            self.border_subtitle = subtitle

    def set_keys(self, *, speak: str, latency: str) -> None:
        """Name the keys as remapped in the hints: the empty log's and the subtitle's."""
        table = self.exchange_list
        if (table.speak_key, self._latency_key) != (speak, latency):
            table.speak_key, self._latency_key = speak, latency
            table.refresh()
            self.show()

    @on(ExchangeList.Chosen)
    def _chosen(self, event: ExchangeList.Chosen) -> None:
        event.stop()
        self.post_message(self.Open(event.exchange_id))

    def action_open(self) -> None:
        self.exchange_list.action_open()
