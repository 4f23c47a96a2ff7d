"""ssh mode, proven like the others: ``docker -H ssh://user@host`` works only when sshd listens,
the user may log in and use the socket, sshd lets a docker client open the sessions it needs,
and the whole path answers. Each of these is a probe that says what it saw and the fix.

The last probe is the real thing: given a private key, ``docker -H ssh://USER@ADDR version`` from
this machine (inside the lab's network namespace for a lab), through the system's ssh with a
private ssh_config (the key, a throwaway known_hosts, BatchMode so it never prompts, no
ControlMaster so no ssh process outlives the probe). sshd's facts are read by ``sshfacts``.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path

from dockwiz.addresses import is_ip, is_loopback, is_wildcard, url_host
from dockwiz.models.results import Handoff, Probe
from dockwiz.policy import ssh_context_line
from dockwiz.verify.context import Ctx, Why, make_probe
from dockwiz.verify.sshfacts import (
    SshdConfig,
    SshdListener,
    last_plan,
    login_shell_problem,
    read_account,
    read_sshd_config,
    sshd_listeners,
    user_allowed,
)

SESSIONS_NEEDED = 25
"""docker compose and docker-py open up to 25 SSH sessions at once (one per parallel call)."""
SSH_CLI_TIMEOUT = 20.0


@dataclass
class SshSetup:
    """What the ssh probes read, gathered once before they run concurrently."""

    config: SshdConfig
    listeners: list[SshdListener] | None  # None: a sandbox root with no namespace of its own
    user: str | None
    user_from: str  # "--ssh-user", "the applied plan", or ""
    key: Path | None
    address: str  # where a client dials sshd

    @property
    def port(self) -> int:
        return self.config.port

    @property
    def url(self) -> str:
        who = f"{self.user}@" if self.user else "USER@"
        port = f":{self.port}" if self.port != 22 else ""
        return f"ssh://{who}{url_host(self.address)}{port}"

    @property
    def on_port(self) -> list[SshdListener]:
        return [lst for lst in self.listeners or [] if lst.address.endswith(f":{self.port}")]


def ssh_setup(ctx: Ctx, user: str | None, key: Path | None) -> SshSetup:
    config = read_sshd_config(ctx.host)
    listeners = sshd_listeners(ctx.host)
    user_from = "--ssh-user" if user else ""
    if user is None:
        user = last_plan(ctx.host).ssh_user
        user_from = "the applied plan" if user else ""
    key = Path(key).absolute() if key is not None else None  # the CLI may run elsewhere
    setup = SshSetup(config, listeners, user, user_from, key, "127.0.0.1")
    setup.address = _dial_address(ctx, setup)
    return setup


def with_ssh_detected(ctx: Ctx, expected: str | None) -> Ctx:
    """No TCP and an sshd (or an applied ssh plan): the daemon is used in ssh mode."""
    if ctx.detected != "unix" or expected not in (None, "ssh"):
        return ctx
    if sshd_listeners(ctx.host) or last_plan(ctx.host).mode == "ssh":
        return dataclasses.replace(ctx, mode="ssh", detected="ssh")
    return ctx


def _dial_address(ctx: Ctx, setup: SshSetup) -> str:
    """A specific address sshd listens on, else the host's first remote address, else
    loopback."""
    hosts = [_strip_port(lst.address.removeprefix("tcp://")) for lst in setup.on_port]
    hosts += [_strip_port(a.split()[0]) for a in setup.config.listen if a.split()]
    specific = [h for h in hosts if not is_wildcard(h) and is_ip(h)]
    non_loop = [h for h in specific if not is_loopback(h)]
    if non_loop:
        return non_loop[0]
    if ctx.addresses and not specific:
        return ctx.addresses[0]
    return specific[0] if specific else "127.0.0.1"


def _strip_port(value: str) -> str:
    """``[v6]:port``, ``v4:port`` or a bare address, as the address alone."""
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


# -- probes ------------------------------------------------------------------------------------
def probe_sshd_listening(ctx: Ctx, s: SshSetup) -> Probe:
    title = "sshd listens for docker -H ssh://"
    target = f"sshd port {s.port}"
    if s.listeners is None:
        return make_probe("sshd-listening", title, target, "succeed", None,
                          "skipped: a sandbox root without a network namespace has no sshd of "
                          "its own")
    if s.on_port:
        shown = ", ".join(f"{lst.address} (pid {lst.pid})" for lst in s.on_port)
        return make_probe("sshd-listening", title, target, "succeed", True,
                          f"sshd listens on {shown}")
    if s.listeners:
        shown = ", ".join(lst.address for lst in s.listeners)
        why = Why("sshd-port-mismatch",
                  f"sshd listens on {shown}, but {s.config.path} says Port {s.port}: the running "
                  "sshd has not read its configuration",
                  "restart sshd so it reads its configuration (systemctl restart ssh), then "
                  "verify again")
        return make_probe("sshd-listening", title, target, "succeed", False,
                          f"sshd listens on {shown} only", why)
    why = Why("sshd-not-listening",
              f"no sshd process listens in the host's network (expected port {s.port} per "
              f"{s.config.path}{'' if s.config.found else ', which does not exist'}): "
              "docker -H ssh:// has nothing to connect to",
              "install and start OpenSSH on the host: apt-get install openssh-server && "
              "systemctl enable --now ssh")
    return make_probe("sshd-listening", title, target, "succeed", False,
                      "no sshd listening", why)


def probe_ssh_user(ctx: Ctx, s: SshSetup) -> Probe:
    title = "SSH user exists with a login shell"
    if s.user is None:
        return make_probe("ssh-user", title, "/etc/passwd", "succeed", None,
                          "skipped: no SSH user given (pass --ssh-user USER)")
    target = f"user {s.user}"
    account = read_account(ctx.host, s.user)
    if account is None:
        why = Why("ssh-user-missing",
                  f"{s.user} (from {s.user_from}) is not in the host's /etc/passwd: sshd refuses "
                  "every login as that user",
                  f"create the account on the host: useradd -m -s /bin/bash {shlex.quote(s.user)}"
                  ", or pass --ssh-user with the account clients log in as")
        return make_probe("ssh-user", title, target, "succeed", False, "no such user", why)
    saw = f"uid {account.uid}, shell {account.shell or '/bin/sh'}"
    problem = login_shell_problem(ctx.host, account) or user_allowed(s.config, s.user)
    why = Why("ssh-user-no-login",
              f"{s.user} cannot log in over SSH: {problem}",
              f"usermod -s /bin/bash {shlex.quote(s.user)}" if problem and "shell" in problem
              else f"let {s.user} in: edit AllowUsers/DenyUsers/PermitRootLogin in "
                   f"{s.config.path}, then systemctl reload ssh")
    return make_probe("ssh-user", title, target, "succeed", problem is None, saw, why)


def probe_ssh_socket_access(ctx: Ctx, s: SshSetup) -> Probe:
    """The user's ``docker system dial-stdio`` opens the socket: root, or the socket's group."""
    title = "SSH user may use the docker socket"
    if s.user is None or not ctx.unix:
        return make_probe("ssh-socket-access", title, "docker.sock", "succeed", None,
                          "skipped: " + ("no SSH user given (pass --ssh-user USER)" if s.user
                                         is None else "no unix socket configured"))
    ep = ctx.unix[0]
    assert ep.path is not None
    target = f"{s.user} -> unix://{ep.path}"
    account = read_account(ctx.host, s.user)
    if account is None:
        return make_probe("ssh-socket-access", title, target, "succeed", None,
                          f"skipped: {s.user} is not in /etc/passwd")
    try:
        st = ctx.local(ep.path).stat()
    except OSError as exc:
        return make_probe("ssh-socket-access", title, target, "succeed", None,
                          f"skipped: cannot stat the socket: {exc.strerror}")
    from dockwiz.inspect import host_accounts

    accounts = host_accounts(ctx.host)  # the ROOT's /etc/group, never this machine's
    group = accounts.groups.get(st.st_gid, str(st.st_gid))
    mode = stat.S_IMODE(st.st_mode)
    members = accounts.members.get(group, [])
    if account.uid == 0 or account.uid == st.st_uid:
        ok, saw = True, f"{s.user} owns or is root; socket {group} {mode:04o}"
    elif mode & 0o006 == 0o006:
        ok, saw = True, f"the socket is world-accessible ({mode:04o})"
    elif mode & 0o060 == 0o060 and (account.gid == st.st_gid or s.user in members):
        ok, saw = True, f"{s.user} is in group {group} (socket {group} {mode:04o})"
    else:
        ok, saw = False, f"{s.user} is not root and not in group {group} (socket {mode:04o})"
    why = Why("ssh-user-no-socket-access",
              f"{s.user} logs in, but 'docker system dial-stdio' cannot open {ep.path}: "
              "the docker CLI then fails with 'permission denied while trying to connect to "
              "the Docker daemon socket'",
              f"usermod -aG {group if group != 'root' else 'docker'} {shlex.quote(s.user)} "
              "(the docker group is root-equivalent: only for users you would give root), then "
              "log in again")
    return make_probe("ssh-socket-access", title, target, "succeed", ok, saw, why)


def probe_ssh_sessions(ctx: Ctx, s: SshSetup) -> Probe:
    """Room for a docker client's parallel SSH sessions: passes, with a warning when short."""
    title = "sshd allows the sessions docker clients open"
    cfg = s.config
    saw = f"MaxSessions {cfg.max_sessions}, MaxStartups {cfg.max_startups}"
    if not cfg.found:
        saw += f" (sshd's defaults: no {cfg.path})"
    short, fixes = [], []
    if cfg.max_sessions < SESSIONS_NEEDED:
        short.append(f"MaxSessions {cfg.max_sessions} (sessions over one connection)")
        fixes.append(f"raise MaxSessions to {SESSIONS_NEEDED} or more in {cfg.path}, then "
                     "systemctl reload ssh")
    if cfg.startups_begin < SESSIONS_NEEDED:
        short.append(f"MaxStartups {cfg.max_startups} (connections being opened at once)")
        fixes.append("use ControlMaster auto / ControlPersist on the client (the hand-off's "
                     "ssh_config), so the sessions share one connection instead of opening "
                     f"{SESSIONS_NEEDED}, or raise MaxStartups to {SESSIONS_NEEDED}:30:100")
    warning = None
    if short:
        warning = (
            f"sshd allows {' and '.join(short)}; docker compose and docker-py open up to "
            f"{SESSIONS_NEEDED} SSH sessions at once, and those beyond the limit fail ('ssh: "
            f"... exit status 255'). Fix: {'; and '.join(fixes)}"
        )
    return make_probe("ssh-sessions", title, cfg.path, "succeed", True, saw, warning=warning)


def probe_docker_over_ssh(ctx: Ctx, s: SshSetup) -> Probe:
    """``docker -H ssh://USER@ADDR version`` from here, as the client will run it."""
    title = "docker -H ssh://USER@HOST version"
    pid = "docker-ssh"
    skip = None
    if s.key is None:
        skip = f"skipped: give --ssh-key PATH to run docker -H {s.url} version from here"
    elif s.user is None:
        skip = "skipped: no SSH user given (pass --ssh-user USER)"
    docker, ssh = ctx.host.which("docker"), ctx.host.which("ssh")
    if skip is None and (docker is None or ssh is None):
        skip = f"skipped: the {'docker CLI' if docker is None else 'ssh client'} is not " \
               "installed here"
    if skip is not None or docker is None or ssh is None or s.key is None:
        return make_probe(pid, title, s.url, "succeed", None, skip or "skipped")
    if not s.key.is_file():
        return make_probe(pid, title, s.url, "succeed", False, f"no key file {s.key}",
                          Why("ssh-key-missing", f"--ssh-key {s.key} is not a file",
                              "pass the private key file (not the .pub) of the SSH user"))
    bin_dir = _ssh_wrapper(ctx.scratch, ssh, s.key)
    env = {"PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}", "DOCKER_HOST": "",
           "DOCKER_CONTEXT": "", "DOCKER_TLS_VERIFY": "", "DOCKER_CERT_PATH": ""}
    result = ctx.host.run([docker, "-H", s.url, "version", "--format",
                           "{{.Server.Version}}"], env=env, in_netns=True,
                          timeout=SSH_CLI_TIMEOUT)
    version = result.stdout.strip()
    if result.ok and version:
        return make_probe(pid, title, s.url, "succeed", True, f"Server: Docker Engine {version}")
    text = (result.stderr or result.stdout).strip()
    if result.timed_out:
        text = f"timed out after {SSH_CLI_TIMEOUT:.0f} s"
    saw = _last_words(text) or f"exit {result.returncode}"
    if "cannot connect to the docker daemon" in text.lower():
        remote = _remote_error(ctx, s, bin_dir / "ssh")
        if remote:  # the CLI hides what failed on the host; ssh alone shows it
            saw, text = f"{saw}; on the host: {remote}", f"{text}\n{remote}"
    return make_probe(pid, title, s.url, "succeed", False, saw, explain_ssh_failure(text, s))


def _remote_error(ctx: Ctx, s: SshSetup, ssh: Path) -> str:
    """What ``docker system dial-stdio`` says on the host when the CLI only reports 'Cannot
    connect': run it over ssh with no input, keep its last words (not sshd's chdir notice)."""
    assert s.user is not None
    result = ctx.host.run([str(ssh), "-p", str(s.port), "-l", s.user, "--", s.address,
                           "docker", "system", "dial-stdio"], in_netns=True, timeout=10.0,
                          input_text="")
    lines = [line for line in result.stderr.splitlines()
             if line.strip() and not line.startswith("Could not chdir")]
    return lines[-1].strip()[:300] if lines and not result.ok else ""


def _last_words(text: str) -> str:
    """The part of docker's error that names the cause (ssh's stderr comes after 'stderr=')."""
    tail = text.split("stderr=", 1)[-1].strip()
    return (tail.splitlines()[-1] if tail else "")[:300]


def _ssh_wrapper(scratch: Path, ssh: str, key: Path) -> Path:
    """A ``ssh`` first on the CLI's PATH that reads only our config: the key, BatchMode (never
    a prompt), a throwaway known_hosts, and no ControlMaster (nothing outlives the probe)."""
    directory = scratch / "ssh-bin"
    directory.mkdir(mode=0o700, exist_ok=True)
    config = scratch / "ssh_config"
    config.write_text(
        "Host *\n"
        f"  IdentityFile {_ssh_quote(str(key))}\n"
        "  IdentitiesOnly yes\n"
        "  BatchMode yes\n"
        "  StrictHostKeyChecking accept-new\n"
        f"  UserKnownHostsFile {_ssh_quote(str(scratch / 'known_hosts'))}\n"
        "  ConnectTimeout 10\n"
        "  ControlMaster no\n"
        "  ControlPath none\n",
        encoding="utf-8",
    )
    wrapper = directory / "ssh"
    wrapper.write_text(f"#!/bin/sh\nexec {shlex.quote(ssh)} -F {shlex.quote(str(config))} "
                       '"$@"\n', encoding="utf-8")
    wrapper.chmod(0o700)
    return directory


def _ssh_quote(value: str) -> str:
    return f'"{value}"' if " " in value else value


def explain_ssh_failure(text: str, s: SshSetup) -> Why:
    """The cause and fix of a failed ``docker -H ssh://``, from what docker and ssh said."""
    user = shlex.quote(s.user or "USER")
    low = text.lower()
    if "permission denied (publickey" in low:
        return Why("ssh-key-refused",
                   f"sshd refused the key {s.key} for {s.user}",
                   f"put the public key in ~{s.user}/.ssh/authorized_keys on the host "
                   f"(ssh-copy-id -i {s.key}.pub {user}@{s.address})")
    if "unprotected private key" in low or "bad permissions" in low:
        return Why("ssh-key-permissions", f"ssh will not use {s.key}: it is readable by others",
                   f"chmod 600 {s.key}")
    if "permission denied while trying to connect" in low or "connect: permission denied" in low:
        return Why("ssh-user-no-socket-access",
                   f"{s.user} logged in but may not use the docker socket",
                   f"usermod -aG docker {user}, then log in again")
    if "command not found" in low or "docker: not found" in low:
        return Why("ssh-no-docker-cli",
                   "the host has no docker CLI on the login PATH: docker -H ssh:// runs "
                   "'docker system dial-stdio' there",
                   "install the docker CLI on the host (apt-get install docker.io, or "
                   "docker-ce-cli)")
    if "connection refused" in low:
        return Why("sshd-not-listening", f"nothing accepts SSH on {s.address}:{s.port}",
                   "start sshd on the host (systemctl enable --now ssh)")
    if "timed out" in low:
        return Why("ssh-timeout", f"no answer from {s.address}:{s.port} within the time",
                   "check the address and that a firewall lets port "
                   f"{s.port} through")
    if "cannot connect to the docker daemon" in low or "is the docker daemon running" in low:
        return Why("daemon-down", "sshd let the user in, but the daemon does not answer on its "
                   "socket", "start the daemon and read why it stopped (journalctl -u docker)")
    return Why("ssh-docker-failed", "docker -H ssh:// failed: " + (_last_words(text) or "?"),
               "run it by hand with ssh -v to see where it stops")


# -- hand-off ----------------------------------------------------------------------------------
def ssh_handoff(s: SshSetup) -> Handoff:
    """The context line and an ssh_config snippet that lets a docker client's many sessions
    share one connection (ControlMaster/ControlPersist, as Docker's docs recommend)."""
    shown_host = s.address if s.port == 22 else f"{url_host(s.address)}:{s.port}"
    lines = [
        f"# ~/.ssh/config on the client: docker -H {s.url} then shares one connection",
        f"Host {s.address}",
        f"  HostName {s.address}",
        f"  User {s.user or 'USER'}",
    ]
    if s.port != 22:
        lines.append(f"  Port {s.port}")
    lines += ["  ControlMaster auto", "  ControlPath ~/.ssh/control-%C", "  ControlPersist 10m"]
    return Handoff(endpoint=s.url, context_create=ssh_context_line(s.user, shown_host),
                   ssh_config="\n".join(lines) + "\n")
