"""A long text in the TUI's model: spoken in parts as the service's `split`
says, each part in the log, the whole heard as one clip."""

from __future__ import annotations

import pytest

from tts_tui.core.workbench import Workbench

TEXT = "The first sentence comes alone. The second one follows it. A third one ends the text here."


def config(folder, split: str):
    folder.mkdir()
    path = folder / "config.toml"
    path.write_text(f'[ui]\ntext = "{TEXT}"\n\n[audio]\noutput = "none"\n\n'
                    f'[[services]]\nname = "local"\ntype = "openai"\nurl = "builtin"\nvoice = "en-us"\n'
                    f'split = "{split}"\n')
    return path


async def test_a_split_service_logs_each_part_and_keeps_the_whole_audio(tmp_path) -> None:
    whole = Workbench(config(tmp_path / "whole", "none"))
    parts = Workbench(config(tmp_path / "parts", "sentence"))
    try:
        one = await whole.speak()
        many = await parts.speak()
    finally:
        await whole.aclose()
        await parts.aclose()
    assert one.error is None and many.error is None, (one.error, many.error)
    assert [ex.part for ex in whole.log] == [""]
    count = len(parts.log)
    assert count >= 2
    assert [ex.part for ex in parts.log] == [f"{i}/{count}" for i in range(1, count + 1)]
    assert all(ex.text == TEXT for ex in parts.log)
    assert "the whole text" in parts.log[-1].notes[-1]
    # the parts join into one clip as long as the text spoken whole, give or take the seams
    assert parts.audio.duration == pytest.approx(whole.audio.duration, rel=0.1)
    assert len(parts.stats.service("local").values("total_ms")) == count  # each part is in the latency stats
