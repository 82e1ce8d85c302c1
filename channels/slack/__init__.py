"""The Slack channel: bolt (Socket Mode or HTTP), native streaming, feedback and files."""

from channels.slack.adapter import SlackChannel

__all__ = ["SlackChannel"]
