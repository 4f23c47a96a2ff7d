"""Fixed data for UI tests: a backend that answers from hand-built models, never from a host.

Snapshots must depend on the UI alone: no daemon, no clock, no hostname. Every model here is
built by hand with fixed values; ``FixedBackend`` hands them to the app through ``make_app``.

A snapshot cannot see which choices the UI passed to the core, so every app built here talks
to its backend through ``RecordingBackend``: tests read ``recorded(app)`` and compare what
reached the core with what the user picked. The lab flows wrap the real ``CoreBackend`` the
same way (it still does all the work; the wrapper only keeps a copy of the arguments).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from dockwiz.addresses import is_ip, is_wildcard, strip_brackets
from dockwiz.apply.journal import Journal
from dockwiz.host import Host
from dockwiz.models.host_state import (
    CertInfo,
    DaemonJsonState,
    DaemonProcess,
    DockerVersion,
    Finding,
    HostState,
    Listener,
    SocketFile,
    TlsSettings,
    UnitState,
)
from dockwiz.models.intent import Intent, Mode, Violation
from dockwiz.models.lifecycle import CertExpiry, ClientInfo, RenewalStatus
from dockwiz.models.plan import CertAction, Endpoint, FileChange, Plan, ServiceAction
from dockwiz.models.results import ApplyResult, ApplyStep, Handoff, Probe, VerifyReport
from dockwiz.pki import KEY_TYPES
from dockwiz.policy import allowed_modes, check_intent
from dockwiz.tui.app import DockwizApp, make_app
from dockwiz.tui.screens.dialogs import ConfirmDialog, ErrorDialog
from dockwiz.tui.screens.inspect import InspectScreen
from dockwiz.tui.screens.mode import ModeScreen
from dockwiz.tui.screens.verify import VerifyScreen
from dockwiz.tui.session import Backend, CoreBackend, DayTwoOptions, StepCallback
from dockwiz.tui.widgets.rows import Rows

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

DAEMON_JSON_BEFORE = '{\n  "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]\n}\n'
DAEMON_JSON_AFTER = (
    "{\n"
    '  "hosts": ["unix:///var/run/docker.sock", "tcp://10.0.0.5:2376"],\n'
    '  "tlsverify": true,\n'
    '  "tlscacert": "/etc/docker/tls/ca.pem",\n'
    '  "tlscert": "/etc/docker/tls/server-cert.pem",\n'
    '  "tlskey": "/etc/docker/tls/server-key.pem"\n'
    "}\n"
)


def host_state(*, is_root: bool = True, version: str = "20.10.24") -> HostState:
    """An insecure-TCP host: plain TCP on every interface, findings, one expired cert."""
    return HostState(
        root="/",
        is_root=is_root,
        docker_installed=True,
        dockerd_path="/usr/sbin/dockerd",
        version=DockerVersion(binary=version, api_server=version, api_version="1.41"),
        daemon_running=True,
        process=DaemonProcess(pid=4242, exe="/usr/sbin/dockerd", argv=["/usr/sbin/dockerd"]),
        daemon_json=DaemonJsonState(
            path="/etc/docker/daemon.json",
            exists=True,
            text=DAEMON_JSON_BEFORE,
            data={"hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]},
            mode=0o644,
            uid=0,
            gid=0,
        ),
        unit=UnitState(path="/lib/systemd/system/docker.service", exists=True, mode=0o644),
        docker_socket=SocketFile(
            path="/var/run/docker.sock", exists=True, is_socket=True, mode=0o660,
            owner="root", group="docker",
        ),
        configured_hosts=[
            Listener(kind="unix", address="unix:///var/run/docker.sock", source="daemon.json"),
            Listener(
                kind="tcp", address="tcp://0.0.0.0:2375", host="0.0.0.0", port=2375,
                loopback=False, source="daemon.json", listening=True,
            ),
        ],
        tls=TlsSettings(),
        running_containers=3,
        certs=[
            CertInfo(
                path="/etc/docker/old/server.pem",
                role="server",
                mode=0o644,
                subject="CN=old-docker",
                dns_names=["old-docker"],
                ip_addresses=["10.0.0.9"],
                not_before=datetime(2024, 1, 1, tzinfo=UTC),
                not_after=datetime(2025, 1, 1, tzinfo=UTC),
                key_type="rsa-2048",
            )
        ],
        unreadable=[] if is_root else ["/etc/docker/old/server-key.pem: permission denied"],
        findings=[
            Finding(
                id="tcp-plain",
                severity="critical",
                title="Docker API on plain TCP 0.0.0.0:2375",
                why="Anyone who can reach port 2375 controls the daemon: root on this host.",
                fix="Switch to mutual TLS (mtls) or SSH; never expose 2375.",
                cis="2.7",
            ),
            Finding(
                id="live-restore",
                severity="low",
                title="live-restore is off",
                why="A daemon restart stops every running container.",
                fix="Enable live-restore (Hardening step).",
                cis="2.15",
            ),
            Finding(
                id="cert-expired",
                severity="medium",
                title="Server certificate expired",
                why="Clients refuse an expired certificate.",
                fix="Let dockwiz issue a new one.",
                cis="3.11",
            ),
        ],
    )


def mtls_intent() -> Intent:
    return Intent(
        mode=Mode.MTLS, listen_host="10.0.0.5", listen_port=2376,
        sans_dns=["docker.example.test"], sans_ip=["10.0.0.5"],
    )


def plan_for(intent: Intent) -> Plan:
    return Plan(
        intent=intent,
        docker_version="20.10.24",
        files=[
            FileChange(
                path="/etc/docker/daemon.json",
                before=DAEMON_JSON_BEFORE,
                after=DAEMON_JSON_AFTER,
                mode=0o644,
                mode_before=0o644,
                role="daemon.json",
                reason="TCP on 10.0.0.5:2376 with client verification",
            )
        ],
        certs=[
            CertAction(role="ca", action="create", cert_path="/etc/dockwiz/ca/ca.pem",
                       key_path="/etc/dockwiz/ca/ca-key.pem", reason="no CA yet"),
            CertAction(role="server", action="create",
                       cert_path="/etc/docker/tls/server-cert.pem",
                       key_path="/etc/docker/tls/server-key.pem",
                       dns_names=["docker.example.test"], ip_addresses=["10.0.0.5"],
                       reason="the old one expired on 2025-01-01"),
        ],
        actions=[ServiceAction(kind="restart", reason="hosts and TLS need a restart")],
        endpoints_before=[Endpoint(url="tcp://0.0.0.0:2375", security="plain")],
        endpoints_after=[Endpoint(url="tcp://10.0.0.5:2376", security="mtls")],
        warnings=["3 running containers stop during the restart (live-restore is off)."],
        notes=["Port 2375 stops listening."],
        running_containers=3,
    )


OK_STEPS = [
    ApplyStep(name="journal and backups", status="ok", detail="1 file backed up", seconds=0.01),
    ApplyStep(name="certificates", status="ok", detail="CA, server, client issued", seconds=0.4),
    ApplyStep(name="write files", status="ok", detail="/etc/docker/daemon.json", seconds=0.01),
    ApplyStep(name="validate", status="ok", detail="own checks passed", seconds=0.02),
    ApplyStep(name="restart dockerd", status="ok", seconds=0.6),
    ApplyStep(name="wait for health", status="ok", detail="tcp://10.0.0.5:2376 answers",
              seconds=0.3),
    ApplyStep(name="done", status="ok", detail="transaction 20260601-120000"),
]

FAILED_STEPS = [
    ApplyStep(name="journal and backups", status="ok", detail="1 file backed up", seconds=0.01),
    ApplyStep(name="write files", status="ok", detail="/etc/docker/daemon.json", seconds=0.01),
    ApplyStep(name="restart dockerd", status="failed",
              detail="listen tcp 10.0.0.5:2376: bind: address already in use", seconds=1.2),
    ApplyStep(name="restore files", status="ok", detail="1 path(s) restored byte for byte"),
    ApplyStep(name="restart dockerd on the old configuration", status="ok", seconds=0.5),
    ApplyStep(name="confirm old daemon", status="ok", detail="tcp://0.0.0.0:2375 answers"),
]


def apply_ok() -> ApplyResult:
    return ApplyResult(ok=True, txid="20260601-120000", steps=OK_STEPS, downtime_s=0.9,
                       client_bundle="/etc/dockwiz/clients/dockwiz-client")


def apply_failed() -> ApplyResult:
    return ApplyResult(
        ok=False, txid="20260601-120000", steps=FAILED_STEPS,
        error="dockerd did not start: listen tcp 10.0.0.5:2376: bind: address already in use",
        failed_step="restart dockerd", rolled_back=True, recovery_ok=True,
    )


def verify_report(*, passed: bool = True) -> VerifyReport:
    probes = [
        Probe(id="tls-good", title="TLS with the client bundle, GET /_ping",
              target="tcp://10.0.0.5:2376", expect="succeed", outcome="succeeded", passed=True,
              saw="HTTP 200 OK"),
        Probe(id="tls-nocert", title="TLS without a client certificate, GET /_ping",
              target="tcp://10.0.0.5:2376", expect="fail", outcome="failed", passed=passed,
              saw="remote error: tls: bad certificate" if passed else "HTTP 200 OK",
              cause=None if passed else "the daemon does not verify client certificates",
              fix=None if passed else "set \"tlsverify\": true and \"tlscacert\" in daemon.json"),
        Probe(id="plain-2375", title="no plain Docker API on port 2375",
              target="tcp://10.0.0.5:2375", expect="fail", outcome="failed", passed=True,
              saw="connection refused"),
    ]
    return VerifyReport(
        host="fixture host", mode=Mode.MTLS, detected_mode=Mode.MTLS, expected_mode="mtls",
        endpoints=["unix:///var/run/docker.sock", "tcp://10.0.0.5:2376"],
        probes=probes, passed=passed,
        summary="SECURED (mtls): 3/3 probes as expected" if passed else "NOT SECURED: 1 failed",
        handoff=Handoff(
            bundle_dir="/etc/dockwiz/clients/dockwiz-client",
            endpoint="tcp://10.0.0.5:2376",
            env_sh="export DOCKER_HOST=tcp://10.0.0.5:2376\n",
            context_create="docker context create dockwiz-client --docker "
            "'host=tcp://10.0.0.5:2376,ca=/etc/dockwiz/clients/dockwiz-client/ca.pem,"
            "cert=/etc/dockwiz/clients/dockwiz-client/cert.pem,"
            "key=/etc/dockwiz/clients/dockwiz-client/key.pem'",
        ),
    )


def day_two_options() -> DayTwoOptions:
    """A host dockwiz secured a year ago: the server certificate 40 days from expiry, two
    clients (fixed dates: snapshots never drift)."""
    server_end = datetime(2026, 7, 11, 12, 0, tzinfo=UTC)
    ca_end = datetime(2035, 5, 30, 12, 0, tzinfo=UTC)
    status = RenewalStatus(
        before_days=30,
        server=CertExpiry(role="server", path="/etc/docker/tls/server-cert.pem",
                          not_after=server_end, days_left=40.0,
                          renew_from=datetime(2026, 6, 11, 12, 0, tzinfo=UTC), due=False),
        ca=CertExpiry(role="ca", path="/etc/dockwiz/ca/ca.pem", not_after=ca_end,
                      days_left=3285.0, renew_from=datetime(2035, 4, 30, 12, 0, tzinfo=UTC),
                      due=False),
    )
    clients = [
        ClientInfo(name=name, bundle=f"/etc/dockwiz/clients/{name}", not_after=server_end,
                   days_left=40.0, signed_by_current_ca=True, trusted_by_daemon=True)
        for name in ("dockwiz-client", "laptop-alice")
    ]
    return DayTwoOptions(status=status, clients=clients)


def day_two_plan(keep: list[str], revoke: list[str], *, new: bool = False) -> Plan:
    """A day-two plan in the lifecycle core's shape: client actions (``new``: bundles created,
    else reissued) and the note on who keeps access."""
    certs = [CertAction(role="client", action="create" if new else "renew", name=n,
                        cert_path=f"/etc/dockwiz/clients/{n}/cert.pem",
                        key_path=f"/etc/dockwiz/clients/{n}/key.pem",
                        endpoint="tcp://10.0.0.5:2376", reason="reissued from the new CA")
             for n in keep]
    certs += [CertAction(role="client", action="revoke", name=n,
                         cert_path=f"/etc/dockwiz/revoked/{n}/cert.pem",
                         key_path=f"/etc/dockwiz/revoked/{n}/key.pem", reason="revoked")
              for n in revoke]
    base = plan_for(mtls_intent())
    return base.model_copy(update={"certs": certs, "notes": [
        f"keeps access (new bundles): {', '.join(keep)}"]})


class FixedBackend:
    """Answers every core call from fixed models; ``gate`` can hold apply so a test sees it run."""

    def __init__(
        self,
        state: HostState | None = None,
        *,
        plan: Plan | None = None,
        apply_result: ApplyResult | None = None,
        report: VerifyReport | None = None,
        journal: Journal | None = None,
        sans: tuple[list[str], list[str]] = (["docker.example.test"], ["10.0.0.5"]),
    ) -> None:
        self.host = Host(Path("/nonexistent-dockwiz-fixture"), label="fixture host")
        self.state = state or host_state()
        self.fixed_plan = plan
        self.apply_result = apply_result or apply_ok()
        self.report = report or verify_report()
        self.journal = journal
        self.sans = sans
        self.gate = threading.Event()
        self.gate.set()
        self.options: DayTwoOptions | None = None
        """Day two offered on the Mode step (None: the host is not secured by dockwiz)."""

    def inspect(self) -> HostState:
        return self.state

    def pending_recovery(self) -> Journal | None:
        return self.journal

    def recover(self, on_step: StepCallback) -> ApplyResult:
        self.journal = None
        return ApplyResult(ok=True, rolled_back=True, recovery_ok=True)

    def allowed_modes(
        self, state: HostState, listen_host: str | None, docker_version: str | None
    ) -> dict[Mode, Violation | None]:
        return allowed_modes(state, listen_host, docker_version)

    def check_intent(self, state: HostState, intent: Intent) -> list[Violation]:
        return check_intent(state, intent)

    def default_sans(self, listen_host: str) -> tuple[list[str], list[str]]:
        """The fixed names, plus the listen address itself unless it is a wildcard."""
        own = [] if is_wildcard(listen_host) else [strip_brackets(listen_host)]
        dns = [n for n in own if not is_ip(n)]
        ips = [n for n in own if is_ip(n)]
        return (list(dict.fromkeys([*self.sans[0], *dns])),
                list(dict.fromkeys([*self.sans[1], *ips])))

    def key_types(self) -> list[str]:
        return list(KEY_TYPES)

    def plan(self, intent: Intent) -> Plan:
        return self.fixed_plan or plan_for(intent)

    def apply(self, plan: Plan, on_step: StepCallback) -> ApplyResult:
        self.gate.wait(10)
        for step in self.apply_result.steps:
            on_step(step)
        return self.apply_result

    def verify(self, mode: Mode, plan: Plan | None) -> VerifyReport:
        return self.report

    def day_two_options(self, state: HostState) -> DayTwoOptions | None:
        return self.options

    def plan_renew(self) -> Plan:
        return self.fixed_plan or day_two_plan([], [])

    def plan_add_client(self, name: str) -> Plan:
        return self.fixed_plan or day_two_plan([name], [], new=True)

    def plan_revoke(self, name: str) -> Plan:
        assert self.options is not None
        keep = [n for n in self.options.client_names if n != name]
        return self.fixed_plan or day_two_plan(keep, [name])

    def verify_day_two(self, plan: Plan) -> VerifyReport:
        return self.report


@dataclass
class Calls:
    """What reached the backend, in call order: the choices the UI handed to the core."""

    checked: list[Intent] = field(default_factory=list)
    """Intents given to check_intent (the Mode step's Next)."""
    planned: list[Intent] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)
    """The plans the backend returned, one per planned intent."""
    applied: list[Plan] = field(default_factory=list)
    verified: list[tuple[Mode, Plan | None]] = field(default_factory=list)
    detected: list[tuple[list[str], list[str]]] = field(default_factory=list)
    """What SAN detection answered (the names the UI then offers)."""
    day_two: list[tuple[str, str | None]] = field(default_factory=list)
    """Day-two plans asked for: ("renew", None), ("add-client", NAME), ("revoke", NAME)."""
    verified_day_two: list[Plan] = field(default_factory=list)


class RecordingBackend:
    """Passes every call to ``inner`` unchanged and records the choices that went in."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.host = inner.host
        self.calls = Calls()

    def inspect(self) -> HostState:
        return self.inner.inspect()

    def pending_recovery(self) -> Journal | None:
        return self.inner.pending_recovery()

    def recover(self, on_step: StepCallback) -> ApplyResult:
        return self.inner.recover(on_step)

    def allowed_modes(
        self, state: HostState, listen_host: str | None, docker_version: str | None
    ) -> dict[Mode, Violation | None]:
        return self.inner.allowed_modes(state, listen_host, docker_version)

    def check_intent(self, state: HostState, intent: Intent) -> list[Violation]:
        self.calls.checked.append(intent.model_copy(deep=True))
        return self.inner.check_intent(state, intent)

    def default_sans(self, listen_host: str) -> tuple[list[str], list[str]]:
        dns, ips = self.inner.default_sans(listen_host)
        self.calls.detected.append((list(dns), list(ips)))
        return dns, ips

    def key_types(self) -> list[str]:
        return self.inner.key_types()

    def plan(self, intent: Intent) -> Plan:
        self.calls.planned.append(intent.model_copy(deep=True))
        plan = self.inner.plan(intent)
        self.calls.plans.append(plan)
        return plan

    def apply(self, plan: Plan, on_step: StepCallback) -> ApplyResult:
        self.calls.applied.append(plan)
        return self.inner.apply(plan, on_step)

    def verify(self, mode: Mode, plan: Plan | None) -> VerifyReport:
        self.calls.verified.append((mode, plan))
        return self.inner.verify(mode, plan)

    def day_two_options(self, state: HostState) -> DayTwoOptions | None:
        return self.inner.day_two_options(state)

    def _day_two(self, what: str, name: str | None, make: Callable[[], Plan]) -> Plan:
        self.calls.day_two.append((what, name))
        plan = make()
        self.calls.plans.append(plan)
        return plan

    def plan_renew(self) -> Plan:
        return self._day_two("renew", None, self.inner.plan_renew)

    def plan_add_client(self, name: str) -> Plan:
        return self._day_two("add-client", name, lambda: self.inner.plan_add_client(name))

    def plan_revoke(self, name: str) -> Plan:
        return self._day_two("revoke", name, lambda: self.inner.plan_revoke(name))

    def verify_day_two(self, plan: Plan) -> VerifyReport:
        self.calls.verified_day_two.append(plan)
        return self.inner.verify_day_two(plan)


def recorded(app: DockwizApp) -> Calls:
    """The calls an app built by ``fixed_app`` or ``recording_app`` made to its backend."""
    return cast(RecordingBackend, app.backend).calls


def fixed_app(backend: FixedBackend | None = None, **kwargs: Any) -> DockwizApp:
    return make_app(
        backend=RecordingBackend(backend or FixedBackend()), clock=lambda: NOW, **kwargs
    )


def recording_app(host: Host, **kwargs: Any) -> DockwizApp:
    """The real wizard on ``host`` (the core does the work), its backend calls recorded."""
    return make_app(backend=RecordingBackend(CoreBackend(host)), **kwargs)


async def until(
    pilot: Pilot[Any], what: str, cond: Callable[[], bool], timeout: float = 60
) -> None:
    """Wait for a condition, not for a time: poll between frames until ``cond()`` holds.

    An error dialog ends the wait at once with its message (a failed worker never becomes
    a plain timeout).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause()
        if isinstance(pilot.app.screen, ErrorDialog):
            message = pilot.app.screen.query_one("#error-message", Static).content
            pytest.fail(f"error dialog while waiting for {what}: {message}")
        if cond():
            return
        await pilot.pause(0.02)
    pytest.fail(f"timed out waiting for {what}; screen is {pilot.app.screen!r}")



async def wait_idle(pilot: Pilot[Any], timeout: float = 10.0) -> None:
    """Until no worker runs (the fixed backend answers at once) and the screen has repainted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause()
        if not any(w.is_running for w in pilot.app.workers):
            break
    await pilot.pause()
    await pilot.pause()


async def retype(pilot: Pilot[Any], widget_id: str, text: str) -> None:
    """Replace a field's text the way a user does: select to the start, delete to the end."""
    field = pilot.app.screen.query_one(widget_id, Input)
    field.focus()
    await pilot.press("ctrl+a", "ctrl+k", *text)
    await until(pilot, f"{widget_id} to read {text!r}", lambda: field.value == text, 10)


def on(app: DockwizApp, screen: type) -> Callable[[], bool]:
    """A condition for ``until``: ``app`` shows a ``screen``."""
    return lambda: isinstance(app.screen, screen)


async def to_mode(pilot: Pilot[Any], app: DockwizApp) -> None:
    """From the first screen, once inspect has finished, on to the Mode step."""
    await until(pilot, "inspect", lambda: app.wizard.host_state is not None)
    assert isinstance(app.screen, InspectScreen)
    await pilot.press("n")
    await until(pilot, "mode screen", on(app, ModeScreen))


async def apply_and_verify(pilot: Pilot[Any], app: DockwizApp, *, restarts: bool = True) -> None:
    """From Preview: Apply, confirm, wait for a successful apply (that restarted dockerd, or
    for a plan that needs no restart did not), then Verify and its report (real labs)."""
    await pilot.press("a")
    await until(pilot, "confirmation", on(app, ConfirmDialog))
    await pilot.press("y")
    await until(pilot, "apply result", lambda: app.wizard.apply_result is not None, 90)
    result = app.wizard.apply_result
    assert result is not None
    assert result.ok, result.model_dump_json(indent=2)
    steps = app.screen.query_one("#steps", Rows).text
    assert ("restart dockerd" in steps) == restarts and "FAILED" not in steps, steps
    await pilot.press("n")
    await until(pilot, "verify", on(app, VerifyScreen))
    await until(pilot, "verify report", lambda: app.wizard.verify_report is not None, 90)
