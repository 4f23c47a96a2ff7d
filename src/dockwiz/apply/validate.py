"""Validation of the written files before the running daemon is touched.

Our own checks always (strict JSON, no directive both as a flag and in daemon.json, TLS files
exist, the cert matches its key and its CA, SANs cover every dialled address), then
``dockerd --validate`` with the unit's flags where the version has it (Docker >= 23). Anything
caught here costs no downtime.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockwiz.apply.health import WILDCARDS, daemon_file
from dockwiz.apply.steps import StepFailed, dockerd_reason
from dockwiz.host import Host
from dockwiz.pki.checks import key_mismatch, not_signed_by, uncovered_hosts

if TYPE_CHECKING:
    from dockwiz.models.plan import Plan


def validate(host: Host, plan: Plan) -> list[str]:
    """Our own checks on the written files, then dockerd's where it can; raise on a problem.

    Everything caught here costs no downtime: the running daemon has not been touched yet.
    """
    notes: list[str] = []
    json_change = next((c for c in plan.files if c.path.endswith("daemon.json")), None)
    unit_changed = any(c.path.startswith("/etc/systemd/") for c in plan.files)
    config_path = json_change.path if json_change is not None else "/etc/docker/daemon.json"
    if json_change is None and not unit_changed:
        if any(c.action != "reuse" for c in plan.certs) and host.exists(config_path):
            return _validate_new_certs(host, plan, config_path)
        return ["no daemon.json or unit change to validate"]
    config: dict[str, Any] = {}
    if json_change is not None and json_change.after is not None:
        config = _parse_daemon_json(json_change.path, json_change.after)
        notes.append("daemon.json is strict JSON")
    elif json_change is None and host.exists(config_path):
        with contextlib.suppress(StepFailed, OSError):
            config = _parse_daemon_json(config_path, host.read_text(config_path))
    notes.extend(_check_tls_files(host, config, plan))
    argv = _unit_argv(host, config)
    notes.append(_dockerd_validate(host, config_path if config else None, argv))
    return notes


def _validate_new_certs(host: Host, plan: Plan, config_path: str) -> list[str]:
    """Day two (renew, revoke): new certificates under the daemon.json the daemon runs with;
    dockerd >= 24 loads them in --validate, before the running daemon is touched."""
    try:
        config = _parse_daemon_json(config_path, host.read_text(config_path))
    except OSError as exc:
        return [f"daemon.json not readable ({exc.strerror}): certificates not checked"]
    notes = _check_tls_files(host, config, plan)
    notes.append(_dockerd_validate(host, config_path, _unit_argv(host, config)))
    return notes


def _unit_argv(host: Host, config: dict[str, Any]) -> list[str]:
    """The unit's effective command line, refusing a directive given both there and in
    daemon.json: dockerd would not start (DOMAIN §3, "the hosts conflict")."""
    from dockwiz import systemd
    from dockwiz.dockerd_flags import parse_args

    result = systemd.effective_exec_start(host)
    if result.argv is None:
        if result.candidates:  # a unit exists but systemd could not run it
            raise StepFailed("validate", "docker.service: " + "; ".join(result.problems))
        return []
    flags = [a for a in parse_args(result.argv[1:]).args if a.is_flag]
    both = [f for f in flags if f.key in config]
    if both:
        shown = "; ".join(f"{f.key} (from flag: {' '.join(f.tokens)}, from file: "
                          f"{json.dumps(config[f.key])})" for f in both)
        raise StepFailed(
            "validate", "the following directives are specified both as a flag and in the "
            f"configuration file: {shown}; dockerd would refuse to start. ExecStart comes from "
            f"{result.source}: a drop-in must reset it without these flags (DOMAIN §3)")
    return result.argv[1:]


def _parse_daemon_json(path: str, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StepFailed("validate", f"{path} is not valid JSON: line {exc.lineno} "
                         f"column {exc.colno}: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise StepFailed("validate", f"{path} must hold a JSON object")
    return data


def _check_tls_files(host: Host, config: dict[str, Any], plan: Plan) -> list[str]:
    notes: list[str] = []
    tls_on = bool(config.get("tls")) or "tlsverify" in config
    if not tls_on:
        return notes
    paths: dict[str, Path] = {}
    for key in ("tlscacert", "tlscert", "tlskey"):
        value = config.get(key)
        if value is None:
            if key == "tlscacert" and config.get("tlsverify") is not True:
                continue
            raise StepFailed("validate", f"daemon.json turns TLS on but sets no {key}; dockerd "
                             "would fall back to root's ~/.docker (DOMAIN §2)")
        local = daemon_file(host, str(value))
        if not local.is_file():
            raise StepFailed("validate", f"{key} {value} does not exist")
        paths[key] = local
    notes.append("TLS files exist")
    problem = key_mismatch(paths["tlscert"], paths["tlskey"])
    if problem:
        raise StepFailed("validate", f"{config['tlscert']}: {problem}")
    notes.append("server certificate matches its key")
    if "tlscacert" in paths:
        problem = not_signed_by(paths["tlscert"], paths["tlscacert"])
        if problem:
            raise StepFailed("validate", f"{config['tlscert']}: {problem}")
    missing = uncovered_hosts(paths["tlscert"], _tls_hosts(plan))
    if missing:
        raise StepFailed("validate", f"the server certificate {config['tlscert']} has no SAN for "
                         f"{', '.join(missing)}: clients dialling it would fail "
                         "('x509: cannot validate certificate', DOMAIN §6)")
    notes.append("SANs cover every TLS address")
    return notes


def _tls_hosts(plan: Plan) -> list[str]:
    from urllib.parse import urlsplit

    hosts: list[str] = []
    for e in plan.endpoints_after:
        if e.security in ("tls", "mtls"):
            name = urlsplit(e.url).hostname or ""
            if name not in WILDCARDS:
                hosts.append(name)
    return hosts


def _dockerd_validate(host: Host, config_path: str | None, flags: list[str]) -> str:
    """``dockerd --validate`` with the unit's flags (Docker >= 23); 20.10 lacks it: detect it,
    don't fail.

    Where the host's service manager can run its own dockerd in place (a lab: the lab's engine
    inside its mount namespace), that is the one asked: a dockerd run from here would neither be
    the engine the lab runs nor see the lab's /etc/docker/tls.
    """
    from dockwiz.services import dockerd_runner

    runner = dockerd_runner(host)
    if runner is not None:
        config = ["--config-file", config_path] if config_path else []
        result = runner.run_dockerd(["--validate", *config, *flags], timeout=30.0)
        shown = "dockerd"
    else:
        dockerd = host.which("dockerd")
        if dockerd is None:
            return "dockerd --validate skipped: dockerd not found"
        config = ["--config-file", str(host.path(config_path))] if config_path else []
        result = host.run([dockerd, "--validate", *config, *flags], timeout=30.0)
        shown = dockerd
    text = (result.stderr + result.stdout).strip()
    if not result.ok and not text and runner is not None:
        # a lab's launcher that failed before dockerd said a word (seen rarely under load): once
        # more, so a transient failure of the namespace setup is not taken for dockerd's verdict
        config = ["--config-file", config_path] if config_path else []
        result = runner.run_dockerd(["--validate", *config, *flags], timeout=30.0)
        text = (result.stderr + result.stdout).strip()
    if not result.ok and not text:
        text = (f"exit status {result.returncode}, no output"
                + (" (timed out)" if result.timed_out else ""))
    if not result.ok and "unknown flag: --validate" in text:
        return "dockerd --validate skipped: this dockerd is older than 23.0 and lacks it"
    if not result.ok:
        raise StepFailed("validate", f"{shown} --validate rejects the configuration: "
                         f"{dockerd_reason(text) or text}", daemon_log=text)
    return "dockerd --validate: configuration OK"
