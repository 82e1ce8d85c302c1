"""The operator docs stay true: every config key is documented, and every file, test, command,
``python -m`` module and BRIDGE_* variable the docs name exists."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import get_args

import pytest
from pydantic import BaseModel

from bridge.cli import _parser
from bridge.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = [
    ROOT / "README.md",
    ROOT / "RELIABILITY.md",
    ROOT / "BENCHMARKS.md",
    ROOT / "config.example.toml",
    *sorted((ROOT / "docs").glob("*.md")),
]
PATH = re.compile(
    r"\b((?:tests|bridge|channels|bench|deploy|docs|scripts)/[\w/.\-]+\.(?:py|md|json|yml|toml))"
)


def settings_keys() -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {}
    for name, field in Settings.model_fields.items():
        model = field.annotation
        optional = [arg for arg in get_args(model) if arg is not type(None)]
        model = optional[0] if len(optional) == 1 else model  # [clickai] may be absent
        if isinstance(model, type) and issubclass(model, BaseModel):
            keys[name] = {f.alias or k for k, f in model.model_fields.items()}
    return keys


def test_the_example_config_shows_every_key_and_no_other() -> None:
    shown: dict[str, set[str]] = {}
    section = ""
    for line in (ROOT / "config.example.toml").read_text().splitlines():
        if heading := re.match(r"^#?\s*\[([\w.]+)\]\s*$", line):
            section = heading.group(1)
        elif key := re.match(r"^#?\s*([a-z_]+)\s*=", line):
            shown.setdefault(section, set()).add(key.group(1))
    for section, keys in settings_keys().items():
        assert keys == shown.get(section, set()), section


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_files_and_tests_the_docs_name_exist(doc: Path) -> None:
    text = doc.read_text()
    missing = [p for p in set(PATH.findall(text)) if not (ROOT / p).exists()]
    assert missing == []
    defined = set()
    for source in (ROOT / "tests").rglob("*.py"):
        defined |= set(re.findall(r"def (test_\w+)", source.read_text()))
    named = {n.rstrip("_") for n in re.findall(r"`(test_\w+)", text)}
    assert [n for n in named if not any(d.startswith(n) for d in defined)] == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_commands_and_variables_the_docs_name_exist(doc: Path) -> None:
    text = doc.read_text()
    listed = re.search(r"\{([a-z,]+)\}", _parser().format_help())
    assert listed is not None
    commands = set(listed.group(1).split(","))
    code = "\n".join(re.findall(r"```.*?```|`[^`\n]+`", text, re.DOTALL))
    used = set(re.findall(r"clickai-bridge ([a-z]+)\b", code))
    assert used <= commands, used - commands
    for module in set(re.findall(r"python -m ([a-z][\w.]+)", code)):
        assert importlib.util.find_spec(module) is not None, f"python -m {module}"
    keys = settings_keys()
    for section, key in re.findall(r"BRIDGE_([A-Z]+)__([A-Z_]+)", text):
        assert key.lower() in keys.get(section.lower(), set()), f"BRIDGE_{section}__{key}"
