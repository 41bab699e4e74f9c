"""Voice audition in the picker, and `tts-tui voices --audition`, against a test
server on 127.0.0.1 that lists three voices and synthesises a whole file at 5x
real time (so a sample can be cancelled before it arrives)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.servers import VOICE_NAMES, VoiceListServer
from tts_tui.core.workbench import Workbench
from tts_tui.ui.app import TtsApp
from tts_tui.ui.screens.audition import AUDITION_TEXT, VoicePickScreen


def config_text(srv: VoiceListServer, k: float) -> str:
    return (f'[audio]\noutput = "none"\n\n[[services]]\nname = "v"\ntype = "http"\n'
            f'url = "{srv.base}/paced/audio/speech?k={k}"\ntimeout = 10\nvoice = "af_bella"\n'
            'body = \'{"text": "{{ text }}", "voice": "{{ voice }}"}\'\n'
            f'[services.voices]\nurl = "{srv.base}/voice-list?shape=voices"\npath = "voices"\n'
            'label = "{{ name }}"\nvalue = "{{ id }}"\n')


def voices_sent(srv: VoiceListServer) -> list[str]:
    return [json.loads(r.body)["voice"] for r in srv.requests if r.path.startswith("/paced")]


async def until(pilot, condition, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    assert condition()


async def open_picker(pilot, app: TtsApp) -> None:
    await pilot.pause(0.3)
    app.action_pick_voice()
    await until(pilot, lambda: isinstance(app.screen, VoicePickScreen))
    app.screen.query_one("#items").focus()  # from the filter field: tab


async def test_ctrl_l_plays_the_highlighted_voice(tmp_path: Path):
    with VoiceListServer() as srv:
        path = tmp_path / "config.toml"
        path.write_text(config_text(srv, 0.002))
        app = TtsApp(Workbench(path))
        async with app.run_test(size=(80, 24)) as pilot:
            await open_picker(pilot, app)
            await pilot.press("down")  # the second voice
            await pilot.press("ctrl+l")
            await until(pilot, lambda: app.workbench.player.audio is not None)
            assert voices_sent(srv) == [VOICE_NAMES[1][0]]
            assert abs(app.workbench.player.audio.duration - len(AUDITION_TEXT) * 0.002) < 0.001
            assert isinstance(app.screen, VoicePickScreen)  # listening picks nothing


async def test_moving_on_cancels_the_sample(tmp_path: Path):
    with VoiceListServer() as srv:
        path = tmp_path / "config.toml"
        path.write_text(config_text(srv, 0.2))  # 12 s of audio: the server takes 2.5 s to answer
        app = TtsApp(Workbench(path))
        async with app.run_test(size=(80, 24)) as pilot:
            await open_picker(pilot, app)
            await pilot.press("ctrl+l")
            await until(pilot, lambda: voices_sent(srv) == [VOICE_NAMES[0][0]])
            await pilot.press("down")
            await pilot.pause(3.5)  # past the time the server needed: the answer would be in by now
            assert app.workbench.player.audio is None  # its answer was never played
            assert isinstance(app.screen, VoicePickScreen)


def test_voices_audition_saves_one_sample_per_voice(cli, write_config, tmp_path):
    with VoiceListServer() as srv:
        config = write_config(config_text(srv, 0.01))
        out = cli("--config", str(config), "voices", "--audition", "--text", "Testing one two.",
                  "-o", str(tmp_path / "samples"))
        assert out.returncode == 0, out.stderr
        files = sorted(p.name for p in (tmp_path / "samples").iterdir())
        assert files == sorted(f"{v}.wav" for v, _ in VOICE_NAMES)
        assert voices_sent(srv) == [v for v, _ in VOICE_NAMES]
        lines = out.stderr.strip().splitlines()
        assert [line.split()[0] for line in lines] == ["[1/3]", "[2/3]", "[3/3]"]
        assert all(" 0.2 s → " in line for line in lines)  # 16 characters at 0.01 s each
