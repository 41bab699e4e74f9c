"""The voice picker with a listen key: ctrl+l plays a short sample of the
highlighted voice, and moving to another voice (or closing) cancels it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.binding import Binding
from textual.widgets import OptionList

from tts_tui.core.compare import AUDITION_TEXT
from tts_tui.ui.screens.dialogs import PickScreen

if TYPE_CHECKING:
    from tts_tui.core.workbench import Workbench

class VoicePickScreen(PickScreen):
    """PickScreen over a service's voices, each one playable before it is picked."""

    BINDINGS = [*PickScreen.BINDINGS, Binding("ctrl+l", "listen", "Listen", id="voice_listen", priority=True)]

    def __init__(self, items: list[tuple[str, str]], workbench: Workbench) -> None:
        super().__init__("Voice  (ctrl+l listens)", items)
        self.workbench = workbench
        self.auditioned: str | None = None  # the voice whose sample plays, or is on its way

    def action_listen(self) -> None:
        items = self.query_one("#items", OptionList)
        if not items.option_count:
            return
        option = items.get_option_at_index(items.highlighted or 0)
        if option.id is not None:
            self._listen(option.id)

    @on(OptionList.OptionHighlighted)
    def _moved_on(self, event: OptionList.OptionHighlighted) -> None:
        if self.auditioned is not None and event.option.id != self.auditioned:
            self._stop()

    def on_unmount(self) -> None:
        self._stop()

    def _stop(self) -> None:
        self.workers.cancel_group(self, "audition")
        if self.auditioned is not None:
            self.auditioned = None
            self.workbench.player.stop()

    @work(exclusive=True, group="audition")
    async def _listen(self, voice: str) -> None:
        from tts_tui.core.errors import TtsError
        from tts_tui.core.speech import speak

        wb = self.workbench
        service = wb.service
        if service is None:
            return
        self.auditioned = voice
        player = wb.player
        try:
            result = await speak(service, AUDITION_TEXT, client=wb.client, voice=voice, play=player)
        except TtsError as exc:
            self.notify(str(exc), severity="error")
            return
        for ex in result.exchanges:
            wb.add_exchange(ex)
        if not result.ok or result.audio is None:
            self.notify(f"{voice}: {result.error}", severity="error")
        elif not result.streamed and self.auditioned == voice:
            player.play(result.audio)  # a silent player keeps it; nothing was streamed
