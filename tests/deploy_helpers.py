"""Shared by the installer, SSH and Ansible tests: offline installs, a real sshd, tools CI must have."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: What the installer needs from a source tree (the rest stays out of the snapshot).
SOURCE_PARTS = ("pyproject.toml", "README.md", "deskpi", "web", "systemd", "deskpi.example.toml", "ansible")


def require_tool(name: str, package: str, *, path: str | None = None) -> str:
    """The tool's path; a failure under CI=true (CI must install it: `make system-deps`), else a skip."""
    found = path if path and os.access(path, os.X_OK) else shutil.which(name)
    if found is None:
        message = f"{name} not found: install the Debian package '{package}' (apt-get install -y {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def snapshot_source(dest: Path) -> Path:
    """A copy of the source tree: the tests install a fixed tree, never files others edit meanwhile."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in SOURCE_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dest / part)
    return dest


def offline_install_args() -> list[str]:
    """Installer flags that need no download: a venv without pip that sees this environment's packages
    (pip, setuptools, wheel and deskpi's dependencies), and deskpi built without build isolation."""
    purelib = sysconfig.get_paths()["purelib"]
    return ["--python", sys.executable, "--venv-args", "--without-pip", "--extra-site-packages", purelib,
            "--pip-args", "--no-index --no-deps --no-build-isolation"]


def run_installer(source: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    require_tool("systemctl", "systemd")
    cp = subprocess.run(["bash", str(source / "systemd" / "install.sh"), *args], capture_output=True, text=True,
                        timeout=300)
    if check and cp.returncode != 0:
        raise AssertionError(f"install.sh {' '.join(args)} exited {cp.returncode}:\n{cp.stdout}\n{cp.stderr}")
    return cp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd:
    """Debian's OpenSSH server on 127.0.0.1 only, as the current user, with its own host key and one
    authorised test key; `ssh(...)` runs a command through it exactly as facilities would."""

    def __init__(self, base: Path) -> None:
        self.sshd = require_tool("sshd", "openssh-server", path="/usr/sbin/sshd")
        self.ssh_bin = require_tool("ssh", "openssh-client")
        keygen = require_tool("ssh-keygen", "openssh-client")
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.host_key = base / "host_ed25519"
        self.key = base / "id_ed25519"
        for k in (self.host_key, self.key):
            subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(k)], check=True)
        (base / "authorized_keys").write_text(Path(f"{self.key}.pub").read_text())
        self.user = os.environ.get("USER") or __import__("getpass").getuser()
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> Sshd:
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)     # sshd's privilege-separation directory
        for _ in range(5):                     # a free port can be taken before sshd binds it: try another
            self.port = free_port()
            config = self.base / "sshd_config"
            config.write_text("\n".join([
                f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
                f"AuthorizedKeysFile {self.base / 'authorized_keys'}", "StrictModes no",
                "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password", "UsePAM no", f"PidFile {self.base / 'sshd.pid'}",
                "Subsystem sftp internal-sftp", "LogLevel ERROR", "MaxStartups 50:30:100", "MaxSessions 50",
                # The client's environment must not leak in: facilities' sessions do not have our PATH.
                "PermitUserEnvironment no", ""]))
            with open(self.base / "sshd.log", "ab") as log:     # sshd writes through its own copy of the descriptor
                self.proc = subprocess.Popen([self.sshd, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                                             stderr=log)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                        if s.recv(4).startswith(b"SSH-"):
                            return self
                except OSError:
                    time.sleep(0.05)
            self.stop()
        raise AssertionError(f"sshd did not start: {(self.base / 'sshd.log').read_text(errors='replace')}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def ssh_options(self) -> list[str]:
        return ["-p", str(self.port), "-i", str(self.key), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                "-o", "ConnectTimeout=10"]

    def ssh(self, command: str, *, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([self.ssh_bin, *self.ssh_options(), f"{self.user}@127.0.0.1", command],
                              input=input, capture_output=True, text=True, timeout=timeout)
