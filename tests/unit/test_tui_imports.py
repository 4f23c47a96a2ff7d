"""No import circle among the wizard's modules: only tui/flow.py knows the order of steps.

Screens once pushed the next screen themselves and base.py imported app.py, which made a
9-file loop (app -> inspect -> mode -> certs -> hardening -> preview -> apply -> verify, and
base -> app). The graph is read from the source with ``ast`` and counts every import: module
level, inside functions and under TYPE_CHECKING alike, because each one is a dependency a reader
has to follow, whether or not Python happens to execute it first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import dockwiz.tui

TUI_DIR = Path(dockwiz.tui.__file__).parent
PACKAGE = "dockwiz.tui"


def module_name(path: Path) -> str:
    parts = path.relative_to(TUI_DIR).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def import_graph() -> dict[str, set[str]]:
    """Module -> the tui modules it imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    files = {module_name(p): p for p in TUI_DIR.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                    for alias in node.names
                ]
            graph[name].update(t for t in targets if t in files and t != name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path that ends where it starts, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node):], node]
        if node in done:
            return None
        for target in sorted(graph[node]):
            found = visit(target, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start, [])
        if found:
            return found
    return None


def test_the_graph_sees_the_imports_that_matter() -> None:
    """The checker itself must see lazy and package-relative imports, or it proves nothing."""
    graph = import_graph()
    assert "dockwiz.tui.screens.mode" in graph["dockwiz.tui.app"]  # imported inside a function
    assert "dockwiz.tui.widgets.render" in graph["dockwiz.tui.screens.mode"]  # from pkg import
    assert "dockwiz.tui.flow" in graph["dockwiz.tui.screens.base"]


def test_the_checker_finds_a_planted_circle() -> None:
    graph = import_graph()
    graph["dockwiz.tui.flow"] = {*graph["dockwiz.tui.flow"], "dockwiz.tui.app"}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and "dockwiz.tui.flow" in cycle


def test_no_import_circle_in_the_tui() -> None:
    assert find_cycle(import_graph()) is None


def test_screens_never_import_the_app_or_each_other() -> None:
    """A screen asks the app to advance; which screen comes next is the flow's business."""
    graph = import_graph()
    steps = {
        name for name in graph
        if name.startswith("dockwiz.tui.screens.") and name.rsplit(".", 1)[1]
        not in ("base", "dialogs")
    }
    for screen in steps | {"dockwiz.tui.screens.base"}:
        assert "dockwiz.tui.app" not in graph[screen], screen
        assert not graph[screen] & steps, (screen, graph[screen] & steps)
