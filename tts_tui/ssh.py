"""`tts-tui ssh [--device D] [--save DIR] [--remote-command CMD] [SSH ARGS...] HOST [-- REMOTE ARGS...]`

One command on the laptop: start a listener on a free local port with a
one-time token, then

    ssh [-t] -o ExitOnForwardFailure=yes -R 127.0.0.1:RPORT:127.0.0.1:PORT [SSH ARGS...] HOST \\
        env TTS_TUI_OUTPUT=listen:RPORT:TOKEN tts-tui [REMOTE ARGS...]

so whatever the remote tts-tui plays comes out of the laptop. RPORT is the
default listener port first; when the server refuses the forward (another
user holds it), another port is picked and ssh runs again. `-t` is passed
when standard input is a terminal (the TUI needs one; `say` does not). The
token is generated here and lives for this run only; the listener requires it
and the link never sends it (see link_protocol). While ssh runs, the listener
prints nothing (the remote TUI owns the terminal); a summary follows.
"""

from __future__ import annotations

import secrets
import shlex
import subprocess
import sys
import threading
from dataclasses import dataclass, field

from tts_tui.core.errors import TtsError

DEFAULT_REMOTE_PORT = 7755
FORWARD_TRIES = 6
# ssh(1) options that take a value; the first word that is not an option is HOST.
SSH_VALUE_OPTIONS = set("BbcDEeFIiJLlmOoPpQRSWw")
FORWARD_FAILED = "remote port forwarding failed"


class SshUsageError(TtsError):
    """Arguments `tts-tui ssh` cannot make sense of (exit code 2)."""


@dataclass
class SshArgs:
    host: str
    ssh_args: list[str] = field(default_factory=list)
    remote_args: list[str] = field(default_factory=list)
    device: str = "default"
    save: str | None = None
    remote_command: str = "tts-tui"


USAGE = ("usage: tts-tui ssh [--device D] [--save DIR] [--remote-command CMD] [SSH ARGS...] HOST "
         "[-- REMOTE ARGS...]")


def parse_ssh_args(argv: list[str]) -> SshArgs:
    """Split our options, ssh's options, HOST and the remote arguments."""
    ours: dict[str, str] = {}
    ssh_args: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        name, eq, value = word.partition("=")
        if name in ("--device", "--save", "--remote-command"):
            if not eq:
                if i + 1 >= len(argv):
                    raise SshUsageError(f"{name} needs a value; {USAGE}")
                value, i = argv[i + 1], i + 1
            ours[name[2:].replace("-", "_")] = value
        elif word in ("-h", "--help"):
            raise SshUsageError(USAGE)
        elif word == "--":
            raise SshUsageError(f"HOST is missing before --; {USAGE}")
        elif word.startswith("-") and len(word) > 1:
            ssh_args.append(word)
            letters = word[1:]
            for j, letter in enumerate(letters):  # -vvp2222, -p 2222, -i KEY
                if letter in SSH_VALUE_OPTIONS:
                    if j == len(letters) - 1:
                        if i + 1 >= len(argv):
                            raise SshUsageError(f"ssh option -{letter} needs a value")
                        ssh_args.append(argv[i + 1])
                        i += 1
                    break
        else:
            rest = argv[i + 1:]
            if rest[:1] == ["--"]:
                rest = rest[1:]
            return SshArgs(host=word, ssh_args=ssh_args, remote_args=rest, **ours)
        i += 1
    raise SshUsageError(f"HOST is missing; {USAGE}")


def remote_command(args: SshArgs, port: int, token: str) -> str:
    """The command line the server's shell runs (each remote argument quoted)."""
    words = " ".join(shlex.quote(word) for word in args.remote_args)
    return f"env TTS_TUI_OUTPUT=listen:{port}:{token} {args.remote_command} {words}".rstrip()


def ssh_command(args: SshArgs, remote_port: int, local_port: int, token: str, *, tty: bool) -> list[str]:
    return ["ssh", *(["-t"] if tty else []), "-o", "ExitOnForwardFailure=yes",
            # 127.0.0.1 spelled out: "localhost" would also bind ::1, and succeed there
            # while another user holds 127.0.0.1:RPORT, which the remote side dials
            "-R", f"127.0.0.1:{remote_port}:127.0.0.1:{local_port}", *args.ssh_args, args.host,
            remote_command(args, remote_port, token)]


def remote_ports() -> list[int]:
    """The default port first, then random ones in the unprivileged, non-ephemeral range."""
    rng = secrets.SystemRandom()
    return [DEFAULT_REMOTE_PORT] + [rng.randrange(20000, 32000) for _ in range(FORWARD_TRIES - 1)]


def _tee_stderr(stream: object, seen: list[str]) -> None:
    """Copy ssh's stderr to ours as it comes, remembering the lines (to spot a
    refused forward)."""
    for raw in stream:  # type: ignore[attr-defined]
        line = raw.decode("utf-8", "replace")
        seen.append(line)
        if FORWARD_FAILED in line:
            continue  # ours to handle: we try another port
        sys.stderr.write(line)
        sys.stderr.flush()


def run_ssh(argv: list[str]) -> int:
    """Run `tts-tui ssh`; returns ssh's exit code (the remote command's)."""
    from tts_tui.core.playback.listener import Listener

    try:
        args = parse_ssh_args(argv)
    except SshUsageError as exc:
        print(f"error: {exc}", file=sys.stderr)  # one line, as every usage error
        return 2
    token = secrets.token_urlsafe(24)
    listener = Listener(0, device=args.device, save_dir=args.save, token=token)
    listener.start()
    code = 255
    try:
        for port in remote_ports():
            seen: list[str] = []
            proc = subprocess.Popen(ssh_command(args, port, listener.port, token, tty=sys.stdin.isatty()),
                                    stderr=subprocess.PIPE)
            tee = threading.Thread(target=_tee_stderr, args=(proc.stderr, seen), daemon=True)
            tee.start()
            try:
                code = proc.wait()
            except KeyboardInterrupt:
                proc.terminate()
                code = proc.wait()
            tee.join(2)
            if code == 255 and any(FORWARD_FAILED in line for line in seen):
                continue  # port taken on the server: pick another
            break
        else:
            print(f"error: the server refused {FORWARD_TRIES} remote ports for the audio tunnel "
                  "(AllowTcpForwarding no in its sshd_config?)", file=sys.stderr)
            return 1
    finally:
        listener.close()
    if code == 127:
        print(f"error: {args.remote_command} was not found on {args.host}: install it there "
              f"(pipx install tts-tui), or pass --remote-command with its path (a non-interactive "
              f"ssh shell may not have ~/.local/bin on PATH)", file=sys.stderr)
        return 1
    played = sum(1 for clip in listener.clips if clip.frames)
    if played:
        saved = sum(1 for clip in listener.clips if clip.saved)
        where = f" · {saved} saved in {args.save}" if args.save and saved else ""
        seconds = sum(clip.played for clip in listener.clips)
        print(f"tts-tui ssh: {played} clip{'s' if played != 1 else ''} played here ({seconds:.2f} s) · "
              f"♪ {listener.device}{where}", file=sys.stderr)
    return code
