"""Write changes into the config file, keeping everything the user wrote.

Each write parses the file as it is on disk *now* with tomlkit, applies only
the changed keys, and replaces the file atomically (temp file, fsync, rename).
A file that does not parse is never written over. A symlinked file is written
through to its target and stays a link.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tts_tui.core.config import parse_toml
from tts_tui.core.errors import ConfigError

# A key path: ("ui", "text"), ("audio", "output"), ("services", NAME, "voice"),
# ("services", NAME, "params", "language"). Services are addressed by name.
KeyPath = tuple[str, ...]
Change = tuple[KeyPath, Any]

DELETE = object()  # a change value that removes the key
_INLINE = ("extra", "headers", "query", "pcm")  # tables written inline when created


def apply_changes(path: Path, changes: Iterable[Change]) -> str:
    """Apply `changes` onto the file at `path`; return the text written.

    Holds the file's lock (see file_lock) and starts again from the file
    when it changes before the rename; raises FileBusy or, after a few
    tries, FileChanged when another program keeps it busy.
    """
    from tts_tui.core.file_lock import locked

    changes = list(changes)
    attempt = 0
    while True:
        attempt += 1
        with locked(path, wait=1.0):
            expect = file_signature(path)
            text = _read_parsable(path)
            new_text = edit_text(text, changes)
            if new_text == text:
                return text
            try:
                atomic_write(path, new_text, expect=expect)
            except FileChanged:
                if attempt == _TRIES:
                    raise
                continue
            return new_text


_TRIES = 5  # attempts when the file keeps changing under a write


def edit_text(text: str, changes: Iterable[Change]) -> str:
    """Apply `changes` onto TOML `text` (which must parse); return the new text.

    Besides key paths of values, `("services", NAME)` takes a dict (append a
    [[services]] block named NAME) or DELETE (remove that block). Changes are
    applied in order, so a rename `("services", OLD, "name") -> NEW` must come
    before changes that address the service by NEW.
    """
    import tomlkit

    doc = tomlkit.parse(text)
    for keypath, value in changes:
        _set(doc, keypath, value)
    return tomlkit.dumps(doc)


class FileChanged(Exception):
    """The file changed after it was read; nothing was written. Read and
    merge it, then write again."""


Signature = tuple[int, int, int]


def file_signature(path: Path) -> Signature | None:
    """(mtime_ns, size, inode) of the file at `path` (through symlinks), None when missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def atomic_write(path: Path, text: str, *, expect: Signature | None = None) -> Signature:
    """Replace the file at `path` with `text` atomically (temp file, fsync, rename).

    A symlink stays a link: the temp file is made beside its target, which it
    replaces. The mode is kept (0644 for a new file), and is 0600 whenever
    `text` holds a literal secret (see config.literal_secrets).

    With `expect` (the `file_signature` the file had when it was read), the
    file is checked again right before the rename, after the slow part
    (writing, fsync): if it changed, FileChanged is raised and nothing is
    replaced, so an outside edit made meanwhile is never written over.
    Returns the new file's signature (taken before the rename, so a write
    that lands just after it is not mistaken for ours).
    """
    from tts_tui.core.config import data_has_literal_secret

    target = Path(os.path.realpath(path))
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o644
    try:
        if data_has_literal_secret(parse_toml(text)):
            mode = 0o600
    except ConfigError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode())  # UTF-8, whatever the locale; line ends as given
            fh.flush()
            os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), mode)
            st = os.fstat(fh.fileno())
        if expect is not None and file_signature(target) != expect:
            raise FileChanged(str(path))
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _read_parsable(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = b""
    try:
        text = raw.decode()
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not saving: {path.name} is not UTF-8 text (byte {exc.start})",
            hint="save it as UTF-8 first; nothing was written",
        ) from None
    try:
        parse_toml(text)
    except ConfigError as exc:
        raise ConfigError(
            f"not saving: {path.name} does not parse ({exc.message})",
            hint="fix the file first; nothing was written",
            line=exc.line,
            column=exc.column,
        ) from None
    return text


def _set(doc: Any, keypath: KeyPath, value: Any) -> None:
    import tomlkit

    if keypath[0] == "services":
        name, rest = keypath[1], keypath[2:]
        services = doc.get("services", [])
        index = next((i for i, t in enumerate(services) if t.get("name") == name), None)
        if not rest:
            _set_service(doc, name, index, value)
            return
        if index is None:
            raise ConfigError(f"no service named {name!r} in the file")
        table = services[index]
    else:
        table, rest = doc, keypath
    for key in rest[:-1]:
        if key not in table or not isinstance(table[key], dict):
            # extra/headers/query/pcm are written inline, as in the default file.
            table[key] = tomlkit.inline_table() if key in _INLINE else tomlkit.table()
        table = table[key]
    last = rest[-1]
    if value is DELETE:
        if last in table:
            del table[last]
        return
    existing = table[last] if last in table else None
    if existing is not None and _same(existing, value):
        return  # keep the user's exact spelling (1 vs 1.0, quotes...)
    # a body the user wrote as a multi-line block stays a block, even as one line
    was_block = isinstance(existing, tomlkit.items.String) and existing.type.is_multiline()
    table[last] = _to_tomlkit(value, block=was_block)


def _set_service(doc: Any, name: str, index: int | None, value: Any) -> None:
    import tomlkit

    if value is DELETE:
        if index is not None:
            del doc["services"][index]
        return
    if index is not None:
        raise ConfigError(f"two services are named {name!r}", hint="give each service a unique name")
    services = doc.get("services")
    if services is None:
        services = tomlkit.aot()
        doc.append("services", services)
    table = _to_tomlkit({"name": name, **value})
    if not tomlkit.dumps(doc).endswith("\n\n"):
        table.trivia.indent = "\n"  # a blank line before the new block, as people write them
    services.append(table)


def _same(item: Any, value: Any) -> bool:
    """True when the file's `item` already holds `value`."""
    unwrapped = item.unwrap() if hasattr(item, "unwrap") else item  # tomlkit gives booleans as bool
    numbers = (int, float)  # exact types: True is no 1 here
    if type(unwrapped) in numbers and type(value) in numbers:
        # `speed = 1` in the file and 1.0 in the model are the same value.
        return unwrapped == value
    return type(unwrapped) is type(value) and unwrapped == value


def _to_tomlkit(value: Any, *, block: bool = False) -> Any:
    """`value` as a tomlkit item. A string is a multi-line block when it has a
    line break or replaces a block (`block`); in a table, extra/headers/query/pcm
    are inline tables and other tables are [sub.tables]."""
    import tomlkit

    if isinstance(value, dict):
        table = tomlkit.table()
        for k, v in value.items():
            if isinstance(v, dict) and k in _INLINE:
                inline = tomlkit.inline_table()
                inline.update(v)
                table[k] = inline
            else:
                table[k] = _to_tomlkit(v)
        return table
    if isinstance(value, str):
        return _string_item(value, multiline=block or "\n" in value)
    return tomlkit.item(value)


def _string_item(value: str, *, multiline: bool) -> Any:
    """Strings as people write them: a JSON body as a literal string, without
    escapes. `multiline` is True for any `value` with a line break."""
    import tomlkit

    literal_ok = not any((ord(c) < 32 and c not in "\t\n") or c == "\x7f" for c in value)
    if multiline:
        if literal_ok and "'''" not in value:
            return tomlkit.string(value, literal=True, multiline=True)
        return tomlkit.string(value, multiline=True)
    if '"' in value and "'" not in value and literal_ok:
        return tomlkit.string(value, literal=True)
    return tomlkit.string(value)
