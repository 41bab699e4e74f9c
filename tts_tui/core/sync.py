"""Keep the app's config and the file on disk in step (DESIGN section 2).

Three versions of the plain config data are kept (see config_merge): *base*
(what was last read or written), *mine* (the UI's state) and *theirs* (the
file now). They are merged key by key: a key changed on one side takes that
side, a key changed on both sides to different values becomes a `Conflict`
for the user. Writes apply only the changed keys onto the file as
it is on disk now, so comments and outside edits survive. The UI drives it all
by calling `tick()` a few times a second; nothing here starts a thread.

Two writers at once: each write holds the file's advisory lock (file_lock)
from its last read to its rename, and the file is checked once more right
before the rename; an outside edit that lands in between is read and merged,
then the write starts again. No edit of either side is lost.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tts_tui.core.config import Validator, edit_problem, parse_toml, service_problem
from tts_tui.core.config_merge import Conflict, Snapshot, flat_service, merge, pending_changes
from tts_tui.core.config_writer import DELETE, Change, FileChanged, KeyPath, atomic_write, edit_text, file_signature
from tts_tui.core.errors import ConfigError
from tts_tui.core.file_lock import FileBusy, locked
from tts_tui.core.model import Config

__all__ = ["DELETE", "ConfigSync", "Conflict", "KeyPath", "FILE", "ERROR", "CONFLICT", "SAVED", "EDIT"]

# What `tick`, `set`, `resolve`... report to the UI.
FILE = "file"  # the file was changed by someone else; `config` follows it
ERROR = "error"  # `file_error` or `last_write_error` appeared, changed or cleared
CONFLICT = "conflict"  # `conflicts` changed
SAVED = "saved"  # pending edits were written to the file
EDIT = "edit"  # `config` changed by an edit made through this object

# Timestamps of some file systems are coarse (up to 2 s); a file whose mtime is
# that close to our last read may change again without its stat changing.
_RACY_NS = 2_000_000_000
_RETRY_AFTER = 1.0  # seconds between attempts after a failed write
_LOCK_WAIT = 0.05  # how long a tick waits for another writer's lock (the UI thread waits)
_FLUSH_LOCK_WAIT = 1.0  # on quit, another writer's lock is worth a longer wait
_WRITE_TRIES = 5  # outside edits merged before a write gives up until the next tick


class ConfigSync:
    """The config the UI shows, kept in step with the file at `path`.

    The UI reads `config`, `file_error`, `last_write_error` and `conflicts`,
    edits through `set` and the service methods, and calls `tick()` about four
    times a second. Change sets name what changed: "file", "error",
    "conflict", "saved", "edit".
    """

    def __init__(
        self,
        path: Path,
        *,
        debounce: float = 0.3,
        max_delay: float = 0.7,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Load the file; raises ConfigError when it cannot be read or validated.

        An edit is written once no other edit came for `debounce` seconds, and
        at most `max_delay` seconds after the first unsaved edit.
        """
        self.path = Path(path)
        self.debounce = debounce
        self.max_delay = max_delay
        self._clock = clock
        self.file_error: ConfigError | None = None
        self.last_write_error: str | None = None
        self._conflicts: dict[KeyPath, Conflict] = {}
        self._renames: dict[str, str] = {}  # new name -> name in the file, until written
        self._subscribers: list[Callable[[set[str]], None]] = []
        self._due: float | None = None
        self._first_edit: float | None = None
        self._retry_at = 0.0
        self._read_ns = time.time_ns()
        self._sig = self._stat_sig()
        if self._sig is None:
            raise ConfigError(f"no config file at {self.path}", hint="run tts-tui once to create one")
        raw = self._read()
        self._hash = hashlib.sha256(raw).digest()
        self._text = _decode(raw, self.path)
        data, config = _validate(self._text)
        self._warnings = config.warnings
        self.base = Snapshot.of(data)
        self.mine = self.base.copy()
        self.config = self._build(self.mine)

    # -- what the UI reads -------------------------------------------------

    @property
    def conflicts(self) -> list[Conflict]:
        """Pending conflicts, oldest first; the UI shows mine for their keys."""
        return list(self._conflicts.values())

    @property
    def dirty(self) -> bool:
        """True while some edit made here is not in the file (conflicts included)."""
        return bool(self._conflicts) or bool(self._pending())

    def subscribe(self, callback: Callable[[set[str]], None]) -> Callable[[], None]:
        """Call `callback(changes)` after any tick/edit/resolve that changed something.

        Returns a function that unsubscribes.
        """
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    # -- edits from the UI -------------------------------------------------

    def set(self, keypath: KeyPath, value: Any) -> None:
        """Change one value (DELETE removes it); `config` shows it at once.

        The file is written after the debounce. A dict value replaces the
        whole table at `keypath`. Raises ConfigError, changing nothing, for a
        value of the wrong type or an unknown service.
        """
        keypath = tuple(keypath)
        if not keypath:
            raise ConfigError("an edit needs a key path")
        if keypath[:1] == ("services",):
            if len(keypath) < 3:
                raise ConfigError("use add_service or remove_service to change whole services")
            if keypath[2:] == ("name",):
                self.rename_service(keypath[1], value)
                return
            if keypath[1] not in self.mine.services:
                raise ConfigError(f"no service named {keypath[1]!r}")
            # A bad value from the file only breaks its service; from the UI it is refused.
            problem = None if value is DELETE else edit_problem(keypath[1], keypath[2:], value)
            if problem is not None:
                raise problem
        candidate = self.mine.with_value(keypath, value)
        if not candidate.same_as(self.mine):
            self._commit(candidate, urgent=False, changes={EDIT})

    def add_service(self, table: dict[str, Any]) -> None:
        """Add a service (a [[services]] table with a unique `name`); written at once."""
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("a service needs a name", hint='give it name = "..."')
        if name in self.mine.services:
            raise ConfigError(f"a service named {name!r} already exists", hint="choose another name")
        problem = service_problem(table)
        if problem is not None:
            raise problem
        candidate = self.mine.copy()
        candidate.services[name] = flat_service(table)
        self._commit(candidate, urgent=True, changes={EDIT})

    def remove_service(self, name: str) -> None:
        """Remove a service; written at once. Raises ConfigError for an unknown name."""
        if name not in self.mine.services:
            raise ConfigError(f"no service named {name!r}")
        candidate = self.mine.copy()
        del candidate.services[name]
        if name in self._renames:  # the file still calls it by its old name
            self.base.rename(name, self._renames.pop(name))
        key = ("services", name)
        changes = {EDIT}
        under = [p for p in self._conflicts if p[:2] == key and len(p) > 2]
        for p in under:
            del self._conflicts[p]
        if under:  # the file's edits to it are not dropped silently
            self._conflicts[key] = Conflict(key, None, self.base.shown(key), None)
            changes.add(CONFLICT)
        elif key in self._conflicts and name not in self.base.services:
            del self._conflicts[key]  # removed in the file, and now here too
            changes.add(CONFLICT)
        self._commit(candidate, urgent=True, changes=changes)

    def rename_service(self, old: str, new: str) -> None:
        """Rename a service in place (its comments stay); written at once.

        Raises ConfigError for an unknown `old` or a `new` already taken.
        """
        if old not in self.mine.services:
            raise ConfigError(f"no service named {old!r}")
        if not isinstance(new, str) or not new.strip():
            raise ConfigError("a service needs a name", hint='give it name = "..."')
        if new == old:
            return
        if new in self.mine.services or (new in self.base.services and old in self.base.services):
            raise ConfigError(f"a service named {new!r} already exists", hint="choose another name")
        candidate = self.mine.copy()
        candidate.rename(old, new)
        if old in self.base.services:
            self.base.rename(old, new)
            self._renames[new] = self._renames.pop(old, old)
        prefix = ("services", old)
        for path in [p for p in self._conflicts if p[:2] == prefix]:
            conflict = self._conflicts.pop(path)
            conflict.keypath = ("services", new, *path[2:])
            self._conflicts[conflict.keypath] = conflict
        self._commit(candidate, urgent=True, changes={EDIT})

    def resolve(self, conflict: Conflict, keep_mine: bool) -> None:
        """Settle one conflict: keep mine (and write it) or take the file's value."""
        self._resolve(conflict.keypath, keep_mine)
        self._after_resolve()

    def resolve_all(self, keep_mine: bool) -> None:
        """Settle every pending conflict the same way."""
        for path in list(self._conflicts):
            self._resolve(path, keep_mine)
        self._after_resolve()

    # -- polling and writing -----------------------------------------------

    def tick(self) -> set[str]:
        """Follow the file and write due edits; returns (and publishes) what changed.

        When the file's stat is unchanged this costs one stat call.
        """
        changes = self._check_file(force=False)
        if self._due is not None and self.file_error is None:
            now = self._clock()
            if now >= self._due and now >= self._retry_at:
                changes |= self._write()
        self._notify(changes)
        return changes

    def flush(self) -> None:
        """Write pending edits now (on quit).

        Nothing is written while the file does not parse, nor for keys with
        a pending conflict; those stay pending and `dirty` stays True (and
        `last_write_error` says why when the write itself failed).
        """
        self._notify(self._write(lock_wait=_FLUSH_LOCK_WAIT, busy_is_error=True))

    def save_copy(self, path: Path) -> None:
        """Write the config as the UI has it (every edit, conflicts as mine)
        to another file, atomically; the config file itself is untouched.

        For when the config file cannot be written (read-only, disk full) and
        the user would rather not lose the edits. Raises ConfigError.
        """
        path = Path(path).expanduser()
        try:
            text = edit_text(self._text, pending_changes(self.base, self.mine, {}, self._renames))
            atomic_write(path, text)
        except OSError as exc:
            raise ConfigError(f"cannot save {path}: {exc.strerror or exc}", hint="choose another place") from None

    # -- internals ---------------------------------------------------------

    def _commit(self, candidate: Snapshot, *, urgent: bool, changes: set[str]) -> None:
        self.config = self._build(candidate)  # raises before anything changes
        self.mine = candidate
        self._refresh_conflicts()
        now = self._clock()
        self._first_edit = now if self._first_edit is None else self._first_edit
        self._due = now if urgent else min(now + self.debounce, self._first_edit + self.max_delay)
        if urgent:
            changes = changes | self._write()
        self._notify(changes)

    def _resolve(self, path: KeyPath, keep_mine: bool) -> None:
        if self._conflicts.pop(path, None) is not None and not keep_mine:
            self.mine = self.mine.taken_from(self.base, path)  # base is the file as last read

    def _after_resolve(self) -> None:
        self._rebuild()
        self._due = self._clock()
        if self._first_edit is None:
            self._first_edit = self._due
        self._notify({CONFLICT, EDIT} | self._write())

    def _check_file(self, *, force: bool) -> set[str]:
        """Read and merge the file when it changed (always read when `force`)."""
        read_ns = time.time_ns()
        sig = self._stat_sig()
        if sig is None:
            self._sig = self._hash = None
            gone = ConfigError(
                f"the config file {self.path} is gone",
                hint="restore it; tts-tui keeps its settings and writes nothing until it is back",
            )
            return self._file_failed(gone)
        racy = sig[0] >= self._read_ns - _RACY_NS
        if not force and sig == self._sig and not racy:
            return set()
        self._sig, self._read_ns = sig, read_ns
        try:
            raw = self._read()
        except ConfigError as exc:
            self._hash = None  # the file read next is news, even when it is the same again
            return self._file_failed(exc)
        digest = hashlib.sha256(raw).digest()
        if digest == self._hash:
            return set()
        self._hash = digest
        try:
            text = _decode(raw, self.path)
            if not text.strip():
                # Also what a reader sees mid-way through an in-place rewrite.
                raise ConfigError(
                    f"the config file {self.path} is empty",
                    hint="tts-tui keeps its settings and writes nothing until the file has them again",
                )
            data, config = _validate(text)
        except ConfigError as exc:
            return self._file_failed(exc)
        changes = {FILE}
        if self.file_error is not None:
            self.file_error = None
            changes.add(ERROR)
        self._text, self._warnings = text, config.warnings
        if self._merge(Snapshot.of(data)):
            changes.add(CONFLICT)
        return changes

    def _merge(self, theirs: Snapshot) -> bool:
        """Merge `theirs` into mine; it becomes base. True when conflicts changed."""
        for new, old in list(self._renames.items()):
            if old in theirs.services and new not in theirs.services:
                theirs.rename(old, new)
            else:  # renamed or removed in the file meanwhile: ours becomes a new service
                del self._renames[new]
                self.base.rename(new, old)
        before = {p: (c.mine, c.theirs) for p, c in self._conflicts.items()}
        self.mine = merge(self.base, self.mine, theirs, self._conflicts)
        self.base = theirs
        self._rebuild()
        return before != {p: (c.mine, c.theirs) for p, c in self._conflicts.items()}

    def _write(self, *, lock_wait: float = _LOCK_WAIT, busy_is_error: bool = False) -> set[str]:
        try:
            with locked(self.path, wait=lock_wait):
                return self._write_locked()
        except FileBusy as exc:
            # Another program is writing it: the edits stay due for the next
            # tick. On quit there is no next tick, so the user is told.
            return self._write_failed(f"cannot save now: {exc}") if busy_is_error else set()

    def _write_locked(self) -> set[str]:
        changes: set[str] = set()
        for _attempt in range(_WRITE_TRIES):
            changes |= self._check_file(force=True)  # the file may have broken since the last tick
            if self.file_error is not None:
                return changes
            pending = self._pending()
            if not pending:
                self._due = self._first_edit = None
                return changes
            try:
                new_text = edit_text(self._text, pending)
                data, config = _validate(new_text)  # never write what we could not read back
            except ConfigError as exc:
                return changes | self._write_failed(f"not saved: {exc}")
            if self._stat_sig() != self._sig:
                continue  # changed under us: read and merge it first
            if new_text != self._text:
                try:
                    # checked again right before the rename, after the slow fsync
                    self._sig = atomic_write(self.path, new_text, expect=self._sig)
                except FileChanged:
                    continue
                except OSError as exc:
                    return changes | self._write_failed(f"cannot save {self.path}: {exc.strerror or exc}")
                changes.add(SAVED)
                self._read_ns = time.time_ns()
                self._hash = hashlib.sha256(new_text.encode()).digest()
            self._text, self._warnings = new_text, config.warnings
            self._renames.clear()
            if self._merge(Snapshot.of(data)):
                changes.add(CONFLICT)
            if self.last_write_error is not None:
                self.last_write_error = None
                changes.add(ERROR)
            self._due = self._first_edit = None
            return changes
        return changes

    def _pending(self) -> list[Change]:
        return pending_changes(self.base, self.mine, self._conflicts, self._renames)

    def _file_failed(self, error: ConfigError) -> set[str]:
        same = self.file_error is not None and str(self.file_error) == str(error)
        self.file_error = error
        return set() if same else {ERROR}

    def _write_failed(self, message: str) -> set[str]:
        self._retry_at = self._clock() + _RETRY_AFTER
        same = message == self.last_write_error
        self.last_write_error = message
        return set() if same else {ERROR}

    def _stat_sig(self) -> tuple[int, int, int] | None:
        return file_signature(self.path)

    def _read(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {self.path}: {exc.strerror or exc}") from None

    def _build(self, snapshot: Snapshot) -> Config:
        # The file's text places a broken service's problem at its line and column.
        config = Validator(self._text).config(snapshot.data())
        config.path = self.path
        config.warnings = list(self._warnings)  # the file's, which carry line numbers
        return config

    def _rebuild(self) -> None:
        try:
            self.config = self._build(self.mine)
        except ConfigError:
            pass  # both sides validate on their own; keep the last good view if not together
        self._refresh_conflicts()

    def _refresh_conflicts(self) -> None:
        for path, conflict in self._conflicts.items():
            conflict.mine = self.mine.shown(path)

    def _notify(self, changes: set[str]) -> None:
        if changes:
            for callback in list(self._subscribers):
                callback(set(changes))


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode()  # UTF-8
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name} is not UTF-8 text (byte {exc.start})", hint="save it as UTF-8") from None


def _validate(text: str) -> tuple[dict[str, Any], Config]:
    data = parse_toml(text)
    return data, Validator(text).config(data)
