"""The Services pane: every service in the file, its health and latency."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tts_tui.core.model import Service

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 8) -> str:
    """A tiny latency chart: one block per recent value, scaled to the max."""
    values = values[-width:]
    if not values:
        return ""
    top = max(values) or 1.0
    return "".join(SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1)))] for v in values)


def health_dot(state: bool | None, known: bool) -> Text:
    if not known:
        return Text("○", style="dim")
    if state is None:
        return Text("◌", style="yellow")
    return Text("●", style="green" if state else "red")


class ServicesPane(Vertical):
    """A list of services; selecting one loads it into the Request pane."""

    BINDINGS = [
        Binding("a", "app.add_service", "Add", id="service_add"),
        Binding("p", "app.add_preset", "Preset", id="service_preset", show=False),
        Binding("d", "app.duplicate_service", "Duplicate", id="service_duplicate", show=False),
        Binding("r", "app.rename_service", "Rename", id="service_rename", show=False),
        Binding("delete,x", "app.remove_service", "Delete", id="service_delete"),
        Binding("c", "app.check", "Check", id="service_check", show=False),
    ]

    class Selected(Message):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self) -> None:
        super().__init__(classes="pane", id="services")
        self.border_title = "Services"
        self._names: list[str] = []

    def compose(self):
        yield OptionList(id="service-list")

    def show(
        self,
        services: list[Service],
        selected: str | None,
        health: dict[str, bool | None],
        latency: dict[str, list[float]],
    ) -> None:
        """Redraw the list; keeps the highlight on `selected`."""
        option_list = self.query_one(OptionList)
        names = [s.name for s in services]
        options = []
        for service in services:
            prompt = Text.assemble(
                health_dot(health.get(service.name), service.name in health),
                " ",
                (service.name, "bold"),
                "\n  ",
                (service.type, "dim"),
            )
            times = latency.get(service.name, [])
            if times:
                prompt.append(f" {times[-1]:.0f} ms ", style="")
                prompt.append(sparkline(times), style="cyan")
            options.append(Option(prompt, id=service.name))
        with option_list.prevent(OptionList.OptionHighlighted):
            option_list.clear_options()
            option_list.add_options(options)
            if selected in names:
                option_list.highlighted = names.index(selected)
        self._names = names

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self.post_message(self.Selected(event.option.id))
