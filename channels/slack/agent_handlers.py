"""Bolt work for Slack's AI surfaces: the agent stop button, new assistant threads, and
clicks on suggested questions (mixed into ``Handlers``, whose helpers it uses)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bridge.config import SlackConfig
from bridge.errors import ChannelError
from bridge.i18n import t
from bridge.model import InboundMessage, Intake, IntakeResult, Sender, ThreadKey
from channels.slack import api
from channels.slack.agent import AgentThread, Sessions, asked_blocks, prompts, suggestion_of
from channels.slack.events import (
    CHANNEL,
    Bounded,
    Identity,
    Route,
    conversation,
    is_dm_channel,
    text_of,
)
from channels.slack.feedback import click_of, escape_mrkdwn
from channels.slack.messages import Target

log = logging.getLogger("channels.slack")


class Stoppable(Protocol):
    def stream_stopped(self) -> None: ...


class AgentSurfaces:
    """The handlers' agent part; ``Handlers`` provides the state and helpers declared here."""

    intake: Intake | None
    targets: Bounded[str, Target]
    live: Bounded[tuple[str, str], tuple[ThreadKey, Stoppable]]
    _prompted: Bounded[str, bool]
    _client: AsyncWebClient
    _config: SlackConfig
    _sessions: Sessions
    _default_language: str
    _identity: Callable[[], Awaitable[Identity]]

    def _allowed(self, team_id: str, channel_id: str, user_id: str) -> bool:
        raise NotImplementedError

    async def _user(self, user_id: str) -> tuple[str, str]:
        raise NotImplementedError

    async def _session_stopped(self, body: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        """Slack's stop button: Slack ended the streams; the bridge stops the ClickAI task and
        moves the session out of ``processing`` (Slack does not do that itself)."""
        channel_id, thread_ts = text_of(event, "channel"), text_of(event, "thread_ts")
        user = text_of(event, "user")
        team = text_of(event, "user_team") or text_of(event, "team") or text_of(body, "team_id")
        intake = self.intake
        if intake is None or not channel_id or not thread_ts:
            return
        if not self._allowed(team, channel_id, user):
            return
        live = self.live.get((channel_id, thread_ts))
        if live is not None:
            key, reply = live
            reply.stream_stopped()
        elif is_dm_channel(event) and self._config.dm_scope == "dm":
            key = ThreadKey(channel=CHANNEL, chat_id=channel_id)
        else:
            key = ThreadKey(channel=CHANNEL, chat_id=channel_id, thread_id=thread_ts)
        if not await intake.stop_turn(key):
            agent = AgentThread(
                self._client, self._sessions, channel_id=channel_id, thread_ts=thread_ts
            )
            agent.in_session = self._sessions.usable(channel_id)
            await agent.active()

    async def _thread_started(self, body: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        """A new assistant thread: the app's opening statement and its starter questions."""
        thread = event.get("assistant_thread")
        intake = self.intake
        if not self._config.suggested_prompts or not isinstance(thread, Mapping) or not intake:
            return
        channel_id, thread_ts = text_of(thread, "channel_id"), text_of(thread, "thread_ts")
        user = text_of(thread, "user_id")
        if (
            not channel_id
            or not thread_ts
            or not self._allowed(text_of(body, "team_id"), channel_id, user)
        ):
            return
        opening = await intake.opening()
        if opening.statement.strip():
            try:
                await api.call(
                    "chat.postMessage",
                    self._client.chat_postMessage(
                        channel=channel_id, thread_ts=thread_ts, markdown_text=opening.statement
                    ),
                )
            except ChannelError as exc:
                log.info("slack: opening statement not posted in %s: %s", channel_id, exc)
        await self._prompts(channel_id, thread_ts, user, opening.questions)

    async def _home_opened(self, body: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        """The app's Messages tab (Slack's agent view): its starter questions as prompts, once
        per conversation and process."""
        channel_id, user = text_of(event, "channel"), text_of(event, "user")
        intake = self.intake
        if text_of(event, "tab") != "messages" or not self._config.suggested_prompts:
            return
        if not intake or not channel_id or channel_id in self._prompted:
            return
        if not self._allowed(text_of(body, "team_id"), channel_id, user):
            return
        self._prompted.put(channel_id, True)
        await self._prompts(channel_id, "", user, (await intake.opening()).questions)

    async def _prompts(
        self, channel_id: str, thread_ts: str, user: str, questions: Sequence[str]
    ) -> None:
        if not questions:
            return
        language, _ = await self._user(user) if user else (self._default_language, "")
        try:
            await api.call(
                "assistant.threads.setSuggestedPrompts",
                self._client.assistant_threads_setSuggestedPrompts(
                    channel_id=channel_id,
                    thread_ts=thread_ts or None,
                    title=t(language, "suggestions_title"),
                    prompts=prompts(questions),
                ),
            )
        except ChannelError as exc:
            log.info("slack: suggested prompts not set in %s: %s", channel_id, exc)

    async def _suggestion(self, body: Mapping[str, Any], action: Mapping[str, Any]) -> None:
        """A suggested question's button: ask it once in the conversation of that answer."""
        found, click, intake = suggestion_of(action), click_of(body), self.intake
        if found is None or click is None or intake is None or not click.user_id:
            return
        index, question = found
        team = click.team_id or text_of(body, "team_id")
        if not self._allowed(team, click.channel_id, click.user_id):
            return
        me = await self._identity()
        language, name = await self._user(click.user_id)
        is_dm = click.channel_id.startswith("D")
        where = Route(
            kind="dm" if is_dm else "followup",
            channel_id=click.channel_id,
            user_id=click.user_id,
            team_id=team,
            ts=click.message_ts,
            thread_ts=click.thread_ts,
        )
        key, reply_thread = conversation(where, self._config)
        msg = InboundMessage(
            key=key,
            event_id=f"{CHANNEL}:sq:{click.channel_id}:{click.message_ts}:{index}",
            message_id=click.message_ts,
            sender=Sender(id=click.user_id, display_name=name),
            text=question,
            language=language,
            reply_thread=reply_thread,
        )
        self.targets.put(
            msg.event_id,
            Target(
                channel_id=click.channel_id,
                thread_ts=reply_thread,
                recipient_user_id=click.user_id,
                recipient_team_id=team or me.team_id,
                is_dm=is_dm,
            ),
        )
        if await intake.submit(msg) is not IntakeResult.CLAIMED:
            return
        message = body.get("message")
        message = message if isinstance(message, Mapping) else {}
        blocks = asked_blocks(message.get("blocks"), question)
        if blocks is None:
            return
        try:
            await api.call(
                "chat.update",
                self._client.chat_update(
                    channel=click.channel_id,
                    ts=click.message_ts,
                    blocks=blocks,
                    text=text_of(message, "text") or escape_mrkdwn(question),
                ),
            )
        except ChannelError as exc:
            log.info("slack: could not mark the asked suggestion: %s", exc)
