"""A real OpenSSH server for the tests, on 127.0.0.1 with an ephemeral port.

Its own host key, its own config, one authorized key made for the test, no
passwords, no PAM. Sessions get the venv's bin first on PATH (so the remote
`tts-tui` is this checkout's) and HOME / XDG_CONFIG_HOME inside tmp_path, so
nothing touches the real home. Under CI a missing sshd fails the test instead
of skipping it.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"
ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def require_sshd() -> None:
    """Skip (or fail under CI) unless sshd and ssh are installed."""
    missing = [name for name, path in (("sshd", SSHD), ("ssh", shutil.which("ssh")), ("ssh-keygen", shutil.which("ssh-keygen")))
               if not path or not os.path.exists(path)]
    if not missing:
        return
    problem = f"{', '.join(missing)} not found (apt-get install openssh-server openssh-client)"
    if os.environ.get("CI"):
        pytest.fail(f"the ssh tests need OpenSSH in CI: {problem}")
    pytest.skip(problem)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Sshd:
    """`with Sshd(tmp_path) as sshd:` runs sshd; `sshd.client_args()` are the
    ssh options that log in to it with the test key."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path / "sshd"
        self.home = tmp_path / "remote-home"
        self.port = free_port()
        self.user = getpass.getuser()
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Sshd:
        require_sshd()
        if os.geteuid() == 0:  # sshd's privilege separation directory (made at boot by the service, not by apt)
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.dir.mkdir(parents=True)
        (self.home / "config").mkdir(parents=True)
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.dir / name)], check=True)
        (self.dir / "authorized_keys").write_text((self.dir / "client_key.pub").read_text())
        path = f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin"
        (self.dir / "sshd_config").write_text(
            f"ListenAddress 127.0.0.1:{self.port}\n"
            f"HostKey {self.dir / 'host_key'}\n"
            f"PidFile {self.dir / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            "StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n"
            f"AllowUsers {self.user}\n"
            "AllowTcpForwarding yes\nGatewayPorts no\nX11Forwarding no\nPermitTTY yes\n"
            "PrintMotd no\nPrintLastLog no\nUseDNS no\n"
            f"SetEnv PATH={path} HOME={self.home} XDG_CONFIG_HOME={self.home / 'config'} "
            f"PYTHONPATH={ROOT} TTS_TUI_REMOTE_TEST=1\n"
            "LogLevel ERROR\n"
        )
        self.log = open(self.dir / "sshd.log", "wb")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.dir / "sshd_config")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {(self.dir / 'sshd.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            # Sessions outlive the daemon (they would be reparented to init and
            # keep their forwarded ports, e.g. 7755, for the rest of the suite).
            for pid in _descendants(self.proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def client_args(self) -> list[str]:
        """ssh options for `tts-tui ssh ... HOST`: port, key, no host-key prompts."""
        return ["-p", str(self.port), "-i", str(self.dir / "client_key"),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]

    @property
    def host(self) -> str:
        return f"{self.user}@127.0.0.1"


def _descendants(root: int) -> list[int]:
    """Every process under `root`, from /proc (children before their parents die)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rpartition(")")[2].split()[1])
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        found += children
        frontier += children
    return found
