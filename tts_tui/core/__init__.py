"""The pure model of tts-tui: config, templates, services, HTTP, audio.

Nothing under this package may import Textual; `tests/unit/test_layering.py`
enforces it. The CLI and the TUI are two faces of this core.
"""
