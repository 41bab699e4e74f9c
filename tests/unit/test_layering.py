"""The core is a library: no module under tts_tui.core or tts_tui.server loads Textual."""

import pkgutil
import subprocess
import sys

import tts_tui.core
import tts_tui.server


def _modules(package) -> list[str]:
    return [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]


def test_core_and_server_modules_exist():
    names = _modules(tts_tui.core) + _modules(tts_tui.server)
    assert "tts_tui.core.config" in names
    assert "tts_tui.server.app" in names


def test_no_core_module_imports_textual():
    names = _modules(tts_tui.core) + _modules(tts_tui.server)
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"textual loaded by the core: {out.stdout.strip()}"
