"""The Slack app manifest and the documented config match what the channel uses."""

from __future__ import annotations

import re
from pathlib import Path

from bridge.config import SlackConfig

ROOT = Path(__file__).resolve().parents[2]


def manifest_list(key: str) -> list[str]:
    """Items of a YAML block list under ``key:`` (the manifest keeps them one per line)."""
    lines = (ROOT / "manifest.yml").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"{key}:")
    items = []
    for line in lines[start + 1 :]:
        match = re.match(r"\s*- ([\w.:]+)", line)
        if not match:
            break
        items.append(match.group(1))
    return items


def test_manifest_scopes_are_exactly_what_the_bridge_needs() -> None:
    assert sorted(manifest_list("bot")) == sorted(
        [
            "app_mentions:read",
            "channels:history",
            "groups:history",
            "im:history",
            "mpim:history",
            "chat:write",
            "reactions:read",
            "files:read",
            "files:write",
            "users:read",
        ]
    )


def test_manifest_subscribes_the_events_the_channel_listens_to() -> None:
    assert sorted(manifest_list("bot_events")) == sorted(
        [
            "app_mention",
            "message.channels",
            "message.groups",
            "message.im",
            "message.mpim",
            "reaction_added",
            "reaction_removed",
        ]
    )
    text = (ROOT / "manifest.yml").read_text(encoding="utf-8")
    assert "socket_mode_enabled: true" in text
    assert re.search(r"interactivity:\n\s+is_enabled: true", text)


def test_every_slack_setting_is_documented_in_the_example_config() -> None:
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    section = example.split("[slack]", 1)[1]
    for key in SlackConfig.model_fields:
        assert re.search(rf"^#? ?{key} =", section, re.MULTILINE), key


def test_the_setup_guide_covers_both_modes() -> None:
    guide = (ROOT / "docs" / "slack.md").read_text(encoding="utf-8")
    for needle in ("Socket Mode", "HTTP mode", "connections:write", "/slack/events", "manifest"):
        assert needle in guide
