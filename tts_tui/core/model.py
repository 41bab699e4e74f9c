"""The config's data model: plain dataclasses the whole core shares.

`config.py` turns a TOML file into these (and back); services, the CLI and the
UI only ever see these objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tts_tui.core.errors import ConfigError

SERVICE_TYPES = ("openai", "http")
FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
SPLIT_MODES = ("none", "sentence", "paragraph")  # how a long text is cut (see split.py)
BUILTIN = "builtin"


@dataclass
class PcmSpec:
    """How to read a raw PCM answer: signed 16-bit little-endian samples."""

    rate: int = 24000
    channels: int = 1


@dataclass
class VoicesSpec:
    """Where an `http` service lists its voices, and how to read each item."""

    url: str = ""
    path: str = ""
    label: str = "{{ name }}"
    value: str = "{{ id }}"
    method: str = "GET"


@dataclass
class Service:
    """One [[services]] table: where to send a text and how (DESIGN section 3)."""

    name: str
    type: str = "openai"
    url: str = BUILTIN
    api_key: str = ""
    model: str = "tts-1"
    voice: str = ""
    format: str = "wav"
    speed: float = 1.0
    instructions: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    timeout: float = 60.0
    stream_format: str = ""  # openai: "" (raw audio) or "sse"
    # Long texts: "none" sends the text whole, "sentence" its first sentence
    # alone then growing groups (first audio early), "paragraph" one paragraph
    # a request. max_chars is the server's input limit (0: none known).
    split: str = "none"
    max_chars: int = 0
    # http services
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: str = ""
    content_type: str = "audio/wav"
    response: str = "body"
    pcm: PcmSpec | None = None
    params: dict[str, Any] = field(default_factory=dict)
    voices: VoicesSpec | None = None
    # Set when the service's block holds a value it cannot use (the first one,
    # with its line and column); such a service loads but refuses to speak.
    # Its fields then hold defaults in place of the bad values: the file keeps them.
    problem: ConfigError | None = field(default=None, compare=False, repr=False)

    @property
    def is_builtin(self) -> bool:
        return self.url.strip() == BUILTIN


@dataclass
class UiSettings:
    """The [ui] table: theme, the text the Request pane starts with, key bindings."""

    theme: str = "tts-dark"
    text: str = "Hello from tts-tui."
    keys: dict[str, str] = field(default_factory=dict)


@dataclass
class AudioSettings:
    """The [audio] table: where sound goes, and where the workbench saves it."""

    output: str = "default"
    save_dir: str = "~/tts-audio"


@dataclass
class Config:
    """A whole config file, and the warnings reading it gave."""

    path: Path | None = None
    ui: UiSettings = field(default_factory=UiSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    services: list[Service] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def service(self, name: str | None) -> Service:
        """The named service, or the first one when `name` is None."""
        from tts_tui.core.errors import ConfigError

        if not self.services:
            raise ConfigError("the config has no services", hint="add a [[services]] block")
        if name is None:
            return self.services[0]
        for service in self.services:
            if service.name == name:
                return service
        names = ", ".join(s.name for s in self.services)
        raise ConfigError(f"no service named {name!r}", hint=f"known services: {names}")
