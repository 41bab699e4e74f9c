"""Put known bugs back, one at a time, in a scratch copy, and check that the
suite turns red for each (issue 13).

Each bug is a list of (file, text as it is, text with the bug). The copy is
made in a temporary folder (never in the work tree) and its tests run with
that copy first on PYTHONPATH. A bug whose text is no longer in the file
says so ("cannot plant"): update it here when the code moves.

    python benchmarks/planted_bugs.py            # every bug
    python benchmarks/planted_bugs.py stats      # one of them

Prints, per bug, RED (a test failed: the suite notices) or GREEN (it does
not), and the failing tests. Exit 1 when any bug stays green.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SYNC = "tts_tui/core/sync.py"
BUGS: dict[str, tuple[str, list[tuple[str, str, str]], list[str]]] = {
    "url-query": (
        "mask_url never masks the query (the invalid-URL error, curl, HAR show ?api_key=)",
        [("tts_tui/core/masking.py", "return mask_text(_QUERY_PAIR.sub(pair, url), secrets)",
          "return mask_text(url, secrets)")],
        ["tests/unit/test_masking.py", "tests/unit/test_export.py", "tests/unit/test_har.py",
         "tests/e2e/test_secrets.py"],
    ),
    "url-query-secrets": (
        "a request's secrets never include ?key= values (so nothing masks them by value)",
        [("tts_tui/core/masking.py", 'if is_secret_name(pair["name"]) and pair["value"]:', "if False:"),
         ("tts_tui/core/masking.py", 'return f"{match[\'sep\']}{match[\'name\']}={MASK}"', "return match[0]")],
        ["tests/unit/test_masking.py", "tests/unit/test_export.py", "tests/unit/test_har.py",
         "tests/e2e/test_secrets.py"],
    ),
    "sync-changed-under-us": (
        "the sync writes without re-reading the file or checking it before the rename",
        [(SYNC, "changes |= self._check_file(force=True)", "changes |= set()"),
         (SYNC, "if self._stat_sig() != self._sig:", "if False:"),
         (SYNC, "atomic_write(self.path, new_text, expect=self._sig)", "atomic_write(self.path, new_text)")],
        ["tests/unit/test_saves.py", "tests/unit/test_sync.py", "tests/unit/test_two_writers.py"],
    ),
    "sync-check-before-rename": (
        "the sync re-reads before a save but no longer checks the file right before the rename",
        [(SYNC, "if self._stat_sig() != self._sig:", "if False:"),
         (SYNC, "atomic_write(self.path, new_text, expect=self._sig)", "atomic_write(self.path, new_text)")],
        ["tests/unit/test_saves.py", "tests/unit/test_sync.py", "tests/unit/test_two_writers.py"],
    ),
    "sync-mtime-tick": (
        "the sync drops the re-read of a file changed within one mtime tick",
        [(SYNC, "racy = sig[0] >= self._read_ns - _RACY_NS", "racy = False")],
        ["tests/unit/test_saves.py", "tests/unit/test_sync.py"],
    ),
    "stats": (
        "Workbench.speak never records stats",
        [("tts_tui/core/workbench.py", "        finally:\n            self.stats.add(exchange)\n",
          "        finally:\n            pass\n")],
        ["tests/ui/test_speak_stats.py", "tests/ui/test_log.py", "tests/ui/test_app.py"],
    ),
    "in-place-write": (
        "the config is written in place instead of atomically",
        [("tts_tui/core/config_writer.py", "    target.parent.mkdir(parents=True, exist_ok=True)\n",
          "    with open(target, 'w', encoding='utf-8', newline='') as fh:\n"
          "        fh.write(text)\n"
          "    os.chmod(target, mode)\n"
          "    return file_signature(target)\n")],
        ["tests/unit/test_saves.py", "tests/unit/test_config.py", "tests/unit/test_sync.py"],
    ),
}


def plant(copy: Path, edits: list[tuple[str, str, str]]) -> str | None:
    """Apply the bug's edits in `copy`; the reason when one cannot be made."""
    for rel, old, new in edits:
        path = copy / rel
        text = path.read_text(encoding="utf-8")
        if text.count(old) != 1:
            return f"cannot plant: {old.strip()!r} is in {rel} {text.count(old)} times"
        path.write_text(text.replace(old, new), encoding="utf-8")
    return None


def check(name: str) -> bool:
    """True when the suite goes red with bug `name` planted."""
    what, edits, tests = BUGS[name]
    with tempfile.TemporaryDirectory(prefix=f"planted-{name}-") as tmp:
        copy = Path(tmp)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for part in ("tts_tui", "tests"):
            shutil.copytree(ROOT / part, copy / part, ignore=ignore)
        shutil.copy(ROOT / "pyproject.toml", copy)
        problem = plant(copy, edits)
        if problem:
            print(f"{name:26} {problem}")
            return False
        # the copy comes first on sys.path, before the editable install's path
        env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("CI", None)
        out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--maxfail=4",
                              "--no-header", "-rf", *tests], cwd=copy, env=env, capture_output=True, text=True)
        failed = [line.split(" - ")[0].removeprefix("FAILED ") for line in out.stdout.splitlines()
                  if line.startswith("FAILED ")]
        red = out.returncode == 1 and bool(failed)
        print(f"{name:26} {'RED  ' if red else 'GREEN'} {what}")
        for test in failed:
            print(f"{'':26}   caught by {test}")
        if not red and out.returncode not in (0, 1):
            print(out.stdout[-2000:], out.stderr[-2000:])
        return red


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bugs", nargs="*", metavar="BUG", help=f"default: all of {', '.join(BUGS)}")
    args = parser.parse_args()
    unknown = [b for b in args.bugs if b not in BUGS]
    if unknown:
        parser.error(f"unknown bug {', '.join(unknown)}; choose from {', '.join(BUGS)}")
    green = [name for name in args.bugs or list(BUGS) if not check(name)]
    return 1 if green else 0


if __name__ == "__main__":
    sys.exit(main())
