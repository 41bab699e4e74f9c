"""The playback bar says where the sound goes: a listener's device, or why
there is none, and a listener that goes away mid-clip is a message, not a hang.
Real parts: a FaultServer answers, a Listener on 127.0.0.1 plays into JACK."""

from __future__ import annotations

import socket

import pytest

from tests.playback_env import require_jack
from tests.servers import FaultServer
from tests.ui.test_app import http_config, make_app, playback_text, settle, wait_for
from tts_tui.core.playback.listener import Listener


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def fault():
    with FaultServer() as server:
        yield server


async def test_no_listener_is_named_on_the_bar_at_80_columns(tmp_path, fault):
    port = free_port()
    path = tmp_path / "config.toml"
    path.write_text(http_config(fault.base, output=f"listen:{port}"))
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("f5")
        await settle(pilot, app)
        await wait_for(pilot, lambda: "silent:" in playback_text(app))
        text = playback_text(app)
        assert text.startswith(f"🔇 silent: no listener on 127.0.0.1:{port}")
        assert app.workbench.audio is not None  # kept for F8 and ctrl+s


@pytest.mark.playback
async def test_the_bar_names_the_listeners_device_and_says_when_it_goes(tmp_path, fault):
    require_jack()
    listener = Listener(0)
    listener.start()
    path = tmp_path / "config.toml"
    path.write_text(http_config(fault.base, output=f"listen:{listener.port}"))
    app = make_app(path)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot, app)
            await pilot.press("f5")
            await wait_for(pilot, lambda: "→ system (JACK" in playback_text(app), timeout=5.0)
            assert f"♪ via listener :{listener.port} → system (JACK Audio Connection Kit)" in playback_text(app)
            # a long clip, then the listener goes away while it plays
            await settle(pilot, app)
            app.workbench.player.play(_long_tone())
            await wait_for(pilot, lambda: "▶ playing" in playback_text(app), timeout=30.0)
            listener.close()
            # noticed mid-clip, not at its end: the wait (30 s, only a hang reaches it) is half the tone
            await wait_for(pilot, lambda: "mid-clip" in playback_text(app), timeout=30.0)
            assert playback_text(app).startswith("🔇 silent: the listener stopped mid-clip")
            await pilot.press("f5")  # the app keeps working: the next speak runs and is logged
            await settle(pilot, app)
            assert len(app.workbench.log) == 2
    finally:
        listener.close()


def _long_tone():
    import numpy as np

    from tts_tui.core.audio import Audio

    t = np.arange(60 * 24000) / 24000
    return Audio((0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)[:, None], 24000, "pcm")
