"""The hand-off text (handoff.py): paths that work where they are printed, and README.txt."""

from __future__ import annotations

from pathlib import Path

from dockwiz import pki
from dockwiz.handoff import Place, after_apply, handoff_text, read_bundle
from dockwiz.host import Host
from dockwiz.models.results import ApplyResult

BUNDLE = "/etc/dockwiz/clients/dockwiz-client"


def write_bundle(root: Path) -> None:
    local = root / BUNDLE.lstrip("/")
    local.mkdir(parents=True, mode=0o700)
    env_sh, context = pki.client_bundle_text("dockwiz-client", BUNDLE, "tcp://10.0.0.5:2376")
    (local / "env.sh").write_text(env_sh)
    (local / "context.txt").write_text(context + "\n")


def test_real_host_paths_and_undo(tmp_path: Path) -> None:
    write_bundle(tmp_path)
    place = Place(root=str(tmp_path))
    text = handoff_text(place, txid="T1", bundle=read_bundle(place, BUNDLE))
    assert "applied transaction T1; the daemon answers on tcp://10.0.0.5:2376" in text
    assert f"on this machine: {tmp_path}{BUNDLE}" in text
    assert f"  . {BUNDLE}/env.sh && docker version" in text
    assert "  docker context create dockwiz-client --docker " in text
    assert "  docker --context dockwiz-client version" in text
    assert f"  dockwiz rollback --root {tmp_path}" in text
    assert "throwaway" not in text
    on_slash = handoff_text(Place(), txid="T1", bundle=None)
    assert on_slash.rstrip().endswith("  dockwiz rollback")


def test_lab_names_both_paths_and_the_lab_shell(tmp_path: Path) -> None:
    root = tmp_path / "lab/root"
    write_bundle(root)
    place = Place(root=str(root), lab_dir=str(tmp_path / "lab"))
    text = handoff_text(place, txid="T2", bundle=read_bundle(place, BUNDLE))
    assert f"on this machine: {root}{BUNDLE}" in text
    assert f"inside the lab:  {BUNDLE}  (dockwiz lab shell --dir {tmp_path}/lab)" in text
    assert f"dockwiz rollback --lab {tmp_path}/lab" in text


def test_throwaway_lab_says_it_is_removed_and_how_to_keep_one(tmp_path: Path) -> None:
    place = Place(root=str(tmp_path / "root"), lab_dir=str(tmp_path), throwaway=True)
    text = handoff_text(place, txid="T3", bundle=None)
    assert f"the lab and its client bundle in {tmp_path} are removed now" in text
    assert "dockwiz lab up --dir DIR && dockwiz --lab DIR" in text


def test_after_apply_saves_the_same_text_as_readme(tmp_path: Path) -> None:
    write_bundle(tmp_path)
    host = Host(tmp_path)
    result = ApplyResult(ok=True, txid="T4", client_bundle=BUNDLE)
    text = after_apply(host, result)
    readme = (tmp_path / BUNDLE.lstrip("/") / "README.txt").read_text()
    assert readme == text
    assert "README.txt" in text
