"""The dependency rule: the core never imports a platform library or a channel."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = ("telegram", "slack_bolt", "slack_sdk")
COMPOSITION_ROOT = {"app.py", "cli.py", "commands.py", "terminal.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_imports_no_platform_library() -> None:
    offenders = []
    for path in sorted((ROOT / "bridge").rglob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top in PLATFORM:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
            if top == "channels" and path.name not in COMPOSITION_ROOT:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_channels_do_not_reach_into_core_internals() -> None:
    forbidden = ("bridge.relay", "bridge.turn", "bridge.store", "bridge.clickai", "bridge.app")
    offenders = []
    for path in sorted((ROOT / "channels").rglob("*.py")):
        for name in imported_modules(path):
            if name.startswith(forbidden):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_every_module_opens_with_a_docstring() -> None:
    missing = []
    for base in ("bridge", "channels"):
        for path in sorted((ROOT / base).rglob("*.py")):
            if path.name == "__init__.py" and not path.read_text().strip():
                continue
            if ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) is None:
                missing.append(str(path.relative_to(ROOT)))
    assert missing == []
