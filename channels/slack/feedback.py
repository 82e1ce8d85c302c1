"""Block Kit for answers (markdown, notice, 👍/👎 buttons) and parsing of clicks and reactions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.i18n import t
from bridge.model import FeedbackOutcome, Rating
from bridge.render import md_to_slack_mrkdwn
from channels.slack.agent import suggestion_block

FEEDBACK_ACTION_ID = "clickai_feedback"
LIKE, DISLIKE = "like", "dislike"
FALLBACK_CHARS = 3000
"""``text`` sent beside blocks is only the notification / screen-reader fallback."""

Block = dict[str, Any]

_SKIN_TONE = re.compile(r"::skin-tone-\d+$")
_REACTIONS: dict[str, Rating] = {
    "+1": "like",
    "thumbsup": "like",
    "-1": "dislike",
    "thumbsdown": "dislike",
}


@dataclass(frozen=True, slots=True)
class Extras:
    """What the final message of an answer carries after its text."""

    notice: str | None = None
    feedback: bool = False
    suggestions: tuple[str, ...] = ()


def markdown_block(text: str) -> Block:
    return {"type": "markdown", "text": text}


def escape_mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def notice_block(notice: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": escape_mrkdwn(notice)}]}


def feedback_block(language: str) -> Block:
    """A ``context_actions`` block with one ``feedback_buttons`` element (values like/dislike)."""

    def button(emoji: str, value: str, label_key: str) -> Block:
        return {
            "text": {"type": "plain_text", "text": emoji},
            "value": value,
            "accessibility_label": t(language, label_key)[:75],
        }

    return {
        "type": "context_actions",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": FEEDBACK_ACTION_ID,
                "positive_button": button("👍", LIKE, "slack_good_answer"),
                "negative_button": button("👎", DISLIKE, "slack_bad_answer"),
            }
        ],
    }


def extra_blocks(extras: Extras | None, language: str) -> list[Block]:
    """Blocks shown after the answer text: the notice, then the feedback buttons."""
    if extras is None:
        return []
    blocks = [notice_block(extras.notice)] if extras.notice else []
    if extras.feedback:
        blocks.append(feedback_block(language))
    if extras.suggestions:
        blocks.append(suggestion_block(extras.suggestions))
    return blocks


def message_blocks(text: str, extras: Extras | None, language: str) -> list[Block]:
    """A whole message: markdown text (or, without text, the notice as the body) + extras."""
    if text:
        return [markdown_block(text), *extra_blocks(extras, language)]
    body = [markdown_block(extras.notice)] if extras and extras.notice else []
    if extras and extras.feedback:
        body.append(feedback_block(language))
    if extras and extras.suggestions:
        body.append(suggestion_block(extras.suggestions))
    return body


def fallback_text(text: str, extras: Extras | None) -> str:
    """``text`` beside the blocks, for notifications and assistive technology (mrkdwn)."""
    if text:
        short = text if len(text) <= FALLBACK_CHARS else text[: FALLBACK_CHARS - 1] + "…"
        return md_to_slack_mrkdwn(short) or escape_mrkdwn(short)
    notice = extras.notice if extras and extras.notice else ""
    return escape_mrkdwn(notice) if notice else "…"


def reaction_rating(name: str) -> Rating | None:
    """``+1``/``thumbsup`` (any skin tone) → like, ``-1``/``thumbsdown`` → dislike, else None."""
    return _REACTIONS.get(_SKIN_TONE.sub("", name))


def action_rating(action: Mapping[str, Any]) -> Rating | None:
    """The rating a ``feedback_buttons`` click carries (its pressed button's value)."""
    value = action.get("value")
    if value == LIKE:
        return "like"
    if value == DISLIKE:
        return "dislike"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Click:
    """A click on an answer's feedback buttons."""

    channel_id: str
    message_ts: str
    thread_ts: str
    user_id: str
    team_id: str


def click_of(body: Mapping[str, Any]) -> Click | None:
    """Where a ``block_actions`` payload was clicked (None when it names no message)."""

    def part(name: str) -> Mapping[str, Any]:
        value = body.get(name)
        return value if isinstance(value, Mapping) else {}

    message, container, channel, user = (
        part("message"),
        part("container"),
        part("channel"),
        part("user"),
    )
    channel_id = str(channel.get("id") or container.get("channel_id") or "")
    ts = str(message.get("ts") or container.get("message_ts") or "")
    if not channel_id or not ts:
        return None
    return Click(
        channel_id=channel_id,
        message_ts=ts,
        thread_ts=str(message.get("thread_ts") or container.get("thread_ts") or ""),
        user_id=str(user.get("id") or ""),
        team_id=str(user.get("team_id") or part("team").get("id") or ""),
    )


def confirmation_key(outcome: FeedbackOutcome) -> str:
    """The i18n key of the ephemeral note after a click."""
    if not outcome.found:
        return "feedback_unknown"
    if not outcome.allowed:
        return "feedback_not_yours"
    if not outcome.ok:
        return "feedback_failed"
    return {"like": "feedback_like", "dislike": "feedback_dislike"}.get(
        outcome.rating or "", "feedback_cleared"
    )
