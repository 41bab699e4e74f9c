"""`cli_args.parse` builds only the subcommand in use, and reads every
argument list exactly as the whole grammar does: the same values, the same
one-line error, the same help."""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from tts_tui.cli import UsageError
from tts_tui.cli_args import SUBCOMMANDS, Parser, build_parser, parse, terminal_columns

ARGVS = [
    ["say", "hi", "--no-play", "-o", "a.wav", "--json"],
    ["--config", "c.toml", "say", "-", "--split-by", "paragraph", "--har", "x.har"],
    ["--config=say", "bench", "-n", "5", "-c", "2", "--no-warmup"],
    ["--conf", "bench", "say", "hi"],  # an abbreviated --config whose value is a subcommand's name
    ["--config", "voices", "voices", "--audition", "-o", "d"],
    ["serve", "--host", "[::1]", "--port", "0"],
    ["compare", "hi", "-s", "a", "-s", "b", "--voice", "a=x", "--rounds", "3"],
    ["batch", "lines.txt", "--format", "mp3", "-c", "4", "--force"],
    ["presets"], ["presets", "kokoro"], ["listen", "--port", "7000", "--token", "t"],
    ["check", "-s", "x", "--json"], [], ["--init", "--config", "new.toml"],
    # errors
    ["bench", "-n", "x"], ["serve", "--port", "99999"], ["serve", "--host", " "], ["nosuch"],
    ["say"], ["say", "--nosuch", "x"], ["compare", "hi"], ["batch", "f", "--format", "aiff"],
    ["--config"], ["say", "hi", "extra"],
    # help
    ["say", "hi", "--bogus"], ["--version", "say"],
    # help
    ["--help"], ["-h", "say"], ["--he", "say", "hi"], ["say", "--help"], ["--conf", "say", "bench", "--help"],
    ["ssh"], ["ssh", "-h"],
]


def outcome(read, argv: list[str]) -> tuple[str, object]:
    """What a user gets from parsing `argv`: the values, the error line, or the printed help."""
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            return "args", vars(read(argv))
    except UsageError as exc:
        return "error", str(exc)
    except SystemExit as exc:
        return "exit", (exc.code, printed.getvalue())


@pytest.mark.parametrize("argv", ARGVS, ids=" ".join)
def test_a_subcommand_alone_reads_arguments_as_the_whole_grammar(argv: list[str]) -> None:
    whole = outcome(lambda a: build_parser(whole=True).parse_args(a), argv)
    assert outcome(parse, argv) == whole


@pytest.mark.parametrize("columns", [None, "100", "40", "0", "-3", "wide", ""])
def test_help_is_as_wide_as_shutil_says_the_terminal_is(monkeypatch, columns) -> None:
    import shutil

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert terminal_columns() == shutil.get_terminal_size().columns
    ours = build_parser(whole=True).format_help()
    monkeypatch.setattr(Parser, "_get_formatter", argparse.ArgumentParser._get_formatter)  # shutil's width
    assert ours == build_parser(whole=True).format_help()


def test_help_lists_every_subcommand_in_order() -> None:
    kind, (code, text) = outcome(parse, ["--help"])
    assert (kind, code) == ("exit", 0)
    listed = [line.split()[0] for line in text.split("COMMAND ...\n")[-1].splitlines()
              if line.startswith("    ") and not line.startswith("     ")]
    assert listed == list(SUBCOMMANDS)
