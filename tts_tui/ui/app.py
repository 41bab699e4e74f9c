"""The tts-tui workbench: four panes over one Workbench state model."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Static, TextArea

from tts_tui.core.errors import TtsError
from tts_tui.core.model import Config
from tts_tui.core.workbench import Workbench
from tts_tui.ui.log_pane import LogPane
from tts_tui.ui.playback_bar import PlaybackBar
from tts_tui.ui.request_pane import FieldEdited, FieldInvalid, RequestPane, RequestTabs, TextEdited
from tts_tui.ui.services_pane import ServicesPane
from tts_tui.ui.terminal_watch import watch_terminal

if TYPE_CHECKING:
    from tts_tui.core.audio import Audio

# What Textual reads when a terminal sends alt+digit as Esc then the digit
# (checked through tmux and ssh): the characters macOS types for option+digit.
ALT_DIGITS = {
    1: "inverted_exclamation_mark", 2: "trade_mark_sign", 3: "pound_sign", 4: "cent_sign",
    5: "infinity", 6: "section_sign", 7: "pilcrow_sign",
}

TICK_S = 0.25  # how often the config file is polled: edits show within 1 s
QUIT_PLAYER_S = 2.0  # quit waits this long for the player to let go of the device
QUIT_POOL_S = 1.0  # and this long for the HTTP pool to close
UNSAVED_COPY = "~/tts-tui-unsaved.toml"  # offered when quitting with edits the config file cannot take


class TtsApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "tts-tui"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("f5", "speak", "Speak", id="speak", priority=True),
        Binding("ctrl+j", "speak", "Speak", show=False, id="speak_alt", priority=True),
        Binding("escape", "cancel", "Cancel", id="cancel", priority=True, show=False),
        Binding("f6", "play_pause", "Play", id="play_pause", tooltip="Play/Pause"),
        Binding("f7", "stop", "Stop", id="stop", show=False),
        Binding("f8", "replay", "Replay", id="replay", show=False),
        Binding("ctrl+s", "save_audio", "Save", id="save_audio", tooltip="Save audio"),
        Binding("f2", "toggle_preview", "Preview", id="toggle_preview"),
        Binding("f4", "check", "Check", id="check", show=False),
        Binding("f3", "latency", "Latency", id="latency", show=False),
        Binding("f9", "compare", "Compare", id="compare", show=False),
        Binding("f1", "help", "Help", id="help"),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        # Panes and Request tabs. A terminal sends alt+digit as Esc then the
        # digit, which Textual reads as the character macOS types for
        # option+digit ("¡" for alt+1): both spellings are bound. Priority,
        # so a text field does not take them as characters.
        *[
            Binding(f"alt+{digit},{name}", action, description, show=False, id=ident, priority=True)
            for digit, action, description, ident in (
                (1, "focus_pane('services')", "Services pane", "pane_services"),
                (2, "focus_pane('request')", "Request pane (text)", "pane_request"),
                (3, "focus_pane('log')", "Log pane", "pane_log"),
                (4, "request_tab('fields')", "Request tab: Fields", "tab_fields"),
                (5, "request_tab('body')", "Request tab: Body", "tab_body"),
                (6, "request_tab('headers')", "Request tab: Headers", "tab_headers"),
                (7, "request_tab('preview')", "Request tab: Preview", "tab_preview"),
            )
            for name in (ALT_DIGITS[digit],)
        ],
    ]

    def __init__(self, workbench: Workbench) -> None:
        super().__init__()
        self.workbench = workbench
        self.speaking = False
        self._showing_conflict = False
        self._warmed = False
        self._warm_started = False
        self._painted = False  # validation waits for the first frame (see _first_frame)
        self._peaks_cache: tuple[Audio | None, int, int, list[float]] = (None, 0, 0, [])
        self._last_error: TtsError | None = None  # what the status line says is wrong (ctrl+g goes there)
        self._saved_copy_note: str | None = None  # printed after exit when the edits went to another file
        self._silence_told: str | None = None  # why F5 was last silent, as a toast said it (the bar keeps saying it)
        # Themes before the first frame: a theme switch after mount restyles every widget.
        from tts_tui.ui.themes import apply_theme, register_themes

        self._startup_warnings = register_themes(self, workbench.path)
        warning = apply_theme(self, workbench.config.ui.theme)
        if warning:
            self._startup_warnings.append(warning)

    # --- layout --------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes: timers may fire while a modal screen is on top.
        self.banner = Static("", id="banner", markup=False)
        self.services_pane = ServicesPane(self.workbench)
        self.request_pane = RequestPane(self.workbench.service)
        self.log_pane = LogPane(lambda: self.workbench.log)
        self.playback_bar = PlaybackBar()
        yield self.banner
        with Horizontal(id="top"):
            yield self.services_pane
            yield self.request_pane
        yield self.log_pane
        yield self.playback_bar
        # compact, with one-word descriptions: every key shown fits 80 columns whole
        yield Footer(compact=True)

    def on_mount(self) -> None:
        wb = self.workbench
        for warning in self._startup_warnings:
            self.notify(warning, severity="warning", timeout=8)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self._apply_keys()
        for warning in wb.config.warnings:
            self.notify(warning, severity="warning", timeout=8)
        self.sub_title = str(wb.path)
        wb.subscribe(self._model_changed)
        self._refresh_all()
        self.log_pane.show()
        watch_terminal(self, self._terminal_lost)
        self.set_interval(TICK_S, self._tick)
        if wb.history is not None:
            self.call_after_refresh(self._load_history)
        # Ten times a second; the bar repaints only when what it says changed,
        # so idle writes nothing to the terminal.
        self._playback_timer = self.set_interval(0.1, self._refresh_playback)
        # The heavy imports and the server start compete for the GIL: they wait
        # until the Request pane's tabs, mounted just after the first frame, are in.
        self.set_timer(2.0, self._start_warm_up)
        self.call_after_refresh(self._first_frame)

    def _first_frame(self) -> None:
        """Validation renders the request, which loads the template engine (and
        more, for some services): it runs once the first frame is drawn, so
        first paint costs the same whatever the service."""
        self._painted = True
        self._validate()

    def on_resize(self) -> None:
        self.screen.set_class(self.size.width >= 140, "-wide")

    @work(thread=True, exclusive=True, group="warm-up")
    def _warm_up(self) -> None:
        """Heavy imports and the embedded server, off the first-paint path."""
        from tts_tui.core import audio, speech, templates  # noqa: F401

        self.workbench.client.warm_up()
        if any(s.is_builtin for s in self.workbench.config.services):
            from tts_tui.server.app import builtin_url

            try:
                builtin_url()
            except TtsError as exc:
                self.call_from_thread(self.notify, f"embedded server: {exc}", severity="error")
        self.call_from_thread(self._warmed_up)

    @work(thread=True, group="history")
    def _load_history(self) -> None:
        """The exchanges of earlier sessions, read after the first paint."""
        wb = self.workbench
        exchanges = wb.load_history()
        self.call_from_thread(wb.add_history, exchanges)
        if wb.history is not None and wb.history.error:
            self.call_from_thread(self.notify, wb.history.error, severity="warning")

    def _warmed_up(self) -> None:
        self._warmed = True
        self._validate()
        self._fetch_voices()

    # --- the model -> the screen --------------------------------------------

    def _tick(self) -> None:
        self.workbench.tick()

    def _model_changed(self, topics: set[str]) -> None:
        if topics & {"config", "file"}:
            self._apply_keys()  # before the hints are redrawn with them
        if topics & {"config", "file", "selection"}:
            self._refresh_request()
            self._refresh_services()
        if "selection" in topics:
            self._fetch_voices()
        if topics & {"health", "log"}:
            self._refresh_services()
        if "log" in topics:
            self.log_pane.show()
        if "voices" in topics:
            self._refresh_voices()
        if topics & {"audio", "playback"}:
            self._playback_changed()
        if "error" in topics or "file" in topics:
            self._refresh_banner()
        if "file" in topics:
            # A reloaded file is warned about as at start (a literal secret, an unknown key)
            for warning in self.workbench.config.warnings:
                self.notify(warning, severity="warning", timeout=8)
        if "conflict" in topics:
            self._ask_conflict()

    def _apply_keys(self) -> None:
        """`[ui] keys` as bindings, at start and on every reload of the file;
        every hint on screen names the keys as they are now."""
        keys = dict(self.workbench.config.ui.keys)
        if keys != getattr(self, "_applied_keys", None):
            self._applied_keys = keys
            self.set_keymap(keys)
        self.log_pane.set_keys(speak=self.key_label("speak"), latency=self.key_label("latency"))
        self.playback_bar.keys = {k: self.key_label(k) for k in ("speak", "play_pause", "stop", "replay", "save_audio")}
        if getattr(self, "_playback_timer", None) is not None:
            self._playback_changed()

    def _refresh_all(self) -> None:
        self._refresh_services()
        self._refresh_request()
        self._refresh_banner()

    def _refresh_services(self) -> None:
        wb = self.workbench
        latency = {s.name: wb.stats.service(s.name).values("total_ms") for s in wb.config.services}
        self.services_pane.show(wb.config.services, wb.selected, wb.health, latency)

    def _refresh_request(self) -> None:
        wb = self.workbench
        self.request_pane.load(wb.service, wb.config.ui.text)
        self._validate()

    def _refresh_voices(self) -> None:
        wb = self.workbench
        voices = wb.voices.get(wb.selected or "", [])
        self.request_pane.set_voices([v.id for v in voices])

    def _refresh_banner(self) -> None:
        sync = self.workbench.sync
        banner = self.banner
        name = self.workbench.path.name
        if sync.file_error is not None:
            error = sync.file_error
            where = f" {error.where}:" if error.where else ""
            banner.update(
                f"⚠ {name}{where} {error.message} — showing the last good settings; "
                "nothing is written until the file parses again"
            )
        elif sync.last_write_error:
            banner.update(f"⚠ cannot save {name}: {sync.last_write_error} — your edits are kept and retried")
        banner.set_class(bool(sync.file_error or sync.last_write_error), "-visible")

    def _playback_changed(self) -> None:
        """Something may play now: the bar says so at once, not at the next tick."""
        self._playback_key = None
        self._refresh_playback()

    def _refresh_playback(self) -> None:
        wb = self.workbench
        player = wb.opened_player
        audio = wb.audio
        bar = self.playback_bar
        # What the bar shows depends on these only: when none moved, skip the
        # work (the waveform, the line) entirely.
        key = (
            id(audio), audio.frames if audio else 0, bar.size.width,
            (player.state, round(player.position, 1), player.silent_reason, player.device_name) if player else None,
        )
        if key == getattr(self, "_playback_key", None):
            return
        self._playback_key = key
        bar.show(
            state=player.state if player else "stopped",
            position=player.position if player else 0.0,
            duration=audio.duration if audio else 0.0,
            reason=player.silent_reason if player else None,
            device=player.device_name if player else None,
            peaks=self._peaks(audio, max(10, bar.size.width - 4)),
            source=f"{wb.audio_service} · {audio.format} {audio.rate} Hz" if audio else None,
        )

    def _peaks(self, audio: Audio | None, width: int) -> list[float]:
        """The waveform, computed again only when the audio or the width changes
        (this runs ten times a second)."""
        if audio is None:
            return []
        cached_audio, frames, cached_width, cached = self._peaks_cache
        if cached_audio is not audio or frames != audio.frames or cached_width != width:
            from tts_tui.core.audio import peaks

            cached = peaks(audio, width)
            self._peaks_cache = (audio, audio.frames, width, cached)
        return cached

    def _validate(self) -> None:
        """Live validation: render the request exactly as F5 would send it."""
        if not self._painted:
            return
        pane = self.request_pane
        if not self._warmed and self.workbench.service and self.workbench.service.is_builtin:
            pane.show_status("starting the embedded server…", error=False)
            return
        try:
            request = self.workbench.prepare()
        except TtsError as exc:
            self._last_error = exc
            pane.show_status(f"✗ {exc}", error=True)
            pane.show_preview(f"(nothing will be sent)\n\n{exc}")
            pane.mark_invalid("url", exc.message.startswith("url:"))
            return
        pane.mark_invalid("url", False)
        self._last_error = None
        pane.show_status(f"✓ {request.method} {request.masked_url()} · {self.key_label('speak')} speaks", error=False)
        pane.show_preview(_preview(request))

    def key_label(self, binding_id: str) -> str:
        """How the key of `binding_id` reads in hints, as remapped in `[ui] keys`:
        "F5", "F9", "ctrl+s"."""
        return key_label(self.key_for(binding_id))

    def key_for(self, binding_id: str) -> str:
        """The key (first of a list) bound to `binding_id` now."""
        keys = dict(self.workbench.config.ui.keys)
        if binding_id in keys:
            return keys[binding_id].split(",")[0].strip()
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.id == binding_id:
                return binding.key.split(",")[0]
        return binding_id

    # --- edits from the panes ---------------------------------------------------

    @on(RequestTabs.Ready)
    def _start_warm_up(self) -> None:
        if not self._warm_started:
            self._warm_started = True
            self._warm_up()

    @on(ServicesPane.Selected)
    def _service_selected(self, event: ServicesPane.Selected) -> None:
        if event.name != self.workbench.selected:
            self.workbench.select(event.name)

    @on(TextEdited)
    def _text_edited(self, event: TextEdited) -> None:
        self.workbench.set_text(event.text)
        self._validate()

    @on(FieldEdited)
    def _field_edited(self, event: FieldEdited) -> None:
        service = self.workbench.service
        if service is None or service.name != event.service or getattr(service, event.key, None) == event.value:
            return  # a widget echoing the model, or an edit of a service no longer shown
        try:
            self.workbench.set_field(event.key, event.value)
        except TtsError as exc:
            self.notify(str(exc), severity="error")
        self._validate()

    @on(FieldInvalid)
    def _field_invalid(self, event: FieldInvalid) -> None:
        self.request_pane.show_status(f"✗ {event.message}", error=True)

    @on(LogPane.Open)
    def _open_exchange(self, event: LogPane.Open) -> None:
        from tts_tui.ui.screens.exchange import ExchangeScreen

        for ex in reversed(self.workbench.log):
            if ex.id == event.exchange_id:
                self.push_screen(ExchangeScreen(ex))
                return

    def _theme_changed(self, theme: object) -> None:
        name = getattr(theme, "name", None)
        if name and name != self.workbench.config.ui.theme:
            self.workbench.set_setting("ui", "theme", name)

    # --- actions ---------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.speaking and isinstance(self.screen, Screen) and self.screen is self.screen_stack[0]
        return True

    def action_speak(self) -> None:
        if self.screen is not self.screen_stack[0]:
            return
        try:
            self.workbench.prepare()
        except TtsError as exc:
            self.request_pane.show_status(f"✗ {exc}", error=True)
            self.notify(f"nothing sent: {exc}", severity="error")
            return
        self._speak()

    @work(exclusive=True, group="speak")
    async def _speak(self) -> None:
        import asyncio

        self.speaking = True
        self.request_pane.show_status(f"… speaking ({self.key_label('cancel')} cancels)", error=False)
        try:
            # A speak before the warm-up is done would import the HTTP and audio
            # stacks on the event loop: the log could not draw its row meanwhile.
            await asyncio.to_thread(_import_speech_stack)
            result = await self.workbench.speak()
        except TtsError as exc:
            self.notify(str(exc), severity="error")
            return
        finally:
            # also after esc: the status line stops saying "speaking"
            self.speaking = False
            self.log_pane.show()
            self._validate()
        if result.error:
            self.notify(result.error, title="Request failed", severity="error", timeout=8)
        else:
            player = self.workbench.player
            silent = player.silent_reason if player.state == "silent" else None
            if silent and silent != self._silence_told:  # once per reason: the bar says it each time
                self.notify(f"silent: {silent}", severity="warning")
            self._silence_told = silent

    def load_back(self, exchange) -> bool:  # noqa: ANN001 - an Exchange
        """A past exchange's service and text back in the editor; False when
        there is no text to load."""
        wb = self.workbench
        text = exchange.text or _text_of(exchange.request.body)
        if not text:
            self.notify("this exchange holds no text to load", severity="warning")
            return False
        if exchange.service != wb.selected and any(s.name == exchange.service for s in wb.config.services):
            wb.select(exchange.service)
        wb.set_text(text)
        self._refresh_request()
        return True

    def speak_again(self, exchange) -> None:  # noqa: ANN001 - an Exchange
        """Speak a past exchange's text again, with its service as configured now
        (the history keeps requests masked: the secrets come from the config)."""
        if self.load_back(exchange):
            self.action_speak()

    @work
    async def action_import_curl(self) -> None:
        """A pasted curl command becomes an `http` service."""
        from tts_tui.core.curl_import import service_from_curl
        from tts_tui.ui.screens.dialogs import PasteScreen

        wb = self.workbench
        name = wb.unique_name("curl")

        def check(command: str) -> str | None:
            try:
                service_from_curl(command, name)
            except TtsError as exc:
                return str(exc)
            return None

        command = await self.push_screen_wait(PasteScreen("Paste a curl command: it becomes an http service", check))
        if not command:
            return
        table = service_from_curl(command, name)
        try:
            wb.add_service(table)
        except TtsError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"added service {name} from the curl command")

    def action_cancel(self) -> None:
        self.workers.cancel_group(self, "speak")
        self.speaking = False
        self._validate()
        self.notify("request cancelled")

    def action_play_pause(self) -> None:
        player = self.workbench.player
        if player.state in ("playing", "buffering"):
            player.pause()
        elif player.state == "paused":
            player.resume()
        elif self.workbench.audio is not None:
            player.play(self.workbench.audio)
        self._explain_silence()

    def action_stop(self) -> None:
        self.workbench.player.stop()
        self._playback_changed()

    def action_replay(self) -> None:
        if self.workbench.audio is None:
            self.notify(f"no audio yet: press {self.key_label('speak')} to speak", severity="warning")
            return
        self.workbench.player.play(self.workbench.audio)
        self._explain_silence()

    def _explain_silence(self) -> None:
        self._playback_changed()  # play, pause and replay: the bar follows
        player = self.workbench.player
        if player.state == "silent":
            self.notify(f"silent: {player.silent_reason}", severity="warning")

    def action_save_audio(self) -> None:
        if self.workbench.audio is None:
            self.notify(f"there is no audio to save yet: press {self.key_label('speak')} to speak first", severity="error")
            return
        try:
            path = self.workbench.save_audio()
        except TtsError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"saved {path}")

    def action_toggle_preview(self) -> None:
        """The Preview tab, and back to the tab you were on."""
        from textual.widgets import TabbedContent

        tabs = self.request_pane.query_one("#tabs", TabbedContent)
        if tabs.active == "tab-preview":
            tabs.active = getattr(self, "_tab_before_preview", "tab-fields")
        else:
            self._tab_before_preview = tabs.active or "tab-fields"
            tabs.active = "tab-preview"

    async def on_event(self, event: events.Event) -> None:
        # A text field takes printable keys before any binding, and "¡" (alt+1
        # through a terminal) is printable: pane and tab keys are caught first.
        if isinstance(event, events.Key) and self.screen_stack and self.screen is self.screen_stack[0]:
            action = self._pane_keys().get(event.key)
            if action is not None:
                event.stop()
                event.prevent_default()
                await self.run_action(action)
                return
        await super().on_event(event)

    def _pane_keys(self) -> dict[str, str]:
        """Pane and Request tab keys (as remapped) -> their action."""
        keymap = dict(self.workbench.config.ui.keys)
        keys: dict[str, str] = {}
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.id and binding.id.startswith(("pane_", "tab_")):
                for key in keymap.get(binding.id, binding.key).split(","):
                    keys[key.strip()] = binding.action
        return keys

    def action_focus_pane(self, pane: str) -> None:
        """Focus a pane's first widget: the service list, the text, the log."""
        target = {
            "services": lambda: self.services_pane.query_one("#service-list"),
            "request": lambda: self.request_pane.query_one("#text"),
            "log": lambda: self.log_pane.exchange_list,
        }[pane]()
        if self.screen is self.screen_stack[0]:
            target.focus()

    def action_request_tab(self, tab: str) -> None:
        """Show a Request tab and focus its first field."""
        from textual.widgets import TabbedContent

        if self.screen is not self.screen_stack[0]:
            return
        tabs = self.request_pane.query_one("#tabs", TabbedContent)
        tabs.active = f"tab-{tab}"
        self.call_after_refresh(self._focus_in_tab, tab)

    def _focus_in_tab(self, tab: str) -> None:
        pane = self.request_pane.query_one(f"#tab-{tab}")
        focusable = [w for w in pane.query("*") if w.focusable and w.display and w.parent.display]
        if focusable:
            focusable[0].focus()

    def action_edit_body(self) -> None:
        """The body in $VISUAL / $EDITOR (vi when unset); what it saves comes back as an edit."""
        import os
        import shlex
        import subprocess
        import tempfile

        from textual.app import SuspendNotSupported

        body = self.request_pane.query_one("#body", TextArea)
        if body.read_only:
            self.notify("this service's body is fixed: edit `Extra body fields` under Headers", severity="warning")
            return
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="tts-body-", delete=False, encoding="utf-8") as file:
            file.write(body.text)
        path = Path(file.name)

        def run() -> int:
            try:
                return subprocess.run([*shlex.split(editor), str(path)]).returncode
            except OSError as exc:
                self.notify(f"cannot run {editor!r}: {exc.strerror or exc}", severity="error")
                return -1

        try:
            try:
                with self.suspend():
                    code = run()
            except SuspendNotSupported:  # no terminal to hand over (tests, web): the editor runs as it is
                code = run()
            text = path.read_text(encoding="utf-8")
        finally:
            path.unlink(missing_ok=True)
        if code != 0:
            self.notify(f"{editor} exited with {code}: the body is unchanged", severity="warning")
        elif text != body.text:
            body.replace(text, body.document.start, body.document.end)
        body.focus()

    def action_goto_error(self) -> None:
        """Put the body's cursor on the line and column of the current error."""
        from tts_tui.core.errors import TemplateError

        error = self._last_error
        body = self.request_pane.query_one("#body", TextArea)
        lines = body.text.split("\n")
        if not isinstance(error, TemplateError) or error.line is None or error.line > len(lines):
            self.notify("no error in the body to go to", severity="information")
            return
        from textual.widgets import TabbedContent

        self.request_pane.query_one("#tabs", TabbedContent).active = "tab-body"
        column = min((error.column or 1) - 1, len(lines[error.line - 1]))
        body.focus()
        body.move_cursor((error.line - 1, column))

    def action_help(self) -> None:
        from tts_tui.ui.screens.help import HelpScreen

        self.push_screen(HelpScreen(self.key_rows(), speak_key=self.key_label("speak")))

    def action_latency(self) -> None:
        from tts_tui.ui.screens.latency import LatencyScreen

        if isinstance(self.screen, LatencyScreen):
            return
        wb = self.workbench
        keys = (self.key_label("speak"), self.key_label("check"))
        self.push_screen(LatencyScreen(wb.stats, lambda: [s.name for s in wb.config.services], keys=keys))

    def action_compare(self) -> None:
        from tts_tui.core.compare import Tally
        from tts_tui.ui.screens.compare import CompareScreen

        if isinstance(self.screen, CompareScreen):
            return
        if getattr(self, "compare_tally", None) is None:
            self.compare_tally = Tally()  # the blind votes of this session, kept across openings
        self.push_screen(CompareScreen(self.workbench, self.compare_tally))

    def action_export_har(self) -> None:
        import time

        wb = self.workbench
        if not wb.log:
            self.notify("the log is empty: nothing to export", severity="warning")
            return
        folder = Path(wb.config.audio.save_dir).expanduser()
        self._write_har(folder / f"tts-tui-{time.strftime('%Y%m%d-%H%M%S')}.har", list(wb.log))

    @work(thread=True, group="har")
    def _write_har(self, path: Path, exchanges: list) -> None:
        """A full log is megabytes of JSON: written off the UI thread."""
        from tts_tui.core.har import write_har

        try:
            written = write_har(path, exchanges)
        except TtsError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.call_from_thread(self.notify, f"saved {len(exchanges):,} exchanges to {written}")

    def key_rows(self) -> list[tuple[str, str, str]]:
        from tts_tui.ui.screens.exchange import ExchangeScreen
        from tts_tui.ui.screens.latency import LatencyScreen

        from tts_tui.ui.request_pane import BodyEditor

        keymap = dict(self.workbench.config.ui.keys)
        rows = []
        bindings = [
            *self.BINDINGS, *ServicesPane.BINDINGS, *LogPane.BINDINGS, *BodyEditor.BINDINGS,
            *ExchangeScreen.BINDINGS, *LatencyScreen.BINDINGS,
        ]
        for binding in bindings:
            assert isinstance(binding, Binding)
            if binding.id:
                keys = keymap.get(binding.id, binding.key)
                # "alt+1", not the character Textual reads it as ("inverted_exclamation_mark")
                keys = ",".join(k for k in keys.split(",") if k not in ALT_DIGITS.values()) or keys
                rows.append((keys, binding.tooltip or binding.description, binding.id))
        rows.append(("ctrl+p", "Command palette", "-"))
        rows.append(("enter", "Open an exchange (Log)", "-"))
        return rows

    @work(exclusive=True, group="check")
    async def action_check(self) -> None:
        wb = self.workbench
        if wb.selected is None:
            return
        self._refresh_services()
        ok = await wb.check()
        self.notify(f"{wb.selected}: {'ok' if ok else 'check failed'}", severity="information" if ok else "error")

    @work(exclusive=True, group="voices")
    async def _fetch_voices(self) -> None:
        if not self._warmed or self.workbench.service is None:
            return
        await self.workbench.fetch_voices()

    @work
    async def action_pick_voice(self) -> None:
        from tts_tui.ui.screens.audition import VoicePickScreen

        wb = self.workbench
        voices = wb.voices.get(wb.selected or "") or await wb.fetch_voices()
        if not voices:
            self.notify("this service has no voice list; type the voice id", severity="warning")
            return
        choice = await self.push_screen_wait(VoicePickScreen([(v.id, v.label) for v in voices], wb))
        if choice:
            self.request_pane.set_voice(choice)

    @work
    async def _ask_conflict(self) -> None:
        from tts_tui.ui.screens.conflict import ConflictScreen

        sync = self.workbench.sync
        if self._showing_conflict or not sync.conflicts:
            return
        self._showing_conflict = True
        try:
            lines = [
                f"{'.'.join(c.keypath)}:  mine = {json.dumps(c.mine)}   file = {json.dumps(c.theirs)}"
                for c in sync.conflicts
            ]
            keep_mine = await self.push_screen_wait(ConflictScreen(lines))
            sync.resolve_all(keep_mine)
        finally:
            self._showing_conflict = False
        self._refresh_request()

    def _terminal_lost(self) -> None:
        """The terminal hung up: save what can be saved, then go."""
        with contextlib.suppress(Exception):  # nobody is left to read an error
            self.workbench.set_text(self.request_pane.query_one("#text", TextArea).text)
            self.workbench.sync.flush()
        self.exit(129)

    async def action_quit(self) -> None:
        from tts_tui.ui.screens.unsaved import UnsavedScreen

        if isinstance(self.screen, UnsavedScreen):
            self.screen.lose()  # ctrl+q again: quit and lose the edits, as the dialog says
            return
        # A keystroke's message may still be on its way up: take the text as shown.
        self.workbench.set_text(self.request_pane.query_one("#text", TextArea).text)
        try:
            self.workbench.sync.flush()
        except TtsError as exc:
            self.notify(f"not saved: {exc}", severity="error")
        reason = self._unsaved_reason()
        if reason:  # never exit in silence with edits the file does not have
            self.push_screen(
                UnsavedScreen(self.workbench.path.name, reason, self._retry_save, self._save_copy, UNSAVED_COPY),
                self._unsaved_answered,
            )
            return
        await self._quit()

    async def _quit(self) -> None:
        """Go at once whatever is in flight: the request is cancelled, the
        player and the HTTP pool are closed with a bound (a dead device or a
        server that holds its answer never holds the exit)."""
        import asyncio
        import threading

        self.workers.cancel_group(self, "speak")
        player = self.workbench.opened_player
        if player is not None:  # closed in a thread of its own: the event loop never waits on a device
            closing = threading.Thread(target=player.close, name="tts-quit-player", daemon=True)
            closing.start()
            await asyncio.get_running_loop().run_in_executor(None, closing.join, QUIT_PLAYER_S)
        with contextlib.suppress(Exception):  # TimeoutError, or a pool that fails to close: we are leaving
            await asyncio.wait_for(self.workbench.aclose(), QUIT_POOL_S)
        self.exit(0, message=self._saved_copy_note)

    def action_rescan_devices(self) -> None:
        """Look for audio devices again (JACK started after the app, a headset plugged in)."""
        self.notify("re-scanning audio devices…")
        self._rescan_devices()

    @work(thread=True, exclusive=True, group="rescan")
    def _rescan_devices(self) -> None:
        player = self.workbench.player
        if player.rescan():
            self.call_from_thread(self.notify, f"audio device: {player.device_name or 'found'}")
        else:
            self.call_from_thread(self.notify, f"silent: {player.silent_reason}", severity="warning")

    def _unsaved_reason(self) -> str | None:
        """Why edits made here are not in the file, or None when they all are."""
        sync = self.workbench.sync
        if not sync.dirty:
            return None
        if sync.file_error is not None:
            return f"{sync.file_error.message} ({sync.file_error.where or 'the file'}): nothing is written until it parses"
        if sync.last_write_error:
            return sync.last_write_error
        return "the file changed the same settings: the choice between them is not made"

    def _retry_save(self) -> str | None:
        self.workbench.sync.flush()
        return self._unsaved_reason()

    def _save_copy(self, path: str) -> str | None:
        try:
            self.workbench.sync.save_copy(Path(path))
        except TtsError as exc:
            return str(exc)
        self._saved_copy_note = f"tts-tui: the edits {self.workbench.path} could not take are in {Path(path).expanduser()}"
        return None

    async def _unsaved_answered(self, quit_now: bool | None) -> None:
        if quit_now is not None:
            await self._quit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        pane = self.services_pane
        commands = [
            ("Speak", "Send the request and play the audio", self.action_speak, "speak"),
            ("Cancel request", "Cancel the request in flight", self.action_cancel, "cancel"),
            ("Play / pause", "Play or pause the last audio", self.action_play_pause, "play_pause"),
            ("Stop playback", "Stop playing", self.action_stop, "stop"),
            ("Replay", "Play the last audio again", self.action_replay, "replay"),
            ("Save audio", "Save the last audio to audio.save_dir", self.action_save_audio, "save_audio"),
            ("Re-scan audio devices", "Look for output devices again (JACK started later, a device that went away)",
             self.action_rescan_devices, None),
            ("Toggle request preview", "Show the request as it will be sent", self.action_toggle_preview, "toggle_preview"),
            ("Check service", "Connectivity and one short synthesis", self.action_check, "check"),
            ("Latency", "Per-service p50/p95 and histograms", self.action_latency, "latency"),
            ("Export log as HAR", "Every exchange in the log to audio.save_dir, secrets masked", self.action_export_har, None),
            ("Add service", "A blank OpenAI-compatible service", pane.action_add, "service_add"),
            ("Add service from preset", "Kokoro, XTTS, Piper, OpenAI…", pane.action_add_preset, "service_preset"),
            ("Duplicate service", "Copy the selected service", pane.action_duplicate, "service_duplicate"),
            ("Rename service", "Rename the selected service", pane.action_rename, "service_rename"),
            ("Delete service", "Remove the selected service from the file", pane.action_remove, "service_delete"),
            ("Pick voice", "Choose from the server's voice list", self.action_pick_voice, None),
            ("Import curl", "Paste a curl command: it becomes an http service", self.action_import_curl, None),
            ("Help", "Every key and how to remap it", self.action_help, "help"),
        ]
        keys = {ident: key for key, _description, ident in self.key_rows()}
        for title, help_text, callback, ident in commands:
            if ident in keys:
                help_text = f"{help_text} ({keys[ident]})"
            yield SystemCommand(title, help_text, callback)


def _text_of(body: bytes | None) -> str:
    """The text a JSON request body carried ("input" for OpenAI, else "text")."""
    if not body:
        return ""
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    if isinstance(doc, dict):
        for key in ("input", "text", "prompt"):
            if isinstance(doc.get(key), str):
                return doc[key]
    return ""


def _import_speech_stack() -> None:
    """What the first request needs (httpx, numpy, the player): imported in a thread."""
    from tts_tui.core import audio, player, speech  # noqa: F401


def key_label(key: str) -> str:
    """"f5" -> "F5", "ctrl+s" stays, "escape" -> "esc"."""
    if key[:1] == "f" and key[1:].isdigit():
        return key.upper()
    return {"escape": "esc"}.get(key, key)


def _preview(request) -> str:
    lines = [f"{request.method} {request.masked_url()}"]
    lines += [f"{k}: {v}" for k, v in request.masked_headers().items()]
    body = request.masked_body()
    if body:
        try:
            body = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        except ValueError:
            pass
        lines += ["", body]
    return "\n".join(lines)


def run(config: Config) -> int:
    """Open the TUI on `config.path`; returns the exit code."""
    assert config.path is not None
    from tts_tui.core.history import History

    workbench = Workbench(Path(config.path), history=History(Path(config.path)))
    app = TtsApp(workbench)
    app.run()
    return app.return_code or 0
