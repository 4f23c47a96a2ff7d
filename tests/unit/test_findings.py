"""findings.evaluate: what a Docker expert would say about each starting state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dockwiz.findings import evaluate, merged_endpoints
from dockwiz.models.host_state import (
    SEVERITY_ORDER,
    CertInfo,
    DaemonJsonState,
    DockerVersion,
    HostState,
    JsonProblem,
    Listener,
    SocketFile,
    TlsSettings,
)
from dockwiz.procnet import is_loopback


def tcp(host: str, port: int, source: str = "daemon.json") -> Listener:
    shown = f"[{host}]" if ":" in host else host
    return Listener(kind="tcp", address=f"tcp://{shown}:{port}", host=host, port=port,
                    loopback=is_loopback(host), source=source)  # type: ignore[arg-type]


def make_state(
    *, data: dict[str, Any] | None = None, version: str | None = "20.10.24+dfsg1",
    running: bool = True, hosts: list[Listener] | None = None, **kw: Any,
) -> HostState:
    data = {} if data is None else data
    tls = TlsSettings(**{k: data[k] for k in ("tls", "tlsverify", "tlscacert", "tlscert",
                                                "tlskey") if k in data})
    kw.setdefault("docker_installed", True)
    return HostState(
        root="/sandbox", is_root=True, daemon_running=running,
        version=DockerVersion(binary=version),
        daemon_json=DaemonJsonState(path="/etc/docker/daemon.json", exists=True, data=data,
                                    mode=0o644, uid=0),
        configured_hosts=hosts or [], tls=tls,
        live_restore=bool(data.get("live-restore")), **kw,
    )


def ids(state: HostState) -> dict[str, str]:
    return {f.id: f.severity for f in evaluate(state)}


def by_id(state: HostState, id_: str) -> Any:
    return next(f for f in evaluate(state) if f.id == id_)


SEED_004 = {"hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]}
SEED_004_TLS = {"hosts": ["tcp://0.0.0.0:2376"], "tls": True, "tlsverify": False,
                "tlscert": "/etc/docker/certs/cert.pem", "tlskey": "/etc/docker/certs/key.pem"}
MTLS = {"hosts": ["tcp://0.0.0.0:2376"], "tlsverify": True, "tlscacert": "/etc/docker/tls/ca.pem",
        "tlscert": "/etc/docker/tls/cert.pem", "tlskey": "/etc/docker/tls/key.pem"}


def test_plain_tcp_on_docker_20_is_critical_exposure_and_a_loud_v27_warning() -> None:
    state = make_state(data=SEED_004, hosts=[tcp("0.0.0.0", 2375)])
    found = ids(state)
    assert found["DW-TCP-PLAIN"] == "critical"
    assert found["DW-V27-RULE"] == "high"
    v27 = by_id(state, "DW-V27-RULE")
    assert "16 s" in v27.why  # TLS not set explicitly: dockerd's deliberate startup sleep
    assert "27" in v27.why and "mtls" in v27.fix
    assert by_id(state, "DW-TCP-PLAIN").cis == "2.7"
    assert "tcp://0.0.0.0:2375" in (by_id(state, "DW-TCP-PLAIN").evidence or "")


def test_v27_rule_is_critical_from_docker_27() -> None:
    state = make_state(data=SEED_004, hosts=[tcp("0.0.0.0", 2375)], version="27.3.1")
    v27 = by_id(state, "DW-V27-RULE")
    assert v27.severity == "critical"
    # true for the daemon at hand: 27 and 28 still start (issue 13); the announcement is apart
    assert "announced" in v27.title and "start" not in v27.title
    assert "dockerd 27 starts" in v27.why and "announced" in v27.why
    stopped = make_state(data=SEED_004, hosts=[tcp("0.0.0.0", 2375)], version="28.1.1",
                         running=False)
    assert "does not start" not in by_id(stopped, "DW-V27-RULE").title


def test_tls_without_verify_is_not_authentication() -> None:
    state = make_state(data=SEED_004_TLS, hosts=[tcp("0.0.0.0", 2376)])
    found = ids(state)
    assert found["DW-TCP-NOVERIFY"] == "critical"
    assert "DW-TCP-PLAIN" not in found
    # tls set explicitly: no 15 s sleep, only the 1 s one
    assert "16 s" not in by_id(state, "DW-V27-RULE").why


def test_mutual_tls_on_the_network_has_no_exposure_findings() -> None:
    state = make_state(data=MTLS, hosts=[tcp("0.0.0.0", 2376)])
    found = ids(state)
    assert not {"DW-TCP-PLAIN", "DW-TCP-NOVERIFY", "DW-V27-RULE", "DW-TCP-LOCAL"} & set(found)


def test_loopback_plain_tcp_is_local_root_but_not_the_v27_rule() -> None:
    for host in ("127.0.0.1", "localhost", "::1"):
        found = ids(make_state(data={}, hosts=[tcp(host, 2375)], version="28.0.0"))
        assert found.get("DW-TCP-LOCAL") == "high"
        assert "DW-V27-RULE" not in found and "DW-TCP-PLAIN" not in found


def test_invalid_json_with_comments() -> None:
    dj = DaemonJsonState(path="/etc/docker/daemon.json", exists=True, has_comments=True,
                         repairable=True,
                         error=JsonProblem(line=2, col=17, message="comments are not allowed"))
    state = make_state(running=False)
    state.daemon_json = dj
    found = ids(state)
    assert found["DW-JSON-INVALID"] == "critical"
    assert found["DW-JSON-COMMENTS"] == "critical"
    assert "line 2, column 17" in by_id(state, "DW-JSON-INVALID").title
    assert "dockwiz plan" in by_id(state, "DW-JSON-COMMENTS").fix


def test_hosts_conflict_names_the_drop_in_fix() -> None:
    state = make_state(running=False, hosts_conflict="the following directives are specified "
                       "both as a flag and in the configuration file: hosts: (from flag: "
                       "[fd://], from file: [tcp://0.0.0.0:2375])")
    f = by_id(state, "DW-HOSTS-CONFLICT")
    assert f.severity == "critical"
    assert "override.conf" in f.fix and "ExecStart=" in f.fix
    assert "from flag" in (f.evidence or "")


def test_tlsverify_without_ca() -> None:
    data = {"tlsverify": True, "tlscert": "/etc/docker/certs/server.crt",
            "tlskey": "/etc/docker/certs/server.key", "hosts": ["tcp://0.0.0.0:2376"]}
    # TLS from daemon.json only: no CA at all, clients checked against the system trust store
    json_only = make_state(data=data, hosts=[tcp("0.0.0.0", 2376)])
    f = by_id(json_only, "DW-TLSVERIFY-NO-CA")
    assert f.severity == "critical" and "trust store" in f.why
    assert "DW-V27-RULE" not in ids(json_only)  # dockerd sees tlsverify: its check passes
    # --tlsverify on the command line: root's ~/.docker/ca.pem is the silent default
    missing = CertInfo(path="/root/.docker/ca.pem", role="ca", exists=False)
    by_flag = make_state(data={}, hosts=[tcp("0.0.0.0", 2376)], running=False, certs=[missing],
                         flag_options={"tlsverify": True})
    by_flag.tls = TlsSettings(tlsverify=True, tlscert="/c", tlskey="/k")
    f = by_id(by_flag, "DW-TLSVERIFY-NO-CA")
    assert f.severity == "high"
    assert "~/.docker/ca.pem" in f.why and "does not start" in f.why
    assert "DW-CERT-MISSING" not in ids(by_flag)  # one explanation, not two


def _server_cert(**kw: Any) -> CertInfo:
    base: dict[str, Any] = dict(
        path="/etc/docker/certs/server.crt", role="server", subject="CN=docker-host",
        not_after=datetime.now(UTC) + timedelta(days=300), key_path="/etc/docker/certs/s.key",
        key_mode=0o400, mode=0o444, uid=0, key_matches=True,
    )
    base.update(kw)
    return CertInfo(**base)


def test_certificate_problems_a_go_client_would_hit() -> None:
    hosts = [tcp("10.77.0.5", 2376)]
    legacy = make_state(data=MTLS, hosts=hosts, certs=[_server_cert()])
    assert ids(legacy)["DW-CERT-LEGACY-CN"] == "high"
    assert "DW-CERT-NO-IP-SAN" not in ids(legacy)
    dns_only = make_state(data=MTLS, hosts=hosts, certs=[_server_cert(dns_names=["docker"])])
    f = by_id(dns_only, "DW-CERT-NO-IP-SAN")
    assert f.severity == "high" and "10.77.0.5" in f.fix
    covered = make_state(data=MTLS, hosts=hosts,
                         certs=[_server_cert(dns_names=["d"], ip_addresses=["10.77.0.5"])])
    assert "DW-CERT-NO-IP-SAN" not in ids(covered)
    expired = make_state(data=MTLS, hosts=hosts, certs=[_server_cert(
        ip_addresses=["10.77.0.5"], not_after=datetime.now(UTC) - timedelta(days=1))])
    assert ids(expired)["DW-CERT-EXPIRED"] == "critical"
    mismatch = make_state(data=MTLS, hosts=hosts, certs=[_server_cert(
        ip_addresses=["10.77.0.5"], key_matches=False)])
    assert ids(mismatch)["DW-CERT-KEY-MISMATCH"] == "critical"


def test_key_and_cert_modes_follow_cis() -> None:
    loose = make_state(data=MTLS, certs=[_server_cert(ip_addresses=["1.2.3.4"], key_mode=0o644,
                                                       mode=0o666)])
    key = by_id(loose, "DW-KEY-MODE")
    assert key.severity == "high" and key.cis == "3.14" and "chmod 400" in key.fix
    cert = by_id(loose, "DW-CERT-MODE")
    assert cert.severity == "high" and cert.cis == "3.12"
    strictish = make_state(data=MTLS, certs=[_server_cert(ip_addresses=["1.2.3.4"],
                                                           key_mode=0o600)])
    assert ids(strictish)["DW-KEY-MODE"] == "low"


def test_world_accessible_socket_and_docker_group() -> None:
    state = make_state(
        docker_socket=SocketFile(path="/run/docker.sock", exists=True, is_socket=True,
                                 mode=0o666, owner="root", group="docker"),
        docker_group_members=["alice", "ci"],
    )
    found = ids(state)
    assert found["DW-SOCKET-MODE"] == "critical"
    assert by_id(state, "DW-SOCKET-MODE").cis == "3.16"
    assert found["DW-DOCKER-GROUP"] == "medium"
    assert "alice" in (by_id(state, "DW-DOCKER-GROUP").evidence or "")
    ok = make_state(docker_socket=SocketFile(path="/run/docker.sock", exists=True,
                                             is_socket=True, mode=0o660, owner="root",
                                             group="docker"))
    assert "DW-SOCKET-MODE" not in ids(ok) and "DW-SOCKET-OWNER" not in ids(ok)


def test_hardening_findings_and_their_cis_ids() -> None:
    bare = make_state(running_containers=3)
    found = ids(bare)
    assert found["DW-NO-LIVE-RESTORE"] == "medium"  # containers would stop on restart
    assert {by_id(bare, i).cis for i in ("DW-ICC", "DW-NO-NEW-PRIVS", "DW-USERNS",
                                         "DW-NO-LIVE-RESTORE")} == {"2.2", "2.14", "2.9", "2.15"}
    hardened = make_state(data={"icc": False, "no-new-privileges": True, "live-restore": True},
                          userns_remap="default")
    assert not {"DW-ICC", "DW-NO-NEW-PRIVS", "DW-USERNS", "DW-NO-LIVE-RESTORE"} & set(
        ids(hardened))


def test_daemon_states() -> None:
    nothing = make_state(docker_installed=False, running=False)
    assert ids(nothing)["DW-NOT-INSTALLED"] == "info"
    failing = make_state(running=False, daemon_error="invalid character '/'")
    assert ids(failing)["DW-DAEMON-FAILS"] == "critical"
    partial = make_state(unreadable=["/etc/docker/certs/server.key: Permission denied"])
    assert "Permission denied" in (by_id(partial, "DW-PARTIAL").evidence or "")


def test_findings_are_sorted_by_severity() -> None:
    state = make_state(data=SEED_004, hosts=[tcp("0.0.0.0", 2375)], docker_group_members=["a"])
    order = [SEVERITY_ORDER[f.severity] for f in evaluate(state)]
    assert order == sorted(order)
    assert order[0] == 0


hosts_st = st.lists(
    st.tuples(st.sampled_from(["0.0.0.0", "127.0.0.1", "10.77.0.9", "::", "::1", "localhost"]),
              st.sampled_from([2375, 2376])), max_size=3)
opt_bool = st.sampled_from([None, True, False])


@given(hosts=hosts_st, tls_=opt_bool, verify=opt_bool, ca=st.booleans(),
       major=st.sampled_from([None, "20.10.24", "26.1.0", "27.0.1", "28.5.2"]),
       running=st.booleans())
def test_v27_rule_property(hosts: list[tuple[str, int]], tls_: bool | None,
                           verify: bool | None, ca: bool, major: str | None,
                           running: bool) -> None:
    """Docker >= 27 + a network TCP listener without client verification is always a
    critical v27 finding; verification on, or loopback only, never is."""
    data: dict[str, Any] = {}
    if tls_ is not None:
        data["tls"] = tls_
    if verify is not None:
        data["tlsverify"] = verify
    if ca:
        data["tlscacert"] = "/etc/docker/tls/ca.pem"
    state = make_state(data=data, hosts=[tcp(h, p) for h, p in hosts], version=major,
                       running=running)
    found = ids(state)
    remote = any(not is_loopback(h) for h, _ in hosts)
    if remote and not state.tls.verifies_clients:
        # an unknown version counts as 27+ (policy's rule: no insecure default when unsure)
        expected = "critical" if not major or int(major.split(".")[0]) >= 27 else "high"
        assert found.get("DW-V27-RULE") == expected
        assert "DW-TCP-PLAIN" in found or "DW-TCP-NOVERIFY" in found
    else:
        assert "DW-V27-RULE" not in found


def test_merged_endpoints_lists_each_real_endpoint_once() -> None:
    """Seed 004 as the daemon reports it: Go shows the 0.0.0.0 bind as [::], and the socket
    under /run is the /var/run one; a listener the config does not name is still shown."""
    sock = Listener(kind="unix", address="unix:///var/run/docker.sock", source="daemon.json")
    state = make_state(
        data=SEED_004,
        hosts=[sock, tcp("0.0.0.0", 2375)],
        listeners=[
            Listener(kind="unix", address="unix:///run/docker.sock", source="observed"),
            tcp("::", 2375, source="observed"),
            tcp("127.0.0.1", 9999, source="observed"),
        ],
    )
    merged = merged_endpoints(state)
    assert [ep.address for ep in merged] == [
        "unix:///var/run/docker.sock", "tcp://0.0.0.0:2375", "tcp://127.0.0.1:9999"]


def test_certificate_judgements_come_from_pki_checks() -> None:
    """findings and ``certs show`` share one judge: an IPv6 SAN written another way still
    covers the listener, and expiry/key-mode verdicts match pki.checks."""
    from dockwiz.pki import checks

    hosts = [tcp("fd00:0:0::5", 2376)]
    cert = _server_cert(dns_names=["d"], ip_addresses=["fd00::5"])
    assert checks.uncovered(cert, ["fd00:0:0::5"]) == []
    assert "DW-CERT-NO-IP-SAN" not in ids(make_state(data=MTLS, hosts=hosts, certs=[cert]))
    other = _server_cert(dns_names=["d"], ip_addresses=["fd00::6"])
    assert checks.uncovered(other, ["fd00:0:0::5"]) == ["fd00:0:0::5"]
    assert ids(make_state(data=MTLS, hosts=hosts, certs=[other]))["DW-CERT-NO-IP-SAN"] == "high"
    soon = _server_cert(ip_addresses=["fd00::5"], not_after=datetime.now(UTC) + timedelta(days=29))
    assert checks.expiry(None, soon.not_after) == "expiring"
    assert ids(make_state(data=MTLS, hosts=hosts, certs=[soon]))["DW-CERT-EXPIRING"] == "medium"
    for mode, verdict, severity in ((0o400, None, None), (0o600, "not-0400", "low"),
                                    (0o640, "readable-by-others", "high")):
        c = _server_cert(ip_addresses=["fd00::5"], key_mode=mode)
        assert checks.key_mode_verdict(mode) == verdict
        assert ids(make_state(data=MTLS, hosts=hosts, certs=[c])).get("DW-KEY-MODE") == severity


def test_renewal_unscheduled_and_rollover_come_from_the_host_state() -> None:
    """Issue 15: inspect says whether renewal is scheduled (a finding while it is not) and
    whether a CA roll-over waits to be finished."""

    from dockwiz.models.host_state import CertInfo
    from dockwiz.models.lifecycle import RenewalSchedule

    state = make_state(data=MTLS, hosts=[tcp("0.0.0.0", 2376)])
    state.certs = [CertInfo(role="server", path="/etc/docker/tls/server-cert.pem", exists=True,
                            readable=True, not_after=datetime.now(UTC) + timedelta(days=200))]
    state.renewal = RenewalSchedule(detail="no dockwiz-renew timer or cron entry")
    found = ids(state)
    assert found.get("DW-RENEW-UNSCHEDULED") == "low" and "DW-RENEW-ROLLOVER" not in found
    state.renewal = RenewalSchedule(kind="systemd-timer", enabled=True, detail="daily")
    state.ca_rollover = True
    found = ids(state)
    assert "DW-RENEW-UNSCHEDULED" not in found and found.get("DW-RENEW-ROLLOVER") == "low"


# -- where docker-bench-security spoke and dockwiz was silent (CIS 2.12, 2.13, 2.16) ---------
def test_bench_gaps_on_a_stock_daemon_are_info_with_cis_ids() -> None:
    state = make_state(data={})
    for id_, cis in (("DW-NO-AUTHZ", "2.12"), ("DW-LOG-LOCAL", "2.13"),
                     ("DW-USERLAND-PROXY", "2.16")):
        finding = by_id(state, id_)
        assert finding.severity == "info" and finding.cis == cis
        assert finding.why and "Cost" in finding.fix
    assert "json-file" in (by_id(state, "DW-LOG-LOCAL").evidence or "")
    assert "userland-proxy" in by_id(state, "DW-USERLAND-PROXY").fix


def test_authorization_plugin_silences_2_12() -> None:
    assert "DW-NO-AUTHZ" not in ids(make_state(data={"authorization-plugins": ["opa"]}))
    flagged = make_state(data={}, flag_options={"authorization-plugins": ["opa"]})
    assert "DW-NO-AUTHZ" not in ids(flagged)


def test_remote_log_driver_silences_2_13_and_local_ones_do_not() -> None:
    for driver in ("syslog", "journald", "gelf", "fluentd"):
        assert "DW-LOG-LOCAL" not in ids(make_state(data={"log-driver": driver}))
    local = by_id(make_state(data={"log-driver": "local"}), "DW-LOG-LOCAL")
    assert local.evidence == "log-driver: local"
    assert "DW-LOG-LOCAL" not in ids(make_state(data={}, flag_options={"log-driver": "syslog"}))


def test_userland_proxy_off_silences_2_16() -> None:
    assert "DW-USERLAND-PROXY" not in ids(make_state(data={"userland-proxy": False}))
    assert "DW-USERLAND-PROXY" not in ids(
        make_state(data={}, flag_options={"userland-proxy": False}))
    on = by_id(make_state(data={"userland-proxy": True}), "DW-USERLAND-PROXY")
    assert on.evidence == "userland-proxy: true"


def test_bench_gaps_are_silent_without_docker() -> None:
    state = make_state(data={}, docker_installed=False).model_copy(
        update={"daemon_json": DaemonJsonState(path="/etc/docker/daemon.json", exists=False)})
    assert not {"DW-NO-AUTHZ", "DW-LOG-LOCAL", "DW-USERLAND-PROXY"} & set(ids(state))


# -- the daemon's own words (GET /info Warnings) in the evidence -----------------------------
PLAIN_28 = ("[DEPRECATION NOTICE]: API is accessible on http://0.0.0.0:2375 without encryption."
            "\n         Access to the remote API is equivalent to root access on the host.")
NOVERIFY_20 = ("WARNING: API is accessible on https://0.0.0.0:2376 without TLS client "
               "verification.\n         Access to the remote API is equivalent to root access.")


def test_plain_tcp_evidence_quotes_the_daemons_warning() -> None:
    state = make_state(data=SEED_004, hosts=[tcp("0.0.0.0", 2375)], version="28.5.2",
                       daemon_warnings=[PLAIN_28, "WARNING: bridge-nf-call-iptables is disabled"])
    evidence = by_id(state, "DW-TCP-PLAIN").evidence or ""
    assert evidence.startswith("tcp://0.0.0.0:2375")
    assert ('the daemon itself warns: "[DEPRECATION NOTICE]: API is accessible on '
            'http://0.0.0.0:2375 without encryption."') in evidence
    assert "bridge-nf" not in evidence and "root access" not in evidence  # first line only


def test_noverify_evidence_quotes_the_daemon_and_only_for_its_endpoint() -> None:
    state = make_state(data=SEED_004_TLS, hosts=[tcp("0.0.0.0", 2376)],
                       daemon_warnings=[NOVERIFY_20, PLAIN_28])
    evidence = by_id(state, "DW-TCP-NOVERIFY").evidence or ""
    assert '"WARNING: API is accessible on https://0.0.0.0:2376 without TLS client ' in evidence
    assert "http://0.0.0.0:2375" not in evidence  # another endpoint, another scheme
    elsewhere = make_state(data=SEED_004_TLS, hosts=[tcp("10.0.0.5", 2376)],
                           daemon_warnings=[NOVERIFY_20])
    assert "daemon itself" not in (by_id(elsewhere, "DW-TCP-NOVERIFY").evidence or "")


def test_no_daemon_warnings_leave_evidence_as_before() -> None:
    state = make_state(data=SEED_004, hosts=[tcp("0.0.0.0", 2375)])
    assert by_id(state, "DW-TCP-PLAIN").evidence == "tcp://0.0.0.0:2375"
