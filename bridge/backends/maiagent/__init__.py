"""MaiAgent behind the Backend port (streamed completions and attachments; no feedback)."""

from bridge.backends.maiagent.backend import MaiAgentBackend

__all__ = ["MaiAgentBackend"]
