"""A real systemd host for tests: a booted Debian 12 container with the stock docker.io package.

Why a container: the development machines have no systemd as PID 1 (DOMAIN §10), yet the
failure dockwiz exists to prevent - ``hosts`` in daemon.json against the packaged unit's
``-H fd://`` (DOMAIN §3) - and the transaction's restart/rollback through ``systemctl`` (with its
start rate limit and docker.socket activation) only happen under a real systemd.

How: a bookworm tree with systemd and docker.io is built once with debootstrap and cached (the
build takes about a minute and a half; booting takes about a second). Every session boots a
throwaway overlayfs over the cache, so each starts pristine and the cache is never written.
``systemd-nspawn --private-network`` keeps every listener inside the container's own network
namespace: nothing listens on the machine's interfaces and no traffic leaves the container.

The :class:`SystemdContainerHost` is a :class:`dockwiz.host.Host` whose root is the overlay
(the container's files seen from outside, with ``/run`` taken from the container's own view)
and whose ``services`` is the product's :class:`~dockwiz.services.SystemdManager` running
``systemctl`` inside the container (``nsenter -t LEADER -a``). ``Host.run`` keeps the core's
contract - this machine's programs, given local paths - and its ``netns`` names a handle on the
container's network namespace that the fixture itself attaches (``ip netns attach``) and
deletes, so the core's TCP probes reach the container's daemon and nothing else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import psutil
import pytest

from dockwiz.host import CommandResult, Host, run_command
from dockwiz.services import SystemdManager

CACHE_ROOT = Path("/var/cache/dockwiz-tests")
TREE = CACHE_ROOT / "bookworm-docker"
STAMP_NAME = ".dockwiz-tree-stamp"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("systemd", "systemd-sysv", "dbus", "iproute2", "ca-certificates")
IN_TREE_PACKAGES = ("docker.io",)
# Bump when the recipe changes in a way the package lists do not show: the stamp then goes stale.
RECIPE_VERSION = "1"
# 10.x inside the container's own namespace: never routed, nothing outside can reach it.
CONTAINER_ADDRESS = "10.77.252.9"
BOOT_TIMEOUT = 90.0
BUILD_TIMEOUT = 1800.0
TOOLS = ("debootstrap", "systemd-nspawn", "nsenter", "ip", "mount", "umount", "chroot")
# Services a docker test host does not need; they only slow the boot and fill the journal.
MASKED_UNITS = (
    "systemd-networkd.service", "systemd-networkd-wait-online.service",
    "systemd-resolved.service", "systemd-timesyncd.service", "apt-daily.timer",
    "apt-daily-upgrade.timer", "e2scrub_all.timer", "fstrim.timer",
)


class SystemdHostError(RuntimeError):
    """The container could not be built or booted; the message carries the tool's own words."""


def _sbin_path() -> str:
    return os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/local/sbin"


def prerequisites_problem() -> str | None:
    """Why a systemd host cannot be had here, or None (the caller decides skip vs. fail)."""
    if os.geteuid() != 0:
        return "a systemd host needs root (debootstrap, overlayfs, systemd-nspawn)"
    for tool in TOOLS:
        if shutil.which(tool, path=_sbin_path()) is None:
            return f"{tool} is missing: apt-get install systemd-container debootstrap"
    return None


# -- the cached tree ---------------------------------------------------------------------------
def apt_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt already uses (deb822 or one-line format)."""
    files = sorted(sources_dir.glob("sources.list.d/*.sources"))
    files += [sources_dir / "sources.list", *sorted(sources_dir.glob("sources.list.d/*.list"))]
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        url: str
        for url in re.findall(r"^(?:URIs:|deb)\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.MULTILINE):
            if "security" not in url and url.rstrip("/").endswith("/debian"):
                return url.rstrip("/")
    return DEFAULT_MIRROR


def recipe(mirror: str) -> str:
    """What the tree was built from: a cache with another recipe is stale and rebuilt."""
    text = "\n".join([
        f"recipe {RECIPE_VERSION}", f"suite {SUITE}", f"mirror {mirror}",
        f"base {','.join(BASE_PACKAGES)}", f"packages {','.join(IN_TREE_PACKAGES)}",
        f"masked {','.join(MASKED_UNITS)}",
    ])
    return text + f"\nsha256 {hashlib.sha256(text.encode()).hexdigest()}\n"


def tree_is_current(tree: Path, mirror: str) -> bool:
    try:
        return (tree / STAMP_NAME).read_text() == recipe(mirror)
    except OSError:
        return False


def _check(argv: Sequence[str], what: str, *, timeout: float = 600.0,
           env: Mapping[str, str] | None = None) -> CommandResult:
    result = run_command(argv, timeout=timeout, env=env)
    if not result.ok:
        tail = (result.stderr or result.stdout).strip().splitlines()[-15:]
        raise SystemdHostError(f"{what} failed ({result.returncode}): " + "\n".join(tail))
    return result


@contextlib.contextmanager
def _chroot_mounts(tree: Path) -> Iterator[None]:
    """/proc, /sys and /dev for apt inside the tree, unmounted again whatever happens."""
    mounted: list[Path] = []
    try:
        for fs, target, opts in (("proc", "proc", []), ("sysfs", "sys", []),
                                 ("/dev", "dev", ["--rbind"])):
            point = tree / target
            point.mkdir(exist_ok=True)
            argv = ["mount", *opts, fs, str(point)] if opts else \
                ["mount", "-t", fs, fs, str(point)]
            _check(argv, f"mount {target} in the build tree", timeout=30)
            mounted.append(point)
            if opts:
                _check(["mount", "--make-rslave", str(point)], "make /dev rslave", timeout=30)
        yield
    finally:
        for point in reversed(mounted):
            run_command(["umount", "-R", str(point)], timeout=30)


def _install_in_tree(tree: Path) -> None:
    """docker.io through apt inside the tree; policy-rc.d keeps every service from starting."""
    policy = tree / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\n# dockwiz test build: start no services\nexit 101\n")
    policy.chmod(0o755)
    shutil.copyfile("/etc/resolv.conf", tree / "etc/resolv.conf")
    env = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C",
           "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    try:
        with _chroot_mounts(tree):
            _check(["chroot", str(tree), "apt-get", "update", "-q"], "apt-get update (chroot)",
                   env=env)
            _check(["chroot", str(tree), "apt-get", "install", "-y", "-q",
                    "--no-install-recommends", *IN_TREE_PACKAGES],
                   "apt-get install docker.io (chroot)", timeout=1200, env=env)
            _check(["chroot", str(tree), "systemctl", "mask", *MASKED_UNITS], "mask units",
                   env=env, timeout=60)
            _check(["chroot", str(tree), "apt-get", "clean"], "apt-get clean", env=env)
    finally:
        policy.unlink(missing_ok=True)
    (tree / "etc/hostname").write_text("dockwiz-systemd\n")
    (tree / "etc/machine-id").write_text("")  # nspawn makes a fresh one per boot


def build_tree(tree: Path = TREE, mirror: str | None = None) -> float:
    """Build the cached tree if missing or stale; return the seconds spent (0 if cached).

    Built beside the cache and renamed into place only once complete (stamp included), under
    a lock, so a half-built tree is never booted and parallel sessions build it once.
    """
    mirror = mirror or apt_mirror()
    tree.parent.mkdir(parents=True, exist_ok=True)
    with open(tree.parent / f".{tree.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tree_is_current(tree, mirror):
            return 0.0
        started = time.monotonic()
        staging = tree.with_name(f"{tree.name}.building")
        _remove_tree(staging)
        _check(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
                SUITE, str(staging), mirror], "debootstrap", timeout=BUILD_TIMEOUT)
        _install_in_tree(staging)
        (staging / STAMP_NAME).write_text(recipe(mirror))
        _remove_tree(tree)
        staging.rename(tree)
        return time.monotonic() - started


def _remove_tree(tree: Path) -> None:
    """Remove a (possibly half-built) tree; a crashed build may have left /proc, /sys or a
    bind of this machine's /dev mounted in it: detach those first, or rmtree would descend
    into them."""
    if not tree.exists():
        return
    prefix = str(tree.resolve()) + "/"
    with open("/proc/self/mountinfo") as info:
        busy = [line.split()[4] for line in info if line.split()[4].startswith(prefix)]
    for point in sorted(busy, key=len, reverse=True):
        run_command(["umount", "-l", point], timeout=30)
    shutil.rmtree(tree)


# -- the booted container ----------------------------------------------------------------------
class SystemdContainerHost(Host):
    """A booted container: files through the overlay, /run through the container's own view.

    ``/run`` is a tmpfs systemd mounts inside the container, invisible in the overlay, so
    ``/run`` and ``/var/run`` map to ``/proc/LEADER/root/run`` (docker.sock, docker.pid).
    Commands meant for the container go through :meth:`inside`; ``run`` is the core's.
    """

    def __init__(self, root: Path, leader: int, netns: str) -> None:
        super().__init__(root, netns=netns, label=f"systemd container (leader {leader})")
        self.leader = leader
        self.services = SystemdManager(self, prefix=self.prefix)

    def path(self, host_path: str | PurePosixPath) -> Path:
        local = super().path(host_path)  # validates (absolute, no '..')
        parts = PurePosixPath(host_path).parts[1:]
        if parts[:2] == ("var", "run"):
            parts = ("run", *parts[2:])
        if parts[:1] == ("run",):
            return Path(f"/proc/{self.leader}/root").joinpath(*parts)
        return local

    def host_path_of(self, local: Path) -> str:
        run = Path(f"/proc/{self.leader}/root/run")
        with contextlib.suppress(ValueError):
            rel = Path(local).relative_to(run)
            return "/run" + ("" if str(rel) == "." else "/" + rel.as_posix())
        return super().host_path_of(local)

    def inside(self, argv: Sequence[str], *, timeout: float = 30.0,
               input_text: str | None = None) -> CommandResult:
        """Run a command inside the container: every namespace of its init, its programs.

        ``run`` stays the core's contract (this machine's programs on local paths, the
        container's network with ``in_netns``): the core passes local paths (``host.path``)
        to the programs it runs, which do not exist inside the container.
        """
        env = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"]
        result = run_command([*self.prefix, *env, *argv], timeout=timeout,
                             input_text=input_text)
        return dataclasses.replace(result, argv=list(argv))

    @property
    def prefix(self) -> list[str]:
        return ["nsenter", "-t", str(self.leader), "-a"]

    def resolve_pid(self, pid: int) -> int:
        """A PID the container wrote (its own pid namespace) as this machine sees it.

        dockerd's pidfile holds the container's view; /proc/*/status ``NSpid`` lists a
        process's PID in each nested namespace, outermost first.
        """
        ours = Path(f"/proc/{self.leader}/ns/pid").stat().st_ino
        for proc in psutil.process_iter():
            try:
                if Path(f"/proc/{proc.pid}/ns/pid").stat().st_ino != ours:
                    continue
                status = Path(f"/proc/{proc.pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"^NSpid:\s+(.*)$", status, re.MULTILINE)
            if match and match.group(1).split()[-1] == str(pid):
                return proc.pid
        return pid

    def systemctl(self, *args: str, timeout: float = 60.0) -> CommandResult:
        return self.inside(["systemctl", *args], timeout=timeout)

    def journal(self, unit: str = "docker", lines: int = 60) -> str:
        return self.inside(["journalctl", "-u", unit, "-n", str(lines), "--no-pager", "-o", "cat"],
                        timeout=20).stdout


@dataclass
class BootedContainer:
    """What teardown needs: the nspawn process (ours, by PID) and what we mounted/attached."""

    host: SystemdContainerHost
    nspawn: subprocess.Popen[bytes]
    merged: Path
    netns: str
    console: Path


def _overlay(lower: Path, scratch: Path) -> Path:
    for name in ("upper", "work", "merged"):
        (scratch / name).mkdir(parents=True, exist_ok=True)
    merged = scratch / "merged"
    _check(["mount", "-t", "overlay", "overlay", "-o",
            f"lowerdir={lower},upperdir={scratch / 'upper'},workdir={scratch / 'work'}",
            str(merged)], "mount the overlay", timeout=30)
    return merged


def _leader_of(nspawn: subprocess.Popen[bytes], console: Path) -> int:
    """The container's init: nspawn's child running systemd (PID 1 inside)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if nspawn.poll() is not None:
            raise SystemdHostError(
                f"systemd-nspawn exited with {nspawn.returncode}: {_tail(console)}")
        for child in psutil.Process(nspawn.pid).children():
            with contextlib.suppress(psutil.Error, OSError):
                status = Path(f"/proc/{child.pid}/status").read_text()
                if re.search(r"^NSpid:\s+\d+\s+1$", status, re.MULTILINE):
                    return child.pid
        time.sleep(0.05)
    raise SystemdHostError(f"systemd-nspawn started no container: {_tail(console)}")


def _tail(console: Path, lines: int = 20) -> str:
    try:
        return "\n".join(console.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no console output)"


def wait_until_up(host: SystemdContainerHost, timeout: float = BOOT_TIMEOUT) -> None:
    """systemd finished booting (degraded is fine: the test host has no hardware), docker up."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        shown = host.inside(["systemctl", "is-system-running"], timeout=10)
        state = shown.stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(0.2)
    else:
        raise SystemdHostError(f"systemd in the container never finished booting ({state!r})")
    wait_docker_active(host, deadline - time.monotonic())


def wait_docker_active(host: SystemdContainerHost, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + max(timeout, 1.0)
    while time.monotonic() < deadline:
        if host.systemctl("is-active", "--quiet", "docker", timeout=10).ok and \
                host.inside(["docker", "version", "--format", "{{.Server.Version}}"],
                         timeout=20).ok:
            return
        time.sleep(0.2)
    raise SystemdHostError(
        f"docker.service in the container never became active:\n{host.journal()}")


def boot(tree: Path, scratch: Path) -> BootedContainer:
    """Boot an overlay of ``tree`` under ``scratch``; the caller must :func:`shutdown` it."""
    merged = _overlay(tree, scratch)
    console = scratch / "console.log"
    netns = f"dwsys-{secrets.token_hex(4)}"
    with console.open("wb") as out:
        nspawn = subprocess.Popen(
            ["systemd-nspawn", "--quiet", "--boot", "--register=no", "--keep-unit",
             "--private-network", f"--machine={netns}", "-D", str(merged)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    booted: BootedContainer | None = None
    try:
        leader = _leader_of(nspawn, console)
        _check(["ip", "netns", "attach", netns, str(leader)], "ip netns attach", timeout=15)
        host = SystemdContainerHost(merged, leader, netns)
        booted = BootedContainer(host, nspawn, merged, netns, console)
        # from outside, by the handle: the container's mounts may still be being set up
        _check(["ip", "-n", netns, "link", "set", "lo", "up"], "lo up", timeout=15)
        _check(["ip", "-n", netns, "addr", "add", f"{CONTAINER_ADDRESS}/32", "dev", "lo"],
               "add the container's address", timeout=15)
        wait_until_up(host)
        return booted
    except BaseException:
        if booted is not None:
            shutdown(booted)
        else:
            _stop_nspawn(nspawn)
            run_command(["ip", "netns", "delete", netns], timeout=15)
            run_command(["umount", str(merged)], timeout=30)
        raise


def _stop_nspawn(nspawn: subprocess.Popen[bytes]) -> None:
    """SIGTERM to nspawn (our child, by PID) powers the container off; SIGKILL if it hangs."""
    if nspawn.poll() is None:
        nspawn.send_signal(signal.SIGTERM)
    try:
        nspawn.wait(timeout=30)
    except subprocess.TimeoutExpired:
        nspawn.send_signal(signal.SIGKILL)
        nspawn.wait(timeout=15)


def shutdown(booted: BootedContainer) -> list[str]:
    """Power off, wait, detach the namespace handle, unmount; return anything left behind."""
    pids = [booted.nspawn.pid]
    with contextlib.suppress(psutil.Error):
        pids += [p.pid for p in psutil.Process(booted.nspawn.pid).children(recursive=True)]
    if booted.nspawn.poll() is None:
        booted.host.inside(["systemctl", "poweroff", "--no-block"], timeout=15)
        with contextlib.suppress(subprocess.TimeoutExpired):
            booted.nspawn.wait(timeout=30)
    _stop_nspawn(booted.nspawn)
    run_command(["ip", "netns", "delete", booted.netns], timeout=15)
    unmounted = run_command(["umount", str(booted.merged)], timeout=30)
    left = [f"pid {p}" for p in pids if _alive(p)]
    if not unmounted.ok:
        left.append(f"overlay {booted.merged}: {unmounted.stderr.strip()}")
    if Path(f"/var/run/netns/{booted.netns}").exists():
        left.append(f"netns handle /var/run/netns/{booted.netns}")
    return left


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# -- keeping one container pristine across tests ------------------------------------------------
# Everything dockwiz writes on a host, plus what systemd reads for docker.service.
WATCHED = ("/etc/docker", "/etc/systemd/system", "/etc/dockwiz", "/var/lib/dockwiz")
# Written by dockerd itself on its first start, not by dockwiz.
DAEMON_OWN = ("/etc/docker/key.json",)

Entry = tuple[str, int, int, int, bytes]  # kind, mode, uid, gid, content or link target


def file_state(host: Host, watched: Sequence[str] = WATCHED) -> dict[str, Entry]:
    """Every file, directory and symlink under ``watched``: kind, mode, owner, bytes."""
    out: dict[str, Entry] = {}
    for top in watched:
        base = host.path(top)
        if not base.exists() and not base.is_symlink():
            continue
        for local in [base, *sorted(base.rglob("*"))]:
            path = host.host_path_of(local) if not local.is_symlink() else \
                host.host_path_of(local.parent) + "/" + local.name
            if path in DAEMON_OWN:
                continue
            st = local.lstat()
            if local.is_symlink():
                out[path] = ("link", 0, st.st_uid, st.st_gid, os.fsencode(os.readlink(local)))
            elif local.is_dir():
                out[path] = ("dir", st.st_mode & 0o7777, st.st_uid, st.st_gid, b"")
            else:
                out[path] = ("file", st.st_mode & 0o7777, st.st_uid, st.st_gid,
                             local.read_bytes())
    return out


def restore_files(host: Host, wanted: Mapping[str, Entry],
                  watched: Sequence[str] = WATCHED) -> list[str]:
    """Make the watched trees equal to ``wanted`` again; return the host paths it changed."""
    current = file_state(host, watched)
    changed: list[str] = []
    for path in sorted(set(current) - set(wanted), key=len, reverse=True):
        local = host.path(path)
        if current[path][0] == "dir":
            shutil.rmtree(local)
        else:
            local.unlink(missing_ok=True)
        changed.append(path)
    for path in sorted(wanted, key=len):
        entry = wanted[path]
        if current.get(path) == entry and host.path(path).exists():
            continue
        kind, mode, uid, gid, data = entry
        local = host.path(path)
        if local.is_symlink() or (local.exists() and not local.is_dir()):
            local.unlink()
        if kind == "dir":
            local.mkdir(exist_ok=True)
        elif kind == "link":
            os.symlink(os.fsdecode(data), local)
        else:
            local.write_bytes(data)
        os.lchown(local, uid, gid)
        if kind != "link":
            local.chmod(mode)
        changed.append(path)
    return changed


def restart_docker(host: SystemdContainerHost) -> None:
    """Back to a running docker after a test broke it: clear the rate limit, start both."""
    host.systemctl("daemon-reload")
    for unit in ("docker.socket", "docker.service"):
        host.systemctl("reset-failed", unit)
    host.systemctl("restart", "docker.socket", "docker.service", timeout=120)
    wait_docker_active(host)


# -- pytest fixtures (import them into a test module to use them) -------------------------------
@dataclass
class SessionContainer:
    """The session's container and the state every test starts from."""

    booted: BootedContainer
    pristine: dict[str, Entry]
    build_s: float
    boot_s: float

    @property
    def host(self) -> SystemdContainerHost:
        return self.booted.host


@pytest.fixture(scope="session")
def systemd_container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionContainer]:
    """One booted container per session (the tree built on first use); nothing left after.

    A missing tool fails rather than skips: a skipped systemd suite would hide a CI that
    never ran it.
    """
    problem = prerequisites_problem()
    if problem:
        pytest.fail(problem)
    build_s = build_tree()
    started = time.monotonic()
    booted = boot(TREE, tmp_path_factory.mktemp("systemd-host"))
    boot_s = time.monotonic() - started
    try:
        yield SessionContainer(booted, file_state(booted.host), build_s, boot_s)
    finally:
        left = shutdown(booted)
    assert not left, f"left behind after the container's shutdown: {left}"


@pytest.fixture
def systemd_host(systemd_container: SessionContainer) -> Iterator[SystemdContainerHost]:
    """The container in its stock state (packaged unit, no daemon.json, docker active).

    Whatever a test changed is put back afterwards, so the tests share one boot but not
    their state; a test that broke docker gets it restarted with the rate limit cleared.
    """
    host = systemd_container.host
    yield host
    changed = restore_files(host, systemd_container.pristine)
    if changed or not host.systemctl("is-active", "--quiet", "docker").ok:
        restart_docker(host)
