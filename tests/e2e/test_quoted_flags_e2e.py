"""How a quoted flag value reaches dockerd through real systemd (a booted Debian 12 container).

Issue 13: quoted ``--tls*`` values. Measured on the dockerd binaries here (``dockerd --validate``
and a start): 20.10.24 strips one pair of quotes around ``--tlscert``'s value, 26.1.5 and 28.5.2
keep them and try to open ``"/path"`` literally. So whether the quotes reach dockerd matters, and
that is systemd's doing: this test asks the real systemd what argv it builds for an ExecStart
with quotes inside a word (stripped: extract_first_word unquotes anywhere in a word), for a
``$VAR`` from an EnvironmentFile whose value holds quotes (split with EXTRACT_UNQUOTE: stripped
too, and a quoted space stays inside one word), and for ``${VAR}`` substituted in place (quotes
reach the program verbatim); and checks that dockwiz's own reading (systemd.split_exec with the
env parsers) gives the same argv, so inspect's finding about quoted values sees what dockerd
sees.
"""

from __future__ import annotations

import pytest

import systemd_host as sh
from dockwiz import systemd
from systemd_host import SystemdContainerHost

pytestmark = pytest.mark.e2e
systemd_container = sh.systemd_container
systemd_host = sh.systemd_host

UNIT = "/etc/systemd/system/quoteprobe.service"
ENV_FILE = "/etc/docker/quoteprobe.env"  # under a watched directory: restored after the test
OUT = "/run/quoteprobe.out"
ENV_TEXT = ('DOCKER_OPTS="--tlsverify --tlscacert=\\"/etc/docker/ca.pem\\" '
            '\'--label=c d\' --label=e\\\\ f"\n')
ENVIRONMENT = "\"EXTRA=--tlskey='/etc/docker/key.pem'\""
EXEC_ARGS = ('--tlscert="/etc/docker/cert.pem" "--label=a b" \'--data-root="/x"\' '
             "$DOCKER_OPTS ${EXTRA}")


def test_systemd_strips_quotes_inside_words_but_not_inside_variables(
        systemd_host: SystemdContainerHost) -> None:
    host = systemd_host
    # the shell writes its own argv: what systemd executed, NUL-separated
    script = "'cat /proc/$$$$/cmdline > " + OUT + "'"
    unit = ("[Service]\nType=oneshot\n"
            f"EnvironmentFile={ENV_FILE}\nEnvironment={ENVIRONMENT}\n"
            f"ExecStart=/bin/sh -c {script} probe {EXEC_ARGS}\n")
    host.path(ENV_FILE).write_text(ENV_TEXT)
    host.path(UNIT).write_text(unit)
    try:
        assert host.systemctl("daemon-reload").ok
        started = host.systemctl("start", "quoteprobe.service")
        assert started.ok, started.stderr + host.journal("quoteprobe")
        argv = [a for a in host.path(OUT).read_bytes().decode().split("\0") if a]
    finally:
        host.path(UNIT).unlink(missing_ok=True)
        host.path(OUT).unlink(missing_ok=True)
        host.systemctl("daemon-reload")
    seen = argv[argv.index("probe") + 1:]
    assert seen == [
        "--tlscert=/etc/docker/cert.pem",  # quotes inside an ExecStart word: stripped
        "--label=a b",
        '--data-root="/x"',  # quotes inside a quoted word: kept
        "--tlsverify",
        "--tlscacert=/etc/docker/ca.pem",  # $VAR from an EnvironmentFile: unquoted too
        "--label=c d",  # ... and a quoted blank stays in one word
        "--label=e f",  # ... and a backslash keeps the next character
        "--tlskey='/etc/docker/key.pem'",  # ${VAR} is substituted in place: quotes kept
    ]
    # dockwiz reads the same unit the same way
    env = {**systemd.parse_env_file(ENV_TEXT),
           **systemd.parse_environment_assignments(ENVIRONMENT)}
    ours = systemd.split_exec(f"/bin/sh -c {script} probe {EXEC_ARGS}", env)
    assert ours[ours.index("probe") + 1:] == seen
