"""Write changes into the config file, keeping everything the user wrote.

Each write parses the file as it is on disk *now* with tomlkit, applies only
the changed keys, and replaces the file atomically (temp file, fsync, rename).
A file that does not parse is never written over.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tts_tui.core.config import parse, parse_toml
from tts_tui.core.errors import ConfigError

# A key path: ("ui", "text"), ("audio", "output"), ("services", NAME, "voice"),
# ("services", NAME, "params", "language"). Services are addressed by name.
KeyPath = tuple[str, ...]
Change = tuple[KeyPath, Any]

DELETE = object()  # a change value that removes the key
_INLINE = ("extra", "headers", "query", "pcm")  # tables written inline when created


def apply_changes(path: Path, changes: Iterable[Change]) -> str:
    """Apply `changes` onto the file at `path`; return the text written."""
    text = _read_parsable(path)
    new_text = edit_text(text, changes)
    if new_text != text:
        atomic_write(path, new_text)
    return new_text


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


def atomic_write(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically, keeping its mode (0600 for literal secrets)."""
    from tts_tui.core.config import has_literal_secret

    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o644
    try:
        if has_literal_secret(parse(text)):
            mode = 0o600
    except ConfigError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _read_parsable(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
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
    was_multiline = getattr(getattr(existing, "type", None), "name", "") in ("MLL", "MLB")
    table[last] = _to_tomlkit(value, multiline=isinstance(value, str) and ("\n" in value or was_multiline))


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
    unwrapped = item.unwrap() if hasattr(item, "unwrap") else item
    numbers = (int, float)
    if isinstance(unwrapped, numbers) and isinstance(value, numbers):
        # `speed = 1` in the file and 1.0 in the model are the same value.
        return not isinstance(unwrapped, bool) and not isinstance(value, bool) and unwrapped == value
    return type(unwrapped) is type(value) and unwrapped == value


def _to_tomlkit(value: Any, *, multiline: bool = False) -> Any:
    import tomlkit

    if isinstance(value, dict):
        table = tomlkit.table()
        for k, v in value.items():
            if isinstance(v, dict) and k in _INLINE:
                inline = tomlkit.inline_table()
                inline.update(v)
                table[k] = inline
            else:
                table[k] = _to_tomlkit(v, multiline=isinstance(v, str) and "\n" in v)
        return table
    if isinstance(value, str):
        return _string_item(value, multiline=multiline)
    return tomlkit.item(value)


def _string_item(value: str, *, multiline: bool) -> Any:
    """Strings as people write them: a JSON body as a literal string, without escapes."""
    import tomlkit

    literal_ok = not any((ord(c) < 32 and c not in "\t\n") or c == "\x7f" for c in value)
    if multiline:
        if literal_ok and "'''" not in value:
            return tomlkit.string(value, literal=True, multiline=True)
        return tomlkit.string(value, multiline=True)
    if '"' in value and "'" not in value and "\n" not in value and literal_ok:
        return tomlkit.string(value, literal=True)
    return tomlkit.string(value)
