"""Chatbase API v2 behind the Backend port (streamed chat and feedback; no files)."""

from bridge.backends.chatbase.backend import ChatbaseBackend, chatbase_user_id

__all__ = ["ChatbaseBackend", "chatbase_user_id"]
