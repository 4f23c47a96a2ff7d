"""docker.service/docker.socket parsing, effective ExecStart, drop-ins, dockerd flags."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockwiz.docker_paths import SOCKET_URL
from dockwiz.host import Host
from dockwiz.lab.scenarios import DEBIAN_DOCKER_SERVICE, DEBIAN_DOCKER_SOCKET
from dockwiz.systemd import (
    SystemdError,
    conflict_message,
    conflicting_directives,
    effective_exec_start,
    effective_hosts,
    find_dropins,
    flag_to_json_key,
    json_key_to_flag,
    parse_dockerd_args,
    parse_env_file,
    parse_unit,
    read_docker_unit,
    read_socket_unit,
    render_dropin,
    render_exec,
    split_exec,
)

# Debian 12's docker.io 20.10.24+dfsg1 units, verbatim as packaged (the lab lays out the same).
DEBIAN_SERVICE = DEBIAN_DOCKER_SERVICE
DOCKER_SOCKET = DEBIAN_DOCKER_SOCKET

DEBIAN_DEFAULT = """\
# Here in Debian, this file is sourced by:
#   - /etc/init.d/docker (sysvinit)
#   - /etc/init/docker (upstart)
#   - systemd's docker.service

# Use of this file for configuring your Docker daemon is discouraged.

#DOCKER_OPTS="--dns 8.8.8.8 --dns 8.8.4.4"
"""

# Docker CE (moby contrib/init/systemd, as packaged by docker-ce 28.x in /lib/systemd/system).
DOCKER_CE_SERVICE = """\
[Unit]
Description=Docker Application Container Engine
Documentation=https://docs.docker.com
After=network-online.target nss-lookup.target docker.socket firewalld.service containerd.service time-set.target
Wants=network-online.target containerd.service
Requires=docker.socket
StartLimitBurst=3
StartLimitIntervalSec=60

[Service]
Type=notify
# the default is not to use systemd for cgroups because the delegate issues still
# exists and systemd currently does not support the cgroup feature set required
# for containers run by docker
ExecStart=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock
ExecReload=/bin/kill -s HUP $MAINPID
TimeoutStartSec=0
RestartSec=2
Restart=always

# Having non-zero Limit*s causes performance problems due to accounting overhead
# in the kernel. We recommend using cgroups to do container-local accounting.
LimitNPROC=infinity
LimitCORE=infinity

# Comment TasksMax if your systemd version does not support it.
# Only systemd 226 and above support this option.
TasksMax=infinity

# set delegate yes so that systemd does not reset the cgroups of docker containers
Delegate=yes

# kill only the docker process, not all processes in the cgroup
KillMode=process
OOMScoreAdjust=-500

[Install]
WantedBy=multi-user.target
"""  # noqa: E501 - verbatim as packaged

# Seed 002: the tutorial's override.conf.
SEED_002_OVERRIDE = """\
[Service]
ExecStart=
ExecStart=/usr/bin/dockerd -D -H unix:///var/run/docker.sock --tlsverify --tlscert=/home/user/.docker/server-cert.pem --tlscacert=/home/user/.docker/ca.pem --tlskey=/home/user/.docker/server-key.pem -H tcp://0.0.0.0:2376
"""  # noqa: E501 - verbatim from the seed


def _write(root: Path, host_path: str, text: str) -> Path:
    local = root / host_path.lstrip("/")
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_text(text)
    return local


# --------------------------------------------------------------------------------------------
# unit syntax
# --------------------------------------------------------------------------------------------


def test_parse_unit_sections_comments_continuations_and_repeats() -> None:
    unit = parse_unit(
        "; leading comment\n"
        "[Service]\n"
        "Environment=A=1\n"
        "  # indented comment\n"
        "ExecStart=\n"
        "ExecStart=/usr/bin/dockerd \\\n"
        "  -H fd:// \\\n"
        "# a comment inside the continuation is skipped\n"
        "  --debug\n"
        "Environment=B=2\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )
    assert unit.sections() == ["Service", "Install"]
    assert unit.values("Service", "ExecStart") == ["", "/usr/bin/dockerd    -H fd://    --debug"]
    assert unit.values("Service", "Environment") == ["A=1", "B=2"]
    assert unit.entries[2].line == 6  # the continued ExecStart starts on line 6
    assert unit.problems == []


def test_parse_unit_records_oddities_without_raising() -> None:
    unit = parse_unit("Orphan=1\n[Broken\n[Service]\nnot an assignment\n", "/x.service")
    assert len(unit.problems) == 3
    assert unit.entries == []


# --------------------------------------------------------------------------------------------
# command lines
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "env", "argv"),
    [
        ("/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock", None,
         ["/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"]),
        ('/bin/x "a b" \'c "d"\' e\\sf "\\x41\\t" \\101', None,
         ["/bin/x", "a b", 'c "d"', "e f", "A\t", "A"]),
        ('/bin/x ";" b', None, ["/bin/x", ";", "b"]),
        ("-/usr/bin/dockerd -D", None, ["/usr/bin/dockerd", "-D"]),
        ("+!/usr/bin/dockerd -D", None, ["/usr/bin/dockerd", "-D"]),
        ("@/usr/bin/dockerd dockerd-name -D", None, ["/usr/bin/dockerd", "-D"]),
        ("- /usr/bin/dockerd -D", None, ["/usr/bin/dockerd", "-D"]),
        ("/usr/sbin/dockerd -H fd:// $DOCKER_OPTS", {}, ["/usr/sbin/dockerd", "-H", "fd://"]),
        ("/usr/sbin/dockerd $DOCKER_OPTS", {"DOCKER_OPTS": " --dns 8.8.8.8  -D "},
         ["/usr/sbin/dockerd", "--dns", "8.8.8.8", "-D"]),
        ("/usr/sbin/dockerd ${DOCKER_OPTS}", {"DOCKER_OPTS": "--dns 8.8.8.8"},
         ["/usr/sbin/dockerd", "--dns 8.8.8.8"]),
        ("/usr/sbin/dockerd --x=${A}/y ${UNSET}", {"A": "1"}, ["/usr/sbin/dockerd", "--x=1/y", ""]),
        ("/bin/x $$HOME 100%% $UNSET", {}, ["/bin/x", "$HOME", "100%"]),
        ("/bin/x a ; /bin/y b", None, ["/bin/x", "a"]),
        ("/bin/x \\; b", None, ["/bin/x", ";", "b"]),
        ("", None, []),
    ],
)
def test_split_exec(line: str, env: dict[str, str] | None, argv: list[str]) -> None:
    assert split_exec(line, env) == argv


@pytest.mark.parametrize(
    "line",
    ['/bin/x "open', "/bin/x 'open", "/bin/x \\q", "/bin/x \\", "/bin/x a\\ b", "/bin/x \\x00",
     "/bin/x \\777", "/bin/x a\\;"],
)
def test_split_exec_rejects_what_systemd_rejects(line: str) -> None:
    with pytest.raises(SystemdError):
        split_exec(line)


def test_split_exec_without_expansion_keeps_variables() -> None:
    assert split_exec("/bin/x $A ${B}", expand=False) == ["/bin/x", "$A", "${B}"]


def test_render_dropin_shape() -> None:
    text = render_dropin(
        ["/usr/bin/dockerd", "--containerd=/run/containerd/containerd.sock"],
        "Managed by dockwiz: hosts are set in /etc/docker/daemon.json,\n"
        "so -H must not be passed here (dockerd refuses both).",
    )
    assert text == (
        "# Managed by dockwiz: hosts are set in /etc/docker/daemon.json,\n"
        "# so -H must not be passed here (dockerd refuses both).\n"
        "[Service]\n"
        "ExecStart=\n"
        "ExecStart=/usr/bin/dockerd --containerd=/run/containerd/containerd.sock\n"
    )


def test_render_exec_needs_an_absolute_program() -> None:
    with pytest.raises(SystemdError):
        render_exec(["dockerd"])
    with pytest.raises(SystemdError):
        render_exec([])


ARG_TEXT = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    max_size=20,
)
ARGVS = st.builds(
    lambda prog, args: [prog, *args],
    st.from_regex(r"/[A-Za-z0-9_./ -]{0,15}", fullmatch=True),
    st.lists(ARG_TEXT, max_size=6),
)


@settings(max_examples=300)
@given(ARGVS, st.text(max_size=40))
def test_render_dropin_round_trips_through_unit_parsing(argv: list[str], why: str) -> None:
    assert split_exec(render_exec(argv)) == argv
    unit = parse_unit(render_dropin(argv, why))
    values = unit.values("Service", "ExecStart")
    assert values[0] == "" and len(values) == 2
    assert split_exec(values[1]) == argv
    assert unit.sections() == ["Service"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_split_exec_raises_only_systemd_error(line: str) -> None:
    with contextlib.suppress(SystemdError):
        split_exec(line, {"A": "1 2"})


UNITISH = st.text(alphabet="[]=#;\\\n \"'$ServiceExecStartEnvironmentFile-/abc{}%", max_size=200)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.function_scoped_fixture])
@given(st.one_of(UNITISH, st.text(max_size=150)), st.one_of(UNITISH, st.text(max_size=100)))
def test_reading_random_units_never_raises(tmp_path: Path, fragment: str, dropin: str) -> None:
    root = tmp_path / "r"
    _write(root, "/lib/systemd/system/docker.service", fragment)
    _write(root, "/etc/systemd/system/docker.service.d/x.conf", dropin)
    _write(root, "/lib/systemd/system/docker.socket", dropin)
    parse_unit(fragment)
    state = read_docker_unit(Host(root))
    assert state.exists
    assert (state.exec_start is None) == (state.exec_start_source is None) or state.problems
    read_socket_unit(Host(root))


# --------------------------------------------------------------------------------------------
# effective ExecStart on a host
# --------------------------------------------------------------------------------------------


def test_debian_unit_with_stock_default_file(tmp_path: Path) -> None:
    _write(tmp_path, "/lib/systemd/system/docker.service", DEBIAN_SERVICE)
    _write(tmp_path, "/etc/default/docker", DEBIAN_DEFAULT)
    state = read_docker_unit(Host(tmp_path))
    assert state.exists and state.path == "/lib/systemd/system/docker.service"
    assert state.exec_start == [
        "/usr/sbin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock",
    ]
    assert state.exec_start_source == "/lib/systemd/system/docker.service"
    assert state.dropins == [] and state.problems == []
    assert state.mode is not None


def test_debian_unit_expands_docker_opts(tmp_path: Path) -> None:
    _write(tmp_path, "/lib/systemd/system/docker.service", DEBIAN_SERVICE)
    _write(tmp_path, "/etc/default/docker", 'DOCKER_OPTS="--dns 8.8.8.8 -H tcp://0.0.0.0:2375"\n')
    state = read_docker_unit(Host(tmp_path))
    assert state.exec_start is not None
    assert state.exec_start[-4:] == ["--dns", "8.8.8.8", "-H", "tcp://0.0.0.0:2375"]
    result = effective_exec_start(Host(tmp_path))
    assert result.environment == {"DOCKER_OPTS": "--dns 8.8.8.8 -H tcp://0.0.0.0:2375"}
    assert result.raw is not None and result.raw.endswith("$DOCKER_OPTS")
    flags = parse_dockerd_args(state.exec_start)
    assert flags.hosts == ["fd://", "tcp://0.0.0.0:2375"]


def test_debian_unit_without_default_file_is_fine(tmp_path: Path) -> None:
    _write(tmp_path, "/lib/systemd/system/docker.service", DEBIAN_SERVICE)
    state = read_docker_unit(Host(tmp_path))
    assert state.exec_start is not None and state.exec_start[-1].startswith("--containerd=")
    assert state.problems == []


def test_required_environment_file_missing_is_a_problem(tmp_path: Path) -> None:
    _write(tmp_path, "/lib/systemd/system/docker.service",
           DEBIAN_SERVICE.replace("EnvironmentFile=-/etc", "EnvironmentFile=/etc"))
    state = read_docker_unit(Host(tmp_path))
    assert any("EnvironmentFile=/etc/default/docker" in p for p in state.problems)


def test_docker_ce_unit(tmp_path: Path) -> None:
    _write(tmp_path, "/lib/systemd/system/docker.service", DOCKER_CE_SERVICE)
    state = read_docker_unit(Host(tmp_path))
    assert state.exec_start == [
        "/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock",
    ]
    flags = parse_dockerd_args(state.exec_start)
    assert flags.hosts == ["fd://"]
    assert flags.options["containerd"] == "/run/containerd/containerd.sock"


def test_seed_002_override_wins_and_is_the_source(tmp_path: Path) -> None:
    _write(tmp_path, "/lib/systemd/system/docker.service", DOCKER_CE_SERVICE)
    _write(tmp_path, "/etc/systemd/system/docker.service.d/override.conf", SEED_002_OVERRIDE)
    state = read_docker_unit(Host(tmp_path))
    assert state.exec_start_source == "/etc/systemd/system/docker.service.d/override.conf"
    assert [d.path for d in state.dropins] == [
        "/etc/systemd/system/docker.service.d/override.conf"
    ]
    assert state.dropins[0].sets_exec_start and state.dropins[0].text == SEED_002_OVERRIDE
    assert state.problems == []
    assert state.exec_start is not None
    flags = parse_dockerd_args(state.exec_start)
    assert flags.hosts == ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"]
    assert flags.options["debug"] is True and flags.options["tlsverify"] is True
    assert flags.options["tlscacert"] == "/home/user/.docker/ca.pem"
    assert flags.unknown == [] and flags.positional == [] and flags.errors == []


def test_fragment_search_order_first_found_wins(tmp_path: Path) -> None:
    _write(tmp_path, "/usr/lib/systemd/system/docker.service", "[Service]\nExecStart=/usr/lib/d\n")
    _write(tmp_path, "/lib/systemd/system/docker.service", "[Service]\nExecStart=/lib/d\n")
    assert read_docker_unit(Host(tmp_path)).exec_start == ["/lib/d"]
    _write(tmp_path, "/etc/systemd/system/docker.service", "[Service]\nExecStart=/etc/d\n")
    state = read_docker_unit(Host(tmp_path))
    assert state.exec_start == ["/etc/d"] and state.path == "/etc/systemd/system/docker.service"


def test_dropins_mask_by_name_and_apply_in_lexical_order(tmp_path: Path) -> None:
    _write(tmp_path, "/lib/systemd/system/docker.service", DOCKER_CE_SERVICE)
    _write(tmp_path, "/lib/systemd/system/docker.service.d/50-x.conf",
           "[Service]\nExecStart=\nExecStart=/masked\n")
    _write(tmp_path, "/run/systemd/system/docker.service.d/50-x.conf", "[Service]\nNice=1\n")
    _write(tmp_path, "/etc/systemd/system/docker.service.d/10-a.conf",
           "[Service]\nExecStart=\nExecStart=/first\n")
    _write(tmp_path, "/usr/lib/systemd/system/docker.service.d/90-z.conf",
           "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd --last\n")
    _write(tmp_path, "/etc/systemd/system/docker.service.d/README", "not a drop-in")
    host = Host(tmp_path)
    assert find_dropins(host, "docker.service") == [
        "/etc/systemd/system/docker.service.d/10-a.conf",
        "/run/systemd/system/docker.service.d/50-x.conf",
        "/usr/lib/systemd/system/docker.service.d/90-z.conf",
    ]
    state = read_docker_unit(host)
    assert state.exec_start == ["/usr/bin/dockerd", "--last"]
    assert state.exec_start_source == "/usr/lib/systemd/system/docker.service.d/90-z.conf"
    assert [d.sets_exec_start for d in state.dropins] == [True, False, True]


def test_two_exec_start_after_reset_is_a_problem(tmp_path: Path) -> None:
    _write(tmp_path, "/lib/systemd/system/docker.service", DOCKER_CE_SERVICE)
    _write(tmp_path, "/etc/systemd/system/docker.service.d/override.conf",
           "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd -H fd://\n"
           "ExecStart=/usr/bin/dockerd -H tcp://0.0.0.0:2375\n")
    state = read_docker_unit(Host(tmp_path))
    assert state.exec_start is None
    assert any(p.startswith("two ExecStart after reset") for p in state.problems)


def test_dropin_without_reset_is_a_problem(tmp_path: Path) -> None:
    _write(tmp_path, "/lib/systemd/system/docker.service", DOCKER_CE_SERVICE)
    _write(tmp_path, "/etc/systemd/system/docker.service.d/override.conf",
           "[Service]\nExecStart=/usr/bin/dockerd -H tcp://0.0.0.0:2375\n")
    state = read_docker_unit(Host(tmp_path))
    assert state.exec_start is None
    assert any("must first reset" in p for p in state.problems)


def test_missing_unit_no_exec_start_and_masked(tmp_path: Path) -> None:
    state = read_docker_unit(Host(tmp_path))
    assert not state.exists and state.exec_start is None
    assert any("not found" in p for p in state.problems)

    _write(tmp_path, "/lib/systemd/system/docker.service", "[Unit]\nDescription=x\n")
    state = read_docker_unit(Host(tmp_path))
    assert state.exists and state.exec_start is None
    assert any(p.startswith("no ExecStart") for p in state.problems)

    masked = tmp_path / "etc/systemd/system/docker.service"
    masked.parent.mkdir(parents=True, exist_ok=True)
    masked.symlink_to("/dev/null")
    state = read_docker_unit(Host(tmp_path))
    assert state.exists and state.exec_start is None
    assert any("masked" in p for p in state.problems)


def test_symlinks_resolve_inside_the_root_never_on_this_machine(tmp_path: Path) -> None:
    # This machine may well have /lib/systemd/system/docker.service: the sandbox has not.
    link = tmp_path / "etc/systemd/system/docker.service"
    link.parent.mkdir(parents=True)
    link.symlink_to("/lib/systemd/system/docker.service")
    state = read_docker_unit(Host(tmp_path))
    assert not state.exists and state.exec_start is None

    _write(tmp_path, "/opt/units/docker.service", DOCKER_CE_SERVICE)
    link.unlink()
    link.symlink_to("/opt/units/docker.service")
    _write(tmp_path, "/opt/dropins/override.conf", SEED_002_OVERRIDE)
    (tmp_path / "etc/systemd/system/docker.service.d").symlink_to("/opt/dropins")
    state = read_docker_unit(Host(tmp_path))
    assert state.path == "/etc/systemd/system/docker.service"
    assert state.exec_start_source == "/etc/systemd/system/docker.service.d/override.conf"
    assert state.exec_start is not None and "--tlsverify" in state.exec_start


def test_empty_fragment_is_masked_and_empty_dropin_is_skipped(tmp_path: Path) -> None:
    _write(tmp_path, "/lib/systemd/system/docker.service", DOCKER_CE_SERVICE)
    _write(tmp_path, "/lib/systemd/system/docker.service.d/override.conf", SEED_002_OVERRIDE)
    _write(tmp_path, "/etc/systemd/system/docker.service.d/override.conf", "")
    state = read_docker_unit(Host(tmp_path))
    assert state.exec_start_source == "/lib/systemd/system/docker.service"
    _write(tmp_path, "/etc/systemd/system/docker.service", "")
    state = read_docker_unit(Host(tmp_path))
    assert state.exec_start is None and any("masked" in p for p in state.problems)


def test_socket_unit(tmp_path: Path) -> None:
    assert not read_socket_unit(Host(tmp_path)).exists
    _write(tmp_path, "/lib/systemd/system/docker.socket", DOCKER_SOCKET)
    _write(tmp_path, "/etc/systemd/system/docker.socket.d/mode.conf",
           "[Socket]\nSocketMode=0600\nListenStream=\nListenStream=/run/docker-alt.sock\n")
    state = read_socket_unit(Host(tmp_path))
    assert state.exists and state.path == "/lib/systemd/system/docker.socket"
    assert state.listen_stream == ["/run/docker-alt.sock"]
    assert (state.socket_mode, state.socket_user, state.socket_group) == ("0600", "root", "docker")


def test_env_file_syntax() -> None:
    env = parse_env_file(
        "# comment\n; other\nA=1\nB = two words \nC=\"x \\\"y\\\" $z\"\nD='lit $x'\n"
        "export E=e\nF=con\\\ntinued\nnot a line\n"
    )
    assert env == {"A": "1", "B": "two words", "C": 'x "y" $z', "D": "lit $x", "F": "continued"}


# --------------------------------------------------------------------------------------------
# dockerd flags
# --------------------------------------------------------------------------------------------


def test_parse_dockerd_args_pflag_forms() -> None:
    flags = parse_dockerd_args([
        "/usr/bin/dockerd", "-H", "fd://", "-H=unix:///a.sock", "-Htcp://127.0.0.1:2375",
        "--host", "tcp://[::1]:2376", "--host=unix:///b.sock", "--tlsverify=false", "--icc=false",
        "-D", "--live-restore", "--tlscacert", "/ca.pem", "--containerd=/c.sock",
        "--log-opt", "max-size=10m", "--log-opt=max-file=3", "--config-file", "/d.json",
        "--data-root=/srv", "--userns-remap", "default", "-Dl", "warn",
    ])
    assert flags.hosts == [
        "fd://", "unix:///a.sock", "tcp://127.0.0.1:2375", "tcp://[::1]:2376", "unix:///b.sock",
    ]
    assert flags.options == {
        "host": flags.hosts,
        "tlsverify": False,
        "icc": False,
        "debug": True,
        "live-restore": True,
        "tlscacert": "/ca.pem",
        "containerd": "/c.sock",
        "log-opt": ["max-size=10m", "max-file=3"],
        "config-file": "/d.json",
        "data-root": "/srv",
        "userns-remap": "default",
        "log-level": "warn",
    }
    assert flags.order[:3] == ["host", "tlsverify", "icc"]
    assert flags.errors == [] and flags.unknown == [] and flags.positional == []


def test_boolean_flags_never_swallow_the_next_argument() -> None:
    flags = parse_dockerd_args(["/usr/bin/dockerd", "--tlsverify", "/etc/docker/ca.pem", "-D"])
    assert flags.options == {"tlsverify": True, "debug": True}
    assert flags.positional == ["/etc/docker/ca.pem"]


def test_bad_flags_are_reported_not_raised() -> None:
    flags = parse_dockerd_args(["/usr/bin/dockerd", "--tlsverify=maybe", "--nope", "-X", "-H"])
    assert flags.errors == [  # pflag's own wording
        "invalid boolean 'maybe' for --tlsverify", "flag needs an argument: 'H' in -H"]
    assert flags.unknown == ["--nope", "-X"]
    assert parse_dockerd_args([]).program is None


@given(st.lists(st.text(max_size=12), max_size=12))
def test_parse_dockerd_args_never_raises(argv: list[str]) -> None:
    parse_dockerd_args(argv)


def test_flag_to_json_key() -> None:
    assert flag_to_json_key("host") == "hosts"
    assert flag_to_json_key("log-opt") == "log-opts"
    assert flag_to_json_key("insecure-registry") == "insecure-registries"
    assert flag_to_json_key("tlsverify") == "tlsverify"
    assert flag_to_json_key("label") == "labels"
    assert json_key_to_flag("hosts") == "host"
    assert json_key_to_flag("tlscacert") == "tlscacert"
    assert json_key_to_flag("nonsense") is None


def test_hosts_conflict_in_dockerds_words() -> None:
    flags = parse_dockerd_args(split_exec(
        "/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock"
    ))
    data = {"hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"], "tlsverify": True}
    assert conflicting_directives(flags, data) == ["hosts"]
    assert conflict_message(flags, data) == (
        "the following directives are specified both as a flag and in the configuration file: "
        "hosts: (from flag: [fd://], from file: [unix:///var/run/docker.sock tcp://0.0.0.0:2376])"
    )
    assert conflict_message(flags, {"tlsverify": True}) is None


def test_conflict_message_matches_dockerd_20_10_output() -> None:
    """Seen from Debian 12's dockerd 20.10.24 (see tests/e2e/test_daemon_json_e2e.py)."""
    flags = parse_dockerd_args(["/usr/sbin/dockerd", "-D", "-H", "unix:///tmp/t.sock"])
    data = {"hosts": ["tcp://127.0.0.1:2399"], "debug": True}
    assert conflict_message(flags, data) == (
        "the following directives are specified both as a flag and in the configuration file: "
        "debug: (from flag: true, from file: true), "
        "hosts: (from flag: [unix:///tmp/t.sock], from file: [tcp://127.0.0.1:2399])"
    )


def test_conflicts_beyond_hosts_use_flattened_file_and_named_options() -> None:
    flags = parse_dockerd_args([
        "/usr/bin/dockerd", "--tlsverify", "--log-opt", "max-size=1m", "-D",
        "--add-runtime", "r=/bin/r", "--http-proxy", "http://p",
    ])
    data = {
        "tlsverify": True,
        "log-opts": {"max-size": "2m"},
        "debug": False,
        "runtimes": {"x": {"path": "/x"}},  # merged by dockerd, never a conflict
        "proxies": {"http-proxy": "http://q"},  # flattened: its members are directives
    }
    assert conflicting_directives(flags, data) == ["debug", "http-proxy", "log-opts", "tlsverify"]
    message = conflict_message(flags, data)
    assert message is not None
    assert "debug: (from flag: true, from file: false)" in message
    assert "log-opts: (from flag: map[max-size:1m], from file: map[max-size:2m])" in message


def test_effective_hosts() -> None:
    none = parse_dockerd_args(["/usr/bin/dockerd"])
    fd = parse_dockerd_args(["/usr/bin/dockerd", "-H", "fd://"])
    assert effective_hosts(none, {}) == [SOCKET_URL]
    assert effective_hosts(None, None) == ["unix:///var/run/docker.sock"]
    assert effective_hosts(fd, {}) == ["fd://"]
    assert effective_hosts(none, {"hosts": ["tcp://127.0.0.1:2376"]}) == ["tcp://127.0.0.1:2376"]
    assert effective_hosts(fd, {"hosts": ["tcp://127.0.0.1:2376"]}) == []  # dockerd won't start
    assert effective_hosts(fd, {"hosts": None}) == []  # the key alone is a conflict
    assert conflicting_directives(fd, {"hosts": None}) == ["hosts"]
    assert effective_hosts(none, {"hosts": []}) == [SOCKET_URL]
