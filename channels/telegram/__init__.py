"""Telegram channel: python-telegram-bot adapter between Telegram and the bridge core."""

from channels.telegram.adapter import TelegramChannel

__all__ = ["TelegramChannel"]
