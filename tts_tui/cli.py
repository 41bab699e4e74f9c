"""The command line: `tts-tui` (the TUI) and its script-friendly subcommands.

Errors go to stderr as one line `error: ...` with exit code 1 (2 for usage);
never a traceback (set TTS_TUI_DEBUG=1 to see one).
"""

from __future__ import annotations

# Only what every invocation needs is imported here: `--version` must cost
# little more than Python itself, and each subcommand imports what it uses
# (the parser, asyncio, the config reader, httpx, numpy) inside its function.
import gc
import os
import sys

from tts_tui import __version__
from tts_tui.core.errors import ConfigError, TtsError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~6 ms)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

    from tts_tui.core.audio import Audio
    from tts_tui.core.model import Config, Service
    from tts_tui.core.player import Player
    from tts_tui.core.speech import SpeechResult

# numpy's OpenBLAS starts a thread per core when imported; nothing here does
# linear algebra, so one is enough (a user's own setting wins).
_BLAS_THREADS = ("OPENBLAS_NUM_THREADS",)


class UsageError(Exception):
    """Bad arguments: exit code 2. Its text is the whole line after `error: `."""


def print_json(value: Any, *, flush: bool = False) -> None:
    """One JSON document on one line of stdout."""
    import json

    print(json.dumps(value), flush=flush)


def write_har_file(args: argparse.Namespace, exchanges: list[Any]) -> str | None:
    """Write --har FILE when asked; the path written, else None."""
    if not args.har:
        return None
    from tts_tui.core.har import write_har

    return str(write_har(args.har, exchanges, include_audio=args.har_audio, creator_version=__version__))


def entry() -> int:
    """`tts-tui` in a process of its own (the console script, `python -m
    tts_tui`): `main`, with Python's cycle collector held while it starts.

    Start-up only makes objects that live as long as the process (modules,
    classes, functions: ~15,000 for `say`), and the collector would walk them
    again and again while the imports run, and once more at exit: about a
    sixth of a `say --no-play` (benchmarks/cli_speed.py: 167 ms against
    138-146 ms with it held). A command that
    runs on (the TUI, bench, batch, serve...) calls `collect_from_now_on`
    when it starts: what start-up made is frozen out of the collector's way
    and it collects as usual from there. A one-shot command never does."""
    global _collector_held
    gc.disable()
    _collector_held = True
    try:
        return main()
    finally:
        gc.freeze()  # the process ends here: exit need not walk every object either


def collect_from_now_on() -> None:
    """Start-up is over for a command that runs on: the collector works from
    here, past everything start-up made (a no-op unless `entry` held it)."""
    global _collector_held
    if _collector_held:
        _collector_held = False
        gc.freeze()
        gc.enable()


_collector_held = False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    for name in _BLAS_THREADS:
        os.environ.setdefault(name, "1")
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        if argv == ["--version"]:  # what scripts probe an install with: no parser, no help formatter
            print(f"tts-tui {__version__}")
            return 0
        ssh_args = ssh_arguments(argv)
        if ssh_args is not None:  # ssh's options are not ours: argparse would refuse them
            from tts_tui.ssh import run_ssh

            collect_from_now_on()
            return run_ssh(ssh_args)
        from tts_tui.cli_args import parse

        args = parse(argv)
        return run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TtsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # the last line of defence: one line, not a traceback
        if os.environ.get("TTS_TUI_DEBUG"):
            raise
        print(f"error: internal error: {type(exc).__name__}: {exc} (set TTS_TUI_DEBUG=1 for details)", file=sys.stderr)
        return 1


def ssh_arguments(argv: list[str]) -> list[str] | None:
    """The arguments after `ssh` when the subcommand is ssh (after an optional
    --config, which the remote side would need instead: pass it after --)."""
    rest = argv
    if rest[:1] == ["--config"]:
        rest = rest[2:]
    elif rest[:1] and rest[0].startswith("--config="):
        rest = rest[1:]
    return rest[1:] if rest[:1] == ["ssh"] else None


def run(args: argparse.Namespace) -> int:
    if args.command == "presets":
        return cmd_presets(args)
    if args.command != "say":  # say decides (one request to a file ends before a collection would matter)
        collect_from_now_on()
    if args.command == "listen":  # needs no config file: it runs on the laptop
        return cmd_listen(args)
    if args.command == "serve":
        from tts_tui.server.app import serve

        return serve(args.host, args.port)
    if args.command == "ssh":  # ssh_arguments did not see it first: an option of ours came before it
        raise UsageError("tts-tui ssh: only --config may come before ssh; the remote tts-tui's options go "
                         "after -- (try: tts-tui ssh HOST -- --init)")
    config = load_config(args.config, init=args.init)
    if args.command is None:
        return run_tui(config)
    if args.command == "say":  # runs an event loop only when it needs one
        return cmd_say(config, args)
    import asyncio

    return asyncio.run(COMMANDS[args.command](config, args))


def load_config(cli_path: str | None, *, init: bool = False) -> Config:
    """Find, create on first run, and load the config; warnings go to stderr.

    Only the default path is created unasked; a named path that does not
    exist is an error unless `init` (see config.find_or_create). A literal
    secret is warned about by `pick_service`, for the service in use only.
    """
    from tts_tui.core import config as config_mod

    path, created = config_mod.find_or_create(cli_path, init=init)
    if created:
        print(f"created a commented config file at {path}", file=sys.stderr)
    try:
        config = config_mod.load(path)
    except ConfigError as exc:
        where = f":{exc.line}" + (f":{exc.column}" if exc.column else "") if exc.line else ""
        exc.message = f"{path}{where}: {exc.message}"
        exc.line = exc.column = None
        raise
    secret_warnings = {config_mod.literal_secret_warning(s) for s in config.services}
    for warning in config.warnings:
        if warning not in secret_warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return config


def pick_service(config: Config, name: str | None) -> Service:
    """`-s NAME`, else the first service that works. Broken services are
    refused (ConfigError), and one skipped for the default is named on stderr."""
    from tts_tui.core import config as config_mod

    service = config_mod.working_service(config, name)
    if name is None:
        for skipped in config.services[: config.services.index(service)]:
            print(f"warning: skipped service {skipped.name!r}: {config_mod.refusal(skipped, config.path)}", file=sys.stderr)
    secret_warning = config_mod.literal_secret_warning(service)
    if secret_warning:
        print(f"warning: {secret_warning}", file=sys.stderr)
    return service


def run_tui(config: Config) -> int:
    from tts_tui.ui.app import run as run_app

    return run_app(config)


def cmd_say(config: Config, args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    service = pick_service(config, args.service)
    if args.output:
        from tts_tui.core.out_path import output_file

        output_file(args.output)  # a mistyped folder fails now, not after the synthesis
    if args.split or service.split != "none" or service.max_chars:  # maybe more than one request
        import asyncio

        collect_from_now_on()
        return asyncio.run(say_long(config, service, text, args))
    if args.no_play:
        # One request, nothing to play: no event loop, no httpx for a plain
        # http:// server (see core/blocking_client.py), so a script's loop of
        # `say` costs little more than Python's start.
        from tts_tui.core.blocking_client import speak_blocking

        return said(service, speak_blocking(service, text, voice=args.voice), args, None)
    import asyncio

    collect_from_now_on()
    return asyncio.run(say_aloud(config, service, text, args))


async def say_aloud(config: Config, service: Service, text: str, args: argparse.Namespace) -> int:
    """`say` that plays: speak() warms the device up during the request and
    plays the answer while it downloads. The device opens (0.1-0.3 s) while
    httpx loads, so the request's clock starts with the device ready."""
    from tts_tui.core.client import HttpClient
    from tts_tui.core.player import Player
    from tts_tui.core.speech import speak

    player = Player(config.audio.output)
    try:
        client = HttpClient()
        try:
            result = await speak(service, text, client=client, voice=args.voice, play=player)
        finally:
            await client.aclose()
        return said(service, result, args, player)
    finally:
        player.close()  # lets the last block play out


def said(service: Service, result: SpeechResult, args: argparse.Namespace, player: Player | None) -> int:
    """What `say` reports of one spoken text: the file saved, the audio played
    to its end (with a player), the summary line or --json; TtsError when
    there is no audio."""
    from tts_tui.core.speech import summary

    ex = result.exchange
    out: dict[str, Any] = ex.metrics()
    har = write_har_file(args, result.exchanges)
    if har:
        out["har"] = har
    if not result.ok or result.audio is None:
        if args.json:
            print_json(out)
        raise TtsError(ex.error or "no audio")
    if args.output:
        from tts_tui.core.audio import save

        out["file"] = str(save(result.audio, args.output))  # save() expands ~
    played, reason = False, None
    if player is not None:
        played, reason = play_to_end(result.audio, player, streamed=result.streamed)
    out["played"] = played
    out["silent_reason"] = reason
    if args.json:
        print_json(out)
    else:
        line = f"{service.name}: {summary(ex)}"
        if "file" in out:
            line += f" → {out['file']}"
        if har:
            line += f" · HAR {har}"
        print(line, file=sys.stderr)
        for note in ex.notes:
            print(f"note: {note}", file=sys.stderr)
        if reason:
            print(f"silent: {reason}", file=sys.stderr)
    return 0


def play_to_end(audio: Audio, player: Player, *, streamed: bool) -> tuple[bool, str | None]:
    """Play `audio` to the end, or with `streamed`, wait for the end of what
    `player` already plays; (played, why silent)."""
    if not player.available:
        return False, player.silent_reason
    if not streamed:
        player.play(audio)
    if player.state == "silent":
        return False, player.silent_reason
    player.wait(timeout=max(0.0, audio.duration - player.position) + 5)
    if player.state == "silent":  # a listener that went away mid-clip
        return False, player.silent_reason
    return True, None


def cmd_listen(args: argparse.Namespace) -> int:
    from tts_tui.core.playback.listener import Listener

    def report(line: str) -> None:
        print(line, flush=True)

    listener = Listener(args.port, device=args.device, save_dir=args.save, token=args.token, report=report)
    try:
        listener.start()
    except OSError as exc:
        raise TtsError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc} "
                       "(another listener? pick one with --port)") from None
    port = listener.port
    print(f"listening on 127.0.0.1:{port} · ♪ {listener.device}", flush=True)
    if args.token:
        print(f'senders need the token: audio.output = "listen:{port}:TOKEN"', flush=True)
    else:
        print(f"no token: anyone who can reach 127.0.0.1:{port} can play sound here (--token T requires one)",
              flush=True)
    print(f'on the server: ssh -R {port}:127.0.0.1:{port} HOST, with audio.output = "listen:{port}" there '
          '(or run "tts-tui ssh HOST" instead of both)', flush=True)
    try:
        listener.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
    print(f"stopped after {len(listener.clips)} clips", flush=True)
    return 0


async def cmd_voices(config: Config, args: argparse.Namespace) -> int:
    from tts_tui.core.client import HttpClient
    from tts_tui.core.voices import list_voices

    service = pick_service(config, args.service)
    client = HttpClient()
    try:
        voices = await list_voices(service, client=client)
    finally:
        await client.aclose()
    if args.audition:
        return await cmd_voices_audition(config, service, voices, args)
    if args.json:
        print_json({"service": service.name, "voices": [{"id": v.id, "label": v.label} for v in voices]})
        return 0
    if not voices:
        print(f"{service.name} has no voice list; set voice = \"...\" to what the server accepts", file=sys.stderr)
        return 0
    for voice in voices:
        print(voice.id if voice.label == voice.id else f"{voice.id}\t{voice.label}")
    return 0


async def cmd_check(config: Config, args: argparse.Namespace) -> int:
    from tts_tui.core import config as config_mod
    from tts_tui.core.client import HttpClient
    from tts_tui.core.speech import CheckResult, check

    services = [config_mod.working_service(config, args.service)] if args.service else config.services
    if not services:
        raise ConfigError("the config has no services", hint="add a [[services]] block")
    client = HttpClient()
    failed = 0
    try:
        for service in services:
            refused = config_mod.refusal(service, config.path)  # a broken service sends nothing
            if refused is not None:
                result = CheckResult(service.name, False, str(refused))
            else:
                result = await check(service, client=client)
            failed += not result.ok
            if args.json:
                metrics = result.exchange.metrics() if result.exchange else {"service": service.name}
                print_json({**metrics, "ok": result.ok, "message": result.message, "voices": result.voices})
            elif result.ok:
                voices = f" · {result.voices} voices" if result.voices else ""
                print(f"ok     {service.name}: {result.message}{voices}")
            else:
                print(f"FAILED {service.name}: {result.message}")
    finally:
        await client.aclose()
    if failed:
        print(f"error: {failed} of {len(services)} services failed", file=sys.stderr)
        return 1
    return 0


async def cmd_bench(config: Config, args: argparse.Namespace) -> int:
    from tts_tui.core.bench import BENCH_TEXT, run_bench
    from tts_tui.core.client import HttpClient

    service = pick_service(config, args.service)
    progress = BenchProgress(service.name, args.n, sys.stderr)

    def on_result(row: Any) -> None:
        if args.json:
            print_json(row.metrics(), flush=True)
        progress.update(row.ok)

    client = HttpClient()
    try:
        report = await run_bench(
            service, args.text or BENCH_TEXT, n=args.n, concurrency=args.c,
            client=client, warmup=not args.no_warmup, on_result=on_result,
            keep_bodies=bool(args.har),  # only a HAR shows bodies: a long bench holds no audio
        )
    finally:
        progress.close()
        await client.aclose()
    har = write_har_file(args, report.exchanges())
    if args.json:
        print_json({**report.summary_dict(), **({"har": har} if har else {})})
    else:
        print(bench_table(report))
        if har:
            print(f"HAR {har}")
    if report.errors == report.count:
        message = report.error_counts()[0][0]
        raise TtsError(f"all {report.count} requests failed: {message}")
    if report.errors and args.json:
        print(f"warning: {report.errors} of {report.count} requests failed", file=sys.stderr)
    return 0


class BenchProgress:
    """A bar redrawn in place on a terminal; elsewhere a line every ~10%."""

    WIDTH = 24

    def __init__(self, service: str, total: int, stream: Any) -> None:
        self.service, self.total, self.stream = service, total, stream
        self.tty = stream.isatty()
        self.done = self.errors = 0
        self._decile = 0

    def update(self, ok: bool) -> None:
        self.done += 1
        self.errors += not ok
        errors = f"  {self.errors} error{'s' if self.errors != 1 else ''}" if self.errors else ""
        if self.tty:
            filled = self.WIDTH * self.done // self.total
            bar = "#" * filled + "·" * (self.WIDTH - filled)
            self.stream.write(f"\r\x1b[Kbench {self.service} [{bar}] {self.done}/{self.total}{errors}")
            self.stream.flush()
            return
        decile = 10 * self.done // self.total
        if decile > self._decile:
            self._decile = decile
            print(f"bench {self.service}: {self.done}/{self.total}{errors}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty and self.done:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def bench_table(report: Any) -> str:
    """The text face of a bench: a heading, min/p50/p95/max per metric, the errors."""
    rate = f" ({report.count / report.wall_s:.1f} req/s)" if report.wall_s > 0 else ""
    errors = f"{report.errors} error{'s' if report.errors != 1 else ''}"
    cpu = f" · client CPU {report.cpu_ms_per_request:.2f} ms/request" if report.count else ""
    lines = [
        f"{report.service}: {report.count} requests · concurrency {report.concurrency} · "
        f"{errors} · {report.wall_s:.2f} s{rate}{cpu}",
        "",
        f"{'metric':<11}" + "".join(f"{h:>10}" for h in ("min", "p50", "p95", "max")),
    ]
    for metric, s in report.table().items():
        digits = 4 if metric == "rtf" else 3 if metric == "audio_s" else 1
        cells = ["–" if v is None else f"{v:.{digits}f}" for v in (s.min, s.p50, s.p95, s.max)]
        lines.append(f"{metric:<11}" + "".join(f"{c:>10}" for c in cells))
    if report.errors:
        lines += ["", "errors:"]
        lines += [f"{count:>5} × {message}" for message, count in report.error_counts()]
    return "\n".join(lines)


def cmd_presets(args: argparse.Namespace) -> int:
    from tts_tui.core.presets import PRESETS, get_preset

    if args.name:
        print(get_preset(args.name).block.rstrip())
        return 0
    width = max(len(name) for name in PRESETS)
    for name, preset in PRESETS.items():
        print(f"{name:<{width}}  {preset.summary}")
    return 0


async def say_long(config: Config, service: Service, text: str, args: argparse.Namespace) -> int:
    """`say` for a text spoken in chunks (split, or over the service's input
    limit): one line for the utterance, then one per chunk, grouped."""
    from tts_tui.core.client import HttpClient
    from tts_tui.core.speech import summary
    from tts_tui.core.utterance import speak_long

    player = None
    if not args.no_play:
        from tts_tui.core.player import Player

        player = Player(config.audio.output)
    played, reason = False, None
    try:
        client = HttpClient()
        try:
            utterance = await speak_long(service, text, client=client, voice=args.voice, split=args.split, play=player)
        finally:
            await client.aclose()
        out: dict[str, Any] = utterance.metrics()
        har = write_har_file(args, utterance.exchanges)
        if har:
            out["har"] = har
        if utterance.ok and args.output:
            from tts_tui.core.audio import save

            out["file"] = str(save(utterance.audio, args.output))
        if utterance.ok and player is not None:
            played, reason = play_to_end(utterance.audio, player, streamed=utterance.streamed)
    finally:
        if player is not None:
            player.close()
    out["played"], out["silent_reason"] = played, reason
    if args.json:
        print_json(out)
    else:
        print(f"{service.name}: {utterance_line(utterance)}" + (f" → {out['file']}" if "file" in out else ""),
              file=sys.stderr)
        for n, (piece, result) in enumerate(zip(utterance.chunks, utterance.results), 1):
            ex = result.exchange
            print(f"  {n}/{len(utterance.chunks)} {len(piece)} chars: "
                  + (summary(ex) if result.ok else f"error: {ex.error}"), file=sys.stderr)
        if reason:
            print(f"silent: {reason}", file=sys.stderr)
    if not utterance.ok:
        raise TtsError(utterance.error or "no audio")
    return 0


def utterance_line(utterance: Any) -> str:
    """One line for a chunked utterance: its chunks, its own ttfa and total, its audio."""
    parts = [f"{len(utterance.chunks)} chunk{'s' if len(utterance.chunks) != 1 else ''}"]
    if utterance.ttfa_ms is not None:
        parts.append(f"ttfa {utterance.ttfa_ms:.0f} ms")
    if utterance.total_ms is not None:
        parts.append(f"total {utterance.total_ms:.0f} ms")
    if utterance.audio is not None:
        parts.append(f"{utterance.audio.duration:.2f} s {utterance.audio.rate} Hz")
    if utterance.error:
        parts.append(f"error: {utterance.error}")
    return " · ".join(parts)


async def cmd_compare(config: Config, args: argparse.Namespace) -> int:
    from tts_tui.core import config as config_mod
    from tts_tui.core.compare import contenders, run_compare

    text = sys.stdin.read() if args.text == "-" else args.text
    columns = contenders(config, args.service, args.voice, pick=lambda name: config_mod.working_service(config, name))
    total = len(columns) * args.rounds
    done = 0

    def on_take(column: Any, result: Any) -> None:
        nonlocal done
        done += 1
        state = "ok" if result.ok else f"error: {result.error}"
        print(f"[{done}/{total}] {column.contender.label}: {state}", file=sys.stderr, flush=True)

    client = answer_client(config, args.cache)
    try:
        comparison = await run_compare(columns, text, client=client, rounds=args.rounds, on_take=on_take)
    finally:
        await client.aclose()
    files = save_columns(comparison, args.output) if args.output else {}
    out = comparison.as_json()
    for column in out["columns"]:
        column["file"] = files.get(column["label"])
    if args.json:
        print_json(out)
    else:
        print(comparison.table_text())
        for label, path in files.items():
            print(f"{label} → {path}")
    if not args.no_play:
        play_columns(comparison, config.audio.output)
    if all(not column.ok_takes for column in comparison.columns):
        raise TtsError("every service failed")
    return 0


def save_columns(comparison: Any, folder: str) -> dict[str, str]:
    """Each column's last good audio as FOLDER/<label>.<format>; {label: path}."""
    import re

    from tts_tui.core.audio import save

    files = {}
    for column in comparison.columns:
        audio = column.last_audio
        if audio is not None:
            name = re.sub(r"[^\w.+-]+", "_", column.contender.label).strip("._") or "audio"
            files[column.contender.label] = str(save(audio, os.path.join(os.path.expanduser(folder), name)))
    return files


def play_columns(comparison: Any, output: str) -> None:
    """Play each column's audio to its end, one after another, saying whose it is."""
    from tts_tui.core.player import Player

    player = Player(output)
    try:
        for column in comparison.columns:
            audio = column.last_audio
            if audio is None:
                continue
            print(f"▶ {column.contender.label} ({audio.duration:.1f} s)", file=sys.stderr, flush=True)
            played, reason = play_to_end(audio, player, streamed=False)
            if not played:
                print(f"silent: {reason}", file=sys.stderr)
                return
    finally:
        player.close()


async def cmd_batch(config: Config, args: argparse.Namespace) -> int:
    from pathlib import Path

    from tts_tui.core import config as config_mod
    from tts_tui.core.batch import Progress, check_services, read_rows, run_batch

    rows = read_rows(args.file)
    check_services(rows, config)
    default = pick_service(config, args.service) if any(r.service is None for r in rows) else None
    fmt = args.format or (default or config.services[0]).format
    extension = ".wav" if fmt == "pcm" and not args.format else f".{fmt}"
    progress = Progress(f"batch {Path(args.file).name}", len(rows), sys.stderr)

    def pick(name: str | None) -> Service:
        return default if name is None else config_mod.working_service(config, name)

    def on_result(result: Any) -> None:
        if args.json:
            print_json(result.as_json(), flush=True)
        progress.update(result)

    client = answer_client(config, args.cache)
    try:
        report = await run_batch(rows, pick=pick, out_dir=Path(args.output).expanduser(), extension=extension,
                                 client=client, concurrency=args.c, force=args.force, on_result=on_result)
    finally:
        progress.close()
        await client.aclose()
    failed = report.failed
    if args.json:
        print_json(report.summary())
    else:
        print(f"{report.written} written, {report.skipped} skipped (already there), {len(failed)} failed "
              f"· {report.wall_s:.1f} s → {args.output}", file=sys.stderr)
        for result in failed:
            print(f"failed: line {result.row.line} (id {result.row.id}): {result.error}", file=sys.stderr)
    if failed:
        print(f"error: {len(failed)} of {len(rows)} rows failed; run the same command again to retry them",
              file=sys.stderr)
        return 1
    return 0


def answer_client(config: Config, cached: bool) -> Any:
    """The HTTP client, reading and filling the answer cache when `cached`."""
    from tts_tui.core.client import HttpClient

    if not cached:
        return HttpClient()
    from tts_tui.core.cache import AnswerCache, CachingClient

    return CachingClient(HttpClient(), AnswerCache())


async def cmd_voices_audition(config: Config, service: Service, voices: list[Any], args: argparse.Namespace) -> int:
    """A sample of each voice, one after another: played, or saved to -o DIR;
    a line per voice as it goes. Exit 1 when every voice failed."""
    import re

    from tts_tui.core.audio import save
    from tts_tui.core.client import HttpClient
    from tts_tui.core.compare import AUDITION_TEXT
    from tts_tui.core.speech import speak

    if not voices:
        raise TtsError(f"{service.name} has no voice list to audition", hint='try: tts-tui say --voice V "..."')
    player = None
    if not args.output:
        from tts_tui.core.player import Player

        player = Player(config.audio.output)
    text, failed, client = args.text or AUDITION_TEXT, 0, HttpClient()
    try:
        for n, voice in enumerate(voices, 1):
            result = await speak(service, text, client=client, voice=voice.id, play=player)
            where = ""
            if not result.ok or result.audio is None:
                failed += 1
                where = f"error: {result.error}"
            elif args.output:
                name = re.sub(r"[^\w.+-]+", "_", voice.id).strip("._") or f"voice{n}"
                where = f"→ {save(result.audio, os.path.join(os.path.expanduser(args.output), name))}"
            elif player is not None:
                played, reason = play_to_end(result.audio, player, streamed=result.streamed)
                where = "played" if played else f"silent: {reason}"
            seconds = f" {result.audio.duration:.1f} s" if result.audio is not None else ""
            print(f"[{n}/{len(voices)}] {voice.id}{seconds} {where}", file=sys.stderr, flush=True)
    finally:
        await client.aclose()
        if player is not None:
            player.close()
    if failed == len(voices):
        raise TtsError(f"all {failed} voices failed")
    return 0


COMMANDS = {"voices": cmd_voices, "check": cmd_check, "bench": cmd_bench,
            "batch": cmd_batch, "compare": cmd_compare}
