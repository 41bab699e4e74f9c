from tts_tui.cli import entry

raise SystemExit(entry())
