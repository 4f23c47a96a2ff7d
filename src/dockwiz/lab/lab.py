"""Throwaway lab hosts: a sandbox host root in a known starting state, with a real dockerd.

Why a lab looks the way it does:

* **Its own network namespace** (``ip netns add``; loopback up plus a ``10.77.x.y/32`` that
  exists only in there). Seed 004 binds ``0.0.0.0:2375``; inside the namespace that exposure is
  real for the policy and the probes, yet nothing outside can reach it. We enter it with
  ``nsenter --net`` and never with ``ip netns exec``, which remounts /sys and kills dockerd
  (DOMAIN §10).

* **Its own private mount namespace**, so the daemon reads the *sandbox* exactly as it would
  read a real host. Inside it ``/etc/docker``, ``/etc/group``, ``/root`` and ``/run`` are
  bind-mounted from the lab's root (``/var/run`` is a symlink to ``/run`` here and in the
  sandbox), and so are ``/etc/systemd`` and ``/etc/default/docker`` for commands in a lab
  shell. So ``/etc/docker/daemon.json``, ``/etc/docker/certs/server.crt``,
  ``unix:///var/run/docker.sock``, the pidfile ``/var/run/docker.pid``, the exec-root
  ``/var/run/docker`` and dockerd's default CA ``~/.docker/ca.pem`` (HOME is ``/root``) all mean
  the sandbox's files, with no path translation at all: what the wizard writes under the root
  takes effect, and a broken config fails with the daemon's own message. This was chosen over
  translating daemon.json into a runtime copy because a translation can never be faithful for
  every key (and would change the errors the admin sees). Everything dockerd mounts lives and
  dies with that namespace, so no mount of the lab ever appears in the machine's table. The
  machine's own ``/etc/docker`` is only ever a mount *target*; its contents are never touched.

* **The daemon's command line is the sandbox unit's effective ExecStart** (unit plus drop-ins,
  ``ExecStart=`` resets, as systemd computes it), so a drop-in the wizard writes is what the
  next restart runs. Only what needs systemd or this machine is translated: the binary becomes
  the machine's dockerd, ``--containerd=`` is dropped (dockerd then runs its own managed
  containerd under the sandbox's exec-root) and ``--data-root`` under the lab dir is added (so
  images never land in the machine's /var/lib/docker).

* **docker.socket is emulated**: when the sandbox has a ``docker.socket`` unit, a holder process
  binds every ``ListenStream`` (unix ones with ``SocketMode``/``SocketGroup``, TCP ones in the
  lab's namespace) and keeps them open across dockerd restarts, as systemd does; each start gets
  copies as fds 3.. with ``LISTEN_FDS``/``LISTEN_PID`` (lab/activation.py). So ``-H fd://``
  works for real, clients queue instead of being refused during a restart, and the hosts
  conflict reads exactly as on a real host ("from flag: [fd://]").

* **The machine's /etc is read-only to the lab**: an overlay over ``/etc`` inside the mount
  namespace sends any write (``useradd dockremap`` for ``userns-remap: default``, say) to
  ``D/etc-overlay/``, so a lab can never change this machine's accounts or config.

* Processes are stopped by PID only (checked against the recorded start time, so a reused PID is
  never signalled). ``stop``/``restart`` end dockerd and its children, like ``KillMode=process``
  (so containers survive with live-restore); ``lab_down`` also sweeps, by PID, everything still
  in any mount namespace the lab's daemons ran in (shims, containers) and removes the cgroups of
  containers it had to kill.

Layout of a lab dir D: ``D/lab.json`` (:class:`LabInfo`), ``D/dockerd.log`` (every start, with a
header line per start), ``D/data`` (data-root) and ``D/root``, the sandbox host root
(``root/run/docker.sock`` is the daemon's unix socket; ``/run/dockwiz/labs/NETNS`` links to
``root/run`` because a deep lab dir makes socket paths longer than ``sun_path`` allows).

Seen with Debian 12's dockerd 20.10 (the tlsverify-no-ca scenario): when TLS is configured only
in daemon.json, dockerd does NOT fall back to ``~/.docker/ca.pem`` for a missing ``tlscacert``
(that default applies only when --tls* flags are on the command line). It starts, requires a
client certificate and verifies it against the system's root CAs, so no client certificate from
a private CA is ever accepted, not even with that CA in /root/.docker/ca.pem.

One module on purpose (~750 lines): the lab's life cycle (its model, up/down, the service
manager a Host uses, start and stop) reads best whole; the host-root layout, the network
namespace, processes and mounts, and dockerd's log live in lab/layout, network, processes, logs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from dockwiz.docker_paths import SOCKET_URL
from dockwiz.errors import DockwizError
from dockwiz.fsutil import atomic_write, ensure_dir
from dockwiz.host import CommandResult, Host, run_command
from dockwiz.lab import layout, logs, network, processes
from dockwiz.lab.activation import Activation, activation_for_start, stop_holder
from dockwiz.lab.engines import Engine, default_engine_key, ensure_engine
from dockwiz.lab.network import list_labs
from dockwiz.lab.scenarios import (
    SCENARIOS,
    LabState,
    ScenarioSpec,
)
from dockwiz.systemd import read_docker_unit
from dockwiz.unixsock import fits

STOP_GRACE_S = 5.0
# Short on purpose: until dockerd replaces it, /run/docker.sock may still be the docker.socket
# stand-in, which accepts a connection that only a daemon using fd:// would ever answer.
PING_TIMEOUT_S = 0.25
# dockerd sleeps 15 s on start for plain TCP on a non-loopback address (DOMAIN §1): any
# deadline for a start must allow for it.
RESTART_DEADLINE_S = 45.0
BIND_TARGETS = ("/etc/docker", "/etc/group", "/root", "/run")
DAEMON_PATH = "/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin"

__all__ = [
    "SCENARIOS",
    "Lab",
    "LabHost",
    "LabInfo",
    "LabServiceManager",
    "LabState",
    "ScenarioSpec",
    "lab_command",
    "lab_dirs",
    "lab_down",
    "lab_is_up",
    "lab_state",
    "lab_up",
    "list_labs",
    "open_lab",
]


class LabInfo(BaseModel):
    """What a lab is, saved as ``DIR/lab.json`` so any process can find and stop it."""

    dir: str
    root: str
    scenario: str
    netns: str
    address: str
    pid: int | None = None
    pid_create_time: float | None = None
    mnt_namespaces: list[str] = Field(default_factory=list)
    state: LabState = "stopped"
    error: str | None = None
    start_seconds: float | None = None
    argv: list[str] = Field(default_factory=list)
    socket: str
    client_cert_dir: str | None = None
    tcp_endpoint: str | None = None
    log_offset: int = 0  # where the latest start's output begins in dockerd.log
    # the Docker engine (dockwiz.lab.engines); None in labs made before engines existed,
    # which run the machine's dockerd
    engine: str | None = None
    engine_version: str | None = None  # the Debian package version
    dockerd: str | None = None  # the engine's dockerd binary
    engine_path: list[str] = Field(default_factory=list)  # dirs first on the daemon's PATH
    dockerd_version: str | None = None  # what ``dockerd --version`` says


class Lab:
    """A handle on a lab directory and its saved :class:`LabInfo`."""

    def __init__(self, directory: Path, info: LabInfo) -> None:
        self.dir = directory
        self.info = info

    @property
    def root(self) -> Path:
        return Path(self.info.root)

    def host(self) -> Host:
        return LabHost(self)

    def dockerd_binary(self) -> str:
        """The engine's dockerd (the machine's for labs made before engines existed)."""
        return self.info.dockerd or Host().which("dockerd") or "dockerd"

    def daemon_path(self) -> str:
        """PATH for the lab's daemon: the engine's dirs first (docker-proxy, docker-init),
        then the machine's (containerd, runc, iptables)."""
        return ":".join([*self.info.engine_path, DAEMON_PATH])

    def unix_socket_path(self) -> Path:
        return Path(self.info.socket)

    def short_socket_path(self) -> Path:
        """A path to the socket short enough for any client (sun_path holds 107 bytes)."""
        real = self.unix_socket_path()
        if fits(real):
            return real
        return layout.LINK_DIR / self.info.netns / real.name

    def docker_env(self) -> dict[str, str]:
        """Environment for the docker CLI: the lab's unix socket, and its client bundle if any."""
        env = {"DOCKER_HOST": f"unix://{self.short_socket_path()}"}
        if self.info.client_cert_dir:
            env["DOCKER_CERT_PATH"] = self.info.client_cert_dir
        if self.info.tcp_endpoint:
            env["DOCKWIZ_LAB_TCP"] = self.info.tcp_endpoint
        return env

    def refresh(self) -> Lab:
        self.info = _load_info(self.dir)
        return self

    def save(self) -> None:
        atomic_write(self.dir / "lab.json", self.info.model_dump_json(indent=2) + "\n", mode=0o644)

    def is_running(self) -> bool:
        return processes.alive(self.info.pid, self.info.pid_create_time)


# -- public API ---------------------------------------------------------------------------------
def lab_up(
    directory: Path,
    scenario: str,
    *,
    wait: float = 30.0,
    docker: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Lab:
    """Create the lab in ``directory`` and start its daemon; a failing start is a lab state.

    ``docker`` picks the engine (20.10, 26.1, 28.5; default: the machine's docker.io when it
    is one of those, else 20.10); it is fetched into the engine cache on first use, before
    anything of the lab is made, so a failed download leaves nothing behind.
    """
    spec = SCENARIOS.get(scenario)
    if spec is None:
        raise DockwizError(
            f"unknown lab scenario {scenario!r}", f"choose one of: {', '.join(SCENARIOS)}"
        )
    _check_prerequisites()
    engine = ensure_engine(docker or default_engine_key(), progress=progress)
    directory = _prepare_dir(directory)
    netns, address = network.create_netns()
    info = LabInfo(
        dir=str(directory),
        root=str(directory / "root"),
        scenario=scenario,
        netns=netns,
        address=address,
        socket=str(directory / "root" / "run" / "docker.sock"),
    )
    _set_engine(info, engine)
    lab = Lab(directory, info)
    try:
        lab.save()
        write_systemctl_shim(lab)
        layout.lay_out_root(lab, spec)
        layout.link_short_path(lab)
        _start(lab, deadline_s=max(wait, spec.slow_start_s + 10.0))
    except BaseException:
        with contextlib.suppress(Exception):
            lab_down(directory)
        raise
    return lab


def _set_engine(info: LabInfo, engine: Engine) -> None:
    from dockwiz.lab.engines import dockerd_version_of

    info.engine = engine.key
    info.engine_version = engine.package_version
    info.dockerd = engine.dockerd
    info.engine_path = list(engine.path_dirs)
    info.dockerd_version = dockerd_version_of(engine.dockerd)


def open_lab(directory: Path) -> Lab:
    directory = Path(directory).resolve()
    return Lab(directory, _load_info(directory))


def lab_down(directory: Path) -> None:
    """Stop everything the lab runs, remove its namespace and links; safe to call twice."""
    directory = Path(directory).resolve()
    try:
        lab = open_lab(directory)
    except DockwizError:
        processes.unmount_under(directory)
        return
    from dockwiz.lab.sshd import stop_sshd

    stop_sshd(lab)  # the optional lab sshd (lab/sshd.py), by PID
    _stop(lab, sweep=True)
    stop_holder(directory)  # docker.socket's sockets go with the lab
    processes.remove_container_cgroups(directory)
    processes.unmount_under(directory)
    network.delete_netns(lab.info.netns)
    with contextlib.suppress(FileNotFoundError):
        (layout.LINK_DIR / lab.info.netns).unlink()
    lab.save()


class LabServiceManager:
    """The lab's stand-in for ``systemctl``: the daemon is started and stopped by PID.

    ``restart`` behaves like ``systemctl restart`` on a ``Type=notify`` unit: it returns 0 once
    the daemon answers ``/_ping``, and non-zero with dockerd's own log lines otherwise.
    """

    name = "lab"

    def __init__(self, lab: Lab, *, deadline_s: float = RESTART_DEADLINE_S) -> None:
        self.lab = lab
        self.deadline_s = deadline_s

    def _result(self, action: str, ok: bool, started: float, stderr: str = "") -> CommandResult:
        return CommandResult(
            argv=["dockwiz-lab", action, str(self.lab.dir)],
            returncode=0 if ok else 1,
            stdout="",
            stderr=stderr,
            duration_s=time.monotonic() - started,
        )

    def daemon_reload(self) -> CommandResult:
        return self._result("daemon-reload", True, time.monotonic())

    def start(self) -> CommandResult:
        started = time.monotonic()
        self.lab.refresh()
        if self.lab.is_running():
            return self._result("start", True, started)
        _start(self.lab, deadline_s=self.deadline_s)
        return self._start_result("start", started)

    def stop(self) -> CommandResult:
        started = time.monotonic()
        self.lab.refresh()
        _stop(self.lab)
        return self._result("stop", True, started)

    def restart(self) -> CommandResult:
        started = time.monotonic()
        self.lab.refresh()
        _stop(self.lab)
        _start(self.lab, deadline_s=self.deadline_s)
        return self._start_result("restart", started)

    def reload(self) -> CommandResult:
        started = time.monotonic()
        self.lab.refresh()
        if not self.lab.is_running() or self.lab.info.pid is None:
            return self._result("reload", False, started, "dockerd is not running")
        os.kill(self.lab.info.pid, signal.SIGHUP)
        return self._result("reload", True, started)

    def is_active(self) -> bool:
        self.lab.refresh()
        return self.lab.is_running()

    def run_dockerd(self, args: list[str], timeout: float = 30.0) -> CommandResult:
        """Run the lab's own dockerd with ``args`` inside the lab's namespaces.

        For apply's validate step: ``dockerd --validate --config-file /etc/docker/daemon.json``
        must see what the daemon will see, i.e. the lab's /etc/docker (its TLS files exist
        only there) and the lab engine's dockerd, not the machine's. Paths in ``args`` are
        host paths as the daemon sees them (``/etc/docker/...``), not paths under the root.
        The result's argv is ``[dockerd, *args]`` (the namespace launcher is left out).
        """
        self.lab.refresh()
        dockerd = self.lab.dockerd_binary()
        env = {"PATH": self.lab.daemon_path(), "HOME": "/root", "LANG": "C.UTF-8"}
        result = run_command([*_launcher(self.lab.info), dockerd, *args], timeout=timeout,
                             env=env)
        return dataclasses.replace(result, argv=[dockerd, *args])

    def dockerd_version(self) -> str:
        """The lab engine's ``dockerd --version`` word, e.g. ``28.5.2+dfsg4``."""
        from dockwiz.lab.engines import dockerd_version_of

        info = self.lab.refresh().info
        if info.dockerd_version is None:
            info.dockerd_version = dockerd_version_of(self.lab.dockerd_binary())
        return info.dockerd_version or "unknown"

    def _start_result(self, action: str, started: float) -> CommandResult:
        info = self.lab.info
        if info.state == "running":
            return self._result(action, True, started)
        detail = f"dockerd failed to start: {info.error or 'unknown reason'}"
        tail = logs.log_tail(self.lab.dir / "dockerd.log", info.log_offset)
        return self._result(action, False, started, f"{detail}\n--- dockerd log ---\n{tail}")


class LabHost(Host):
    """The lab as a Host: its root, network namespace and service manager, and its engine's
    binaries, so ``which("dockerd")`` (inspect's ``dockerd --version``) is the lab's daemon."""

    def __init__(self, lab: Lab) -> None:
        super().__init__(
            root=lab.root,
            netns=lab.info.netns,
            services=LabServiceManager(lab),
            label=f"lab {lab.dir} ({lab.info.scenario})",
        )
        self.lab = lab

    def which(self, name: str) -> str | None:
        if name == "dockerd":
            return self.lab.dockerd_binary()
        for d in self.lab.info.engine_path:
            candidate = Path(d) / name
            if candidate.exists():
                return str(candidate)
        return super().which(name)


def _launcher(info: LabInfo) -> list[str]:
    """The prefix that puts a command into the lab: its network, then its own mount namespace
    with the sandbox's /etc/docker, /etc/group, /root and /run (``_NS_SCRIPT``)."""
    return ["nsenter", f"--net={network.NETNS_DIR / info.netns}", "unshare", "--mount",
            "--propagation", "private", "sh", "-c", _NS_SCRIPT, "dockwiz-lab", info.root]


launcher = _launcher  # public for lab/sshd.py, which runs the lab's sshd the same way


def lab_command(lab: Lab, argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """argv and environment to run ``argv`` *on the lab host*: its network and its files.

    The command gets the daemon's view (lab namespace, the sandbox's /etc/docker, /run and
    /root), so ``docker info`` reaches the lab through the usual /var/run/docker.sock and
    ``cat /etc/docker/daemon.json`` shows the lab's config. The lab's ``systemctl`` shim
    and the engine's binaries come first on PATH, so a tutorial's ``systemctl restart
    docker`` and ``dockerd --validate`` act on the lab.
    """
    write_systemctl_shim(lab)
    env = {
        "DOCKER_HOST": SOCKET_URL,
        "DOCKWIZ_LAB": str(lab.dir),
        "DOCKWIZ_LAB_ROOT": str(lab.root),
        "DOCKWIZ_LAB_ADDRESS": lab.info.address,
        "HOME": "/root",
        # the systemctl shim leaves the lab through this process's namespaces
        "DOCKWIZ_HOST_PID": str(os.getpid()),
        "DOCKWIZ_PYTHON": sys.executable,
        "DOCKWIZ_SRC": str(Path(__file__).resolve().parents[2]),  # this very dockwiz
        "PATH": ":".join([str(lab.dir / SHIM_DIR), *lab.info.engine_path,
                          os.environ.get("PATH") or DAEMON_PATH]),
    }
    if lab.info.client_cert_dir:
        env["DOCKER_CERT_PATH"] = lab.info.client_cert_dir
    if lab.info.tcp_endpoint:
        env["DOCKWIZ_LAB_TCP"] = lab.info.tcp_endpoint
    return [*_launcher(lab.info), *argv], env


SHIM_DIR = "bin"
_SHIM = """\
#!/bin/sh
# dockwiz lab: systemctl for this lab's docker.service (daemon-reload, start, stop, restart,
# status, cat, is-active). It leaves the lab's namespaces to restart the lab's dockerd the way
# 'dockwiz lab restart' does, exactly as systemd would on a real host.
if [ -z "$DOCKWIZ_HOST_PID" ] || [ -z "$DOCKWIZ_LAB" ]; then
  echo "systemctl: this is dockwiz's lab shim; use it inside 'dockwiz lab shell' or 'lab run'" >&2
  exit 1
fi
export PYTHONPATH="$DOCKWIZ_SRC${PYTHONPATH:+:$PYTHONPATH}"
exec nsenter --mount=/proc/$DOCKWIZ_HOST_PID/ns/mnt --net=/proc/$DOCKWIZ_HOST_PID/ns/net -- \\
  "${DOCKWIZ_PYTHON:-python3}" -m dockwiz lab systemctl --dir "$DOCKWIZ_LAB" -- "$@"
"""


def write_systemctl_shim(lab: Lab) -> None:
    """``D/bin/systemctl``: first on PATH in ``lab shell`` and ``lab run``."""
    layout.write(lab.dir / SHIM_DIR / "systemctl", _SHIM, 0o755)


def lab_is_up(lab: Lab) -> bool:
    """The lab exists (its namespace does), whether or not its daemon runs."""
    return (network.NETNS_DIR / lab.info.netns).exists()


def lab_state(lab: Lab) -> LabState:
    """The state now: a daemon recorded as running may have exited since."""
    if lab.info.state == "running" and not lab.is_running():
        return "failed"
    return lab.info.state


def lab_dirs() -> dict[str, str]:
    """netns name -> lab directory, for every lab on this machine that left its link."""
    found: dict[str, str] = {}
    for name in network.list_labs():
        link = layout.LINK_DIR / name
        with contextlib.suppress(OSError):
            found[name] = str(link.readlink().parent.parent)
    return found


# -- prerequisites and directories ------------------------------------------------------------
def _check_prerequisites() -> None:
    if os.geteuid() != 0:
        raise DockwizError(
            "a lab needs root (network namespaces, bind mounts, dockerd)",
            "run it as root, e.g. sudo dockwiz lab up ...",
        )
    for tool in ("containerd", "runc", "ip", "nsenter", "unshare", "mount"):
        if Host().which(tool) is None:
            raise DockwizError(
                f"{tool} is not installed; a lab runs a real dockerd with the machine's "
                "containerd",
                "apt-get install docker.io containerd runc iproute2 util-linux mount",
            )
    for target in BIND_TARGETS:
        if not Path(target).exists():
            raise DockwizError(
                f"{target} does not exist on this machine; a lab mounts the sandbox's copy over it",
                "install docker.io (it creates /etc/docker)",
            )


def _prepare_dir(directory: Path) -> Path:
    directory = Path(directory).absolute()
    for shadowed in ("/run", "/var/run", "/root", "/etc"):
        if directory == Path(shadowed) or Path(shadowed) in directory.parents:
            raise DockwizError(
                f"a lab cannot live under {shadowed}: inside the lab that path is the sandbox's",
                "choose another directory, e.g. /tmp/mylab or /srv/labs/mylab",
            )
    if (directory / "lab.json").exists():
        old = open_lab(directory)
        if old.is_running():
            raise DockwizError(
                f"{directory} already holds a running lab ({old.info.scenario}, pid "
                f"{old.info.pid})",
                f"stop it first: dockwiz lab down --dir {directory}",
            )
        lab_down(directory)
        _remove_tree(directory)
    elif directory.exists() and any(directory.iterdir()):
        raise DockwizError(
            f"{directory} is not empty and holds no lab",
            "give a new or empty directory for the lab",
        )
    ensure_dir(directory, mode=0o755)
    return directory.resolve()


def _remove_tree(directory: Path) -> None:
    """Remove a downed lab's files; refuses if anything is still mounted under it."""
    if processes.mounts_under(directory):
        raise DockwizError(f"{directory} still has mounts; cannot reuse it")
    result = run_command(["rm", "-rf", "--one-file-system", str(directory)], timeout=120)
    if not result.ok:
        raise DockwizError(f"could not clear {directory}: {result.stderr.strip()}")


# -- network namespace ------------------------------------------------------------------------


# -- the sandbox root -------------------------------------------------------------------------


# -- the daemon's command line ----------------------------------------------------------------
def lab_argv(lab: Lab, unit_argv: list[str], dockerd: str) -> list[str]:
    """The unit's command line with only the lab's translations (see the module docstring)."""
    out = [dockerd]
    args = iter(unit_argv[1:])
    for arg in args:
        if arg.startswith("--containerd="):
            continue
        if arg == "--containerd":
            next(args, None)
            continue
        out.append(arg)
    out += ["--data-root", str(lab.dir / "data")]
    return out


# -- starting and stopping --------------------------------------------------------------------

_NS_SCRIPT = """\
set -e
root="$1"; shift
# Every write the daemon (or a lab shell) makes to /etc lands in a throwaway overlay under the
# lab dir, never in the machine's /etc: userns-remap "default" runs useradd, for one.
ovl="$root/../etc-overlay/$$"
mkdir -p "$ovl/up" "$ovl/work"
mount -t overlay dockwiz-lab-etc -o "lowerdir=/etc,upperdir=$ovl/up,workdir=$ovl/work" /etc
mount --bind "$root/etc/docker" /etc/docker
# the client bundles apply writes: env.sh and context.txt name /etc/dockwiz/clients/NAME
if [ -d "$root/etc/dockwiz" ]; then
  mkdir -p /etc/dockwiz; mount --bind "$root/etc/dockwiz" /etc/dockwiz
fi
mount --bind "$root/etc/group" /etc/group
mount --bind "$root/root" /root
mount --bind "$root/run" /run
# units and /etc/default/docker too, so 'systemctl cat docker' and a drop-in written by hand
# in a lab shell are the sandbox's (the daemon itself never reads them)
if [ -d "$root/etc/systemd" ]; then mount --bind "$root/etc/systemd" /etc/systemd; fi
if [ -f "$root/etc/default/docker" ]; then
  touch /etc/default/docker
  mount --bind "$root/etc/default/docker" /etc/default/docker
fi
cd /
if [ -n "$DW_ACTIVATION" ]; then
  unset DW_ACTIVATION
  export LISTEN_PID=$$ LISTEN_FDS="${DW_LISTEN_FDS:-1}"
  export LISTEN_FDNAMES="${DW_LISTEN_FDNAMES:-docker.socket}"
  unset DW_LISTEN_FDS DW_LISTEN_FDNAMES
  exec "$@" 3<&0 </dev/null
fi
exec "$@"
"""


def _start(lab: Lab, *, deadline_s: float) -> None:
    """Start dockerd from the sandbox's current unit and config; record the outcome."""
    info = lab.info
    dockerd = lab.dockerd_binary()
    host = lab.host()
    log_path = lab.dir / "dockerd.log"
    unit = read_docker_unit(host)
    if unit.exec_start is None:
        why = "; ".join(unit.problems) or "it has no usable ExecStart"
        _record_failure(lab, f"systemd would not start docker.service: {why}", [])
        return
    argv = lab_argv(lab, unit.exec_start, dockerd)
    activation = _activation_socket(host)
    env = {"PATH": lab.daemon_path(), "HOME": "/root", "LANG": "C.UTF-8"}
    if activation is not None:
        env["DW_ACTIVATION"] = "1"
    launcher = _launcher(info)
    log_offset = log_path.stat().st_size if log_path.exists() else 0
    started = time.monotonic()
    with log_path.open("ab") as log:
        log.write(f"--- dockwiz lab: starting {shlex.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            [*launcher, *argv],
            stdin=activation.fileno() if activation is not None else subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**env, **activation.env} if activation is not None else env,
            cwd="/",
            start_new_session=True,
            pass_fds=activation.extra_fds if activation is not None else (),
            preexec_fn=activation.place_extra if activation is not None else None,
        )
    if activation is not None:
        activation.close()  # the daemon has its copies; the holder keeps them open (systemd)
    processes.CHILDREN[proc.pid] = proc
    info.argv = argv
    info.log_offset = log_offset
    info.pid = proc.pid
    info.pid_create_time = processes.create_time(proc.pid)
    info.state = "running"
    info.error = None
    info.start_seconds = None
    lab.save()
    _wait_ready(lab, proc, started, deadline_s, log_path, log_offset)


def _wait_ready(
    lab: Lab,
    proc: subprocess.Popen[bytes],
    started: float,
    deadline_s: float,
    log_path: Path,
    log_offset: int,
) -> None:
    from dockwiz.dockerapi import ProbeError, ping_unix

    info = lab.info
    while True:
        if proc.poll() is not None:
            reason = (logs.failure_reason(log_path, log_offset)
                      or f"dockerd exited ({proc.returncode})")
            _record_failure(lab, reason, info.argv)
            return
        remaining = deadline_s - (time.monotonic() - started)
        if remaining <= 0:
            _stop(lab)
            last = logs.failure_reason(log_path, log_offset)
            _record_failure(
                lab, f"no answer on /_ping within {deadline_s:.0f} s"
                + (f"; last log line: {last}" if last else ""), info.argv)
            return
        try:
            if ping_unix(lab.unix_socket_path(), timeout=min(PING_TIMEOUT_S, remaining)).ok:
                break
        except (ProbeError, OSError):
            pass  # not up yet: the loop checks the process and the deadline (and only these
            # are caught, so an interruption or a bug is never mistaken for "not up yet")
        time.sleep(0.05)
    info.start_seconds = round(time.monotonic() - started, 3)
    ns = processes.mnt_ns(proc.pid)
    if ns and ns not in info.mnt_namespaces:
        info.mnt_namespaces.append(ns)
    info.state = "running"
    lab.save()


def _record_failure(lab: Lab, reason: str, argv: list[str]) -> None:
    info = lab.info
    if info.pid is not None and not processes.alive(info.pid, info.pid_create_time):
        info.pid = None
        info.pid_create_time = None
    info.state = "failed"
    info.error = reason
    info.argv = argv
    info.start_seconds = None
    lab.save()


def _activation_socket(host: Host) -> Activation | None:
    """docker.socket's sockets as systemd holds them: open across restarts (lab/activation.py)."""
    return activation_for_start(host, Path(host.root).parent)


def _stop(lab: Lab, *, sweep: bool = False) -> None:
    """SIGTERM dockerd by PID, SIGKILL after the grace period, then its leftover children.

    Like ``systemctl stop`` with the unit's ``KillMode=process``, containers' shims are left
    alone (with live-restore they must survive a restart); ``sweep`` (lab down) also ends
    everything still in any mount namespace this lab's daemons ever ran in.
    """
    info = lab.info
    pid = info.pid
    leftovers = processes.descendants(info)
    if pid is not None and processes.alive(pid, info.pid_create_time):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        gone = processes.wait_gone(lambda: processes.alive(pid, info.pid_create_time),
                                   STOP_GRACE_S)
        if not gone:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            processes.wait_gone(lambda: processes.alive(pid, info.pid_create_time), 5.0)
    if sweep:
        leftovers += processes.namespace_processes(info.mnt_namespaces)
    processes.kill_all(leftovers)
    if info.state == "running":
        info.state = "stopped"
    info.pid = None
    info.pid_create_time = None
    lab.save()


# -- logs -------------------------------------------------------------------------------------


def _load_info(directory: Path) -> LabInfo:
    path = directory / "lab.json"
    try:
        return LabInfo.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DockwizError(
            f"{directory} holds no lab (no lab.json)",
            f"create one: dockwiz lab up --dir {directory} --scenario fd-socket",
        ) from None
    except ValueError as exc:
        raise DockwizError(f"{path} is not a lab description: {exc}") from None
