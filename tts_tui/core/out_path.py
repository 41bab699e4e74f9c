"""Where `say -o FILE` may write: checked before the request, never created.

A mistyped folder should not quietly become a new tree of folders, nor fail
after the synthesis with "File exists" (what mkdir says when a path goes
through a file). One line each, naming the part of the path that is wrong.
"""

from __future__ import annotations

from pathlib import Path

from tts_tui.core.errors import TtsError


def output_file(path: str | Path) -> Path:
    """The file `path` names (~ expanded) when its folder exists.

    Raises TtsError when the folder is missing, when a part of the path is a
    file, or when `path` is itself a folder. Creates nothing.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise TtsError(f"{target} is a folder", hint=f"name a file in it, e.g. {target / 'clip.wav'}")
    folder = target.parent
    if folder.is_dir():
        return target
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise TtsError(f"{existing} is a file, not a folder", hint="choose a file inside a folder")
    raise TtsError(f"no folder {folder}", hint=f"create it first (mkdir -p {folder}) or choose another")
