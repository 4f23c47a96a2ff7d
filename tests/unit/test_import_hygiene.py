"""The core runs headless: importing it must not load Textual, and core logic must not load rich.

Checked in a fresh interpreter per module, because this test process has probably imported
Textual already (the UI tests) and ``sys.modules`` would lie.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import dockwiz

UI_MODULES = {"dockwiz.commands.tui"}
UI_PACKAGES = ("dockwiz.tui",)


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(dockwiz.__path__, "dockwiz."):
        name = info.name
        if name in UI_MODULES or name.startswith(UI_PACKAGES) or name == "dockwiz.__main__":
            continue
        names.append(name)
    return sorted(names)


def loaded_after_import(module: str) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    return set(json.loads(out.stdout))


def test_there_are_core_modules_to_check() -> None:
    mods = core_modules()
    assert "dockwiz.inspect" in mods and "dockwiz.findings" in mods
    assert "dockwiz.procnet" in mods


def test_no_core_module_imports_textual_and_only_commands_import_rich() -> None:
    """One interpreter per module: a module may not rely on a sibling to have been first."""
    problems = []
    for module in core_modules():
        loaded = loaded_after_import(module)
        if "textual" in loaded:
            problems.append(f"{module} loads textual")
        if "rich" in loaded and not module.startswith("dockwiz.commands"):
            problems.append(f"{module} loads rich (only commands/* may render)")
    assert not problems, problems


@pytest.mark.parametrize("argv", [["inspect", "--help"]])
def test_headless_command_does_not_load_textual(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from dockwiz import cli\n"
        "try:\n"
        f"    cli.main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'textual' not in sys.modules, 'textual loaded'\n"
    )
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                   check=True)
