"""What the admin hands to a client, tried the way the client will use it: the docker CLI
itself (flags, then env.sh's variables), the bundle's env.sh, and the hand-off summary.

The CLI is the final judge: our own TLS client can agree with the daemon where Go's stricter
checks (IP SANs, legacy CN) would not.
"""

from __future__ import annotations

import contextlib
import shlex
from pathlib import Path
from typing import Literal

from dockwiz import pki
from dockwiz.dockerapi import ClientFiles
from dockwiz.models.results import Handoff, Probe
from dockwiz.verify.context import Ctx, Target, Why, make_probe
from dockwiz.verify.explain import explain_cli_failure
from dockwiz.verify.probes import bundle_missing_probe

CLI_TIMEOUT = 20.0


def probe_docker_cli(ctx: Ctx, target: Target, how: Literal["flags", "env"]) -> Probe:
    """The real client, exactly as the user runs it: flags, or env.sh's variables."""
    pid = "docker-cli" if how == "flags" else "docker-cli-env"
    title = ("docker --tlsverify ... -H URL version" if how == "flags"
             else "DOCKER_HOST/DOCKER_TLS_VERIFY=1/DOCKER_CERT_PATH docker version")
    docker = ctx.host.which("docker")
    if docker is None:
        return make_probe(pid, title, target.url, "succeed", None,
                      "skipped: the docker CLI is not installed here")
    bundle = ctx.bundle
    if bundle is None:
        return bundle_missing_probe(ctx, pid, title, target.url)
    if how == "flags":
        argv = [docker, "--tlsverify", "--tlscacert", str(bundle.ca)]
        if bundle.cert is not None and bundle.key is not None:
            argv += ["--tlscert", str(bundle.cert), "--tlskey", str(bundle.key)]
        argv += ["-H", target.url, "version"]
        env = {"DOCKER_HOST": "", "DOCKER_CONTEXT": "", "DOCKER_TLS_VERIFY": ""}
    else:
        argv = [docker, "version"]
        env = {"DOCKER_HOST": target.url, "DOCKER_TLS_VERIFY": "1",
               "DOCKER_CERT_PATH": str(_cert_path(ctx, bundle)), "DOCKER_CONTEXT": ""}
    result = ctx.host.run(argv, env=env, in_netns=True, timeout=CLI_TIMEOUT)
    server = _server_version(result.stdout)
    if result.ok and server:
        return make_probe(pid, title, target.url, "succeed", True,
                          f"Server: Docker Engine {server}")
    text = (result.stderr or result.stdout).strip()
    if result.timed_out:
        text = f"timed out after {CLI_TIMEOUT:.0f} s"
    why = explain_cli_failure(text, ctx, target.dial, target.port)
    return make_probe(pid, title, target.url, "succeed", False, text.splitlines()[-1][:300]
                  if text else f"exit {result.returncode}", why)


def _cert_path(ctx: Ctx, bundle: ClientFiles) -> Path:
    """DOCKER_CERT_PATH for the CLI: the bundle, or a directory holding only the CA (so the
    CLI never picks up a daemon's own cert.pem/key.pem lying next to its ca.pem)."""
    if ctx.ca_only is None:
        return ctx.bundle_dir
    directory = ctx.scratch / "ca-only"
    directory.mkdir(mode=0o700, exist_ok=True)
    (directory / "ca.pem").write_bytes(bundle.ca.read_bytes())
    return directory


def _server_version(stdout: str) -> str | None:
    """The 'Version:' line after 'Server:' in ``docker version``'s text."""
    in_server = False
    for line in stdout.splitlines():
        if line.startswith("Server:"):
            in_server = True
        elif in_server and line.strip().startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return None



def build_handoff(ctx: Ctx) -> Handoff | None:
    if ctx.mode not in ("tls", "mtls") or ctx.bundle is None or ctx.ca_only or not ctx.targets:
        return None
    primary = ctx.targets[0]
    env_path = ctx.bundle_dir / "env.sh"
    ctx_path = ctx.bundle_dir / "context.txt"
    env_sh, context = pki.client_bundle_text(ctx.bundle_dir.name, ctx.bundle_shown, primary.url)
    with contextlib.suppress(OSError):
        env_sh = env_path.read_text(encoding="utf-8")
    with contextlib.suppress(OSError):
        context = ctx_path.read_text(encoding="utf-8").strip()
    local = str(ctx.bundle_dir)
    return Handoff(bundle_dir=ctx.bundle_shown, endpoint=primary.url, env_sh=env_sh,
                   context_create=context,
                   local_dir=None if local == ctx.bundle_shown else local)


def probe_env_sh(ctx: Ctx) -> Probe | None:
    """The bundle's env.sh must turn verification on; ``DOCKER_TLS_VERIFY=0`` does NOT turn it
    off (any non-empty value means on, moby#22411), and an unset one means plain HTTP."""
    env_path = ctx.bundle_dir / "env.sh"
    try:
        text = env_path.read_text(encoding="utf-8")
    except OSError:
        return None
    values: dict[str, str] = {}
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            words = shlex.split(line, comments=True)
            if words and words[0] == "export":
                words = words[1:]
            for word in words:
                k, sep, v = word.partition("=")
                if sep:
                    values[k] = v
    verify = values.get("DOCKER_TLS_VERIFY")
    target = f"{ctx.bundle_shown}/env.sh"
    title = "env.sh turns TLS verification on"
    saw = f"DOCKER_TLS_VERIFY={verify!r} DOCKER_HOST={values.get('DOCKER_HOST')!r}"
    if verify == "1":
        return make_probe("env-sh", title, target, "succeed", True, saw)
    if verify:
        why = Why(
            "tls-verify-env-misuse",
            f"DOCKER_TLS_VERIFY={verify} reads as 'off' but the docker CLI treats ANY non-empty "
            "value, 0 included, as on; to really disable it the variable must be unset",
            "write export DOCKER_TLS_VERIFY=1 (verification on is what you want)",
        )
    else:
        why = Why(
            "plain-http-to-tls",
            "DOCKER_TLS_VERIFY is not set: the docker CLI then speaks plain HTTP to the TLS port "
            "and fails with 'malformed HTTP response \"\\x15\\x03\\x01...\"'",
            "add export DOCKER_TLS_VERIFY=1 to env.sh",
        )
    return make_probe("env-sh", title, target, "succeed", False, saw, why)

