"""Security and correctness findings from a HostState, the way a Docker expert would read it.

Every finding says what the daemon really does (DOMAIN.md: the v27 rule, the 15 s startup sleep,
the hosts conflict, the silent ~/.docker fallback), the concrete fix, and the CIS Docker
Benchmark id where the benchmark has one. Pure function of the state: no I/O, so the plan, the
TUI and the CLI all agree on what is wrong.

One module on purpose (~770 lines): it is one family, the checks in ``CHECKS``, each a small
pure function of the HostState; read top to bottom it is the list an auditor works through,
and every check shares the same few helpers (``_f``, ``tcp_endpoints``, ``addresses``).
Certificates are judged in pki/checks.py, TCP sources found in effective.py: findings only
word them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from dockwiz import dockerd_flags
from dockwiz.daemon_facts import Exposure, unauthenticated_tcp_text
from dockwiz.models.host_state import (
    SEVERITY_ORDER,
    CertInfo,
    Finding,
    HostState,
    Listener,
    Severity,
)
from dockwiz.models.lifecycle import RenewalSchedule

MTLS_FIX = (
    "dockwiz plan --mode mtls --listen ADDR:2376, then dockwiz apply (mutual TLS), or "
    "--mode unix / --mode ssh to drop TCP"
)


def evaluate(state: HostState) -> list[Finding]:
    """All findings for ``state``, most severe first (stable within a severity)."""
    found: list[Finding] = []
    for check in CHECKS:
        found.extend(check(state))
    return sorted(found, key=lambda f: SEVERITY_ORDER[f.severity])


# -- helpers ---------------------------------------------------------------------------------
def option(state: HostState, key: str) -> Any:
    """An option's effective value: a command-line flag wins over daemon.json (same name)."""
    if key in state.flag_options:
        return state.flag_options[key]
    data = state.daemon_json.data or {}
    return data.get(key)


def tcp_endpoints(state: HostState) -> list[Listener]:
    """TCP endpoints that are bound now (observed) or will be at the next start (configured)."""
    seen: dict[str, Listener] = {}
    for listener in [*state.configured_hosts, *state.listeners]:
        if listener.kind == "tcp" and bind_key(listener) not in seen:
            seen[bind_key(listener)] = listener
    return list(seen.values())


def addresses(listeners: Iterable[Listener]) -> str:
    """Each address, with the file and line that opens it when known (effective.py)."""
    return ", ".join(sorted({
        f"{lst.address} (from {lst.origin})" if lst.origin else lst.address
        for lst in listeners
    }))


def _f(
    id_: str, severity: Severity, title: str, why: str, fix: str,
    cis: str | None = None, evidence: str | None = None,
) -> Finding:
    return Finding(id=id_, severity=severity, title=title, why=why, fix=fix, cis=cis,
                   evidence=evidence)


# -- daemon state ----------------------------------------------------------------------------
def check_daemon(state: HostState) -> list[Finding]:
    if not state.docker_installed:
        return [_f("DW-NOT-INSTALLED", "info", "dockerd is not installed",
                   "No dockerd binary was found on the PATH; only configuration files were read.",
                   "Install Docker (Debian: apt-get install docker.io) before securing it.")]
    if state.daemon_running:
        return []
    if state.daemon_error:
        return [_f("DW-DAEMON-FAILS", "critical", "The Docker daemon does not start",
                   "dockerd refuses to start with the current configuration, so every "
                   "container and client on this host is down until it is fixed.",
                   "Fix the configuration error below (dockwiz plan repairs daemon.json and the "
                   "hosts conflict), then start the daemon.",
                   evidence=state.daemon_error)]
    return [_f("DW-NOT-RUNNING", "info", "The Docker daemon is not running",
               "Listeners, the API version and running containers could not be observed; the "
               "findings come from the configuration the daemon would start with.",
               "Start the daemon (systemctl start docker) and inspect again.")]


def check_unreadable(state: HostState) -> list[Finding]:
    if not state.unreadable:
        return []
    return [_f("DW-PARTIAL", "info", f"{len(state.unreadable)} path(s) could not be read",
               "Inspect never guesses: what it could not read is not judged, so findings about "
               "those files are missing.",
               "Run dockwiz inspect as root to see everything.",
               evidence="; ".join(state.unreadable))]


def check_rootless(state: HostState) -> list[Finding]:
    if not state.rootless:
        return []
    return [_f("DW-ROOTLESS", "info", "The daemon runs rootless",
               "A rootless daemon runs as an ordinary user, so API access is that user's "
               "privileges, not root's; its socket lives under $XDG_RUNTIME_DIR.",
               "Nothing to fix; TCP exposure and TLS findings still apply.",
               evidence=f"uid {state.process.uid}" if state.process else None)]


# -- TCP exposure and the v27 rule -----------------------------------------------------------
_API_WARNING = re.compile(r"API is accessible on (https?)://(\S+?)\s+without")


def daemon_says(state: HostState, listeners: Iterable[Listener], scheme: str) -> str:
    """The daemon's own ``/info`` warnings about these endpoints (``scheme`` http: no
    encryption; https: no client verification), quoted as an evidence suffix, or ""."""
    wanted = {bind_key(lst) for lst in listeners}
    quoted: list[str] = []
    for warning in state.daemon_warnings:
        first = warning.strip().splitlines()[0].strip() if warning.strip() else ""
        m = _API_WARNING.search(first)
        if m is None or m.group(1) != scheme:
            continue
        host, _, port = m.group(2).rpartition(":")
        probe = Listener(kind="tcp", address=f"tcp://{m.group(2)}", host=host.strip("[]"),
                         port=int(port) if port.isdigit() else None)
        if bind_key(probe) in wanted:
            quoted.append(f'"{first}"')
    return f"; the daemon itself warns: {' '.join(quoted)}" if quoted else ""


def check_tcp(state: HostState) -> list[Finding]:
    tcp = tcp_endpoints(state)
    remote = [t for t in tcp if not t.loopback]
    local = [t for t in tcp if t.loopback]
    out: list[Finding] = []
    if remote and not state.tls.enabled:
        out.append(_f(
            "DW-TCP-PLAIN", "critical", "The Docker API is open over plain TCP on the network",
            "Anyone who can reach this port gets root on this host: the API is unencrypted and "
            "unauthenticated (any client can start a privileged container that mounts /).",
            MTLS_FIX, cis="2.7",
            evidence=addresses(remote) + daemon_says(state, remote, "http")))
    elif remote and not state.tls.verifies_clients:
        out.append(_f(
            "DW-TCP-NOVERIFY", "critical",
            "TLS without client verification on a network address",
            "TLS only encrypts: without tlsverify and a CA, any client that can reach the port "
            "still gets root on this host.",
            MTLS_FIX, cis="2.7",
            evidence=addresses(remote) + daemon_says(state, remote, "https")))
    if local and not state.tls.verifies_clients:
        out.append(_f(
            "DW-TCP-LOCAL", "high", "The Docker API listens on loopback TCP without mutual TLS",
            "Every local user and process (not only root and the docker group, which the unix "
            "socket's mode would enforce) gets root through this port.",
            "dockwiz plan --mode unix (drop TCP) or --mode mtls", cis="2.7",
            evidence=addresses(local)
            + daemon_says(state, local, "https" if state.tls.enabled else "http")))
    out.extend(check_v27(state, remote))
    return out


def check_v27(state: HostState, remote: list[Listener]) -> list[Finding]:
    """What dockerd itself checks: tlsverify on a non-loopback TCP host. (tlsverify without a
    CA passes dockerd's check; DW-TLSVERIFY-NO-CA explains what it verifies against.)

    The title and text say what THIS daemon does (daemon_facts, measured per version) and,
    apart, what Docker announced: a 28.5 daemon serving plain TCP is the proof that "27 and
    later fail to start" is not what it does."""
    if not remote or state.tls.verifies_clients:
        return []
    major = state.version.major
    explicit = state.tls.tls is not None or state.tls.tlsverify is not None
    exposure: Exposure = "tls-only" if state.tls.tls or state.tls.tlsverify is not None \
        else "plain"
    why = unauthenticated_tcp_text(major, exposure, tls_explicit=explicit)
    evidence = f"version {state.version.effective or 'unknown'}; " + addresses(remote)
    if major is None or major >= 27:
        shown = "unknown version" if major is None else f"Docker {major}"
        return [_f("DW-V27-RULE", "critical",
                   f"{shown}: TCP on a network address without mutual TLS, against the rule "
                   "Docker announced for 27 and later",
                   f"{why} dockwiz treats it as the hard failure Docker announced.",
                   MTLS_FIX, cis="2.7", evidence=evidence)]
    return [_f("DW-V27-RULE", "high",
               f"Docker {major}: TCP on a network address without mutual TLS (Docker announced "
               "its end for 27 and later)",
               f"{why} On 27 or later dockwiz refuses this configuration.",
               MTLS_FIX, cis="2.7", evidence=evidence)]


def check_config_drift(state: HostState) -> list[Finding]:
    """A running daemon whose TCP listeners differ from its config: a restart changes them."""
    if not state.daemon_running or state.process is None:
        return []
    configured = {bind_key(t) for t in state.configured_hosts if t.kind == "tcp"}
    observed = {bind_key(t) for t in state.listeners if t.kind == "tcp"}
    if not state.listeners or configured == observed:
        return []
    return [_f("DW-CONFIG-DRIFT", "medium",
               "The running daemon's TCP listeners differ from its configuration",
               "The configuration changed since the daemon started: the next restart (an "
               "upgrade, a reboot) switches to listeners nobody has tested yet.",
               "Review with dockwiz plan and apply it as a transaction, or restart deliberately.",
               evidence=f"configured: {', '.join(sorted(configured)) or 'none'}; listening: "
               f"{', '.join(sorted(observed)) or 'none'}")]


def bind_key(listener: Listener) -> str:
    """Go binds 0.0.0.0 as a dual-stack [::] socket; localhost as 127.0.0.1: same endpoint."""
    host = listener.host or ""
    if _wildcard(host):
        host = "*"
    elif host == "localhost":
        host = "127.0.0.1"
    return f"{host}:{listener.port}"



def endpoint_key(listener: Listener) -> str:
    """One key per real endpoint: TCP by :func:`bind_key`; a unix socket under /var/run is the
    same file as under /run (a symlink on every systemd-era Linux, and in labs)."""
    if listener.kind == "tcp":
        return bind_key(listener)
    return listener.address.replace("unix:///var/run/", "unix:///run/", 1)


def merged_endpoints(state: HostState) -> list[Listener]:
    """What the daemon is configured with, then what it was seen serving besides (Go reports a
    0.0.0.0 bind as [::], so the same endpoint is not listed twice)."""
    seen = {endpoint_key(c) for c in state.configured_hosts}
    extra: list[Listener] = []
    for observed in state.listeners:
        key = endpoint_key(observed)
        if key not in seen:
            seen.add(key)
            extra.append(observed)
    return [*state.configured_hosts, *extra]

# -- daemon.json and the unit ----------------------------------------------------------------
def check_daemon_json(state: HostState) -> list[Finding]:
    dj = state.daemon_json
    out: list[Finding] = []
    broken_sev: Severity = "critical" if not state.daemon_running else "high"
    consequence = ("The daemon does not start." if not state.daemon_running
                   else "The running daemon started from an older file; the next restart fails.")
    if dj.error is not None:
        out.append(_f(
            "DW-JSON-INVALID", broken_sev,
            f"{dj.path} is not valid JSON (line {dj.error.line}, column {dj.error.col})",
            "dockerd reads daemon.json as strict JSON and refuses to start on any error "
            f"(moby#44905). {consequence}",
            "dockwiz plan repairs comments and trailing commas" if dj.repairable
            else f"Edit {dj.path} at line {dj.error.line}, column {dj.error.col}.",
            evidence=f"line {dj.error.line}, column {dj.error.col}: {dj.error.message}"))
    if dj.has_comments or dj.has_trailing_commas:
        what = " and ".join(
            w for w, on in (("comments", dj.has_comments),
                            ("trailing commas", dj.has_trailing_commas)) if on)
        out.append(_f(
            "DW-JSON-COMMENTS", broken_sev, f"{dj.path} contains {what}",
            "Tutorials annotate daemon.json with // comments, but JSON has none: dockerd stops "
            f"with a parse error. {consequence}",
            "dockwiz plan strips them and shows the repair in its diff."
            if dj.repairable else f"Remove the {what} from {dj.path} by hand.",
            evidence=what))
    if dj.exists and dj.readable:
        out.extend(_file_mode("DW-JSON-MODE", dj.path, dj.mode, dj.uid, 0o644, "3.18", "3.17"))
    return out


def check_hosts_conflict(state: HostState) -> list[Finding]:
    if not state.hosts_conflict:
        return []
    sev: Severity = "critical" if not state.daemon_running else "high"
    return [_f(
        "DW-HOSTS-CONFLICT", sev, "hosts is set both as a flag and in daemon.json",
        "dockerd refuses to start when a directive is given both on the command line (the "
        "packaged unit passes -H fd://) and in daemon.json; systemd then retries until 'start "
        "request repeated too quickly' (moby#25471, moby#38495).",
        "dockwiz plan writes a drop-in /etc/systemd/system/docker.service.d/override.conf that "
        "resets ExecStart= without -H and keeps the unix socket in daemon.json's hosts; never "
        "edit the packaged unit.",
        evidence=state.hosts_conflict)]


def check_unit(state: HostState) -> list[Finding]:
    out: list[Finding] = []
    unit = state.unit
    if not unit.exists:
        out.append(_f("DW-NO-UNIT", "info", "No docker.service unit was found",
                      "Without systemd's unit the daemon's command line is known only from a "
                      "running process; hosts and TLS flags of the next start cannot be checked.",
                      "Nothing to fix if dockerd is started another way (SysV, rootless, a lab).",
                      evidence="; ".join(p for p in unit.problems if "not found" in p) or None))
    for problem in unit.problems:
        if not unit.exists and "not found" in problem:
            continue
        out.append(_f("DW-UNIT-PROBLEM", "medium", "docker.service has a problem", problem,
                      "Fix the unit or its drop-in, then systemctl daemon-reload.",
                      evidence=unit.path))
    overriding = [d.path for d in unit.dropins if d.sets_exec_start]
    if overriding:
        out.append(_f("DW-UNIT-OVERRIDE", "info", "A drop-in replaces the daemon's ExecStart",
                      "The command line in the packaged unit is not what runs: the drop-in's "
                      "flags win, and the plan must keep them (seed 002's override.conf).",
                      "Nothing to fix; dockwiz plan accounts for the override.",
                      evidence=", ".join(overriding)))
    if unit.exists and unit.path is not None:
        out.extend(_file_mode("DW-UNIT-MODE", unit.path, unit.mode, None, 0o644, "3.2", "3.1"))
    return out


# -- quoted flag values ----------------------------------------------------------------------
QUOTE_STRIPPING_TLS_FLAGS = frozenset({"tlscacert", "tlscert", "tlskey"})
"""Flags whose value dockerd 20.10.24 unquotes (moby opts.QuotedString); measured: 26.1.5 and
28.5.2 no longer do and open ``"/path"`` literally ("open \"/x\": no such file or
directory", at a real start and at ``--validate``)."""


def quoted_flag_values(argv: list[str]) -> list[dockerd_flags.Arg]:
    """Options in a dockerd command line (as dockerd receives it, after systemd's unquoting)
    whose value is wrapped in a pair of quotes, read by the one parser."""
    return [a for a in dockerd_flags.parse_dockerd_args(argv).flags
            if a.kind != "bool" and a.value is not None and len(a.value) >= 2
            and a.value[0] == a.value[-1] and a.value[0] in "\"'"]


def check_quoted_flags(state: HostState) -> list[Finding]:
    """Quotes that reach dockerd as part of a value (``${VAR}`` substitution, an init script's
    ``$DOCKER_OPTS``, a unit word quoted twice): per version, what dockerd does with them."""
    sources: list[tuple[str, list[str]]] = []
    if state.process is not None and state.process.argv:
        sources.append(("the running dockerd's command line", state.process.argv))
    if state.unit.exec_start:
        sources.append((f"ExecStart of {state.unit.exec_start_source or 'docker.service'} "
                        "(as systemd passes it)", state.unit.exec_start))
    seen: set[tuple[str, str]] = set()
    out: list[Finding] = []
    major = state.version.major
    for where, argv in sources:
        for arg in quoted_flag_values(argv):
            value = arg.value or ""
            if (arg.name, value) in seen:
                continue
            seen.add((arg.name, value))
            bare = value[1:-1]
            tls_file = arg.name in QUOTE_STRIPPING_TLS_FLAGS
            if tls_file and major is not None and major < 26:
                severity: Severity = "low"
                why = (f"dockerd {major} strips one pair of quotes around --{arg.name} (measured "
                       "on 20.10.24), but 26.1.5 and 28.5.2 do not: after an upgrade dockerd "
                       f"opens {value} literally, cannot load its TLS files and does not start.")
            elif tls_file:
                severity = "high"
                why = (f"{'dockerd ' + str(major) if major else 'This dockerd'} takes the quotes "
                       f"as part of the path (measured on 26.1.5 and 28.5.2: 'open {value}: no "
                       "such file or directory'): TLS setup fails and the daemon does not "
                       "start.")
            else:
                severity = "low"
                why = (f"dockerd takes the quotes as part of --{arg.name}'s value on every "
                       f"version: it gets {value}, not {bare}.")
            out.append(_f(
                "DW-FLAG-QUOTED", severity, f"--{arg.name} has a quoted value: {value}", why,
                f"Write it without quotes: --{arg.name}={bare} (in a unit, quote a whole word "
                "only when it holds a blank; ${VAR} keeps quotes in the value, $VAR removes "
                "them).", evidence=f"{where}: {' '.join(arg.tokens)}"))
    return out


# -- TLS settings and certificates -----------------------------------------------------------
def tls_by_flag(state: HostState) -> bool:
    """TLS switched on by a command-line flag (not only in daemon.json).

    This decides where dockerd's TLS files default from: ``~/.docker/{ca,cert,key}.pem`` of
    its user are flag defaults, applied only when ``--tls``/``--tlsverify`` is on the command
    line; TLS enabled in daemon.json alone starts from *empty* paths (moby cmd/dockerd,
    ``setDefaultOptions`` and ``loadDaemonCliConfig``, v20.10 to v28).
    """
    return "tls" in state.flag_options or "tlsverify" in state.flag_options


def check_tls_settings(state: HostState) -> list[Finding]:
    tls = state.tls
    out: list[Finding] = []
    if tls.verifies_clients and tls.tlscacert is None:
        out.append(_no_ca_finding(state))
    if tls.enabled and (tls.tlscert is None or tls.tlskey is None):
        out.append(_f(
            "DW-TLS-DEFAULT-CERT", "medium", "TLS is on without an explicit tlscert/tlskey",
            ("dockerd then loads ~/.docker/cert.pem and key.pem of its user, files nobody "
             "reviewing /etc/docker would look at." if tls_by_flag(state) else
             "With TLS enabled in daemon.json only, dockerd has no default certificate: it "
             "cannot set up TLS and does not start."),
            "Configure tlscert and tlskey explicitly (dockwiz plan --mode mtls).",
            evidence=f"tlscert={tls.tlscert}, tlskey={tls.tlskey}"))
    home = [p for p in (tls.tlscacert, tls.tlscert, tls.tlskey)
            if p and (p.startswith("/home/") or p.startswith("/root/"))]
    if home:
        out.append(_f(
            "DW-TLS-HOME", "medium", "TLS material lives in a user's home directory",
            "Whoever owns that home can replace the CA or key and so decide who gets root "
            "through the daemon (seed 002 points dockerd at /home/user/.docker).",
            "Keep daemon TLS material in /etc/docker/certs owned by root (dockwiz plan --mode "
            "mtls).", evidence=", ".join(home)))
    return out


def _no_ca_finding(state: HostState) -> Finding:
    """tlsverify without tlscacert: where dockerd then gets its trust anchors (DOMAIN §2)."""
    fix = "Set tlscacert to a CA you control: dockwiz plan --mode mtls issues one."
    if not tls_by_flag(state):
        remote = [t for t in tcp_endpoints(state) if not t.loopback]
        return _f(
            "DW-TLSVERIFY-NO-CA", "critical" if remote else "high",
            "tlsverify is on but no tlscacert is configured",
            "With TLS enabled in daemon.json, dockerd's ~/.docker defaults do not apply: it "
            "starts with no CA at all and Go then verifies client certificates against the "
            "operating system's public trust store. Any client certificate from a publicly "
            "trusted CA that allows client authentication is accepted, and that is root on "
            "this host.",
            fix, cis="2.7",
            evidence="no tlscacert; client CAs: system trust store"
            + (f"; {addresses(remote)}" if remote else ""))
    default = next((c for c in state.certs if c.role == "ca"), None)
    present = default is not None and default.exists
    return _f(
        "DW-TLSVERIFY-NO-CA", "high", "tlsverify is on but no tlscacert is configured",
        "dockerd silently falls back to ~/.docker/ca.pem of its own user (root's): "
        + ("that file now decides which clients get root, and whoever can write it does too."
           if present else "that file does not exist, so TLS setup fails and the daemon "
           "does not start."),
        fix, cis="2.7", evidence=default.path if default else None)


def check_certs(state: HostState) -> list[Finding]:
    """Certificate findings; every judgement (expiry, SAN coverage, key and file modes) is
    pki.checks', so inspect, plan, apply and ``certs show`` agree on what is wrong."""
    if not state.certs:
        return []
    from dockwiz.addresses import is_ip

    out: list[Finding] = []
    tcp_hosts = [t.host for t in tcp_endpoints(state) if t.host and not _wildcard(t.host)]
    tcp_ips = sorted({h for h in tcp_hosts if is_ip(h)})
    now = datetime.now(UTC)
    for cert in state.certs:
        out.extend(_cert_findings(cert, tcp_ips, now))
    return out


def _wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")  # noqa: S104 - recognising, not binding


def _cert_findings(cert: CertInfo, tcp_ips: list[str], now: datetime) -> list[Finding]:
    if not cert.exists:
        if cert.role == "ca" and cert.path.endswith("/.docker/ca.pem"):
            return []  # the tlsverify-without-CA finding already explains the missing default
        return [_f("DW-CERT-MISSING", "high", f"Configured {cert.role} certificate is missing",
                   "dockerd cannot set up TLS without it and does not start.",
                   "Issue the material: dockwiz certs, or dockwiz plan --mode mtls.",
                   evidence=cert.path)]
    if not cert.readable:
        return [_f("DW-CERT-UNREADABLE", "info", f"Could not read {cert.path}",
                   "Its expiry, SANs and key match were not checked.",
                   "Run dockwiz inspect as root.", evidence=cert.error or cert.path)]
    if cert.not_after is None:
        return [_f("DW-CERT-INVALID", "high", f"{cert.path} is not a usable certificate",
                   "dockerd fails to load its TLS material and does not start.",
                   "Replace it with a PEM certificate: dockwiz certs.",
                   evidence=cert.error or cert.path)]
    out: list[Finding] = []
    if cert.error:  # the certificate was read, its key was not
        out.append(_f("DW-CERT-UNREADABLE", "info", f"Could not read {cert.key_path}",
                      "Whether the key matches the certificate was not checked.",
                      "Run dockwiz inspect as root.", evidence=cert.error))
    out.extend(_cert_validity(cert, now))
    if cert.role == "server":
        out.extend(_server_names(cert, tcp_ips))
    if cert.key_matches is False:
        out.append(_f("DW-CERT-KEY-MISMATCH", "critical", "The key does not match its certificate",
                      "dockerd fails TLS setup ('private key does not match public key') and "
                      "does not start.", "Reissue the pair: dockwiz certs.",
                      evidence=f"{cert.path} / {cert.key_path}"))
    out.extend(_cert_modes(cert))
    return out


def _cert_validity(cert: CertInfo, now: datetime) -> list[Finding]:
    from dockwiz.pki import checks

    state = checks.expiry(None, cert.not_after, now)
    if cert.not_after is None:
        return []
    if state == "expired":
        return [_f("DW-CERT-EXPIRED", "critical", f"The {cert.role} certificate has expired",
                   "Every TLS handshake with it fails: clients cannot reach the daemon over TCP.",
                   renew_fix(cert.role),
                   evidence=f"{cert.path}: not after {cert.not_after.isoformat()}")]
    if state == "expiring":
        return [_f("DW-CERT-EXPIRING", "medium", f"The {cert.role} certificate expires soon",
                   "When it expires every TLS client is locked out at once.",
                   renew_fix(cert.role),
                   evidence=f"{cert.path}: not after {cert.not_after.isoformat()}")]
    return []


def _server_names(cert: CertInfo, tcp_ips: list[str]) -> list[Finding]:
    from dockwiz.pki import checks

    if not checks.has_sans(cert):
        return [_f("DW-CERT-LEGACY-CN", "high", "The server certificate has no subjectAltName",
                   "Go clients (the docker CLI) ignore the legacy Common Name and reject the "
                   "certificate for every name and IP (docker/docs#16652).",
                   "Reissue with SANs for every name and IP clients dial: dockwiz certs --san ...",
                   evidence=f"{cert.path}: subject {cert.subject}")]
    missing = checks.uncovered(cert, tcp_ips)
    if missing:
        return [_f("DW-CERT-NO-IP-SAN", "high",
                   "The server certificate does not cover the address the daemon listens on",
                   "Clients dialing it fail with 'x509: cannot validate certificate for "
                   f"{missing[0]} because it doesn't contain any IP SANs' (moby#8943).",
                   "Reissue with IP SANs: dockwiz certs --san " + ",".join(missing),
                   evidence=f"{cert.path}: IP SANs {cert.ip_addresses or 'none'}")]
    if not cert.ip_addresses:
        return [_f("DW-CERT-NO-IP-SAN", "medium", "The server certificate has no IP SANs",
                   "Clients that dial the daemon by IP address are rejected ('x509: cannot "
                   "validate certificate ... doesn't contain any IP SANs', moby#8943).",
                   "Add the host's IPs as SANs: dockwiz certs --san IP",
                   evidence=f"{cert.path}: DNS SANs {', '.join(cert.dns_names)}")]
    return []


CIS_CERT_MODE = {"ca": ("3.10", "3.9"), "server": ("3.12", "3.11")}


def _cert_modes(cert: CertInfo) -> list[Finding]:
    from dockwiz.pki import CERT_MODE, checks

    out: list[Finding] = []
    verdict = checks.key_mode_verdict(cert.key_mode)
    if cert.key_path and cert.key_mode is not None and verdict is not None:
        loose = verdict == "readable-by-others"
        out.append(_f("DW-KEY-MODE", "high" if loose else "low",
                      "The private key's mode is " + oct(cert.key_mode & 0o777)[2:],
                      ("Group or others can read the key and impersonate the "
                       f"{cert.role if cert.role != 'unknown' else 'its owner'}."
                       if loose else "The CIS benchmark asks for exactly 400 on server keys."),
                      f"chmod 400 {cert.key_path}", cis="3.14" if cert.role == "server" else None,
                      evidence=f"{cert.key_path}: {oct(cert.key_mode & 0o777)}"))
    if cert.role in CIS_CERT_MODE:
        mode_cis, owner_cis = CIS_CERT_MODE[cert.role]
        out.extend(_file_mode("DW-CERT-MODE", cert.path, cert.mode, cert.uid, CERT_MODE,
                              mode_cis, owner_cis, wide=checks.cert_mode_too_wide(cert.mode)))
    return out


def _file_mode(
    id_: str, path: str, mode: int | None, uid: int | None, allowed: int,
    mode_cis: str, owner_cis: str, wide: bool | None = None,
) -> list[Finding]:
    """CIS section 3: a file no more permissive than ``allowed`` and owned by root.

    ``wide``: the judgement made elsewhere (a certificate's, by pki.checks), else computed."""
    out: list[Finding] = []
    if wide is None:
        wide = mode is not None and bool(mode & 0o777 & ~allowed)
    if mode is not None and wide:
        writable = bool(mode & 0o022)
        out.append(_f(id_, "high" if writable else "low",
                      f"{path} is mode {oct(mode & 0o777)[2:]} (want {oct(allowed)[2:]} or "
                      "stricter)",
                      "Whoever can write it changes how the daemon (running as root) starts."
                      if writable else "Only its owner can write it, but CIS asks for "
                      f"{oct(allowed)[2:]} or stricter so nothing rewrites it unnoticed.",
                      f"chmod {oct(allowed)[2:]} {path}", cis=mode_cis,
                      evidence=f"{path}: {oct(mode & 0o777)}"))
    if uid is not None and uid != 0:
        out.append(_f(id_.replace("MODE", "OWNER"), "medium", f"{path} is not owned by root",
                      "Its owner can rewrite what the root daemon trusts or runs.",
                      f"chown root:root {path}", cis=owner_cis, evidence=f"{path}: uid {uid}"))
    return out


# -- local access --------------------------------------------------------------------------------
def check_socket(state: HostState) -> list[Finding]:
    sock = state.docker_socket
    if sock is None or not sock.exists or sock.mode is None:
        return []
    out: list[Finding] = []
    if sock.mode & 0o007:
        out.append(_f("DW-SOCKET-MODE", "critical",
                      f"{sock.path} is accessible to every local user",
                      "Access to the Docker socket is root on the host; with mode "
                      f"{oct(sock.mode & 0o777)[2:]} any local user or compromised service has it.",
                      f"chmod 660 {sock.path} (docker.socket: SocketMode=0660)", cis="3.16",
                      evidence=f"{sock.path}: {oct(sock.mode & 0o777)} {sock.owner}:{sock.group}"))
    if sock.owner not in (None, "root") or sock.group not in (None, "root", "docker"):
        out.append(_f("DW-SOCKET-OWNER", "high", f"{sock.path} is not owned by root:docker",
                      "Its owner and group get root through the daemon.",
                      f"chown root:docker {sock.path}", cis="3.15",
                      evidence=f"{sock.owner}:{sock.group}"))
    return out


def check_docker_group(state: HostState) -> list[Finding]:
    members = state.docker_group_members
    if not members:
        return []
    return [_f("DW-DOCKER-GROUP", "medium",
               f"{len(members)} user(s) in the docker group are root-equivalent",
               "Membership of the docker group grants the socket, and the socket grants root "
               "(docker run -v /:/host). Tutorials add users to it casually.",
               "Remove users who need not be root (gpasswd -d USER docker); prefer sudo or a "
               "rootless daemon.", evidence=", ".join(members))]


# -- hardening (CIS section 2) ---------------------------------------------------------------
def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def check_hardening(state: HostState) -> list[Finding]:
    if not state.docker_installed and not state.daemon_json.exists:
        return []
    out: list[Finding] = []
    if not state.live_restore:
        busy = state.running_containers
        out.append(_f(
            "DW-NO-LIVE-RESTORE", "medium" if busy else "low", "live-restore is off",
            "Without it every daemon restart stops all running containers, and securing the "
            "daemon (hosts, TLS) needs a restart. live-restore is reloadable by SIGHUP, so it "
            "can be switched on before that restart.",
            'Set "live-restore": true in daemon.json (a dockwiz plan hardening option; applied '
            "by reload).", cis="2.15",
            evidence=None if busy is None else f"{busy} running container(s)"))
    icc = option(state, "icc")
    if icc is None or _truthy(icc):
        out.append(_f("DW-ICC", "low", "Containers on the default bridge can talk to each other",
                      "With icc on, one compromised container can reach every other container's "
                      "ports on docker0.", 'Set "icc": false in daemon.json.', cis="2.2"))
    if not _truthy(option(state, "no-new-privileges")):
        out.append(_f("DW-NO-NEW-PRIVS", "low", "no-new-privileges is not the default",
                      "Processes in containers can gain privileges through setuid binaries.",
                      'Set "no-new-privileges": true in daemon.json.', cis="2.14"))
    if not state.userns_remap and not state.rootless:
        out.append(_f("DW-USERNS", "low", "User namespace remapping is off",
                      "Root in a container is root on the host if it breaks out.",
                      'Set "userns-remap": "default" (existing images and volumes become '
                      "invisible to the remapped daemon).", cis="2.9"))
    return out


REMOTE_LOG_DRIVERS = frozenset({
    "syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "gcplogs", "logentries",
    "etwlogs",
})
"""Log drivers that ship container logs off the container's own json-file (CIS 2.13)."""


def check_bench_gaps(state: HostState) -> list[Finding]:
    """CIS 2.12, 2.13 and 2.16: where docker-bench-security spoke and dockwiz was silent.

    Info only: each is a choice with a real cost, not a hole an attacker walks through."""
    if not state.docker_installed and not state.daemon_json.exists:
        return []
    out: list[Finding] = []
    plugins = option(state, "authorization-plugins")
    if not plugins:
        out.append(_f(
            "DW-NO-AUTHZ", "info", "No authorization plugin limits what API clients may do",
            "Whoever reaches the API (socket, docker group, a client certificate) may do "
            "everything, root on the host included; an authorization plugin (e.g. Open Policy "
            "Agent's) can refuse privileged containers or host mounts per user.",
            "Only where several people share a daemon: install a plugin and set "
            '"authorization-plugins": ["NAME"] in daemon.json. Cost: a plugin that is down '
            "blocks every API call, and its policy must be maintained.", cis="2.12"))
    driver = option(state, "log-driver")
    if driver is None or str(driver) not in REMOTE_LOG_DRIVERS:
        shown = driver or "json-file (the default)"
        out.append(_f(
            "DW-LOG-LOCAL", "info", "Container logs stay on this host only",
            "With a local log driver an intruder who gets root here can erase the traces; a "
            "central log store keeps them.",
            'Set "log-driver" to syslog or journald (forwarded by the host\'s log shipper), '
            "or gelf/fluentd to a collector. Cost: 'docker logs' keeps working only with "
            "journald/local or dual logging (Docker 20.10+), and the collector must be run.",
            cis="2.13", evidence=f"log-driver: {shown}"))
    proxy = option(state, "userland-proxy")
    if proxy is None or _truthy(proxy):
        out.append(_f(
            "DW-USERLAND-PROXY", "info", "The userland proxy (docker-proxy) is on",
            "Every published port runs a docker-proxy process as root: more code exposed to "
            "the network than the kernel's NAT rules that do the same job.",
            'Set "userland-proxy": false in daemon.json (the dockwiz hardening option '
            "userland-proxy). Cost: hairpin NAT (a container reaching its own published "
            "port via the host's address) then relies on iptables, and setups without "
            "iptables or with IPv6 published on loopback break.", cis="2.16",
            evidence="userland-proxy: " + ("true (the default)" if proxy is None else
                                           str(proxy).lower())))
    return out


def renew_fix(role: str) -> str:
    """The fix for findings.py's DW-CERT-EXPIRING / DW-CERT-EXPIRED (the 30-day finding, judged
    by pki.checks.expiry with RENEW_BEFORE_DAYS, the window ``renew`` uses too)."""
    if role == "server":
        return "dockwiz renew (same CA and names: client bundles keep working)"
    if role == "ca":
        return ("dockwiz renew --ca (a roll-over: old bundles keep working until "
                "'dockwiz renew --finish-ca-rollover')")
    if role == "client":
        return "a new bundle: dockwiz clients add NAME (then revoke the old one)"
    return "dockwiz renew"


def renewal_findings_for(rollover: bool, server_expires: datetime | None,
                         schedule: RenewalSchedule | None) -> list[Finding]:
    """DW-RENEW-ROLLOVER (a CA roll-over waits to be finished) and DW-RENEW-UNSCHEDULED (TLS in
    use, nothing renews it). The expiry itself is DW-CERT-EXPIRING, 30 days before."""
    out: list[Finding] = []
    if rollover:
        out.append(_f("DW-RENEW-ROLLOVER", "low",
                      "A CA roll-over is under way: the daemon still trusts the old CA",
                      "Bundles from the old CA keep access until the roll-over is finished.",
                      "once every client has its new bundle: dockwiz renew --finish-ca-rollover"))
    if server_expires is not None and not (schedule is not None and schedule.scheduled):
        detail = schedule.detail if schedule is not None else "no dockwiz-renew timer or cron entry"
        out.append(_f("DW-RENEW-UNSCHEDULED", "low",
                      "Nothing renews the daemon's certificates automatically",
                      "A secured daemon breaks silently the day its certificate expires.",
                      "dockwiz renew --install-timer (a daily systemd timer, or cron)",
                      evidence=f"{detail}; server certificate expires "
                               f"{server_expires:%Y-%m-%d}"))
    return out


def check_material(state: HostState) -> list[Finding]:
    """Certificates and keys found where the tutorials put them (judged by pki.checks)."""
    if not state.found_material:
        return []
    from dockwiz.pki.discover import findings_for_material

    listen = [t.host or "" for t in tcp_endpoints(state)]
    return findings_for_material(state.found_material, listen, [c.path for c in state.certs])


def check_renewal(state: HostState) -> list[Finding]:
    server = next((c for c in state.certs if c.role == "server" and c.not_after), None)
    return renewal_findings_for(state.ca_rollover, server.not_after if server else None,
                                state.renewal)


CHECKS: list[Callable[[HostState], list[Finding]]] = [
    check_daemon, check_unreadable, check_rootless, check_tcp, check_config_drift,
    check_daemon_json, check_hosts_conflict, check_unit, check_quoted_flags,
    check_tls_settings, check_certs,
    check_socket, check_docker_group, check_hardening, check_bench_gaps, check_material,
    check_renewal,
]
