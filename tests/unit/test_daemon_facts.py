"""Texts about what dockerd does must be true for the version at hand (issue 13)."""

from __future__ import annotations

import pytest

from dockwiz.daemon_facts import ANNOUNCED, startup_behaviour, unauthenticated_tcp_text


@pytest.mark.parametrize("major", [20, 26, 27, 28, None])
@pytest.mark.parametrize("exposure", ["plain", "tls-only"])
@pytest.mark.parametrize("explicit", [True, False])
def test_no_version_is_said_to_refuse_to_start(major: int | None, exposure: str,
                                               explicit: bool) -> None:
    """Measured: 20.10 and 28.5 start with plain TCP and with TLS-only on a network address."""
    text = startup_behaviour(major, exposure, tls_explicit=explicit, loopback=False)  # type: ignore[arg-type]
    assert " starts" in text
    for false_claim in ("refuses to start", "fails to start", "does not start", "will not start"):
        assert false_claim not in text


def test_plain_tcp_without_explicit_tls_mentions_the_deliberate_sleep() -> None:
    text = startup_behaviour(28, "plain", tls_explicit=False, loopback=False)
    assert "16 s" in text and "next release" in text
    assert "16 s" not in startup_behaviour(28, "plain", tls_explicit=True, loopback=False)
    assert "next release" not in startup_behaviour(20, "plain", tls_explicit=False, loopback=False)


def test_the_announcement_is_said_apart_from_the_behaviour() -> None:
    text = unauthenticated_tcp_text(28, "tls-only", tls_explicit=True)
    today, _, rest = text.partition(ANNOUNCED)
    assert today and rest, "behaviour first, then the announcement, as separate sentences"
    assert "27.0" not in today
