"""The workbench session: the one state model the TUI observes.

It owns the config sync (file <-> UI), the selected service, the exchange log,
the last audio and the player. Widgets read from it and call its methods; it
tells subscribers what changed with a set of topic names:

- "config": the config changed (an edit in the UI or in the file)
- "error": the file stopped parsing, or parses again, or a write failed
- "conflict": the file and the UI changed the same key
- "saved": the UI's edits were written
- "log": an exchange was added or updated
- "audio": new audio arrived
- "health", "voices": a check or a voice list finished

`stats` keeps per-service latency figures of the exchanges that finished.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tts_tui.core.errors import ConfigError, TtsError
from tts_tui.core.exchange import Exchange, PreparedRequest
from tts_tui.core.model import Config, Service
from tts_tui.core.stats import StatsBook
from tts_tui.core.sync import ConfigSync

if TYPE_CHECKING:
    from tts_tui.core.audio import Audio
    from tts_tui.core.client import HttpClient
    from tts_tui.core.history import History
    from tts_tui.core.player import Player
    from tts_tui.core.voices import Voice
    from tts_tui.core.speech import SpeechResult

Listener = Callable[[set[str]], None]

LOG_LIMIT = 10_000
AUDIO_KEEP = 50  # exchanges that keep their audio body; older ones drop it
_RECHECK = 100  # how long a body that is not audio (yet) is watched


class Workbench:
    def __init__(self, config_path: Path, *, history: History | None = None) -> None:
        """`history`, when given, keeps every finished exchange on disk (masked);
        `load_history` reads it back."""
        self.sync = ConfigSync(config_path)
        self.history = history
        self.selected: str | None = None
        self.log: deque[Exchange] = deque(maxlen=LOG_LIMIT)
        self._bodies: deque[Exchange] = deque()  # exchanges that may still hold audio
        self.audio: Audio | None = None
        self.audio_service: str | None = None
        self.health: dict[str, bool | None] = {}
        self.voices: dict[str, list[Voice]] = {}
        self.stats = StatsBook()
        self._player: Player | None = None
        self._client: HttpClient | None = None
        self._listeners: list[Listener] = []
        self.sync.subscribe(self._emit)
        self._ensure_selection()

    # --- observation -------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, topics: set[str]) -> None:
        if "config" in topics or "file" in topics:
            self._ensure_selection()
        if not topics:
            return
        for listener in list(self._listeners):
            listener(topics)

    def tick(self) -> set[str]:
        """Poll the config file; call a few times a second."""
        return self.sync.tick()

    # --- config ------------------------------------------------------------

    @property
    def config(self) -> Config:
        return self.sync.config

    @property
    def path(self) -> Path:
        return self.sync.path

    @property
    def service(self) -> Service | None:
        for service in self.config.services:
            if service.name == self.selected:
                return service
        return None

    def select(self, name: str) -> None:
        self.selected = name
        self._emit({"selection"})

    def _ensure_selection(self) -> None:
        names = [s.name for s in self.config.services]
        if self.selected not in names:
            working = [s.name for s in self.config.services if s.problem is None]
            self.selected = (working or names or [None])[0]

    def set_text(self, text: str) -> None:
        if text != self.config.ui.text:
            self.sync.set(("ui", "text"), text)

    def set_field(self, key: str, value: Any, *, service: str | None = None) -> None:
        """Change one key of a service (nested keys as "params.language")."""
        name = service or self.selected
        if name is None:
            raise TtsError("no service is selected", hint="add one with `a`")
        self.sync.set(("services", name, *key.split(".")), value)

    def set_setting(self, section: str, key: str, value: Any) -> None:
        self.sync.set((section, key), value)

    def rename_service(self, old: str, new: str) -> None:
        self.sync.rename_service(old, new)
        if self.selected == old:
            self.selected = new
        self._emit({"config", "selection"})

    def add_service(self, table: dict[str, Any]) -> None:
        self.sync.add_service(table)
        self.selected = table["name"]
        self._emit({"config", "selection"})

    def remove_service(self, name: str) -> None:
        self.sync.remove_service(name)
        self._ensure_selection()
        self._emit({"config", "selection"})

    def unique_name(self, base: str) -> str:
        names = {s.name for s in self.config.services}
        if base not in names:
            return base
        n = 2
        while f"{base}-{n}" in names:
            n += 1
        return f"{base}-{n}"

    # --- requests ----------------------------------------------------------

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            from tts_tui.core.client import HttpClient

            self._client = HttpClient()
        return self._client

    def prepare(self, text: str | None = None) -> PreparedRequest:
        """The exact request F5 would send. Raises TemplateError/ConfigError/TtsError."""
        from tts_tui.core.speech import prepare

        service = self._require_service()
        return prepare(service, self.config.ui.text if text is None else text)

    async def speak(self, text: str | None = None, *, play: bool = True) -> SpeechResult:
        """Speak with the selected service; the exchange goes in the log even when cancelled.

        With `play`, a streamed WAV/PCM/SSE answer plays while it downloads and
        `audio` grows as it arrives (the playback bar follows it); other
        formats play once complete. A failed or cancelled request stops its
        stream and leaves `audio` as it was.
        """
        from tts_tui.core.speech import speak
        from tts_tui.core.utterance import plan

        service = self._require_service()
        spoken = self.config.ui.text if text is None else text
        if len(plan(service, spoken)) > 1:  # split by the service, or past its input limit
            return await self._speak_long(service, spoken, play=play)
        request = self.prepare(text)
        exchange = Exchange(request, service=service.name, text=self.config.ui.text if text is None else text)
        self.add_exchange(exchange)
        player = self.player if play else None
        before = (self.audio, self.audio_service)

        shown = False

        def show_partial(*_: object) -> None:
            nonlocal shown
            if player is not None and player.streaming:
                self.audio, self.audio_service = player.audio, service.name
                if not shown:
                    shown = True
                    self._emit({"playback"})

        result = None
        try:
            result = await speak(service, "", client=self.client, request=request, exchange=exchange,
                                 play=player, on_frames=show_partial)
        finally:
            self.stats.add(exchange)
            if result is None or result.audio is None:
                self.audio, self.audio_service = before
            self._keep(exchange)
            self._emit({"log"})
        for extra in result.exchanges[1:]:
            self.add_exchange(extra)
            self._keep(extra)
        if result.audio is not None:
            self.audio = result.audio
            self.audio_service = service.name
            self._emit({"audio"})
            if player is not None and not result.streamed:
                player.play(result.audio)
                self._emit({"playback"})
        return result

    async def _speak_long(self, service: Service, text: str, *, play: bool) -> SpeechResult:
        """A long text in pipelined chunks (the service's `split`), heard as one
        clip; each chunk's exchange joins the log once it and every part
        before it are answered, marked with its part, and the last says the
        utterance's own timings."""
        from tts_tui.core.speech import SpeechResult
        from tts_tui.core.utterance import plan, speak_long

        player = self.player if play else None
        count = len(plan(service, text))
        before = (self.audio, self.audio_service)
        logged: list[Exchange] = []
        done: dict[int, SpeechResult] = {}

        def log_part(index: int) -> None:
            result = done.pop(index)
            for ex in result.exchanges:
                ex.part, ex.text = f"{index + 1}/{count}", text
                self.add_exchange(ex)
                self._keep(ex)
                logged.append(ex)
            self.stats.add(result.exchange)

        next_part = 0

        def on_chunk(index: int, result: SpeechResult) -> None:
            # parts are requested ahead and may finish out of order: the log keeps their order
            nonlocal next_part
            done[index] = result
            while next_part in done:
                log_part(next_part)
                next_part += 1

        def show_partial(*_: object) -> None:
            if player is not None and player.streaming and self.audio is not player.audio:
                self.audio, self.audio_service = player.audio, service.name
                self._emit({"playback"})

        utterance = await speak_long(service, text, client=self.client, play=player,
                                     on_frames=show_partial, on_chunk=on_chunk)
        for index in sorted(done):  # answered after an earlier part failed
            log_part(index)
        last = next((ex for ex in logged if ex.error), logged[-1] if logged else None)
        if last is None:  # nothing was sent
            raise TtsError(utterance.error or "nothing was sent")
        if utterance.ttfa_ms is not None and utterance.total_ms is not None:
            last.notes.append(f"the whole text, {count} parts: first audio {utterance.ttfa_ms:.0f} ms, "
                              f"total {utterance.total_ms:.0f} ms")
        self._emit({"log"})
        if utterance.audio is None:
            self.audio, self.audio_service = before
            if last.error is None:
                last.error = utterance.error
            return SpeechResult(last, None, logged)
        self.audio, self.audio_service = utterance.audio, service.name
        self._emit({"audio"})
        if player is not None and not utterance.streamed:
            player.play(utterance.audio)
            self._emit({"playback"})
        return SpeechResult(last, utterance.audio, logged, streamed=utterance.streamed)

    def add_exchange(self, exchange: Exchange) -> None:
        """Append to the log; only the newest AUDIO_KEEP audio exchanges keep their body."""
        self.log.append(exchange)
        self._bodies.append(exchange)
        self._drop_old_audio()
        self._emit({"log"})

    def _keep(self, exchange: Exchange) -> None:
        """A finished exchange goes to the history on disk (masked)."""
        if self.history is not None:
            self.history.append(exchange)

    def load_history(self) -> list[Exchange]:
        """The exchanges kept on disk, oldest first (call off the UI thread)."""
        return self.history.load() if self.history is not None else []

    def add_history(self, exchanges: list[Exchange]) -> None:
        """Put loaded exchanges before those of this session; the log stays bounded."""
        if not exchanges:
            return
        self.log = deque([*exchanges, *self.log], maxlen=LOG_LIMIT)
        for ex in exchanges:
            self.stats.add(ex)
        self._emit({"log"})

    def _drop_old_audio(self) -> None:
        # Newest first: count audio bodies, clear those past AUDIO_KEEP. An exchange
        # added in flight gets its body later, so it stays watched for a while.
        kept: deque[Exchange] = deque()
        audio = 0
        for age, ex in enumerate(reversed(self._bodies)):
            if ex.body and ex.format is not None:
                audio += 1
                if audio <= AUDIO_KEEP:
                    kept.appendleft(ex)
                else:
                    ex.body = b""
                    ex.body_dropped = True
            elif (ex.body or ex.total_ms is None) and age < _RECHECK:
                kept.appendleft(ex)
        self._bodies = kept

    async def fetch_voices(self, name: str | None = None) -> list[Voice]:
        from tts_tui.core.voices import list_voices

        service = self._require_service(name, broken_ok=True)
        if service.problem is not None:
            return []  # refused without a request: the Services pane says why
        try:
            voices = await list_voices(service, client=self.client)
        except TtsError:
            voices = []
        self.voices[service.name] = voices
        self._emit({"voices"})
        return voices

    async def check(self, name: str | None = None) -> bool:
        from tts_tui.core.speech import check

        service = self._require_service(name, broken_ok=True)
        if service.problem is not None:  # refused without a request; the Services pane says why
            self.health[service.name] = False
            self._emit({"health"})
            return False
        self.health[service.name] = None
        result = await check(service, client=self.client)
        if result.exchange is not None:
            self.add_exchange(result.exchange)
            self.stats.add(result.exchange)
            self._keep(result.exchange)
        self.health[service.name] = result.ok
        self._emit({"health"})
        return result.ok

    def _require_service(self, name: str | None = None, *, broken_ok: bool = False) -> Service:
        """The named (else the selected) service; raises TtsError when there is
        none, and ConfigError when it is broken (unless `broken_ok`).

        That error reads "services[1].format: unknown format 'ogg' (line 12,
        column 10); use one of ...": the reason first, as the one-line status
        shows it, and the position the Services pane shows too.
        """
        service = self.config.service(name) if name is not None else self.service
        if service is None:
            raise TtsError("no service is selected", hint="add one to the config")
        problem = service.problem
        if problem is not None and not broken_ok:
            raise ConfigError(problem.message, hint=problem.hint, line=problem.line, column=problem.column)
        return service

    # --- playback ----------------------------------------------------------

    @property
    def opened_player(self) -> Player | None:
        """The player if anything opened it yet (reading this never loads PortAudio)."""
        return self._player

    @property
    def player(self) -> Player:
        if self._player is None:
            from tts_tui.core.player import Player

            self._player = Player(self.config.audio.output)
        return self._player

    def save_audio(self, path: Path | None = None) -> Path:
        """Save the last audio to `path` or a new file in `audio.save_dir`."""
        from tts_tui.core.audio import save

        if self.audio is None:
            raise TtsError("there is no audio to save yet", hint="press F5 to speak first")
        if path is None:
            import time

            folder = Path(self.config.audio.save_dir).expanduser()
            stamp = time.strftime("%Y%m%d-%H%M%S")
            ext = {"ogg": "ogg", "mp3": "mp3", "flac": "flac"}.get(self.audio.format, "wav")
            path = folder / f"{self.audio_service or 'tts'}-{stamp}.{ext}"
            n = 2
            while path.exists():
                path = folder / f"{self.audio_service or 'tts'}-{stamp}-{n}.{ext}"
                n += 1
        return save(self.audio, path)

    async def aclose(self) -> None:
        self.sync.flush()
        if self._player is not None:
            self._player.close()
        if self._client is not None:
            await self._client.aclose()
