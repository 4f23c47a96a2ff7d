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
from typing import TYPE_CHECKING, Any, Protocol

from dockwiz.docker_paths import TLS_PORT

if TYPE_CHECKING:
    from dockwiz.apply.journal import Journal
    from dockwiz.handoff import Place
    from dockwiz.host import Host
    from dockwiz.models.host_state import HostState
    from dockwiz.models.intent import Intent, Mode, Violation
    from dockwiz.models.plan import Plan
    from dockwiz.models.results import ApplyResult, ApplyStep, VerifyReport

StepCallback = Callable[["ApplyStep"], None]


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
