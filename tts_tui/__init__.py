"""tts-tui: a terminal workbench for text-to-speech HTTP endpoints."""

__version__ = "0.1.0"
