"""One run of the wizard: what it knows (WizardState) and the core it talks to (Backend).

Screens read and write the ``WizardState`` and ask the ``Backend`` for work in thread workers;
they never touch files or processes themselves. ``CoreBackend`` is the real core bound to one
Host; tests pass a backend with fixed data to ``make_app`` instead of patching internals.
Nothing here imports Textual, and the core is imported lazily so the first screen paints fast.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from dockwiz.docker_paths import TLS_PORT

if TYPE_CHECKING:
    from dockwiz.apply.journal import Journal
    from dockwiz.handoff import Place
    from dockwiz.host import Host
    from dockwiz.models.host_state import HostState
    from dockwiz.models.intent import Intent, Mode, Violation
    from dockwiz.models.lifecycle import ClientInfo, RenewalStatus
    from dockwiz.models.plan import Plan
    from dockwiz.models.results import ApplyResult, ApplyStep, VerifyReport

StepCallback = Callable[["ApplyStep"], None]


class DayTwo(StrEnum):
    """What the Mode step offers on a host dockwiz already secured with mutual TLS."""

    RENEW = "renew"
    ADD_CLIENT = "add-client"
    REVOKE = "revoke"


@dataclass
class DayTwoOptions:
    """What a secured host offers on day two: when its certificates expire, who has a bundle.

    None of it is offered unless the daemon verifies clients against dockwiz's own CA: only
    then can dockwiz issue, renew and revoke (see lifecycle/context.py).
    """

    status: RenewalStatus
    clients: list[ClientInfo]

    @property
    def client_names(self) -> list[str]:
        """The bundles that can be revoked (a revoked one is kept aside, not listed)."""
        return [c.name for c in self.clients if not c.revoked]


class Backend(Protocol):
    """What the wizard needs from the core; each call may block, so screens run it in a worker.

    Every parameter is data the call really uses: planning looks at the host afresh (it may
    have changed since the first screen), so it takes no HostState; verify probes the daemon
    itself and needs only the mode it should find and the plan that was applied.
    """

    host: Host

    def inspect(self) -> HostState: ...

    def pending_recovery(self) -> Journal | None: ...

    def recover(self, on_step: StepCallback) -> ApplyResult: ...

    def allowed_modes(
        self, state: HostState, listen_host: str | None, docker_version: str | None
    ) -> dict[Mode, Violation | None]: ...

    def check_intent(self, state: HostState, intent: Intent) -> list[Violation]: ...

    def default_sans(self, listen_host: str) -> tuple[list[str], list[str]]: ...

    def key_types(self) -> list[str]: ...

    def plan(self, intent: Intent) -> Plan: ...

    def apply(self, plan: Plan, on_step: StepCallback) -> ApplyResult: ...

    def verify(self, mode: Mode, plan: Plan | None) -> VerifyReport: ...

    # -- day two (lifecycle/): a host already secured with mutual TLS by dockwiz -------------
    def day_two_options(self, state: HostState) -> DayTwoOptions | None: ...

    def plan_renew(self) -> Plan: ...

    def plan_add_client(self, name: str) -> Plan: ...

    def plan_revoke(self, name: str) -> Plan: ...

    def verify_day_two(self, plan: Plan) -> VerifyReport: ...


class CoreBackend:
    """The real core bound to one Host; imports are lazy so the first screen paints fast.

    An apply or a recovery holds ``_busy`` from start to finish: whoever takes the host away
    afterwards (a throwaway lab's clean-up, after a dropped SSH session ended the wizard)
    calls :meth:`wait_idle` first, so the host ends applied or rolled back, never half.
    """

    def __init__(self, host: Host, place: Place | None = None) -> None:
        self.host = host
        self.place = place
        self._busy = threading.Lock()
        self._served_serial: int | None = None
        """The server certificate's serial before a day-two apply that replaces it."""

    def busy(self) -> bool:
        """An apply or a recovery is running now."""
        return self._busy.locked()

    def wait_idle(self) -> None:
        """Return once no apply or recovery is running (the transaction has finished)."""
        with self._busy:
            pass

    def inspect(self) -> HostState:
        from dockwiz.inspect import inspect_host

        return inspect_host(self.host)

    def pending_recovery(self) -> Journal | None:
        from dockwiz.apply import pending_recovery

        return pending_recovery(self.host)

    def recover(self, on_step: StepCallback) -> ApplyResult:
        from dockwiz.apply import recover

        with self._busy:
            return recover(self.host, on_step=_never_raises(on_step))

    def allowed_modes(
        self, state: HostState, listen_host: str | None, docker_version: str | None
    ) -> dict[Mode, Violation | None]:
        from dockwiz.policy import allowed_modes

        return allowed_modes(state, listen_host, docker_version)

    def check_intent(self, state: HostState, intent: Intent) -> list[Violation]:
        from dockwiz.policy import check_intent

        return list(check_intent(state, intent))

    def default_sans(self, listen_host: str) -> tuple[list[str], list[str]]:
        """The names clients can dial the daemon by on ``listen_host`` (the CLI's defaults:
        container bridges such as docker0 left out)."""
        from dockwiz.pki import default_sans

        dns, ips = default_sans(self.host, listen_host)
        return [str(d) for d in dns], [str(i) for i in ips]

    def key_types(self) -> list[str]:
        """The key types the PKI issues, in its order."""
        from dockwiz.pki import KEY_TYPES

        return [str(k) for k in KEY_TYPES]

    def plan(self, intent: Intent) -> Plan:
        """Planned from a fresh look (the host may have changed since the first screen),
        with dockwiz's own certificate files and other processes' ports taken into account."""
        from dockwiz.plan import plan_for_host

        _fresh, plan = plan_for_host(self.host, intent)
        return plan

    def apply(self, plan: Plan, on_step: StepCallback) -> ApplyResult:
        from dockwiz.apply import apply_plan
        from dockwiz.handoff import after_apply

        with self._busy:
            self._served_serial = self._serial_before(plan)
            result = apply_plan(self.host, plan, on_step=_never_raises(on_step))
            if result.ok:  # README.txt in the bundle now: the terminal may be gone by exit
                after_apply(self.host, result, self.place)
            return result

    def verify(self, mode: Mode, plan: Plan | None) -> VerifyReport:
        """Probe the daemon expecting ``mode``; the plan names the TCP endpoints it closed
        (they must be shut now) and the client bundle to probe with."""
        from dockwiz.verify import verify_host

        former: list[str] = []
        bundle = None
        if plan is not None:
            after = {e.url for e in plan.endpoints_after}
            former = [
                e.url
                for e in plan.endpoints_before
                if e.url not in after and e.url.startswith("tcp://")
            ]
            if plan.client_bundle:
                bundle = self.host.path(plan.client_bundle)
        return verify_host(
            self.host,
            expected_mode=mode.value,
            former_endpoints=former or None,
            bundle_dir=bundle,
        )

    # -- day two ------------------------------------------------------------------------------
    def day_two_options(self, state: HostState) -> DayTwoOptions | None:
        """Renew / add / revoke, when the daemon verifies clients against dockwiz's CA; None
        otherwise (or when the CA cannot be read: then only a change of mode is offered)."""
        from dockwiz.docker_paths import CA_DIR

        tls = state.tls
        if not (tls.enabled and tls.verifies_clients and tls.tlscacert and tls.tlscert):
            return None
        if not self.host.path(f"{CA_DIR}/ca.pem").is_file():
            return None
        from dockwiz.errors import DockwizError
        from dockwiz.lifecycle import list_clients, renewal_status
        from dockwiz.lifecycle.context import DayTwo as DayTwoContext

        try:  # an offer, never a reason for inspect to fail (unreadable as non-root, say)
            status = renewal_status(self.host, ctx=DayTwoContext(self.host, state))
            clients = list_clients(self.host, include_revoked=False)
        except (DockwizError, OSError, ValueError):
            return None
        if status.server is None or status.ca is None:
            return None
        return DayTwoOptions(status=status, clients=clients)

    def plan_renew(self) -> Plan:
        """The server certificate renewed now: the admin picked it, so due or not (the Mode
        step shows when it expires and when it would be due)."""
        from dockwiz.lifecycle import plan_renew

        return plan_renew(self.host, force=True)

    def plan_add_client(self, name: str) -> Plan:
        from dockwiz.lifecycle import plan_add_client

        return plan_add_client(self.host, name)

    def plan_revoke(self, name: str) -> Plan:
        from dockwiz.lifecycle import plan_revoke

        return plan_revoke(self.host, name)

    def verify_day_two(self, plan: Plan) -> VerifyReport:
        """Verify's probes plus the day-two proof: the new certificate is served (when the plan
        replaced it), every bundle the plan wrote gets in, a revoked bundle is refused."""
        from dockwiz import pki
        from dockwiz.lifecycle import keeps_access, revoked_by
        from dockwiz.pki.lifecycle import revoked_dir
        from dockwiz.verify import verify_host

        kept = {n: self.host.path(pki.client_dir(n)) for n in keeps_access(plan)}
        gone = {n: self.host.path(revoked_dir(n)) for n in revoked_by(plan)}
        bundle = self.host.path(plan.client_bundle) if plan.client_bundle else None
        return verify_host(
            self.host,
            expected_mode="mtls",
            bundle_dir=bundle or next(iter(kept.values()), None),
            old_serial=self._served_serial,
            accepted_bundles=kept,
            refused_bundles=gone,
        )

    def _serial_before(self, plan: Plan) -> int | None:
        """The serial served now, when ``plan`` restarts dockerd with a new server
        certificate: verify proves the daemon serves the new one afterwards."""
        new_server = any(c.role == "server" and c.action != "reuse" for c in plan.certs)
        restarts = any(a.kind == "restart" for a in plan.actions)
        tcp = [e.url for e in plan.endpoints_before if e.url.startswith("tcp://")]
        if not (new_server and restarts and tcp):
            return None
        from dockwiz.verify.lifecycle import served_serial

        with contextlib.suppress(Exception):  # no serial: verify then skips that one probe
            return served_serial(self.host, tcp[0])
        return None


def make_plan(backend: Backend, wizard: WizardState) -> Plan:
    """The plan for what the admin picked: a day-two operation, or a mode (the Intent)."""
    choices = wizard.choices
    match choices.day_two:
        case DayTwo.RENEW:
            return backend.plan_renew()
        case DayTwo.ADD_CLIENT:
            return backend.plan_add_client(choices.client_name)
        case DayTwo.REVOKE:
            return backend.plan_revoke(choices.revoke_name or "")
        case None:
            return backend.plan(wizard.intent())


def run_verify(backend: Backend, wizard: WizardState) -> VerifyReport:
    """Verify what was done: a day-two plan with its own proof, a mode as the mode."""
    if wizard.choices.day_two is not None and wizard.plan is not None:
        return backend.verify_day_two(wizard.plan)
    return backend.verify(wizard.mode(), wizard.plan)


def _never_raises(on_step: StepCallback) -> StepCallback:
    """The screen's progress callback, made harmless: once the app has gone (a dropped SSH
    session) telling it raises, and that must not break the transaction or its rollback."""

    def tell(step: ApplyStep) -> None:
        with contextlib.suppress(Exception):  # progress is best effort; the apply is not
            on_step(step)

    return tell


@dataclass
class Choices:
    """What the admin picked so far; kept across back navigation, turned into an Intent."""

    mode: str | None = None
    listen_host: str | None = None
    port: int = TLS_PORT
    dns_names: list[str] = field(default_factory=list)
    ip_addresses: list[str] = field(default_factory=list)
    sans_detected: bool = False
    """The defaults for ``sans_for`` are in the lists."""
    sans_for: str | None = None
    """The listen address the derived SANs were derived for; a new one replaces them."""
    sans_own: list[str] = field(default_factory=list)
    """Names the admin typed: kept whatever the listen address becomes."""
    key_type: str | None = None
    validity_days: int = 365
    hardening: set[str] = field(default_factory=set)
    docker_version: str | None = None
    """Plan as if this Docker version ran (like the CLI's --docker-version)."""
    day_two: DayTwo | None = None
    """Renew, add or revoke instead of a change of mode (None: a mode was picked)."""
    client_name: str = ""
    """The new client's name (add a client), checked like the CLI's."""
    revoke_name: str | None = None
    """The client to lock out (revoke a client)."""


    def derive_sans(self, listen_host: str, dns: list[str], ips: list[str]) -> None:
        """The defaults for a (new) listen address replace the ones derived for the old one;
        the names the admin added stay, and so does a derived name the admin removed while
        the address did not change (this is only called when it does)."""
        own_dns = [n for n in self.dns_names if n in self.sans_own]
        own_ips = [n for n in self.ip_addresses if n in self.sans_own]
        self.dns_names = list(dict.fromkeys([*dns, *own_dns]))
        self.ip_addresses = list(dict.fromkeys([*ips, *own_ips]))
        self.sans_for = listen_host
        self.sans_detected = True


@dataclass
class WizardState:
    """Everything one run of the wizard knows; screens render from it and write choices to it."""

    host_state: HostState | None = None
    choices: Choices = field(default_factory=Choices)
    plan: Plan | None = None
    apply_result: ApplyResult | None = None
    verify_report: VerifyReport | None = None
    lab_note: str | None = None
    day_two_options: DayTwoOptions | None = None
    """Set by the Inspect step when the host is already secured with mutual TLS by dockwiz."""

    @property
    def read_only(self) -> bool:
        """Not root: inspect what can be read, preview, but never write."""
        return self.host_state is not None and not self.host_state.is_root

    def mode(self) -> Mode:
        """The chosen mode; unix until the admin picks one."""
        from dockwiz.models.intent import Mode

        return Mode(self.choices.mode or Mode.UNIX)

    def intent(self) -> Intent:
        """The choices as the core's Intent; a bad value raises pydantic's ValidationError."""
        from dockwiz.models.intent import TCP_MODES, Hardening, Intent

        c = self.choices
        data: dict[str, Any] = {
            "mode": self.mode(),
            "hardening": Hardening.from_keys(sorted(c.hardening)),
            "docker_version": c.docker_version,
        }
        if data["mode"] in TCP_MODES:
            data.update(
                listen_host=c.listen_host,
                listen_port=c.port,
                sans_dns=list(c.dns_names),
                sans_ip=list(c.ip_addresses),
                server_days=c.validity_days,
                client_days=c.validity_days,
            )
            if c.key_type:
                data["key_type"] = c.key_type
        return Intent.model_validate(data)

    def context_handoff(self) -> list[str]:
        """After a day-two apply: the ``docker context update`` (or create) lines for every
        bundle it wrote; a context keeps its own copy of a bundle (empty otherwise)."""
        result, plan = self.apply_result, self.plan
        if self.choices.day_two is None or plan is None or result is None or not result.ok:
            return []
        from dockwiz.lifecycle import context_commands

        return context_commands(plan)

    def context_handoff_text(self) -> str:
        """:meth:`context_handoff` as printed after the wizard ends ("" when there is none)."""
        lines = self.context_handoff()
        if not lines:
            return ""
        head = ("Clients that copied a bundle into a docker context must update it "
                "(the context keeps its own copy):")
        return "\n".join([head, *(f"  {line}" for line in lines)]) + "\n"
