"""The installed clickai-bridge version (``--version``, the build-info metric)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def bridge_version() -> str:
    """The version from the installed package metadata ("unknown" from a bare source tree)."""
    try:
        return version("clickai-bridge")
    except PackageNotFoundError:
        return "unknown"
