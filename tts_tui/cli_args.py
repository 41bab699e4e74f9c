"""The command line's grammar: `tts-tui`'s argparse parser.

Building every subcommand costs ~12 ms (argparse makes a parser for each, and
a help formatter for each argument it checks), more than some commands take
to run: `parse` builds only the subcommand the arguments name. When that
reading fails or names another subcommand (a config file called `bench`, a
mistyped command, `--help`), they are parsed again with the whole grammar, so
values, errors and help read exactly as the whole grammar reads them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from tts_tui import __version__
from tts_tui.cli import UsageError


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse would print the usage block and a second line; DESIGN asks
        # for one `error:` line, so the way to the full usage goes in brackets
        # (the subcommand's own --help: `self.prog` is "tts-tui say" there).
        raise UsageError(f"{self.prog}: {message} (try: {self.prog} --help)")

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse makes a formatter for every argument it adds (to check its
        # metavar), and each asks shutil for the terminal's width: shutil, with
        # the archive modules it imports, is ~4 ms of every start. The same
        # width, read as shutil reads it, without them.
        return self.formatter_class(prog=self.prog, width=terminal_columns() - 2)


def terminal_columns() -> int:
    """The terminal's width as `shutil.get_terminal_size().columns` reads it:
    $COLUMNS, else the width of the terminal standard output is, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def parse(argv: list[str]) -> argparse.Namespace:
    """`argv` parsed (UsageError for bad arguments; --help prints and exits)."""
    guess = next((arg for arg in argv if arg in SUBCOMMANDS), None)
    try:
        args = build_parser(guess).parse_args(argv)
    except UsageError:
        args = None
    if args is None or args.command != guess:
        args = build_parser(None, whole=True).parse_args(argv)
    return args


def build_parser(command: str | None = None, *, whole: bool = False) -> Parser:
    """The parser for `command` alone (its arguments, no other subcommand);
    without one, every subcommand listed with no arguments (`tts-tui`, which
    starts the TUI, and `--help`); with `whole`, the whole grammar."""
    # built for one subcommand, `-h` before it is an error here (the whole grammar then prints the help)
    parser = Parser(prog="tts-tui", description="A terminal workbench for text-to-speech HTTP endpoints.",
                    add_help=whole or command is None)
    parser.add_argument("--config", metavar="PATH", help="config file (default: $TTS_TUI_CONFIG or ~/.config/tts-tui/config.toml)")
    parser.add_argument("--init", action="store_true",
                        help="create the config file (commented defaults) when --config PATH does not exist")
    parser.add_argument("--version", action="version", version=f"tts-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, (help_text, add_arguments) in SUBCOMMANDS.items():
        if command is not None and not whole and name != command:
            continue
        if whole or name == command:
            add_arguments(sub.add_parser(name, help=help_text, add_help=name != "ssh"))
        else:  # listed only; no -h: `COMMAND --help` is for the whole grammar
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _say(say: argparse.ArgumentParser) -> None:
    say.add_argument("text", help='the text to speak ("-" reads standard input)')
    say.add_argument("-s", "--service", help="service name (default: the first that works)")
    say.add_argument("--voice", help="voice to use instead of the service's")
    say.add_argument("-o", "--output", metavar="FILE", help="also save the audio to FILE")
    say.add_argument("--no-play", action="store_true", help="do not play the audio")
    say.add_argument("--json", action="store_true", help="print the exchange's metrics as JSON")
    say.add_argument("--split", action="store_const", const="sentence",
                     help="speak a long text in pipelined chunks: the first sentence alone, then growing groups")
    say.add_argument("--split-by", dest="split", choices=("none", "sentence", "paragraph"),
                     help="how to cut a long text (overrides the service's split)")
    add_har_arguments(say)


def _voices(voices: argparse.ArgumentParser) -> None:
    voices.add_argument("-s", "--service", help="service name (default: the first that works)")
    voices.add_argument("--json", action="store_true", help="print JSON")
    voices.add_argument("--audition", action="store_true", help="play (or with -o save) a short sample of each voice")
    voices.add_argument("--text", help="the sample text for --audition")
    voices.add_argument("-o", "--output", metavar="DIR", help="with --audition: save each sample to DIR instead of playing")


def _check(check: argparse.ArgumentParser) -> None:
    check.add_argument("-s", "--service", help="only this service (default: all)")
    check.add_argument("--json", action="store_true", help="print one JSON object per service")


def _serve(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--host", type=listen_host, default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=port_number, default=8000, help="port, 0 to 65535 (default 8000; 0 picks a free one)")


def _bench(bench: argparse.ArgumentParser) -> None:
    bench.add_argument("-s", "--service", help="service name (default: the first that works)")
    bench.add_argument("-n", type=positive_int, default=20, help="requests to count (default 20)")
    bench.add_argument("-c", type=positive_int, default=1, help="requests at once (default 1)")
    bench.add_argument("--text", help="the text to send (default: a pangram)")
    bench.add_argument("--no-warmup", action="store_true", help="count the first request too (no warm-up)")
    bench.add_argument("--json", action="store_true", help="print one JSON object per request, then a summary")
    add_har_arguments(bench)


def _presets(presets: argparse.ArgumentParser) -> None:
    presets.add_argument("name", nargs="?", help="preset name")


def _listen(listen: argparse.ArgumentParser) -> None:
    listen.add_argument("--port", type=int, default=7755, help="port on 127.0.0.1 (default 7755)")
    listen.add_argument("--device", default="default", help="output device, by index or part of its name")
    listen.add_argument("--save", metavar="DIR", help="also write each clip received to DIR as WAV")
    listen.add_argument("--token", metavar="T", help='require this token (senders use output "listen:PORT:T")')


def _ssh(ssh: argparse.ArgumentParser) -> None:
    # tts_tui.ssh parses ssh's arguments (ssh's own options pass through): cli.main hands
    # them over before this parser runs, unless an option of ours came first, which
    # cli.run refuses in one line
    ssh.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def _compare(compare: argparse.ArgumentParser) -> None:
    compare.add_argument("text", help='the text to speak ("-" reads standard input)')
    compare.add_argument("-s", "--service", action="append", required=True, metavar="SERVICE",
                         help="a service to compare (repeat: -s A -s B)")
    compare.add_argument("--voice", action="append", default=[], metavar="SERVICE=VOICE",
                         help="a voice for SERVICE (repeat it for several voices of one service)")
    compare.add_argument("--rounds", type=positive_int, default=1, help="speak each N times (p50 and spread)")
    compare.add_argument("-o", "--output", metavar="DIR", help="save each one's audio to DIR")
    compare.add_argument("--no-play", action="store_true", help="do not play them")
    compare.add_argument("--cache", action="store_true", help="reuse answers cached on disk (timings then are the cache's)")
    compare.add_argument("--json", action="store_true", help="print one JSON object with every column")


def _batch(batch: argparse.ArgumentParser) -> None:
    batch.add_argument("file", help="lines of text, or CSV/TSV with id,text[,voice,service] columns")
    batch.add_argument("-s", "--service", help="service for rows that name none (default: the first that works)")
    batch.add_argument("-o", "--output", metavar="DIR", default=".", help="folder for the files (default: here)")
    batch.add_argument("--format", choices=("wav", "flac", "ogg", "opus", "mp3", "pcm"),
                       help="file format (default: the service's)")
    batch.add_argument("-c", type=positive_int, default=2, help="requests at once (default 2)")
    batch.add_argument("--force", action="store_true", help="redo rows whose file exists")
    batch.add_argument("--cache", action="store_true", help="reuse answers cached on disk, keep new ones")
    batch.add_argument("--json", action="store_true", help="print one JSON object per row, then a summary")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def port_number(text: str) -> int:
    """A TCP port, 0..65535 (0: the system picks a free one)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 0 to 65535, not {value}")
    return value


def listen_host(text: str) -> str:
    """An address to listen on; ``[::1]`` is taken as ``::1``. An empty one is refused:
    it would listen on every interface while looking like the default."""
    host = text.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise argparse.ArgumentTypeError("empty; use 127.0.0.1 for this machine only, 0.0.0.0 for every interface")
    if any(ch.isspace() or not ch.isprintable() for ch in host):
        raise argparse.ArgumentTypeError(f"not an address or host name: {text!r}")
    return host


def add_har_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--har", metavar="FILE", help="also write the exchanges to FILE as HAR 1.2 (secrets masked)")
    parser.add_argument("--har-audio", action="store_true", help="keep audio bodies in the HAR (base64)")


# name: (its line in --help, what adds its arguments), in --help's order
SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "say": ("speak a text with a service", _say),
    "voices": ("list a service's voices", _voices),
    "check": ("check services answer with audio (exit 1 on failure)", _check),
    "serve": ("run the embedded espeak-ng TTS server", _serve),
    "bench": ("send one text N times and print latency percentiles", _bench),
    "presets": ("list known servers, or print one's [[services]] block", _presets),
    "listen": ("play audio a remote tts-tui sends (run it on your laptop)", _listen),
    "ssh": ("the TUI on HOST, the sound here: tts-tui ssh [--device D] [--save DIR] "
            "[SSH ARGS...] HOST [-- REMOTE ARGS...]", _ssh),
    "compare": ("speak one text on several services and voices, side by side", _compare),
    "batch": ("one audio file per line of a script (or CSV/TSV row), resumable", _batch),
}
