"""An OpenSSH server inside a lab, so ssh mode (``docker -H ssh://user@host``) is proven end to
end on a real daemon, the way a remote admin reaches it.

Why it looks the way it does:

* **Debian's own sshd, in the lab's namespaces.** It is started through the lab's launcher (its
  network namespace, then a private mount namespace with the sandbox's /etc/docker, /etc/group,
  /root and /run), so it listens on the lab's address (port 22 is the lab's own) and a login
  sees the lab's ``/var/run/docker.sock``. The launcher's shell additionally binds the lab
  root's ``/etc/passwd`` over ``/etc/passwd`` for sshd only: the accounts sshd knows are the
  lab's, added with :func:`add_lab_user`, never this machine's (whose account files are never
  touched).
* **Its config is the lab root's ``/etc/ssh/sshd_config``**, with host keys beside it: exactly
  the file ``dockwiz verify`` reads for the port and the session limits, so what verify judges is
  what runs. Authorized keys live in the lab dir (``D/sshd/authorized_keys/USER``), read by an
  AuthorizedKeysCommand as root, because sshd opens an AuthorizedKeysFile as the user, who
  cannot pass a test's 0700 tmp dirs.
* **Stopped by PID** (checked against its start time), with its session processes, by
  :func:`stop_sshd`; ``lab_down`` calls it.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from dockwiz.errors import DockwizError
from dockwiz.fsutil import atomic_write, ensure_dir
from dockwiz.host import run_command

if TYPE_CHECKING:
    from dockwiz.lab.lab import Lab

SSHD_BINARY = "/usr/sbin/sshd"
SSHD_CONFIG = "/etc/ssh/sshd_config"
STATE_FILE = "sshd/sshd.json"
START_TIMEOUT_S = 10.0
# sshd's privilege separation user must exist in the passwd file sshd reads (the lab's)
PRIVSEP_LINE = "sshd:x:102:65534::/run/sshd:/usr/sbin/nologin\n"

# binds the lab's passwd (the launcher already bound group, /root and /run), then runs sshd
_PASSWD_BIND = 'mount --bind "$1" /etc/passwd; shift; exec "$@"'  # noqa: S105 - not a secret


def sshd_config_text(lab: Lab, *, port: int = 22, max_sessions: int | None = None) -> str:
    """The lab sshd's config: key logins only, host keys under the lab root."""
    keys = lab.root / "etc/ssh"
    lines = [
        "# dockwiz lab sshd: key logins only, accounts from the lab's /etc/passwd",
        f"Port {port}",
        f"ListenAddress {lab.info.address}",
        f"HostKey {keys / 'ssh_host_ed25519_key'}",
        f"PidFile {lab.root / 'run/sshd-lab.pid'}",
        # read as root: sshd opens AuthorizedKeysFile as the user, who cannot pass a test's
        # 0700 tmp dirs
        "AuthorizedKeysFile none",
        f"AuthorizedKeysCommand /bin/cat {lab.dir / 'sshd/authorized_keys'}/%u",
        "AuthorizedKeysCommandUser root",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "UsePAM no",
        "PermitRootLogin prohibit-password",
    ]
    if max_sessions is not None:
        lines.append(f"MaxSessions {max_sessions}")
    return "\n".join(lines) + "\n"


def add_lab_user(
    lab: Lab, name: str, *, groups: tuple[str, ...] = ("docker",), shell: str = "/bin/sh",
    uid: int | None = None,
) -> None:
    """Add ``name`` to the lab root's /etc/passwd and to ``groups`` in its /etc/group."""
    passwd = lab.root / "etc/passwd"
    lines = passwd.read_text(encoding="utf-8").splitlines(keepends=True)
    if not any(line.split(":", 1)[0] == name for line in lines):
        used = {int(f[2]) for f in (line.split(":") for line in lines) if len(f) > 2
                and f[2].isdigit()}
        uid = uid if uid is not None else max(used | {1999}) + 1
        with passwd.open("a", encoding="utf-8") as fh:  # in place: see /etc/group below
            fh.write(f"{name}:x:{uid}:{uid}::/home/{name}:{shell}\n")
    group_path = lab.root / "etc/group"
    out = []
    for line in group_path.read_text(encoding="utf-8").splitlines():
        fields = line.split(":")
        if len(fields) == 4 and fields[0] in groups:
            members = [m for m in fields[3].split(",") if m]
            if name not in members:
                fields[3] = ",".join([*members, name])
        out.append(":".join(fields))
    # in place: the lab's running namespaces (and its sshd's) hold a bind mount of this inode
    group_path.write_text("\n".join(out) + "\n", encoding="utf-8")


def authorize_key(lab: Lab, user: str, public_key: str) -> None:
    """Let ``user`` log in to the lab's sshd with ``public_key`` (one OpenSSH key line)."""
    directory = lab.dir / "sshd/authorized_keys"
    ensure_dir(directory, mode=0o755)
    atomic_write(directory / user, public_key.strip() + "\n", mode=0o644, uid=0, gid=0)


def start_sshd(
    lab: Lab, *, port: int = 22, max_sessions: int | None = None,
    authorized: dict[str, str] | None = None,
) -> int:
    """Start the lab's sshd (config, host key, accounts as described above); return its PID.

    ``authorized`` maps user names to public keys; each user is added to the lab (docker
    group) unless it already exists there. Raises DockwizError when sshd is not installed or
    does not come up listening."""
    if not Path(SSHD_BINARY).exists():
        raise DockwizError("sshd is not installed on this machine",
                           "apt-get install openssh-server (scripts/install.sh --test)")
    stop_sshd(lab)
    etc_ssh = lab.root / "etc/ssh"
    ensure_dir(etc_ssh, mode=0o755)
    key = etc_ssh / "ssh_host_ed25519_key"
    if not key.exists():
        made = run_command(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)])
        if not made.ok:
            raise DockwizError(f"ssh-keygen failed: {made.stderr.strip()}")
    config = etc_ssh / "sshd_config"
    atomic_write(config, sshd_config_text(lab, port=port, max_sessions=max_sessions),
                 mode=0o644, uid=0, gid=0)
    passwd = lab.root / "etc/passwd"
    if "\nsshd:" not in "\n" + passwd.read_text(encoding="utf-8"):
        with passwd.open("a", encoding="utf-8") as fh:
            fh.write(PRIVSEP_LINE)
    ensure_dir(lab.root / "run/sshd", mode=0o755)
    for user, public_key in (authorized or {}).items():
        add_lab_user(lab, user)
        authorize_key(lab, user, public_key)
    return _launch(lab, config, port)


def _launch(lab: Lab, config: Path, port: int) -> int:
    from dockwiz.lab.lab import launcher

    log_path = lab.dir / "sshd/sshd.log"
    ensure_dir(log_path.parent, mode=0o755)
    argv = [*launcher(lab.info), "sh", "-c", _PASSWD_BIND, "dockwiz-lab-sshd",
            str(lab.root / "etc/passwd"), SSHD_BINARY, "-D", "-e", "-f", str(config)]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, cwd="/", start_new_session=True)
    create = psutil.Process(proc.pid).create_time()
    state = {"pid": proc.pid, "create_time": create, "port": port}
    atomic_write(lab.dir / STATE_FILE, json.dumps(state) + "\n", mode=0o644)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stop_sshd(lab)
            raise DockwizError(f"the lab's sshd exited: {_tail(log_path)}")
        if _listening(lab, port):
            return proc.pid
        time.sleep(0.05)
    stop_sshd(lab)
    raise DockwizError(f"the lab's sshd did not listen on port {port} within "
                       f"{START_TIMEOUT_S:.0f} s: {_tail(log_path)}")


def _listening(lab: Lab, port: int) -> bool:
    from dockwiz.netns import run_in_netns
    from dockwiz.procnet import parse_tcp_table

    def read() -> bool:
        text = Path("/proc/thread-self/net/tcp").read_text()
        return any(lst.port == port for lst in parse_tcp_table(text, v6=False))

    return run_in_netns(lab.info.netns, read)


def _tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-3:])
    return "(no log)"


def sshd_pid(lab: Lab) -> int | None:
    """The lab sshd's PID while that very process runs, else None."""
    try:
        state = json.loads((lab.dir / STATE_FILE).read_text())
        proc = psutil.Process(int(state["pid"]))
        if abs(proc.create_time() - float(state["create_time"])) > 0.5:
            return None
        return None if proc.status() == psutil.STATUS_ZOMBIE else proc.pid
    except (OSError, ValueError, KeyError, psutil.Error):
        return None


def stop_sshd(lab: Lab) -> None:
    """Stop the lab's sshd and its session processes, by PID; safe when none runs."""
    pid = sshd_pid(lab)
    if pid is not None:
        try:
            procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            procs = []
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGTERM)
        _, alive = psutil.wait_procs(procs, timeout=3.0)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=3.0)
    (lab.dir / STATE_FILE).unlink(missing_ok=True)
