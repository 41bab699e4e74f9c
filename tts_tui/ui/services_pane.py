"""The Services pane: every service in the file, its health and latency."""

from __future__ import annotations

import re

from rich.console import Group
from rich.padding import Padding
from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tts_tui.core.errors import ConfigError, TtsError
from tts_tui.core.model import Service
from tts_tui.core.workbench import Workbench

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 8) -> str:
    """A tiny latency chart: one block per recent value, scaled to the max."""
    values = values[-width:]
    if not values:
        return ""
    top = max(values) or 1.0
    return "".join(SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1)))] for v in values)


def problem_lines(problem: ConfigError) -> Text:
    """A broken service's error as the pane shows it under its name:
    "line 12, column 10: format: unknown format 'ogg'" (the row already
    names the service, so the message's services[N] prefix goes)."""
    message = re.sub(r"^services\[\d+\]\.", "", problem.message)
    where = f"{problem.where}: " if problem.where else ""
    return Text(f"{where}{message}", style="red")


def health_dot(state: bool | None, known: bool) -> Text:
    if not known:
        return Text("○", style="dim")
    if state is None:
        return Text("◌", style="yellow")
    return Text("●", style="green" if state else "red")


class ServicesPane(Vertical):
    """A list of services; selecting one loads it into the Request pane."""

    BINDINGS = [
        Binding("a", "add", "Add", id="service_add"),
        Binding("p", "add_preset", "Preset", id="service_preset", show=False),
        Binding("d", "duplicate", "Duplicate", id="service_duplicate", show=False),
        Binding("r", "rename", "Rename", id="service_rename", show=False),
        Binding("delete,x", "remove", "Delete", id="service_delete"),
        Binding("c", "app.check", "Check", id="service_check", show=False),
    ]

    class Selected(Message):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, workbench: Workbench) -> None:
        super().__init__(classes="pane", id="services")
        self.workbench = workbench
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
            problem = service.problem
            prompt = Text.assemble(
                Text("✗", style="bold red") if problem else health_dot(health.get(service.name), service.name in health),
                " ",
                (service.name, "bold"),
                "\n  ",
                ("does not work:", "red") if problem else (service.type, "dim"),
            )
            times = latency.get(service.name, [])
            if times:
                prompt.append(f" {times[-1]:.0f} ms ", style="")
                prompt.append(sparkline(times), style="cyan")
            if problem is not None:  # the error wraps under the name, indented like the type
                options.append(Option(Group(prompt, Padding(problem_lines(problem), (0, 0, 0, 2))), id=service.name))
            else:
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

    # --- managing services (written to the config file at once) ------------

    @work
    async def action_add(self) -> None:
        from tts_tui.ui.screens.dialogs import PromptScreen

        wb = self.workbench
        name = await self.app.push_screen_wait(
            PromptScreen("Name of the new service", wb.unique_name("service"), check=self._name_taken)
        )
        if name:
            self._add({"name": name, "type": "openai", "url": "http://127.0.0.1:8000/v1", "voice": "", "format": "wav"})

    @work
    async def action_add_preset(self) -> None:
        from tts_tui.core.presets import PRESETS, preset_service_table
        from tts_tui.ui.screens.dialogs import PickScreen

        choice = await self.app.push_screen_wait(PickScreen("Add a service from a preset", [(n, p.summary) for n, p in PRESETS.items()]))
        if choice:
            table = preset_service_table(choice)
            table["name"] = self.workbench.unique_name(table["name"])
            self._add(table)

    def action_duplicate(self) -> None:
        wb = self.workbench
        if wb.service is None:
            return
        # The block as written (not the loaded Service): its spelling, and no
        # defaults standing in for a broken service's values.
        table = dict(wb.sync.mine.shown(("services", wb.service.name)))
        table["name"] = wb.unique_name(f"{wb.service.name}-copy")
        self._add(table)

    def _add(self, table: dict) -> None:
        try:
            self.workbench.add_service(table)
        except TtsError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"added service {table['name']}")

    @work
    async def action_rename(self) -> None:
        from tts_tui.ui.screens.dialogs import PromptScreen

        wb = self.workbench
        old = wb.selected
        if old is None:
            return
        new = await self.app.push_screen_wait(
            PromptScreen(f"Rename {old} to", old, check=lambda name: None if name == old else self._name_taken(name))
        )
        if new and new != old:
            try:
                wb.rename_service(old, new)
            except TtsError as exc:
                self.notify(str(exc), severity="error")

    @work
    async def action_remove(self) -> None:
        from tts_tui.ui.screens.dialogs import ConfirmScreen

        wb = self.workbench
        name = wb.selected
        if name is None:
            return
        if await self.app.push_screen_wait(ConfirmScreen(f"Delete the service {name!r} from the config file?", yes="Delete")):
            names = [s.name for s in wb.config.services]
            at = names.index(name) if name in names else 0
            try:
                wb.remove_service(name)
            except TtsError as exc:
                self.notify(str(exc), severity="error")
                return
            # the neighbour takes the highlight (the next one, else the one before), not the top
            left = [s.name for s in wb.config.services]
            if left:
                wb.select(left[min(at, len(left) - 1)])
            self.notify(f"deleted service {name}")

    def _name_taken(self, name: str) -> str | None:
        if any(s.name == name for s in self.workbench.config.services):
            return f"a service named {name!r} already exists; pick another name"
        return None
