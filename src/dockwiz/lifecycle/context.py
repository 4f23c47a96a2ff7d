"""What every day-two plan starts from: the running daemon's TLS files, endpoints and CA.

Day two acts on a daemon that is already secured and in use, so nothing is assumed: the paths
are the ones daemon.json (or the unit's flags) names, the endpoints the ones it listens on now,
and the CA must be the one the daemon trusts. A plan built here is an ordinary
:class:`~dockwiz.models.plan.Plan`: same preview, same ``apply_plan``, same verify.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from dockwiz.docker_paths import CA_DIR, CLIENTS_DIR
from dockwiz.errors import DockwizError

if TYPE_CHECKING:
    from cryptography import x509

    from dockwiz.host import Host
    from dockwiz.models.host_state import HostState
    from dockwiz.models.intent import Intent
    from dockwiz.models.plan import CertAction, Endpoint, Plan


class DayTwo:
    """The secured daemon as it runs now (read once per plan)."""

    def __init__(self, host: Host, state: HostState) -> None:
        from dockwiz.plan import endpoints_before

        self.host = host
        self.state = state
        tls = state.tls
        self.tls_on = tls.enabled and bool(tls.tlscert and tls.tlskey)
        self.mtls = self.tls_on and tls.verifies_clients and bool(tls.tlscacert)
        self.cert_path = tls.tlscert or ""
        self.key_path = tls.tlskey or ""
        self.trust_path = tls.tlscacert or ""
        self.endpoints: list[Endpoint] = endpoints_before(state)

    # -- reading ------------------------------------------------------------------------------
    def require_tls(self) -> None:
        if not self.tls_on:
            raise DockwizError(
                f"the daemon on {self.host.label} does not use TLS: there is no certificate "
                "to renew",
                "secure it first: dockwiz apply --mode mtls --listen ADDRESS:2376",
            )

    def require_mtls(self) -> None:
        self.require_tls()
        if not self.mtls:
            raise DockwizError(
                "the daemon does not verify client certificates (TLS without tlsverify/"
                "tlscacert): client bundles would change nothing",
                "switch to mutual TLS: dockwiz apply --mode mtls",
            )

    def server_cert(self) -> x509.Certificate:
        from dockwiz import pki

        self.require_tls()
        try:
            data, _ = pki.read_material(self.host, self.cert_path)
        except OSError as exc:
            raise DockwizError(f"cannot read the server certificate {self.cert_path}: "
                               f"{exc.strerror or exc}", "run as root, or check the file") from exc
        return pki.load_certificate(data, self.cert_path)

    def ca_cert(self) -> x509.Certificate:
        from dockwiz import pki

        try:
            data, _ = pki.read_material(self.host, f"{CA_DIR}/ca.pem")
        except OSError as exc:
            raise DockwizError(
                f"no CA in {CA_DIR}: dockwiz can renew only what its own CA issued",
                "issue the material with 'dockwiz certs init' or 'dockwiz apply --mode mtls'",
            ) from exc
        return pki.load_certificate(data)

    def trusted(self) -> list[x509.Certificate]:
        """The CA certificates the daemon's tlscacert holds now."""
        from dockwiz import pki
        from dockwiz.pki.lifecycle import pem_certs

        if not self.trust_path:
            return []
        try:
            data, _ = pki.read_material(self.host, self.trust_path)
        except OSError:
            return []
        return pem_certs(data)

    def check_ca_is_trusted(self) -> None:
        """The daemon must trust the CA dockwiz holds: otherwise a new bundle or a rewritten
        tlscacert would silently change who gets in."""
        from cryptography.hazmat.primitives import hashes

        if not self.mtls:
            return
        ours = self.ca_cert().fingerprint(hashes.SHA256())
        if not any(c.fingerprint(hashes.SHA256()) == ours for c in self.trusted()):
            raise DockwizError(
                f"the daemon's tlscacert {self.trust_path} does not hold the CA in {CA_DIR}",
                "dockwiz manages only material from its own CA: re-issue everything with "
                "'dockwiz apply --mode mtls' (new CA, server certificate and bundle)",
            )

    def client_names(self) -> list[str]:
        from dockwiz import pki

        return pki.list_clients(self.host)

    def bundles_signed_by(self, cas: list[x509.Certificate]) -> list[str]:
        """The client bundle directories whose certificate one of ``cas`` signed."""
        from dockwiz import pki

        out: list[str] = []
        for name in self.client_names():
            path = f"{CLIENTS_DIR}/{name}/cert.pem"
            try:
                cert = pki.load_certificate(pki.read_material(self.host, path)[0])
            except (OSError, DockwizError):
                continue
            if any(pki.verify_issued_by(cert, ca) is None for ca in cas):
                out.append(f"{CLIENTS_DIR}/{name}")
        return out

    def working_bundle(self) -> str | None:
        """A client bundle the daemon accepts now, for the health wait (mTLS only)."""
        accepted = self.bundles_signed_by(self.trusted())
        return accepted[0] if accepted else None

    # -- building -----------------------------------------------------------------------------
    def intent(self) -> Intent:
        from dockwiz.models.intent import Intent, Mode

        mode = Mode.MTLS if self.mtls else Mode.TLS if self.tls_on else Mode.UNIX
        tls_dir = str(PurePosixPath(self.cert_path).parent) if self.cert_path else None
        return Intent(mode=mode, **({"tls_dir": tls_dir} if tls_dir else {}))

    def ca_action(self, action: str, *, trust_previous: bool, days: int | None = None,
                  key_type: str | None = None, reason: str = "") -> CertAction:
        from dockwiz import pki
        from dockwiz.models.plan import CertAction

        if pki.ca_key_encrypted(self.host):
            # checked here, not half-way through the transaction: the apply cannot ask
            raise DockwizError(
                f"the CA key in {CA_DIR} is passphrase-protected: renew and clients cannot ask "
                "for the passphrase inside the transaction",
                "renew the server certificate with 'dockwiz certs renew --passphrase-file F'",
            )
        return CertAction(
            role="ca", action=action, cert_path=f"{CA_DIR}/ca.pem",
            key_path=f"{CA_DIR}/ca-key.pem", trust_path=self.trust_path or None,
            trust_previous=trust_previous, days=days or pki.DEFAULT_CA_DAYS,
            key_type=key_type or pki.key_type_of(self.ca_cert().public_key()), reason=reason,
        )

    def plan(self, certs: list[CertAction], *, restart: bool, why: str,
             client_bundle: str | None, notes: list[str] | None = None,
             warnings: list[str] | None = None) -> Plan:
        from dockwiz.models.plan import Plan, ServiceAction

        actions = [ServiceAction(kind="restart", reason=why)] if restart else []
        return Plan(
            intent=self.intent(), docker_version=self.state.version.effective,
            certs=certs, actions=actions, endpoints_before=list(self.endpoints),
            endpoints_after=list(self.endpoints), client_bundle=client_bundle,
            running_containers=self.state.running_containers, notes=notes or [],
            warnings=warnings or [],
            daemon_json_after=self.state.daemon_json.data,  # day two leaves it as it is
        )


def day_two(host: Host) -> DayTwo:
    from dockwiz.inspect import inspect_host

    return DayTwo(host, inspect_host(host))


def live_restore_wanted(plan: Plan, state: HostState) -> bool:
    """DOMAIN §9: the day-two restart would stop running containers (live-restore is off)."""
    return (any(a.kind == "restart" for a in plan.actions) and state.daemon_running
            and not state.live_restore and (state.running_containers or 0) > 0)


def with_live_restore(host: Host, plan: Plan) -> Plan:
    """The plan with live-restore switched on by a reload first (SIGHUP re-reads it, DOMAIN
    §9), so running containers survive the restart; daemon.json keeps it afterwards (it is in
    the plan's files, hence backed up and restored by a rollback like any file)."""
    from dockwiz import daemon_json as dj
    from dockwiz.docker_paths import DAEMON_JSON
    from dockwiz.models.plan import FileChange, ServiceAction

    state = day_two(host).state
    current = state.daemon_json
    if current.data is None or current.text is None or current.has_comments \
            or current.has_trailing_commas or state.hosts_conflict:
        raise DockwizError("daemon.json cannot take live-restore as it is",
                           "fix it first: dockwiz apply --mode mtls --hardening live-restore")
    after = dj.render({**current.data, "live-restore": True})
    change = FileChange(path=current.path or DAEMON_JSON, before=current.text, after=after,
                        mode=current.mode or 0o644, mode_before=current.mode,
                        role="daemon.json", reason="live-restore: containers keep running")
    reload = ServiceAction(kind="reload", stage=change, reason=(
        f"switch live-restore on first (SIGHUP re-reads it), so the "
        f"{state.running_containers or 'running'} container(s) keep running through the restart"))
    return plan.model_copy(update={"files": [*plan.files, change],
                                   "actions": [reload, *plan.actions],
                                   "daemon_json_after": {**current.data, "live-restore": True}})

