"""Day two on real dockerd labs: renew, clients add/list, revoke, each as a transaction.

Every case starts from the ``mtls`` lab (CA in /etc/dockwiz/ca, server certificate, the
``lab-admin`` bundle) and uses the docker CLI as the real client, inside the lab's namespace.
The faults are real: the daemon's port held by another process during the restart, and a
SIGTERM delivered to the dockwiz process mid-transaction.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dockwiz import lifecycle
from dockwiz.apply import apply_plan
from dockwiz.host import CommandResult, Host
from dockwiz.lab.lab import Lab
from dockwiz.verify.lifecycle import served_serial
from lab_clients import docker_cli

pytestmark = pytest.mark.e2e

TLS_FILES = ("/etc/docker/tls", "/etc/dockwiz")


def tree_bytes(host: Host) -> dict[str, tuple[int, bytes]]:
    """Every file under the TLS and dockwiz directories: mode and bytes."""
    out: dict[str, tuple[int, bytes]] = {}
    for top in TLS_FILES:
        for dirpath, _dirs, files in os.walk(host.path(top)):
            for name in files:
                p = Path(dirpath) / name
                out[str(p.relative_to(host.root))] = (p.stat().st_mode & 0o7777, p.read_bytes())
    return out




def dockwiz(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockwiz", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})}, check=False)


def copy_bundle(host: Host, name: str, into: Path) -> Path:
    """What a client laptop holds: a copy of its bundle taken before the change."""
    target = into / name
    shutil.copytree(host.path(f"/etc/dockwiz/clients/{name}"), target)
    return target


def test_renew_keeps_clients_working_and_changes_the_serial(lab_factory, tmp_path: Path) -> None:
    lab = lab_factory("mtls")
    host = lab.host()
    laptop = copy_bundle(host, "lab-admin", tmp_path)
    assert docker_cli(lab, laptop).returncode == 0
    url = f"tcp://{lab.info.address}:2376"
    before = served_serial(host, url)
    status, plan = lifecycle.renew_with_status(host)
    assert plan.is_empty and not status.server_due
    idle = dockwiz("renew", "--lab", str(lab.dir), "--json")
    assert idle.returncode == 0, idle.stderr
    said = json.loads(idle.stdout)
    assert said["changed"] is False and said["status"]["next_due"]
    assert any("next renewal due" in n for n in said["notes"])
    plan = lifecycle.plan_renew(host, force=True)
    result = apply_plan(host, plan)
    assert result.ok, result.model_dump_json(indent=2)
    assert result.downtime_s is not None and result.downtime_s < 10
    print(f"renew downtime {result.downtime_s:.2f} s")
    after = served_serial(host, url)
    assert before is not None and after is not None and after != before
    cli = docker_cli(lab, laptop)  # the copy taken before: same CA, still works
    assert cli.returncode == 0, cli.stderr


class PortTakenDuringRestart:
    """The lab's own manager, with the daemon's port taken between its stop and its start:
    dockerd then fails to bind for real. The second restart (the rollback's) frees it first."""

    def __init__(self, lab: Lab) -> None:
        self.inner = lab.host().services
        assert self.inner is not None
        self.name = self.inner.name
        self.lab = lab
        self.holder: subprocess.Popen[str] | None = None

    def __getattr__(self, item: str) -> object:
        return getattr(self.inner, item)

    def restart(self) -> CommandResult:
        assert self.inner is not None
        if self.holder is not None:
            self.release()
            return self.inner.restart()
        self.inner.stop()
        self.holder = subprocess.Popen(
            ["nsenter", f"--net=/var/run/netns/{self.lab.info.netns}", sys.executable, "-c",
             "import socket,time\ns=socket.socket(); s.bind(('0.0.0.0', 2376)); s.listen(1)\n"
             "print('ready', flush=True); time.sleep(120)"], stdout=subprocess.PIPE, text=True)
        assert self.holder.stdout is not None and self.holder.stdout.readline() == "ready\n"
        return self.inner.start()

    def release(self) -> None:
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait()


def test_renew_failure_rolls_back_to_the_old_cert_byte_for_byte(lab_factory) -> None:
    lab = lab_factory("mtls")
    host = lab.host()
    before = tree_bytes(host)
    plan = lifecycle.plan_renew(host, force=True)
    manager = PortTakenDuringRestart(lab)
    try:
        result = apply_plan(host, plan, manager=manager)  # type: ignore[arg-type]
    finally:
        manager.release()
    assert not result.ok and result.rolled_back and result.recovery_ok, result.error
    assert "address already in use" in (result.error or "") + (result.daemon_log or "")
    assert tree_bytes(host) == before
    assert docker_cli(lab, host.path("/etc/dockwiz/clients/lab-admin")).returncode == 0


def test_clients_add_and_list(lab_factory) -> None:
    lab = lab_factory("mtls")
    d = str(lab.dir)
    pid = lab.info.pid
    added = dockwiz("clients", "add", "laptop", "--lab", d, "--yes", "--days", "30")
    assert added.returncode == 0, added.stdout + added.stderr
    assert "docker context create laptop" in added.stdout
    assert lab.refresh().info.pid == pid  # no restart for a new bundle
    bundle = lab.host().path("/etc/dockwiz/clients/laptop")
    assert (bundle.stat().st_mode & 0o777) == 0o700
    assert (bundle / "key.pem").stat().st_mode & 0o777 == 0o400
    assert docker_cli(lab, bundle).returncode == 0
    listed = dockwiz("clients", "list", "--lab", d, "--json")
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert set(rows) == {"lab-admin", "laptop"}
    assert rows["laptop"]["signed_by_current_ca"] and 29 < rows["laptop"]["days_left"] <= 30


def test_revoke_one_of_two_clients(lab_factory, tmp_path: Path) -> None:
    lab = lab_factory("mtls")
    host = lab.host()
    assert dockwiz("clients", "add", "laptop", "--lab", str(lab.dir), "--yes").returncode == 0
    old_laptop = copy_bundle(host, "laptop", tmp_path)
    old_admin = copy_bundle(host, "lab-admin", tmp_path)
    plan = lifecycle.plan_revoke(host, "laptop")
    assert lifecycle.keeps_access(plan) == ["lab-admin"]
    out = dockwiz("clients", "revoke", "laptop", "--lab", str(lab.dir), "--yes")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "keeps access (new bundles): lab-admin" in out.stdout
    assert "revoked client 'laptop' is refused" in out.stdout
    refused = docker_cli(lab, old_laptop)
    assert refused.returncode != 0
    assert docker_cli(lab, host.path("/etc/dockwiz/clients/lab-admin")).returncode == 0
    assert docker_cli(lab, old_admin).returncode != 0  # the old copy: a new bundle is needed
    assert host.path("/etc/dockwiz/revoked/laptop/cert.pem").is_file()
    # verify's day-two parameters: the same proof from verify_host
    from dockwiz.verify import verify_host

    admin = host.path("/etc/dockwiz/clients/lab-admin")
    report = verify_host(host, use_docker_cli=False, accepted_bundles={"lab-admin": admin},
                         refused_bundles={"laptop": host.path("/etc/dockwiz/revoked/laptop"),
                                          "old copy": old_admin})
    day_two = [p for p in report.probes if p.id in ("bundle-accepted", "revoked-bundle-refused")]
    assert len(day_two) == 3 and all(p.passed for p in day_two), day_two


def test_revoke_interrupted_by_sigterm_rolls_back(lab_factory, tmp_path: Path) -> None:
    lab = lab_factory("mtls")
    host = lab.host()
    assert dockwiz("clients", "add", "laptop", "--lab", str(lab.dir), "--yes").returncode == 0
    before = tree_bytes(host)
    laptop, admin = copy_bundle(host, "laptop", tmp_path), copy_bundle(host, "lab-admin", tmp_path)
    out = dockwiz("clients", "revoke", "laptop", "--lab", str(lab.dir), "--yes",
                  env={"DOCKWIZ_FAULT": "term-after:restart"})
    assert out.returncode == 1, out.stdout + out.stderr
    assert "interrupted" in out.stdout + out.stderr
    assert tree_bytes(host) == before
    for bundle in (laptop, admin):
        cli = docker_cli(lab, bundle)
        assert cli.returncode == 0, cli.stderr



@pytest.mark.parametrize("docker", ["26.1", "28.5"])
def test_renew_and_revoke_on_newer_engines(lab_factory, tmp_path: Path, docker: str) -> None:
    """dockerd >= 24 loads the new certificates in ``--validate`` before the restart."""
    lab = lab_factory("mtls", docker=docker)
    host = lab.host()
    plan = lifecycle.plan_renew(host, force=True)
    result = apply_plan(host, plan)
    assert result.ok, result.model_dump_json(indent=2)
    validate = next(s for s in result.steps if s.name == "validate")
    assert "dockerd --validate: configuration OK" in validate.detail, validate.detail
    assert dockwiz("clients", "add", "laptop", "--lab", str(lab.dir), "--yes").returncode == 0
    old_laptop = copy_bundle(host, "laptop", tmp_path)
    out = dockwiz("clients", "revoke", "laptop", "--lab", str(lab.dir), "--yes")
    assert out.returncode == 0, out.stdout + out.stderr
    assert docker_cli(lab, old_laptop).returncode != 0
    assert docker_cli(lab, host.path("/etc/dockwiz/clients/lab-admin")).returncode == 0


def test_renew_keeps_running_containers_with_live_restore(lab_factory, tmp_path: Path) -> None:
    """DOMAIN §9: with --live-restore the day-two restart is preceded by a reload that switches
    live-restore on, and the container keeps running through the renewal."""
    import tarfile

    if not Path("/bin/busybox").exists():
        pytest.fail("this test needs busybox-static (apt-get install busybox-static)")
    lab = lab_factory("mtls")
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        tar.add("/bin/busybox", arcname="bin/busybox")
        info = tarfile.TarInfo("bin/sleep")
        info.type, info.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(info)
    env = {**os.environ, "DOCKER_HOST": f"unix://{lab.unix_socket_path()}"}

    def docker(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], env=env, capture_output=True, text=True,
                              timeout=60, check=False)

    assert docker("import", str(rootfs), "dwlab/busybox").returncode == 0
    run = docker("run", "-d", "--network", "none", "dwlab/busybox", "sleep", "600")
    assert run.returncode == 0, run.stderr
    out = dockwiz("renew", "--lab", str(lab.dir), "--force", "--yes", "--live-restore")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "reload dockerd (SIGHUP)" in out.stdout
    assert docker("ps", "-q", "--no-trunc").stdout.strip() == run.stdout.strip()
    daemon_json = (lab.root / "etc/docker/daemon.json").read_text()
    assert '"live-restore": true' in daemon_json
    assert docker("rm", "-f", run.stdout.strip()).returncode == 0


def test_revoke_killed_mid_transaction_is_recovered(lab_factory, tmp_path: Path) -> None:
    """SIGKILL (no handler runs) after the new CA and bundles were written: the next start
    refuses to act until 'dockwiz recover' put every old byte back; old bundles work again."""
    lab = lab_factory("mtls")
    host = lab.host()
    assert dockwiz("clients", "add", "laptop", "--lab", str(lab.dir), "--yes").returncode == 0
    before = tree_bytes(host)
    laptop = copy_bundle(host, "laptop", tmp_path)
    killed = dockwiz("clients", "revoke", "laptop", "--lab", str(lab.dir), "--yes",
                     env={"DOCKWIZ_FAULT": "kill-after:certs"})
    assert killed.returncode == -9
    assert tree_bytes(host) != before
    refused = dockwiz("renew", "--lab", str(lab.dir), "--force", "--yes")
    assert refused.returncode == 2 and "dockwiz recover" in refused.stderr
    recovered = dockwiz("recover", "--lab", str(lab.dir), "--yes")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert tree_bytes(host) == before
    assert docker_cli(lab, laptop).returncode == 0


def test_ca_rollover_keeps_old_bundles_until_finished(lab_factory, tmp_path: Path) -> None:
    """renew --ca: old copies and new bundles both get in (the daemon trusts both CAs, the
    server keeps its certificate); --finish-ca-rollover: only the new bundles do."""
    lab = lab_factory("mtls")
    host = lab.host()
    old_copy = copy_bundle(host, "lab-admin", tmp_path)
    started = dockwiz("renew", "--ca", "--lab", str(lab.dir), "--yes")
    assert started.returncode == 0, started.stdout + started.stderr
    new_bundle = host.path("/etc/dockwiz/clients/lab-admin")
    assert (new_bundle / "cert.pem").read_bytes() != (old_copy / "cert.pem").read_bytes()
    for bundle in (old_copy, new_bundle):
        cli = docker_cli(lab, bundle)
        assert cli.returncode == 0, cli.stderr
    finished = dockwiz("renew", "--finish-ca-rollover", "--lab", str(lab.dir), "--yes")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert docker_cli(lab, new_bundle).returncode == 0
    assert docker_cli(lab, old_copy).returncode != 0
    assert not host.path("/etc/dockwiz/ca/previous-ca.pem").exists()
