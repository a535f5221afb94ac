"""ansible/deskpi.yml against two "desks" over real SSH (both are 127.0.0.1 through a test sshd, each in
its own staging tree): the first run installs and converges, the second reports changed=0, and --check
after a hand edit on one desk reports that desk's drift without changing anything. desk-001 also gets the
organisation's certificate (deskpi_tls_cert_src / deskpi_tls_key_src) and so serves HTTPS; desk-002 gets
Prometheus metrics and the fleet's metrics token (deskpi_metrics / deskpi_metrics_token_src)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_helpers import Sshd, offline_install_args, require_tool, snapshot_source
from helpers import self_signed_cert

from deskpi.config import load
from deskpi.store import Store, db_path

pytestmark = pytest.mark.timeout(300)
DESKS = ("desk-001", "desk-002")


def _ansible_playbook() -> str:
    found = Path(sys.executable).parent / "ansible-playbook"
    if not found.exists():
        message = "ansible-playbook not found next to this Python: pip install -e '.[dev]' (ansible-core)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return str(found)


class Fleet:
    def __init__(self, base: Path, sshd: Sshd) -> None:
        self.base, self.sshd = base, sshd
        self.src = snapshot_source(base / "src")
        self.playbook = self.src / "ansible" / "deskpi.yml"
        self.roots = {d: base / "desks" / d for d in DESKS}
        self.inventory = base / "inventory.ini"
        self.cert = self_signed_cert(base / "org-tls", names=("desk-001.example.com",))
        self.metrics_token = "dpm_" + "0123456789abcdef" * 4
        token_file = base / "metrics.token"
        token_file.write_text(self.metrics_token + "\n")
        per_desk = {"desk-001": f" deskpi_tls_cert_src={self.cert[0]} deskpi_tls_key_src={self.cert[1]}",
               "desk-002": f" deskpi_metrics=true deskpi_metrics_token_src={token_file}"}
        lines = ["[desks]"] + [f"{d} ansible_host=127.0.0.1 deskpi_root={self.roots[d]}{per_desk.get(d, '')}"
                               for d in DESKS]
        lines += ["", "[desks:vars]", f"ansible_port={sshd.port}", f"ansible_user={sshd.user}",
                  f"ansible_ssh_private_key_file={sshd.key}",
                  "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'",
                  f"ansible_python_interpreter={sys.executable}", ""]
        self.inventory.write_text("\n".join(lines))
        self.extra = base / "vars.json"
        # deskpi_require_root: the playbook refuses a host whose deskpi_root did not resolve, so a mistake
        # here can never install into this machine itself.
        self.extra.write_text(json.dumps({"deskpi_become": False, "deskpi_require_root": True,
                                          "deskpi_install_args": offline_install_args()}))
        home = base / "ansible-home"
        self.env = {**os.environ, "ANSIBLE_HOME": str(home), "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
                    "ANSIBLE_REMOTE_TEMP": str(base / "remote-tmp"), "ANSIBLE_HOST_KEY_CHECKING": "False",
                    "ANSIBLE_PIPELINING": "True", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
                    "ANSIBLE_RETRY_FILES_ENABLED": "False", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8",
                    "ANSIBLE_CONFIG": str(base / "none.cfg"), "ANSIBLE_SSH_CONTROL_PATH_DIR": str(base / "cp")}

    def play(self, *extra: str) -> tuple[dict[str, dict[str, int]], str]:
        cp = subprocess.run([_ansible_playbook(), "-i", str(self.inventory), "-e", f"@{self.extra}",
                             str(self.playbook), *extra], capture_output=True, text=True, env=self.env, timeout=240)
        recap = {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
                 for m in re.finditer(r"^(desk-\d+)\s*:\s*(.*)$", cp.stdout, re.M)}
        assert cp.returncode == 0 and set(recap) == set(DESKS), f"{cp.stdout}\n{cp.stderr}"
        return recap, cp.stdout

    def config(self, desk: str) -> Path:
        return self.roots[desk] / "etc" / "deskpi" / "deskpi.toml"

    def store(self, desk: str) -> Store:
        return Store.open(db_path(self.roots[desk] / "var" / "lib" / "deskpi"))


REAL = ("/opt/deskpi", "/etc/deskpi", "/var/lib/deskpi", "/var/cache/deskpi", "/etc/systemd/system/deskpi.service")


def _real_system() -> tuple:
    import pwd

    try:
        user = pwd.getpwnam("deskpi").pw_uid
    except KeyError:
        user = None
    return tuple(os.path.lexists(p) for p in REAL) + (user,)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    require_tool("systemctl", "systemd")
    _ansible_playbook()
    base = tmp_path_factory.mktemp("fleet")
    sshd = Sshd(base / "ssh").start()
    before = _real_system()
    try:
        yield Fleet(base, sshd)
    finally:
        # Ansible's persistent SSH masters would outlive the test by a minute: close them first.
        for sock in (base / "cp").glob("*"):
            subprocess.run([sshd.ssh_bin, "-o", f"ControlPath={sock}", "-O", "exit", "127.0.0.1"],
                           capture_output=True, timeout=10)
        sshd.stop()
    assert _real_system() == before, "the playbook touched this machine outside its staging trees"


def test_first_run_installs_and_converges_every_desk(fleet):
    recap, out = fleet.play()
    for desk in DESKS:
        assert recap[desk]["failed"] == 0 and recap[desk]["unreachable"] == 0
        assert recap[desk]["changed"] >= 3, out           # source, install, desired file, apply
        assert (fleet.roots[desk] / "opt" / "deskpi" / "bin" / "deskpi").exists()
        assert (fleet.roots[desk] / "etc" / "systemd" / "system" / "multi-user.target.wants"
                / "deskpi.service").is_symlink()
    assert load(fleet.config("desk-001")).desk.max_mm == 1250.0
    assert load(fleet.config("desk-001")).web.host == "0.0.0.0"
    with fleet.store("desk-001") as s:
        assert [u.name for u in s.list_users()] == ["Ana", "Ben"] and s.get_owner().name == "Ana"
        assert s.get_plan("Ana").kind == "cornell"
    with fleet.store("desk-002") as s:
        assert [u.name for u in s.list_users()] == ["Chris", "Dana"] and s.get_owner() is None
        assert s.get_presets("Dana")[3] == 850.0
    assert (fleet.roots["desk-002"] / "etc" / "deskpi" / "desired.toml").stat().st_mode & 0o777 == 0o600
    tls = fleet.roots["desk-001"] / "etc" / "deskpi" / "tls"
    assert (tls / "deskpi.crt").read_bytes() == Path(fleet.cert[0]).read_bytes()
    assert (tls / "deskpi.key").stat().st_mode & 0o777 == 0o640
    web = load(fleet.config("desk-001")).web
    assert (web.tls_cert, web.tls_key) == ("/etc/deskpi/tls/deskpi.crt", "/etc/deskpi/tls/deskpi.key")
    assert web.host == "0.0.0.0" and load(fleet.config("desk-002")).web.tls_cert == ""


def test_metrics_are_turned_on_per_desk_and_take_the_fleets_token(fleet):
    assert load(fleet.config("desk-002")).metrics.enabled and not load(fleet.config("desk-002")).metrics.allow_localhost
    assert not load(fleet.config("desk-001")).metrics.enabled, "a desk without deskpi_metrics keeps the default"
    with fleet.store("desk-002") as s:
        assert s.token_role(fleet.metrics_token, touch=False) == "metrics"
        assert [t["name"] for t in s.list_metrics_tokens()] == ["prometheus"]
    with fleet.store("desk-001") as s:
        assert s.list_metrics_tokens() == []


def test_second_run_changes_nothing(fleet):
    # The source is already unpacked on both desks: skipping the copy keeps the suite fast; the
    # installer still runs and must find nothing to do.
    recap, out = fleet.play("-e", "deskpi_copy_source=false")
    assert {d: (r["changed"], r["failed"]) for d, r in recap.items()} == {d: (0, 0) for d in DESKS}, out


def test_check_mode_reports_a_hand_edit_as_drift_and_changes_nothing(fleet):
    deskpi = fleet.roots["desk-002"] / "opt" / "deskpi" / "bin" / "deskpi"
    data = fleet.roots["desk-002"] / "var" / "lib" / "deskpi"
    subprocess.run([str(deskpi), "--config", str(fleet.config("desk-002")), "--data-dir", str(data),
                    "user", "set", "Dana", "--seated-mm", "700"], check=True, capture_output=True)
    config = fleet.config("desk-002").read_text()
    recap, out = fleet.play("--check")
    assert recap["desk-001"]["changed"] == 0 and recap["desk-002"]["changed"] == 1, out
    assert "Dana.seated_mm" in out                      # the drift is shown, not only counted
    with fleet.store("desk-002") as s:
        assert s.get_user("Dana").seated_mm == 700.0     # --check changed nothing
    assert fleet.config("desk-002").read_text() == config
