from tts_tui.cli import main

raise SystemExit(main())
