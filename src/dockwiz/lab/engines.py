"""Docker engines for labs: Debian's docker.io 20.10, 26.1 and 28.5, side by side.

Why this way:

* The administrators dockwiz is for run Docker 26-28, and those daemons behave differently
  from Debian 12's 20.10 (``dockerd --validate`` exists, ``docker info`` warns about insecure
  endpoints; DOMAIN §1, §11). A lab must run the very daemon the admin has.
* Only Debian's own archive is contacted, and the machine's apt setup is never touched: apt
  runs with its own sources list, lists and cache under the engine cache
  (``Dir::Etc::SourceList``, ``Dir::Etc::SourceParts=/dev/null``, ``Dir::State::Lists``,
  ``Dir::Cache``), signed by the keyring Debian already ships. apt checks the index signature
  and the package hash; we check the .deb's sha256 against the index ourselves as well, then
  ``dpkg-deb -x`` it into the cache. Nothing is installed, nothing replaces the machine's docker.
* The mirror is the one the machine already uses (read from its apt sources), so a machine
  behind a proxy or a local mirror fetches the way it always does.
* An engine whose version the machine's docker.io already is (20.10 on Debian 12) uses the
  machine's binaries and needs no download.

Both newer dockerd binaries run on bookworm (libc 2.36) and start bookworm's containerd 1.6.20
as their managed containerd (DOMAIN §11), so an engine is only dockerd, docker-proxy and
docker-init; containerd and runc stay the machine's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from dockwiz.errors import DockwizError
from dockwiz.host import CommandResult, run_command

CACHE_ENV = "DOCKWIZ_ENGINE_CACHE"
MIRROR_ENV = "DOCKWIZ_DEBIAN_MIRROR"
DEFAULT_CACHE = Path("/var/cache/dockwiz/engines")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
APT_SOURCES = Path("/etc/apt")
PACKAGE = "docker.io"
APT_TIMEOUT_S = 600.0
# Binaries an engine provides; everything else (containerd, runc, iptables) is the machine's.
ENGINE_BINARIES = ("usr/sbin/dockerd", "usr/sbin/docker-proxy", "usr/bin/docker-init")
ENGINE_PATH_DIRS = ("usr/sbin", "usr/bin")


class EngineSpec(BaseModel):
    """One engine dockwiz knows: the exact Debian package and the suite that serves it."""

    key: str
    package_version: str
    suite: str


ENGINES: dict[str, EngineSpec] = {
    s.key: s
    for s in (
        EngineSpec(key="20.10", package_version="20.10.24+dfsg1-1+deb12u1+b6", suite="bookworm"),
        EngineSpec(key="26.1", package_version="26.1.5+dfsg1-9+deb13u1+b1", suite="trixie"),
        EngineSpec(key="28.5", package_version="28.5.2+dfsg4-5", suite="sid"),
    )
}


class Engine(BaseModel):
    """An engine ready to run: where its dockerd is and what goes first on the daemon's PATH."""

    key: str
    package_version: str
    source: Literal["machine", "cache"]
    root: str | None  # the extracted package; None for the machine's own docker.io
    dockerd: str
    path_dirs: list[str]

    def binary(self, name: str) -> str | None:
        """The engine's own copy of ``name`` (dockerd, docker-proxy, docker-init), if any."""
        for d in self.path_dirs:
            candidate = Path(d) / name
            if candidate.exists():
                return str(candidate)
        return None


class EngineStatus(BaseModel):
    """What ``dockwiz lab engines`` shows for one engine."""

    key: str
    package_version: str
    suite: str
    source: Literal["machine", "cache", "not fetched"]
    path: str | None
    size_bytes: int | None
    dockerd_version: str | None


class EngineRecord(BaseModel):
    """``engine.json`` in a cached engine: where it came from, checked against the index."""

    package_version: str
    suite: str
    mirror: str
    sha256: str
    deb_size: int
    fetched_at: str


# -- where things are ------------------------------------------------------------------------
def cache_root() -> Path:
    """The engine cache; ``DOCKWIZ_ENGINE_CACHE`` moves it (tests, read-only /var)."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def engine_dir(spec: EngineSpec) -> Path:
    return cache_root() / spec.package_version


def spec_for(key: str) -> EngineSpec:
    spec = ENGINES.get(key)
    if spec is None:
        raise DockwizError(
            f"unknown Docker engine {key!r}",
            f"choose one of: {', '.join(ENGINES)} (see: dockwiz lab engines)",
        )
    return spec


def machine_docker_io() -> str | None:
    """The version of the machine's installed docker.io package, or None."""
    result = run_command(["dpkg-query", "-W", "-f", "${Version} ${Status}", PACKAGE], timeout=15)
    if not result.ok:
        return None
    version, _, status = result.stdout.strip().partition(" ")
    return version if status.endswith("installed") and version else None


def _machine_matches(spec: EngineSpec, installed: str | None) -> bool:
    return installed is not None and installed.startswith(spec.key + ".") and bool(
        shutil.which("dockerd", path="/usr/sbin:/usr/bin"))


def default_engine_key() -> str:
    """The machine's docker.io when it is one of ours, else 20.10 (Debian 12's)."""
    installed = machine_docker_io()
    for spec in ENGINES.values():
        if _machine_matches(spec, installed):
            return spec.key
    return "20.10"


def debian_mirror(apt_dir: Path = APT_SOURCES) -> str:
    """The Debian mirror this machine's apt already uses (``DOCKWIZ_DEBIAN_MIRROR`` overrides).

    Only a Debian archive qualifies (a URI ending in ``/debian``): a third-party repository
    or the security archive is never where docker.io comes from.
    """
    override = os.environ.get(MIRROR_ENV)
    if override:
        return override.rstrip("/")
    for uri in _apt_uris(apt_dir):
        if re.fullmatch(r"(https?|file)://\S+/debian/?", uri):
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def _apt_uris(apt_dir: Path) -> Iterator[str]:
    """deb URIs in sources.list, sources.list.d/*.list and deb822 *.sources, in apt's order."""
    files = [apt_dir / "sources.list"]
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if path.suffix == ".sources":
            yield from _deb822_uris(text)
            continue
        for line in text.splitlines():
            words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(words) >= 2 and words[0] == "deb":
                yield words[1]


def _deb822_uris(text: str) -> Iterator[str]:
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
            yield from fields.get("uris", "").split()


# -- status ----------------------------------------------------------------------------------
def dockerd_version_of(dockerd: str) -> str | None:
    """``dockerd --version``'s version word ("28.5.2+dfsg4"), or None if it cannot tell."""
    result = run_command([dockerd, "--version"], timeout=15)
    m = re.search(r"version ([^\s,]+)", result.stdout)
    return m.group(1) if result.ok and m else None


def _tree_size(root: Path) -> int:
    total = 0
    for path in root.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
    return total


def _cached(spec: EngineSpec) -> Path | None:
    d = engine_dir(spec)
    if (d / "engine.json").is_file() and all((d / b).exists() for b in ENGINE_BINARIES[:2]):
        return d
    return None


def engine_statuses() -> list[EngineStatus]:
    """Every engine: on this machine, in the cache, or still to be fetched."""
    installed = machine_docker_io()
    out: list[EngineStatus] = []
    for spec in ENGINES.values():
        if _machine_matches(spec, installed):
            dockerd = shutil.which("dockerd", path="/usr/sbin:/usr/bin") or "/usr/sbin/dockerd"
            out.append(EngineStatus(
                key=spec.key, package_version=installed or spec.package_version, suite=spec.suite,
                source="machine", path=dockerd, size_bytes=Path(dockerd).stat().st_size,
                dockerd_version=dockerd_version_of(dockerd)))
            continue
        cached = _cached(spec)
        if cached is None:
            out.append(EngineStatus(key=spec.key, package_version=spec.package_version,
                                    suite=spec.suite, source="not fetched", path=None,
                                    size_bytes=None, dockerd_version=None))
            continue
        out.append(EngineStatus(
            key=spec.key, package_version=spec.package_version, suite=spec.suite,
            source="cache", path=str(cached), size_bytes=_tree_size(cached),
            dockerd_version=dockerd_version_of(str(cached / ENGINE_BINARIES[0]))))
    return out


# -- resolving and fetching ------------------------------------------------------------------
def ensure_engine(key: str, *, progress: Callable[[str], None] | None = None) -> Engine:
    """The engine ``key`` ready to run: the machine's docker.io, the cache, or fetched now."""
    spec = spec_for(key)
    if _machine_matches(spec, machine_docker_io()):
        dockerd = shutil.which("dockerd", path="/usr/sbin:/usr/bin") or "/usr/sbin/dockerd"
        return Engine(key=spec.key, package_version=machine_docker_io() or spec.package_version,
                      source="machine", root=None, dockerd=dockerd, path_dirs=[])
    _check_trusted(cache_root())
    root = _cached(spec)
    if root is None:
        root = fetch_engine(spec, progress=progress)
    _check_trusted(root)
    _link_init(root)
    return Engine(key=spec.key, package_version=spec.package_version, source="cache",
                  root=str(root), dockerd=str(root / ENGINE_BINARIES[0]),
                  path_dirs=[str(root / d) for d in ENGINE_PATH_DIRS])


@contextlib.contextmanager
def _cache_lock(cache: Path) -> Iterator[None]:
    """One fetch at a time per cache: parallel labs (and engineers) share it."""
    cache.mkdir(parents=True, exist_ok=True, mode=0o755)
    with (cache / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def fetch_engine(spec: EngineSpec, *, progress: Callable[[str], None] | None = None) -> Path:
    """Download docker.io=VERSION from Debian's archive and unpack it into the cache."""
    say = progress or (lambda _msg: None)
    _check_fetch_tools(spec)
    cache = cache_root()
    cache.mkdir(parents=True, exist_ok=True, mode=0o755)
    _check_trusted(cache)
    with _cache_lock(cache):
        done = _cached(spec)
        if done is not None:
            return done  # another process fetched it while we waited for the lock
        mirror = debian_mirror()
        apt = _AptWorkspace(cache / ".apt" / spec.suite, mirror, spec.suite)
        say(f"fetching docker.io {spec.package_version} from {mirror} ({spec.suite})...")
        apt.update()
        expected_sha, size = apt.index_entry(spec)
        with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as tmp:
            deb = apt.download(spec, Path(tmp))
            actual = _sha256(deb)
            if actual != expected_sha:
                raise DockwizError(
                    f"docker.io {spec.package_version}: the downloaded package's sha256 "
                    f"{actual} differs from the archive index's {expected_sha}",
                    "nothing was unpacked; try again, or check the mirror " + mirror,
                )
            tree = Path(tmp) / "tree"
            unpacked = run_command(["dpkg-deb", "-x", str(deb), str(tree)], timeout=300)
            if not unpacked.ok:
                raise DockwizError(f"dpkg-deb -x {deb.name} failed: {_last_line(unpacked)}")
            missing = [b for b in ENGINE_BINARIES[:2] if not (tree / b).exists()]
            if missing:
                raise DockwizError(f"docker.io {spec.package_version} holds no {missing[0]}")
            record = EngineRecord(package_version=spec.package_version, suite=spec.suite,
                                  mirror=mirror, sha256=actual, deb_size=size,
                                  fetched_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
            (tree / "engine.json").write_text(record.model_dump_json(indent=2) + "\n")
            target = engine_dir(spec)
            if target.exists():
                shutil.rmtree(target)  # a half-made dir from an interrupted older fetch
            tree.rename(target)
        shutil.rmtree(apt.base, ignore_errors=True)  # 20+ MB of index, fetched anew next time
        say(f"docker.io {spec.package_version} cached in {target}")
        return target


def _check_fetch_tools(spec: EngineSpec) -> None:
    """apt, dpkg-deb and Debian's keyring: without them a fetch would fail with a wrong reason."""
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise DockwizError(
                f"cannot fetch docker.io {spec.package_version}: {tool} is missing (engines come "
                "from Debian's archive)",
                "run labs on Debian, or choose the machine's engine: dockwiz lab engines",
            )
    if not Path(KEYRING).is_file():
        raise DockwizError(
            f"cannot fetch docker.io {spec.package_version}: Debian's archive keyring {KEYRING} "
            "is missing, so the archive's signature cannot be checked",
            "apt-get install debian-archive-keyring",
        )


def _check_trusted(path: Path) -> None:
    """Root runs dockerd from the cache: refuse one that anyone but root could have written."""
    for d in [path, *path.parents]:
        try:
            st = d.stat()
        except FileNotFoundError:
            continue  # made by us, root-owned, when the first engine is fetched
        # group/world-writable is only safe with the sticky bit (/tmp): no one renames ours
        if st.st_uid != 0 or (st.st_mode & 0o022 and not st.st_mode & 0o1000):
            why = "not owned by root" if st.st_uid else "writable by others"
            raise DockwizError(
                f"engine cache {path}: {d} is {why} (mode {st.st_mode & 0o7777:04o}); "
                "dockerd would run as root from it",
                "use a root-owned directory writable only by root (DOCKWIZ_ENGINE_CACHE), "
                f"or: chown root {d} && chmod go-w {d}",
            )


def _link_init(root: Path) -> None:
    """The package's docker-init links to ``tini-static`` of package tini-static, which is not
    in the engine: point it at the machine's (Debian 12's docker.io depends on it too)."""
    link = root / ENGINE_BINARIES[2]
    if not link.is_symlink() or link.exists():
        return
    tini = shutil.which("tini-static", path="/usr/bin:/usr/sbin:/bin")
    if tini is not None:
        link.unlink()
        link.symlink_to(tini)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _last_line(result: CommandResult) -> str:
    lines = [ln.strip() for ln in (result.stderr + "\n" + result.stdout).splitlines()
             if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("E:", "Err:"))]
    return (errors or lines or [f"exit status {result.returncode}"])[-1]


class _AptWorkspace:
    """apt-get and apt-cache on our own sources list, lists and cache; never the machine's."""

    def __init__(self, base: Path, mirror: str, suite: str) -> None:
        self.base = base
        self.mirror = mirror
        self.suite = suite
        self.sources = base / "sources.list"
        for d in ("lists/partial", "cache/archives/partial"):
            (base / d).mkdir(parents=True, exist_ok=True)
        self.sources.write_text(f"deb [signed-by={KEYRING}] {mirror} {suite} main\n")

    def _options(self) -> list[str]:
        return [
            "-o", f"Dir::Etc::SourceList={self.sources}",
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={self.base / 'lists'}",
            "-o", f"Dir::Cache={self.base / 'cache'}",
            "-o", "Acquire::Languages=none",
            # our dirs are root's; apt's download sandbox user could not write into them
            "-o", "APT::Sandbox::User=root",
        ]

    def update(self) -> None:
        result = run_command(["apt-get", *self._options(), "-q", "update"], timeout=APT_TIMEOUT_S)
        text = result.stdout + result.stderr
        if not result.ok or re.search(r"^(E:|W: Failed to fetch|Err:)", text, re.M):
            raise DockwizError(
                f"cannot reach Debian's archive at {self.mirror} ({self.suite}): "
                f"{_last_line(result)}",
                "check this machine's network or proxy (apt must reach the mirror), or use "
                "an engine already here: dockwiz lab engines",
            )

    def index_entry(self, spec: EngineSpec) -> tuple[str, int]:
        """The package's sha256 and size as the signed index lists them."""
        result = run_command(
            ["apt-cache", *self._options(), "show", f"{PACKAGE}={spec.package_version}"],
            timeout=120,
        )
        sha = re.search(r"^SHA256: ([0-9a-f]{64})$", result.stdout, re.M)
        size = re.search(r"^Size: (\d+)$", result.stdout, re.M)
        if not result.ok or sha is None or size is None:
            raise DockwizError(
                f"Debian's archive ({self.mirror} {self.suite}) does not serve "
                f"docker.io {spec.package_version}",
                "the suite has moved on; update ENGINES in dockwiz/lab/engines.py to the "
                "version 'apt-cache policy docker.io' shows for that suite",
            )
        return sha.group(1), int(size.group(1))

    def download(self, spec: EngineSpec, into: Path) -> Path:
        result = _run_in(into, ["apt-get", *self._options(), "-q", "download",
                                f"{PACKAGE}={spec.package_version}"])
        debs = sorted(into.glob("*.deb"))
        if not result.ok or not debs:
            raise DockwizError(
                f"downloading docker.io {spec.package_version} from {self.mirror} failed: "
                f"{_last_line(result)}",
                "check the network or proxy and try again",
            )
        return debs[0]


def _run_in(cwd: Path, argv: list[str]) -> CommandResult:
    """``apt-get download`` writes into the current directory (a shell ``cd``, not os.chdir,
    which would move every thread of this process)."""
    return run_command(["sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", str(cwd), *argv],
                       timeout=APT_TIMEOUT_S)
