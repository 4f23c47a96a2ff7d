"""HostState + Intent -> Plan: the exact change, computed without writing anything.

Where each setting lives after the plan (the decision everything else follows):

* The sockets stay where they already are. If the command line names them (``-H fd://``,
  ``-H unix://...``), the TCP listener of a tls/mtls mode goes on the command line too
  (``-H tcp://ADDR:PORT`` in the drop-in's ExecStart) and ``hosts`` leaves daemon.json (dockerd
  refuses a directive given both as a flag and in the file, DOMAIN §3). So ``-H fd://`` stays
  and socket activation is kept (issue 12 §1b): systemd holds /run/docker.sock open through
  every restart, clients wait instead of being refused or hanging, and docker.socket is never
  left listening for a daemon that no longer accepts on it. fd:// is never dropped, so
  docker.socket never needs stopping or masking. Without ``-H`` on the command line, ``hosts``
  lives in daemon.json (the unix socket plus the TCP endpoint).
* TLS settings always live in daemon.json; TLS flags leave the command line.
* unix and ssh: nothing TCP anywhere.
* EVERY TCP source the mode forbids is removed or overridden (issue 12 §1): ``-H`` flags in any
  pflag spelling (``-DH tcp://...`` loses only its host), flags expanded from ``$DOCKER_OPTS``
  (the drop-in's ExecStart is written expanded, so /etc/default/docker no longer reaches
  dockerd), daemon.json ``hosts``, and TCP ListenStreams of docker.socket (a docker.socket
  drop-in resets ListenStream to the unix socket). :func:`plan_for_host` then derives the
  listeners again from the files as the plan would leave them (effective.py) and refuses a plan
  that leaves one the mode forbids.
* Any other flag that collides with a key daemon.json will carry is dropped from the command
  line (the file's value wins); every other flag (``--containerd=...``, ``-D``) is kept.

The command line is changed with a drop-in, never the packaged unit; see :func:`_dropin_target`
(plan/files.py) for which file and why it wins systemd's ordering.

Certificates appear as actions only: key material is made at apply time by the PKI module and
never enters the plan, its JSON or the diff.

The package: ``work`` (what the planner reads and changes), ``listeners``, ``certs``, ``files``,
``services``, ``build`` (the steps in order and the safety net). This face is what the rest of
dockwiz imports.
"""

from __future__ import annotations

from dockwiz.plan.build import (
    build_plan,
    check_plan_result,
    load_plan,
    other_listeners,
    plan_for_host,
    save_plan,
)
from dockwiz.plan.certs import observe_material
from dockwiz.plan.files import render_dropin, rewrite_exec_start
from dockwiz.plan.work import endpoints_before, split_flags, tcp_url

__all__ = [
    "build_plan",
    "check_plan_result",
    "endpoints_before",
    "load_plan",
    "observe_material",
    "other_listeners",
    "plan_for_host",
    "render_dropin",
    "rewrite_exec_start",
    "save_plan",
    "split_flags",
    "tcp_url",
]
