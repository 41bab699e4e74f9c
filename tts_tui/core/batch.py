"""`tts-tui batch`: one audio file per row of a script, resumable.

A script is either plain lines of text (one file per non-blank line, named by
its line number) or a CSV/TSV file whose header has `id` and `text` columns,
and optionally `voice` and `service`. Rows whose file already exists are
skipped (so an interrupted run resumes where it stopped) unless `force`.
Files are written atomically: an interrupted row leaves no partial file.

A row that fails is recorded and the batch goes on; at most `concurrency`
requests are in flight, on one connection pool.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tts_tui.core.errors import TtsError
from tts_tui.core.speech import prepare, speak

if TYPE_CHECKING:
    from tts_tui.core.client import HttpClient
    from tts_tui.core.exchange import Exchange
    from tts_tui.core.model import Config, Service

_UNSAFE = re.compile(r"[^\w.+-]+")


@dataclass
class Row:
    """One line of the script: `line` is its 1-based line in the file."""

    line: int
    id: str
    text: str
    voice: str | None = None
    service: str | None = None


@dataclass
class RowResult:
    row: Row
    path: Path
    skipped: bool = False  # its file was already there
    error: str | None = None
    exchange: Exchange | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_json(self) -> dict[str, Any]:
        """One `--json` line: the row, its file, and the exchange's metrics."""
        metrics = self.exchange.metrics() if self.exchange is not None else {}
        return {**metrics, "id": self.row.id, "line": self.row.line, "file": str(self.path),
                "skipped": self.skipped, "error": self.error}


@dataclass
class BatchReport:
    results: list[RowResult] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def written(self) -> int:
        return sum(r.ok and not r.skipped for r in self.results)

    @property
    def skipped(self) -> int:
        return sum(r.skipped for r in self.results)

    @property
    def failed(self) -> list[RowResult]:
        return [r for r in self.results if not r.ok]

    def summary(self) -> dict[str, Any]:
        """The last `--json` line."""
        return {
            "summary": True, "rows": len(self.results), "written": self.written, "skipped": self.skipped,
            "failed": [{"id": r.row.id, "line": r.row.line, "error": r.error} for r in self.failed],
            "wall_s": round(self.wall_s, 3),
            "files_per_s": round(self.written / self.wall_s, 2) if self.wall_s > 0 else None,
        }


def read_rows(path: Path | str) -> list[Row]:
    """The rows of a script file. Raises TtsError for a file that cannot be
    read, a CSV/TSV without `id`/`text` columns, an empty script, or two rows
    with the same id (they would write the same file)."""
    source = Path(path).expanduser()
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise TtsError(f"cannot read {source}: {exc.strerror or exc}") from None
    text = raw.decode("utf-8-sig", "replace")
    delimiter = _table_delimiter(source, text) if text.strip() else None
    rows = _table_rows(text, delimiter, source) if delimiter else _line_rows(text)
    if not rows:
        raise TtsError(f"{source} has no text to speak", hint="one line of text per file, or CSV with id,text")
    seen: dict[str, int] = {}
    for row in rows:
        if row.id in seen:
            raise TtsError(f"{source}:{row.line}: id {row.id!r} is also on line {seen[row.id]}",
                           hint="each row needs its own id: it names the file")
        seen[row.id] = row.line
    return rows


def _table_delimiter(path: Path, text: str) -> str | None:
    """"," or "\\t" when the file is a table with a `text` column, else None."""
    first = text.split("\n", 1)[0].strip().lower()
    for delimiter in ("\t", ","):
        columns = [c.strip().strip('"') for c in first.split(delimiter)]
        if "text" in columns and len(columns) > 1:
            return delimiter
    if path.suffix.lower() in (".csv", ".tsv"):
        raise TtsError(f"{path}: the first line must name the columns, with at least id and text",
                       hint="e.g. id,text,voice")
    return None


def _table_rows(text: str, delimiter: str, path: Path) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    fields = [(f or "").strip().lower() for f in reader.fieldnames or []]
    reader.fieldnames = fields
    if "id" not in fields:
        raise TtsError(f"{path}: no id column", hint="name the columns on the first line: id,text[,voice,service]")
    rows = []
    for record in reader:
        line = reader.line_num
        body = (record.get("text") or "").strip()
        ident = _safe_id((record.get("id") or "").strip())
        if not body:
            continue
        if not ident:
            raise TtsError(f"{path}:{line}: this row has no id", hint="every row needs an id: it names the file")
        rows.append(Row(line, ident, body, (record.get("voice") or "").strip() or None,
                        (record.get("service") or "").strip() or None))
    return rows


def _line_rows(text: str) -> list[Row]:
    lines = text.splitlines()
    width = len(str(len(lines)))
    return [Row(n, str(n).zfill(width), line.strip()) for n, line in enumerate(lines, 1) if line.strip()]


def _safe_id(ident: str) -> str:
    """An id usable as a file name: no folders, no hidden files."""
    return _UNSAFE.sub("_", ident).strip("._")


def check_services(rows: list[Row], config: Config) -> None:
    """Every `service` a row names exists: refused before anything is sent."""
    known = {s.name for s in config.services}
    for row in rows:
        if row.service is not None and row.service not in known:
            raise TtsError(f"line {row.line}: no service named {row.service!r}",
                           hint=f"known services: {', '.join(sorted(known))}")


async def run_batch(
    rows: list[Row],
    *,
    pick: Callable[[str | None], Service],
    out_dir: Path,
    extension: str,
    client: HttpClient,
    concurrency: int = 2,
    force: bool = False,
    on_result: Callable[[RowResult], None] | None = None,
) -> BatchReport:
    """Write one file per row into `out_dir` (`<id><extension>`). Rows whose
    file exists are skipped unless `force`. `pick(name)` gives the service of
    a row (None: the default one). Template and config errors of a row are its
    failure, like a network fault; nothing raises but cancellation.
    `on_result` runs in this task as each row finishes (skipped rows first)."""
    report = BatchReport()
    started = time.perf_counter()
    todo: list[tuple[Row, Path]] = []
    for row in rows:
        path = out_dir / f"{row.id}{extension}"
        if path.exists() and not force:
            result = RowResult(row, path, skipped=True)
            report.results.append(result)
            if on_result is not None:
                on_result(result)
        else:
            todo.append((row, path))
    queue = iter(todo)

    async def worker() -> None:
        for row, path in queue:  # shared iterator: each worker takes the next row when free
            result = await _one(row, path, pick, client)
            report.results.append(result)
            if on_result is not None:
                on_result(result)

    tasks = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, len(todo))))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        report.wall_s = time.perf_counter() - started
    report.results.sort(key=lambda r: r.row.line)
    return report


async def _one(row: Row, path: Path, pick: Callable[[str | None], Service], client: HttpClient) -> RowResult:
    from tts_tui.core.audio import save

    try:
        service = pick(row.service)
        request = prepare(service, row.text, voice=row.voice)
    except TtsError as exc:
        return RowResult(row, path, error=str(exc))
    result = await speak(service, row.text, client=client, voice=row.voice, request=request)
    if not result.ok or result.audio is None:
        return RowResult(row, path, error=result.error or "no audio", exchange=result.exchange)
    try:
        await asyncio.to_thread(save, result.audio, path)
    except TtsError as exc:
        return RowResult(row, path, error=str(exc), exchange=result.exchange)
    return RowResult(row, path, exchange=result.exchange)


class Progress:
    """A bar with the rate and ETA, redrawn in place on a terminal; elsewhere
    a line every ~10%. Skipped rows count as done but not in the rate."""

    WIDTH = 24

    def __init__(self, label: str, total: int, stream: Any) -> None:
        self.label, self.total, self.stream = label, total, stream
        self.tty = stream.isatty()
        self.done = self.failed = self.skipped = 0
        self.started = time.monotonic()
        self._decile = 0

    def update(self, result: RowResult) -> None:
        self.done += 1
        self.failed += not result.ok
        self.skipped += result.skipped
        line = self.line()
        if self.tty:
            self.stream.write(f"\r\x1b[K{line}")
            self.stream.flush()
            return
        decile = 10 * self.done // self.total
        if decile > self._decile:
            self._decile = decile
            print(line, file=self.stream, flush=True)

    def line(self) -> str:
        filled = self.WIDTH * self.done // self.total
        bar = "#" * filled + "·" * (self.WIDTH - filled)
        parts = [f"{self.label} [{bar}] {self.done}/{self.total}"]
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        if self.failed:
            parts.append(f"{self.failed} failed")
        made = self.done - self.skipped
        elapsed = time.monotonic() - self.started
        if made and elapsed > 0:
            rate = made / elapsed
            parts.append(f"{rate:.1f}/s")
            if self.done < self.total:
                parts.append(f"ETA {_clock((self.total - self.done) / rate)}")
        return " · ".join(parts)

    def close(self) -> None:
        if self.tty and self.done:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"
