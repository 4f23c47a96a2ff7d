"""What ssh mode depends on, read from the host: sshd's configuration under the Host root, the
sshd processes listening in the host's network namespace, and the login account.

Read, never judged here (``verify.ssh`` judges). Everything comes from the Host root and the
host's namespace, never from this machine's NSS or its own sshd: a lab's accounts are the lab
root's /etc/passwd and /etc/group, and its sshd is the one in the lab's namespace.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from dockwiz.docker_paths import JOURNAL_PATH
from dockwiz.netns import netns_path
from dockwiz.procnet import listeners_of

if TYPE_CHECKING:
    from dockwiz.host import Host

SSHD_CONFIG = "/etc/ssh/sshd_config"
DEFAULT_PORT = 22
DEFAULT_MAX_SESSIONS = 10
DEFAULT_MAX_STARTUPS = "10:30:100"
NO_LOGIN_SHELLS = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false")
_MAX_INCLUDES = 16
_KEYWORD = re.compile(r"([A-Za-z]+)(?:\s*=\s*|\s+)(.*)")


@dataclass
class SshdConfig:
    """The settings verify needs, as sshd resolves them (first value wins; Port and
    ListenAddress add up; Include is followed; a Match block ends the global part)."""

    path: str = SSHD_CONFIG
    found: bool = False
    ports: list[int] = field(default_factory=list)
    listen: list[str] = field(default_factory=list)
    max_sessions: int = DEFAULT_MAX_SESSIONS
    max_startups: str = DEFAULT_MAX_STARTUPS
    allow_users: list[str] | None = None
    deny_users: list[str] = field(default_factory=list)
    permit_root_login: str = "prohibit-password"
    seen: set[str] = field(default_factory=set)

    @property
    def port(self) -> int:
        return self.ports[0] if self.ports else DEFAULT_PORT

    @property
    def startups_begin(self) -> int:
        """MaxStartups' first number: unauthenticated connections sshd takes at once."""
        try:
            return int(self.max_startups.split(":", 1)[0])
        except ValueError:
            return 10


def read_sshd_config(host: Host, path: str = SSHD_CONFIG) -> SshdConfig:
    """sshd_config under the root (missing: sshd's defaults, ``found`` False)."""
    cfg = SshdConfig(path=path)
    lines = _read(host, path)
    if lines is None:
        return cfg
    cfg.found = True
    _apply(host, cfg, lines, depth=0)
    return cfg


def parse_sshd_config(text: str) -> SshdConfig:
    """For text alone (no Include can be followed): the unit tests' door."""
    cfg = SshdConfig(found=True)
    _apply(None, cfg, text.splitlines(), depth=0)
    return cfg


def _read(host: Host, path: str) -> list[str] | None:
    try:
        local = host.resolve(path)
        if not local.is_file():
            return None
        return local.read_text(encoding="utf-8", errors="replace").splitlines()
    except (OSError, ValueError):
        return None


def _apply(host: Host | None, cfg: SshdConfig, lines: list[str], depth: int) -> bool:
    """Apply ``lines``; False once a Match block starts (the rest is per-connection)."""
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _KEYWORD.match(line)
        if m is None:
            continue
        key, value = m.group(1).lower(), m.group(2).strip().strip('"')
        if key == "match":
            return False
        if key == "include" and host is not None and depth < _MAX_INCLUDES:
            for included in _include_paths(host, value):
                more = _read(host, included)
                if more is not None and not _apply(host, cfg, more, depth + 1):
                    return False
            continue
        _set(cfg, key, value)
    return True


def _set(cfg: SshdConfig, key: str, value: str) -> None:
    if key == "port":
        with contextlib.suppress(ValueError):
            cfg.ports.append(int(value))
        return
    if key == "listenaddress":
        cfg.listen.append(value)
        return
    if key in cfg.seen:
        return  # sshd: the first value obtained is used
    cfg.seen.add(key)
    if key == "maxsessions":
        with contextlib.suppress(ValueError):
            cfg.max_sessions = int(value)
    elif key == "maxstartups":
        cfg.max_startups = value
    elif key == "allowusers":
        cfg.allow_users = value.split()
    elif key == "denyusers":
        cfg.deny_users = value.split()
    elif key == "permitrootlogin":
        cfg.permit_root_login = value.lower()


def _include_paths(host: Host, pattern: str) -> list[str]:
    """Include's globs, relative ones under /etc/ssh, expanded under the root (sorted)."""
    out: list[str] = []
    for word in pattern.split():
        full = word if word.startswith("/") else f"/etc/ssh/{word}"
        parent = PurePosixPath(full).parent
        with contextlib.suppress(OSError, ValueError):
            local_dir = host.resolve(str(parent))
            names = sorted(p.name for p in local_dir.iterdir())
            out += [str(parent / n) for n in names
                    if fnmatch.fnmatch(n, PurePosixPath(full).name)]
    return out


def user_allowed(cfg: SshdConfig, user: str) -> str | None:
    """Why sshd's AllowUsers/DenyUsers/PermitRootLogin refuse ``user``, or None."""
    def match(patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(user, p.split("@", 1)[0]) for p in patterns)

    if match(cfg.deny_users):
        return f"DenyUsers in {cfg.path} names {user}"
    if cfg.allow_users is not None and not match(cfg.allow_users):
        return f"AllowUsers in {cfg.path} does not name {user}"
    if user == "root" and cfg.permit_root_login == "no":
        return f"PermitRootLogin no in {cfg.path}"
    return None


# -- listeners -----------------------------------------------------------------------------------
@dataclass
class SshdListener:
    pid: int
    address: str  # tcp://host:port


def sshd_listeners(host: Host) -> list[SshdListener] | None:
    """TCP listeners of sshd processes in the host's network namespace (the lab's, or this
    machine's for ``/``). None for a sandbox root without a namespace: it has no sshd of its
    own, and this machine's is not its."""
    wanted = _netns_inode(host)
    if wanted is None:
        return None
    out: list[SshdListener] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "sshd":
                continue
            if (entry / "ns/net").stat().st_ino != wanted:
                continue
        except OSError:
            continue
        pid = int(entry.name)
        out += [SshdListener(pid, lst.address) for lst in listeners_of(pid).listeners
                if lst.kind == "tcp"]
    return out


def _netns_inode(host: Host) -> int | None:
    try:
        if host.netns is not None:
            return netns_path(host.netns).stat().st_ino
        if host.is_real:
            return Path("/proc/self/ns/net").stat().st_ino
    except OSError:
        return None
    return None


# -- accounts ------------------------------------------------------------------------------------
@dataclass
class Account:
    name: str
    uid: int
    gid: int
    home: str
    shell: str


def read_account(host: Host, user: str) -> Account | None:
    """``user``'s line in the root's /etc/passwd (never this machine's NSS)."""
    for line in _read(host, "/etc/passwd") or []:
        cols = line.split(":")
        if len(cols) >= 7 and cols[0] == user and cols[2].isdigit() and cols[3].isdigit():
            return Account(cols[0], int(cols[2]), int(cols[3]), cols[5], cols[6].strip())
    return None


def login_shell_problem(host: Host, account: Account) -> str | None:
    """Why ``account`` cannot run a command over ssh, or None. docker -H ssh:// runs
    ``docker system dial-stdio`` through the login shell."""
    shell = account.shell or "/bin/sh"
    if shell in NO_LOGIN_SHELLS:
        return f"its login shell is {shell}: sshd runs no command for it"
    if host.is_real and not Path(shell).exists():
        return f"its login shell {shell} does not exist"
    return None


# -- the last apply's plan -----------------------------------------------------------------------
@dataclass
class Planned:
    """What the last applied plan asked for (its journal's plan.json), when it can be read."""

    mode: str | None = None
    ssh_user: str | None = None


def last_plan(host: Host) -> Planned:
    """The mode and SSH user of the plan the last apply carried out; empty when none.

    Read from the journal's JSON directly: verify sits beside apply in the layers and never
    imports it; only two fields are needed (``plan_path``, then the plan's intent)."""
    import json

    try:
        journal = json.loads(host.resolve(JOURNAL_PATH).read_text(encoding="utf-8"))
        plan = json.loads(host.resolve(str(journal["plan_path"])).read_text(encoding="utf-8"))
        intent = plan.get("intent") or {}
        return Planned(mode=intent.get("mode"), ssh_user=intent.get("ssh_user"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return Planned()
