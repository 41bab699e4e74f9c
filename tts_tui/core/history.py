"""The exchange history on disk: the log survives a restart.

One JSON line per finished exchange in `$XDG_STATE_HOME/tts-tui/history/`
(`~/.local/state/...`), one file per config file, written **masked**: the URL,
headers, bodies and errors pass through the request's own masking before they
reach the disk, so no secret is ever written. Bounded like the log in memory:
the newest LOG_LIMIT exchanges (older lines are dropped when the file is
compacted at load), and the audio of the newest AUDIO_KEEP in files beside it.

Loading is a separate call (`load`), made after the first paint.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from tts_tui.core.exchange import Exchange, PreparedRequest
from tts_tui.core.masking import mask_headers

LOG_LIMIT = 10_000
AUDIO_KEEP = 50
TEXT_MAX = 20_000  # characters of a request or response body kept (audio goes to files)
VERSION = 1


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "tts-tui" / "history"


def history_dir(config_path: Path) -> Path:
    """Where the history of the app opened on `config_path` lives."""
    resolved = str(Path(config_path).expanduser().resolve())
    digest = hashlib.sha256(resolved.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return state_dir() / f"{Path(config_path).stem}-{digest}"


def record(ex: Exchange) -> dict[str, Any]:
    """The exchange as one JSON object, every secret of its request masked."""
    req = ex.request
    mask = req.mask
    audio = ex.format is not None
    response_text = "" if audio or not ex.body else mask(ex.body[:TEXT_MAX].decode("utf-8", "replace"))
    return {
        "v": VERSION,
        "service": ex.service,
        "text": mask(ex.text)[:TEXT_MAX],
        "started_at": ex.started_at,
        "method": req.method,
        "url": req.masked_url(),
        "headers": mask_headers(ex.sent_headers or req.headers, req.secrets),
        "body": req.masked_body()[:TEXT_MAX],
        "status": ex.status,
        "reason": ex.reason,
        "response_headers": mask_headers(ex.response_headers, req.secrets),
        "content_type": mask(ex.content_type),
        "response_text": response_text,
        "bytes": ex.bytes,
        "connect_ms": ex.connect_ms,
        "ttfb_ms": ex.ttfb_ms,
        "ttfa_ms": ex.ttfa_ms,
        "total_ms": ex.total_ms,
        "audio_s": ex.audio_s,
        "format": ex.format,
        "error": mask(ex.error) if ex.error else None,
        "truncated": ex.truncated,
        "reader": ex.reader,
        "rate": ex.rate,
        "channels": ex.channels,
        "notes": [mask(n) for n in ex.notes],
        "first_audio_after_body": ex.first_audio_after_body,
    }


def exchange_from(doc: dict[str, Any]) -> Exchange:
    """An Exchange rebuilt from a record: what the log and the detail show.
    Its request holds the masked values (it cannot be sent again as it is)."""
    request = PreparedRequest(
        method=str(doc.get("method", "POST")),
        url=str(doc.get("url", "")),
        headers=dict(doc.get("headers") or {}),
        body=str(doc.get("body") or "").encode("utf-8") or None,
    )
    ex = Exchange(request, service=str(doc.get("service", "")))
    for key in ("started_at", "status", "reason", "content_type", "bytes", "connect_ms", "ttfb_ms", "ttfa_ms",
                "total_ms", "audio_s", "format", "error", "truncated", "reader", "rate", "channels",
                "first_audio_after_body", "text"):
        if key in doc and doc[key] is not None:
            setattr(ex, key, doc[key])
    ex.response_headers = dict(doc.get("response_headers") or {})
    ex.sent_headers = dict(request.headers)
    ex.notes = list(doc.get("notes") or [])
    if ex.format is None:
        ex.body = str(doc.get("response_text") or "").encode("utf-8")
    else:
        ex.body_dropped = True  # the audio is in a file, if still kept: see History.audio_of
    return ex


class History:
    """Appends finished exchanges to the history file; loads it back.

    Safe to call from the UI thread: each append is one short write. Errors
    (a read-only disk) switch the history off and are reported once by `error`.
    """

    def __init__(self, config_path: Path, folder: Path | None = None) -> None:
        self.folder = folder or history_dir(config_path)
        self.file = self.folder / "exchanges.jsonl"
        self.audio_folder = self.folder / "audio"
        self.error: str | None = None
        self._lock = threading.Lock()
        self._audio: dict[int, Path] = {}  # exchange id -> its audio file

    def append(self, ex: Exchange) -> None:
        """Write one finished exchange (masked); its audio body to a file."""
        if self.error is not None:
            return
        doc = record(ex)
        try:
            with self._lock:
                self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                if ex.format is not None and ex.body and not ex.body_dropped:
                    self.audio_folder.mkdir(exist_ok=True, mode=0o700)
                    name = f"{int(ex.started_at * 1000)}-{ex.id}.audio"
                    path = self.audio_folder / name
                    path.write_bytes(ex.body)
                    doc["audio_file"] = name
                    self._audio[ex.id] = path
                    self._prune_audio()
                line = json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"
                fd = os.open(self.file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line.encode("utf-8", "surrogatepass"))
                finally:
                    os.close(fd)
        except OSError as exc:
            self.error = f"the history cannot be written to {self.folder}: {exc.strerror or exc}"

    def _prune_audio(self) -> None:
        files = sorted(self.audio_folder.glob("*.audio"), key=lambda p: p.name)
        for old in files[:-AUDIO_KEEP]:
            old.unlink(missing_ok=True)

    def load(self) -> list[Exchange]:
        """The stored exchanges, oldest first (at most LOG_LIMIT). A file grown
        past the limit is rewritten with its newest lines; unreadable lines
        are skipped."""
        try:
            with self._lock:
                lines = self.file.read_bytes().splitlines() if self.file.exists() else []
                if len(lines) > LOG_LIMIT * 1.2:
                    lines = lines[-LOG_LIMIT:]
                    tmp = self.file.with_suffix(".tmp")
                    tmp.write_bytes(b"\n".join(lines) + b"\n")
                    os.replace(tmp, self.file)
        except OSError as exc:
            self.error = f"the history cannot be read from {self.folder}: {exc.strerror or exc}"
            return []
        out = []
        for line in lines[-LOG_LIMIT:]:
            try:
                doc = json.loads(line)
                ex = exchange_from(doc)
            except (ValueError, TypeError, AttributeError):
                continue
            audio = doc.get("audio_file")
            if audio:
                path = self.audio_folder / Path(str(audio)).name
                if path.exists():
                    self._audio[ex.id] = path
            out.append(ex)
        return out

    def audio_of(self, ex: Exchange) -> bytes | None:
        """The stored audio body of a loaded exchange, if it is still kept."""
        path = self._audio.get(ex.id)
        try:
            return path.read_bytes() if path is not None else None
        except OSError:
            return None
