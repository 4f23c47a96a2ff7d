"""Day two: renew certificates before they expire, add and revoke clients, schedule renewal.

Every operation is a function that returns an ordinary :class:`~dockwiz.models.plan.Plan`,
carried out by the same ``apply_plan`` as day one (journal, backups, rollback) and shown by the
same preview, apply and verify screens; the CLI (``dockwiz renew``, ``dockwiz clients``) and
the wizard call these, nothing else:

- ``renew``: :func:`renewal_status`, :func:`plan_renew` (:func:`renew_with_status`),
  :func:`plan_renew_ca`,
  :func:`plan_finish_rollover`
- ``clients``: :func:`list_clients`, :func:`plan_add_client`, :func:`plan_revoke`,
  :func:`context_commands` (the hand-off for bundles copied into a docker context)
- ``timer``: :func:`plan_install_timer`, :func:`plan_remove_timer`, :func:`activate`,
  :func:`deactivate`, :func:`renewal_schedule`
- ``findings``: :func:`renewal_findings` for renew's report (inspect reads the same findings
  from the HostState)
- ``context``: the running daemon's TLS files, endpoints and CA, read once per plan
"""

from __future__ import annotations

from dockwiz.inspect import renewal_schedule
from dockwiz.lifecycle.clients import (
    context_commands,
    keeps_access,
    list_clients,
    plan_add_client,
    plan_revoke,
    revoked_by,
)
from dockwiz.lifecycle.findings import renew_fix, renewal_findings
from dockwiz.lifecycle.renew import (
    DEFAULT_BEFORE_DAYS,
    plan_finish_rollover,
    plan_renew,
    plan_renew_ca,
    renew_with_status,
    renewal_status,
)
from dockwiz.lifecycle.timer import (
    activate,
    deactivate,
    plan_install_timer,
    plan_remove_timer,
)
from dockwiz.models.lifecycle import CertExpiry, ClientInfo, RenewalSchedule, RenewalStatus

__all__ = [
    "DEFAULT_BEFORE_DAYS",
    "CertExpiry",
    "ClientInfo",
    "RenewalSchedule",
    "RenewalStatus",
    "activate",
    "context_commands",
    "deactivate",
    "keeps_access",
    "list_clients",
    "plan_add_client",
    "plan_finish_rollover",
    "plan_install_timer",
    "plan_remove_timer",
    "plan_renew",
    "plan_renew_ca",
    "plan_revoke",
    "renew_fix",
    "renew_with_status",
    "renewal_findings",
    "renewal_schedule",
    "renewal_status",
    "revoked_by",
]
