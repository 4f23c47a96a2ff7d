"""Turning the core's models into styled text for the screens.

Pure functions from models to ``Content``: no widgets, no I/O, so every screen renders the same
way and snapshots only depend on the data. Severity and status are always spelled out in words
as well as coloured, so the screens stay readable under NO_COLOR and in 16 colours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual.content import Content

from dockwiz.findings import merged_endpoints
from dockwiz.tui.widgets.rows import Row

if TYPE_CHECKING:
    from dockwiz.models.host_state import CertInfo, Finding, HostState, Listener

SEVERITY_STYLE: dict[str, str] = {
    "critical": "bold $text-error",
    "high": "$text-error",
    "medium": "$text-warning",
    "low": "$text-primary",
    "info": "$text-muted",
}

Part = Content | str | tuple[str, str]


def _plain(part: Part) -> str:
    if isinstance(part, tuple):
        return part[0]
    return part.plain if isinstance(part, Content) else part


def _pad(part: Part, blanks: str) -> Part:
    if isinstance(part, tuple):
        return (part[0] + blanks, part[1])
    return part + blanks


def _unlead(part: Part, n: int) -> Part:
    if isinstance(part, tuple):
        return (part[0][n:], part[1])
    return part[n:]


def assemble(*parts: Part) -> Content:
    """``Content.assemble``, with the blanks between two parts kept at the end of the first.

    The terminal shows both alike, but an SVG renderer (rsvg, the snapshots' reviewer) drops
    the leading blanks of a text run: "restart dockerd  1.2s" showed as "restart dockerd1.2s".
    """
    out: list[Part] = []
    for part in parts:
        text = _plain(part)
        if out and text and not text.strip(" "):  # blanks alone join the part before
            out[-1] = _pad(out[-1], text)
            continue
        lead = len(text) - len(text.lstrip(" "))
        if lead and out and text.strip():
            out[-1] = _pad(out[-1], text[:lead])
            part = _unlead(part, lead)
        out.append(part)
    return Content.assemble(*out)


def warning(text: str) -> Content:
    """'Warning: ' and the text, without doubling a 'WARNING:' the text already starts with."""
    body = text
    if body[:8].lower() == "warning:":
        body = body[8:].lstrip()
    return Content.assemble(("Warning: ", "bold $text-warning"), body)


_CLI_WORDS: tuple[tuple[str, str], ...] = (
    ("bind to loopback: --listen 127.0.0.1:PORT", "bind to loopback: Listen address 127.0.0.1"),
    ("pass --listen ADDR:PORT", "fill in the Listen address and Port fields"),
    ("e.g. --listen 10.0.0.5:2376", "e.g. 10.0.0.5 and 2376"),
    ("or --listen a specific address", "or a specific Listen address"),
    ("choose another port with --listen ADDR:PORT", "choose another Port"),
    ("choose mode 'mtls'", "choose Mutual TLS"),
    ("choose mode 'ssh'", "choose SSH"),
    ("--hardening live-restore", "the live-restore hardening option"),
    ("--san", "Add name or IP"),
)


def tui_words(text: str) -> str:
    """The core's advice names CLI options; in the wizard it names the field to use."""
    for cli, tui in _CLI_WORDS:
        text = text.replace(cli, tui)
    return text


def lines(items: Iterable[Content | str]) -> Content:
    return Content("\n").join(Content(i) if isinstance(i, str) else i for i in items)


def octal(mode: int | None) -> str:
    return "?" if mode is None else f"{mode & 0o7777:04o}"


def listener_text(listener: Listener) -> Content:
    if listener.kind == "tcp":
        where = "loopback only" if listener.loopback else "reachable from the network"
        style = "" if listener.loopback else "$text-warning"
        return Content.assemble(listener.address + "  ", (f"({where})", style))
    return Content(listener.address)


def tls_text(state: HostState) -> Content:
    tls = state.tls
    if not tls.enabled:
        return Content.styled("off", "$text-warning" if _has_tcp(state) else "")
    if tls.verifies_clients:
        return Content.styled(
            "on, clients must present a certificate (mutual TLS)", "$text-success"
        )
    return Content("on, server certificate only (clients are not authenticated)")


def _has_tcp(state: HostState) -> bool:
    return any(item.kind == "tcp" for item in [*state.configured_hosts, *state.listeners])


def daemon_text(state: HostState) -> Content:
    version = state.version.effective or "version unknown"
    api = f" (API {state.version.api_version})" if state.version.api_version else ""
    if not state.docker_installed:
        return Content.styled("Docker is not installed", "$text-error")
    if state.daemon_running:
        pid = f", pid {state.process.pid}" if state.process else ""
        rootless = ", rootless" if state.rootless else ""
        return Content.assemble(
            ("running", "$text-success"), f"{pid}{rootless}, Docker {version}{api}"
        )
    why = f": {state.daemon_error}" if state.daemon_error else ""
    return Content.assemble(("not running", "$text-warning"), f"{why}, Docker {version}{api}")


def host_rows(state: HostState, host_label: str) -> list[Row]:
    """The host at a glance: the daemon, where it listens, its config and its TLS."""
    rows: list[tuple[str, Content | str]] = [("Host", host_label), ("Daemon", daemon_text(state))]
    endpoints = merged_endpoints(state)
    if endpoints:
        rows.append(("Listens", lines(listener_text(item) for item in endpoints)))
    else:
        rows.append(("Listens", "no endpoint found"))
    rows.append(("TLS", tls_text(state)))
    rows.append(("Config", _daemon_json_text(state)))
    if state.unit.exists and state.unit.path:
        dropins = len(state.unit.dropins)
        extra = f" + {dropins} drop-in{'s' if dropins != 1 else ''}" if dropins else ""
        rows.append(("Unit", f"{state.unit.path}{extra}"))
    if state.docker_socket is not None and state.docker_socket.exists:
        sock = state.docker_socket
        owner = f"{sock.owner or '?'}:{sock.group or '?'}"
        rows.append(("Socket", f"{sock.path}  {octal(sock.mode)} {owner}"))
    if state.running_containers is not None:
        rows.append(("Containers", f"{state.running_containers} running"))
    if state.hosts_conflict:
        rows.append(("Conflict", Content.styled(state.hosts_conflict, "$text-error")))
    return [(Content.styled(label, "bold"), value) for label, value in rows]


def _daemon_json_text(state: HostState) -> Content:
    dj = state.daemon_json
    if not dj.exists:
        return Content(f"{dj.path} (absent)")
    if not dj.readable:
        return assemble(dj.path, ("  (not readable)", "$text-warning"))
    if dj.error is not None:
        where = f"line {dj.error.line}, column {dj.error.col}"
        problem = f"  invalid JSON at {where}: {dj.error.message}"
        return assemble(dj.path, (problem, "$text-error"))
    return Content(f"{dj.path}  {octal(dj.mode)}")


def severity_counts(findings: Sequence[Finding]) -> str:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    order = ("critical", "high", "medium", "low", "info")
    return ", ".join(f"{counts[s]} {s}" for s in order if s in counts) or "none"


def finding_rows(findings: Sequence[Finding], *, details: bool = True) -> list[Row]:
    """Findings worst first: severity in words, title and CIS id, then (``details``) why and
    the fix. Without details every finding is one line, so at 80x24 they all fit at once."""
    if not findings:
        return [("", Content.styled("No findings: nothing insecure was seen.", "$text-success"))]
    from dockwiz.models.host_state import SEVERITY_ORDER

    ordered = sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.id))
    rows: list[Row] = []
    for f in ordered:
        body = assemble((f.title, "bold"), (f" [CIS {f.cis}]" if f.cis else "", "$text-muted"))
        if details:
            body = Content.assemble(body, "\n", f.why, "\n", ("fix: ", "bold"), f.fix)
        rows.append((Content.styled(f.severity.upper(), SEVERITY_STYLE.get(f.severity, "")), body))
    return rows


def date_text(moment: datetime | None) -> str:
    return "?" if moment is None else moment.strftime("%Y-%m-%d")


def cert_row(cert: CertInfo, now: datetime | None = None) -> Row:
    """One certificate: role, path, expiry (with EXPIRED spelled out) and its SANs."""
    label = Content.styled(cert.role, "bold")
    if not cert.exists:
        return label, assemble(cert.path, ("  missing", "$text-warning"))
    if cert.error or not cert.readable:
        problem = f"  {cert.error or 'not readable'}"
        return label, assemble(cert.path, (problem, "$text-warning"))
    expired = cert.not_after is not None and now is not None and cert.not_after < now
    until = (
        Content.styled(f"EXPIRED {date_text(cert.not_after)}", "bold $text-error")
        if expired
        else Content(f"valid until {date_text(cert.not_after)}")
    )
    details: list[Content | str] = [cert.path, "\n", until]
    if cert.key_type:
        details.append(f", {cert.key_type}")
    sans = [*cert.dns_names, *cert.ip_addresses]
    if sans:
        details.append(f"\nSANs: {', '.join(sans)}")
    return label, Content.assemble(*details)


def cert_rows(certs: Sequence[CertInfo], now: datetime | None = None) -> list[Row]:
    if not certs:
        return [("", "No TLS certificates configured.")]
    return [cert_row(cert, now) for cert in certs]


def attr(obj: Any, *names: str, default: Any = None) -> Any:
    """The first attribute present: models from different modules name similar things."""
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return default
