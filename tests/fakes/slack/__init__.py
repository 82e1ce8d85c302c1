"""A fake Slack: Web API at /api/<method>, file hosting, Socket Mode, and request builders.

The fake keeps every channel's messages (text, markdown, blocks, native streaming state), the
files users shared and the bot uploaded, loading statuses and ephemeral notes, and records every
call. Faults are injectable per method (429 with Retry-After, 5xx, any error code), as are a
refused streaming API, stream expiry and a Tier-3-like ``chat.update`` limiter.
"""

from tests.fakes.slack.events import Events, form_body, json_body, signed_headers
from tests.fakes.slack.harness import Harness, RecordingIntake, running_slack, slack_config
from tests.fakes.slack.model import (
    APP_ID,
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER,
    LOGIN_PAGE,
    MARKDOWN_LIMIT,
    SIGNING_SECRET,
    TEAM_ID,
    Call,
    Message,
    Upload,
)
from tests.fakes.slack.server import FakeSlack

__all__ = [
    "APP_ID",
    "APP_TOKEN",
    "BOT_ID",
    "BOT_TOKEN",
    "BOT_USER",
    "LOGIN_PAGE",
    "MARKDOWN_LIMIT",
    "SIGNING_SECRET",
    "TEAM_ID",
    "Call",
    "Events",
    "FakeSlack",
    "Harness",
    "Message",
    "RecordingIntake",
    "Upload",
    "form_body",
    "json_body",
    "running_slack",
    "signed_headers",
    "slack_config",
]
