"""Bolt listeners: messages, mentions, reactions and feedback clicks, handled after the ack."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bridge.config import BridgeConfig, SlackConfig
from bridge.errors import ChannelError
from bridge.i18n import pick_language, t
from bridge.model import (
    Attachment,
    FeedbackOutcome,
    Intake,
    IntakeResult,
    Rating,
    ReplyRef,
    ThreadKey,
)
from bridge.tasks import KeyedLocks
from channels.slack import api
from channels.slack.ack import RequestTasks
from channels.slack.agent import (
    SUGGEST_ACTION,
    Sessions,
)
from channels.slack.agent_handlers import AgentSurfaces, Stoppable
from channels.slack.events import (
    ANSWERED_SUBTYPES,
    CHANNEL,
    Bounded,
    Identity,
    Route,
    attachment,
    inbound,
    is_dm_channel,
    local_command,
    needs_file_info,
    route,
    text_of,
)
from channels.slack.feedback import (
    FEEDBACK_ACTION_ID,
    action_rating,
    click_of,
    confirmation_key,
    escape_mrkdwn,
    reaction_rating,
)
from channels.slack.messages import Target

log = logging.getLogger("channels.slack")

Clock = Callable[[], float]
USER_TTL_S = 3600.0
USER_RETRY_S = 60.0
MEMORY = 10_000
"""Capacity of each in-memory map (active threads, refusals, users, reply targets)."""


class Handlers(AgentSurfaces):
    """Turns Slack deliveries into ``Intake`` calls; every handler runs as a tracked task."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        config: SlackConfig,
        bridge: BridgeConfig,
        tasks: RequestTasks,
        identity: Callable[[], Awaitable[Identity]],
        clock: Clock,
        sessions: Sessions | None = None,
    ) -> None:
        self._client = client
        self._config = config
        self._default_language: str = bridge.default_language
        self._tasks = tasks
        self._identity = identity
        self._clock = clock
        self.intake: Intake | None = None
        self.targets: Bounded[str, Target] = Bounded(MEMORY)
        self.live: Bounded[tuple[str, str], tuple[ThreadKey, Stoppable]] = Bounded(MEMORY)
        """(channel, thread ts) → the conversation and reply of the newest turn there."""
        self._sessions = sessions or Sessions(enabled=False, titles=False)
        self._prompted: Bounded[str, bool] = Bounded(MEMORY)
        self._active: Bounded[tuple[str, str], bool] = Bounded(MEMORY)
        self._refused: Bounded[tuple[str, str], bool] = Bounded(MEMORY)
        self._users: Bounded[str, tuple[str, str, float, bool]] = Bounded(MEMORY)
        self._order = KeyedLocks()

    def register(self, app: AsyncApp) -> None:
        """Specific listeners first; the catch-alls ack everything else so Slack never retries.

        Listeners are plain closures: bolt injects arguments by parameter name, and only
        schedules work here (events are acked before a listener runs, actions right away).
        """
        spawn, claim = self._tasks.spawn, self._tasks.spawn_claim

        async def on_app_mention(body: dict[str, Any], event: dict[str, Any]) -> None:
            claim(self._message(body, event, "app_mention"), "slack app_mention")

        async def on_message(body: dict[str, Any], event: dict[str, Any]) -> None:
            if text_of(event, "subtype") in ANSWERED_SUBTYPES and not event.get("bot_id"):
                claim(self._message(body, event, "message"), "slack message")

        async def on_reaction_added(body: dict[str, Any], event: dict[str, Any]) -> None:
            spawn(self._reaction(body, event, added=True), "slack reaction")

        async def on_reaction_removed(body: dict[str, Any], event: dict[str, Any]) -> None:
            spawn(self._reaction(body, event, added=False), "slack reaction")

        async def on_feedback(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
            await ack()
            spawn(self._click(body, action), "slack feedback click")

        async def on_session_stopped(body: dict[str, Any], event: dict[str, Any]) -> None:
            spawn(self._session_stopped(body, event), "slack session stopped")

        async def on_thread_started(body: dict[str, Any], event: dict[str, Any]) -> None:
            spawn(self._thread_started(body, event), "slack assistant thread")

        async def on_home_opened(body: dict[str, Any], event: dict[str, Any]) -> None:
            spawn(self._home_opened(body, event), "slack messages tab")

        async def on_suggestion(
            ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]
        ) -> None:
            await ack()
            spawn(self._suggestion(body, action), "slack suggestion click")

        async def on_other_event() -> None:
            """Subscribed events the bridge does not use (bolt acks them)."""

        async def on_other_action(ack: AsyncAck) -> None:
            await ack()

        app.event("app_mention")(on_app_mention)
        app.event("message")(on_message)
        app.event("reaction_added")(on_reaction_added)
        app.event("reaction_removed")(on_reaction_removed)
        app.event("agent_session_stopped")(on_session_stopped)
        app.event("assistant_thread_started")(on_thread_started)
        app.event("app_home_opened")(on_home_opened)
        app.event(re.compile(".*"))(on_other_event)
        app.action(FEEDBACK_ACTION_ID)(on_feedback)
        app.action(SUGGEST_ACTION)(on_suggestion)
        app.action(re.compile(".*"))(on_other_action)

    def mark_active(self, channel_id: str, thread_ts: str) -> None:
        """The bot answers in this thread: mention-less follow-ups there are answered too."""
        if thread_ts:
            self._active.put((channel_id, thread_ts), True)

    # --- work ------------------------------------------------------------------------------------
    async def _message(
        self,
        body: Mapping[str, Any],
        event: Mapping[str, Any],
        via: Literal["app_mention", "message"],
    ) -> IntakeResult | None:
        """One user message; messages of one conversation reach the core in arrival order.

        Returns the intake's verdict (``None`` when the message is not for the core), which
        decides whether the delivery is acknowledged (``channels.slack.ack``).
        """
        channel, thread_ts = text_of(event, "channel"), text_of(event, "thread_ts")
        order_key = (
            channel if is_dm_channel(event) else f"{channel}:{thread_ts or text_of(event, 'ts')}"
        )
        async with self._order.hold(order_key):
            return await self._message_in_order(body, event, via)

    async def _message_in_order(
        self,
        body: Mapping[str, Any],
        event: Mapping[str, Any],
        via: Literal["app_mention", "message"],
    ) -> IntakeResult | None:
        me = await self._identity()
        found = route(
            event,
            via=via,
            me=me,
            config=self._config,
            active_thread=await self._thread_is_active(event, via),
            envelope_team=text_of(body, "team_id"),
        )
        intake = self.intake
        if found is None or intake is None:
            return None
        language, name = await self._user(found.user_id)
        if not self._allowed(found.team_id, found.channel_id, found.user_id):
            intake.refused(CHANNEL, "access")
            await self._refuse(found, language)
            return None
        files = await self._attachments(event)
        msg = inbound(
            found,
            event,
            me=me,
            config=self._config,
            language=language,
            attachments=files,
            display_name=name,
            is_admin=self._is_admin(found.user_id),
        )
        if not files and local_command(msg.text) == "help":
            await self._post(found.channel_id, msg.reply_thread, t(language, "slack_help"))
            return None
        self.targets.put(
            msg.event_id,
            Target(
                channel_id=found.channel_id,
                thread_ts=msg.reply_thread,
                recipient_user_id=found.user_id,
                recipient_team_id=found.team_id or me.team_id,
                is_dm=found.is_dm,
            ),
        )
        if not found.is_dm:
            self.mark_active(found.channel_id, msg.reply_thread)
        log.debug("slack: %s message %s from %s", found.kind, msg.event_id, found.user_id)
        return await intake.submit(msg)

    async def _thread_is_active(
        self, event: Mapping[str, Any], via: Literal["app_mention", "message"]
    ) -> bool:
        """Does the bot answer in this message's thread? Known in memory, or (after a restart)
        from the store: a thread with a stored conversation is one the bot answered in."""
        channel, thread_ts = text_of(event, "channel"), text_of(event, "thread_ts")
        if (channel, thread_ts) in self._active:
            return True
        candidate = (
            via == "message"
            and thread_ts
            and thread_ts != text_of(event, "ts")
            and not is_dm_channel(event)
            and not self._config.thread_requires_mention
        )
        if not candidate or self.intake is None:
            return False
        key = ThreadKey(channel=CHANNEL, chat_id=channel, thread_id=thread_ts)
        if not await self.intake.has_conversation(key):
            return False
        self.mark_active(channel, thread_ts)
        return True

    async def _reaction(
        self, body: Mapping[str, Any], event: Mapping[str, Any], *, added: bool
    ) -> None:
        rating = reaction_rating(text_of(event, "reaction"))
        item = event.get("item")
        if rating is None or not isinstance(item, Mapping) or text_of(item, "type") != "message":
            return
        me = await self._identity()
        item_user = text_of(event, "item_user")
        if item_user and item_user != me.user_id:
            return  # a reaction on someone else's message
        channel_id, user = text_of(item, "channel"), text_of(event, "user")
        team = text_of(event, "user_team") or text_of(event, "team") or text_of(body, "team_id")
        if not self._allowed(team, channel_id, user):
            return
        await self._feedback(channel_id, text_of(item, "ts"), rating if added else None, user)

    async def _click(self, body: Mapping[str, Any], action: Mapping[str, Any]) -> None:
        rating, click = action_rating(action), click_of(body)
        if rating is None or click is None:
            return
        if not self._allowed(
            click.team_id or text_of(body, "team_id"), click.channel_id, click.user_id
        ):
            return
        outcome = await self._feedback(click.channel_id, click.message_ts, rating, click.user_id)
        if outcome is None or not click.user_id:
            return
        language, _ = await self._user(click.user_id)
        note = t(language, confirmation_key(outcome))
        await self._ephemeral(click.channel_id, click.user_id, click.thread_ts, note)

    async def _feedback(
        self, channel_id: str, ts: str, rating: Rating, user_id: str
    ) -> FeedbackOutcome | None:
        intake = self.intake
        if intake is None or not channel_id or not ts:
            return None
        ref = ReplyRef(channel=CHANNEL, chat_id=channel_id, message_id=ts)
        return await intake.feedback(ref, rating, toggle=False, by=user_id)

    # --- access, users, files -----------------------------------------------------------------
    def _allowed(self, team_id: str, channel_id: str, user_id: str) -> bool:
        c = self._config
        return (
            (not c.allowed_team_ids or team_id in c.allowed_team_ids)
            and (not c.allowed_channel_ids or channel_id in c.allowed_channel_ids)
            and (not c.allowed_user_ids or user_id in c.allowed_user_ids)
        )

    async def _refuse(self, found: Route, language: str) -> None:
        """One polite, private refusal per user and channel (kept in memory)."""
        key = (found.user_id, found.channel_id)
        if key in self._refused:
            return
        self._refused.put(key, True)
        log.info("slack: %s may not use the bot in %s", found.user_id, found.channel_id)
        thread = found.thread_ts or ("" if found.is_dm else found.ts)
        await self._ephemeral(
            found.channel_id, found.user_id, thread, t(language, "access_denied")
        )

    async def _user(self, user_id: str) -> tuple[str, str]:
        """(language, display name) from ``users.info`` (cached; failures → default language)."""
        now = self._clock()
        cached = self._users.get(user_id)
        if cached is not None and cached[2] > now:
            return cached[0], cached[1]
        language, name, ttl, admin = self._default_language, "", USER_TTL_S, False
        try:
            data = await api.call(
                "users.info", self._client.users_info(user=user_id, include_locale=True)
            )
        except ChannelError as exc:
            log.info("slack: users.info failed (%s); using the default language", exc)
            ttl = USER_RETRY_S
        else:
            user = data.get("user")
            if isinstance(user, Mapping):
                language = pick_language(text_of(user, "locale"), self._default_language)
                profile = user.get("profile")
                profile = profile if isinstance(profile, Mapping) else {}
                name = text_of(profile, "display_name") or text_of(profile, "real_name")
                name = name or text_of(user, "real_name") or text_of(user, "name")
                admin = bool(user.get("is_admin") or user.get("is_owner"))
        self._users.put(user_id, (language, name, now + ttl, admin))
        return language, name

    def _is_admin(self, user_id: str) -> bool:
        """Workspace admins and owners (from the cached ``users.info``) may stop any answer."""
        cached = self._users.get(user_id)
        return bool(cached and cached[3])

    async def _attachments(self, event: Mapping[str, Any]) -> tuple[Attachment, ...]:
        files = event.get("files")
        out: list[Attachment] = []
        for file in files if isinstance(files, list) else []:
            if not isinstance(file, Mapping):
                continue
            if needs_file_info(file) and text_of(file, "id"):
                try:
                    data = await api.call(
                        "files.info", self._client.files_info(file=text_of(file, "id"))
                    )
                except ChannelError as exc:
                    log.warning("slack: files.info for a shared file failed: %s", exc)
                else:
                    info = data.get("file")
                    file = info if isinstance(info, Mapping) else file
            found = attachment(file)
            if found is not None:
                out.append(found)
        return tuple(out)

    # --- small posts ---------------------------------------------------------------------------
    async def _ephemeral(self, channel_id: str, user_id: str, thread_ts: str, text: str) -> None:
        try:
            await api.call(
                "chat.postEphemeral",
                self._client.chat_postEphemeral(
                    channel=channel_id,
                    user=user_id,
                    text=escape_mrkdwn(text),
                    thread_ts=thread_ts or None,
                ),
            )
        except ChannelError as exc:
            log.info("slack: ephemeral note not delivered: %s", exc)

    async def _post(self, channel_id: str, thread_ts: str, text: str) -> None:
        try:
            await api.call(
                "chat.postMessage",
                self._client.chat_postMessage(
                    channel=channel_id, thread_ts=thread_ts or None, text=escape_mrkdwn(text)
                ),
            )
        except ChannelError as exc:
            log.info("slack: help not delivered: %s", exc)
