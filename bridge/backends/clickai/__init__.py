"""ClickAI (Dify Service API) behind the Backend port; the client stays in ``bridge.clickai``."""

from bridge.backends.clickai.backend import (
    API_MODES,
    ClickAIBackend,
    ClickAIOptions,
    required_inputs,
)

__all__ = ["API_MODES", "ClickAIBackend", "ClickAIOptions", "required_inputs"]
