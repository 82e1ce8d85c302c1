"""The use case: filter → dedupe → one turn at a time per scope → stream → persist → feedback."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bridge.backends.base import Backend
from bridge.backends.routing import BackendRouter
from bridge.coordination.base import Coordination, ScopeBusy, Timings
from bridge.coordination.locks import LocalScopeLocks
from bridge.errors import AttachmentError, BackendError, ChannelError, ClickAIError, ReplyGone
from bridge.i18n import t
from bridge.logs import fields_extra, key_values
from bridge.metrics import Metrics
from bridge.model import (
    MB,
    Channel,
    FeedbackOutcome,
    InboundMessage,
    IntakeResult,
    Opening,
    Rating,
    ReplyRef,
    ThreadKey,
)
from bridge.notices import clickai_notice, file_rules_notice
from bridge.pacing import PacedReply, Pacer
from bridge.store.base import EventRow, Namespace, Store
from bridge.tasks import TaskSet
from bridge.turn import TurnRunner, TurnState

log = logging.getLogger(__name__)

OPERATOR_KINDS = frozenset({"auth", "forbidden", "quota"})
"""ClickAI failures only the operator can fix: logged at ERROR and counted as alerts."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RelayLimits:
    """Input limits applied before anything reaches a backend."""

    max_query_chars: int = 8000
    user_messages_per_minute: int = 12
    chat_messages_per_minute: int = 30
    """Messages per chat (all its users together) per minute; protects the backend's quota."""


_REMEMBERED = 10_000
"""Bound on the in-memory rate windows and the "chat is gone" set."""


class Relay:
    """Implements ``bridge.model.Intake`` for every channel."""

    def __init__(
        self,
        *,
        store: Store,
        backends: BackendRouter | Backend,
        runner: TurnRunner,
        channels: Mapping[str, Channel],
        pacers: Mapping[str, Pacer],
        metrics: Metrics,
        limits: RelayLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        namespaces: Mapping[str, Namespace] | None = None,
        app: str = "clickai",
        coordination: Coordination | None = None,
    ) -> None:
        self._store = store
        self._router = (
            backends if isinstance(backends, BackendRouter) else BackendRouter.single(backends)
        )
        self._runner = runner
        self._channels = channels
        # Each channel instance (bot) reads and writes its own namespace of the store (its
        # deliveries there); its conversations and replies live in (bot, backend) namespaces.
        # Channels without one use the store as given.
        self._namespaces = dict(namespaces or {})
        self._stores: dict[str, Store] = {
            name: store.scoped(ns) for name, ns in self._namespaces.items()
        }
        self._conv_stores: dict[tuple[str, str], tuple[Store, TurnRunner]] = {}
        self._pacers = pacers
        self._metrics = metrics
        self._limits = limits or RelayLimits()
        self._clock = clock
        self._app = app
        self._coord = coordination or local_coordination()
        self._running: dict[str, tuple[TurnState, Backend]] = {}
        self._tasks = TaskSet("relay")
        self._recent: dict[str, deque[float]] = {}
        self._gone: dict[str, None] = {}
        self._closing = False
        self._aborting = False

    # --- Intake ---------------------------------------------------------------------------------
    async def submit(self, msg: InboundMessage) -> IntakeResult:
        if self._closing:
            log.info("%s: refusing %s while shutting down", msg.key.channel, msg.event_id)
            return IntakeResult.REFUSED
        row = EventRow(
            event_id=msg.event_id,
            channel=msg.key.channel,
            scope=msg.key.scope,
            chat_id=msg.key.chat_id,
            thread=msg.reply_thread or msg.key.thread_id,
            language=msg.language,
            status="accepted",
            created_at=time.time(),
            owner=self._coord.replica,
            lease_until=time.time() + self._coord.timings.lease_s,
        )
        try:
            claimed = await self._store_of(msg.key.channel).claim_event(row)
        except Exception as exc:
            # Not acknowledged: the platform delivers it again once the store recovers.
            self._metrics.messages.labels(msg.key.channel, "claim_failed").inc()
            log.warning(
                "%s: could not claim %s (%s: %s); leaving it for redelivery",
                msg.key.channel,
                msg.event_id,
                type(exc).__name__,
                exc,
            )
            return IntakeResult.FAILED
        if not claimed:
            self._metrics.messages.labels(msg.key.channel, "duplicate").inc()
            log.info("%s: duplicate delivery %s ignored", msg.key.channel, msg.event_id)
            return IntakeResult.DUPLICATE
        self._tasks.spawn(self._handle(msg), name=f"turn {msg.event_id}")
        return IntakeResult.CLAIMED

    async def feedback(
        self, ref: ReplyRef, rating: Rating, *, toggle: bool, by: str = ""
    ) -> FeedbackOutcome:
        backend = self._router.for_chat(ref.channel, ref.chat_id)
        store, _ = self._for(ref.channel, backend)
        row = await store.get_reply(ref)
        if row is None or not backend.capabilities.feedback:
            return FeedbackOutcome(found=False)
        if row.owner and by != row.owner:
            log.info("%s: %s may not rate %s (asked by %s)", ref.channel, by, ref, row.owner)
            return FeedbackOutcome(found=True, rating=row.rating, allowed=False)
        new = None if toggle and row.rating == rating else rating
        if new is None and row.rating is None:
            return FeedbackOutcome(found=True, rating=None)
        try:
            await backend.feedback(
                message_id=row.message_id,
                conversation_id=row.conversation_id,
                rating=new,
                user=row.user,
            )
        except BackendError as exc:
            if exc.status == 404:
                # "Message Not Exists.": its conversation was deleted; it cannot be rated again.
                log.info("feedback on %s: the backend no longer has it", row.message_id)
                return FeedbackOutcome(found=False)
            log.warning("feedback on %s failed: %s", row.message_id, exc)
            return FeedbackOutcome(found=True, rating=row.rating, ok=False)
        await store.set_rating(row.message_id, new)
        self._metrics.feedback.labels(ref.channel, new or "none").inc()
        return FeedbackOutcome(found=True, rating=new)

    async def migrate_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> None:
        stores = {id(s): s for s in [self._store_of(channel)]}
        for backend in self._router.backends.values():
            store, _ = self._for(channel, backend)
            stores[id(store)] = store
        moved = 0
        for store in stores.values():
            moved += await store.migrate_chat(channel, old_chat_id, new_chat_id)
        log.info("%s: chat %s is now %s (%d rows moved)", channel, old_chat_id, new_chat_id, moved)

    async def has_conversation(self, key: ThreadKey) -> bool:
        backend = self._router.for_chat(key.channel, key.chat_id)
        try:
            store, _ = self._for(key.channel, backend)
            return await store.get_conversation(key.scope) is not None
        except Exception as exc:
            log.warning("%s: cannot look up %s (%s)", key.channel, key.scope, exc)
            return False

    async def opening(self) -> Opening:
        return await self.opening_for("")

    async def opening_for(self, channel: str) -> Opening:
        """What a new chat of ``channel``'s bot shows (the default backend's when "")."""
        backend = self._router.for_bot(channel) if channel else self._router.default
        try:
            return await backend.opening()
        except BackendError as exc:
            log.warning("cannot read the opening of backend %s: %s", backend.name, exc)
            return Opening()

    async def stop_turn(self, key: ThreadKey) -> bool:
        running = self._running.get(key.scope)
        if running is None:
            log.info("%s: stop asked in %s, but nothing runs there", key.channel, key.scope)
            return False
        log.info("%s: stop asked in %s", key.channel, key.scope)
        state, backend = running
        try:
            await self._runner.stop(state, backend)
        except BackendError as exc:
            log.warning("stop of task %s failed: %s", state.task_id, exc)
        return True

    def refused(self, channel: str, reason: str) -> None:
        self._metrics.messages.labels(channel, f"refused_{reason}").inc()

    # --- lifecycle ---------------------------------------------------------------------------
    async def pending(self) -> list[EventRow]:
        """Take over messages a stopped replica accepted but never answered (before intake).

        A lone process takes every unfinished one; with replicas sharing the store only those
        whose owner stopped renewing their lease (the rest are still being answered).
        """
        return await self._take_expired(startup=True)

    async def sweep(self) -> int:
        """Take over expired leases of other replicas and tell their users; returns how many."""
        if self._closing:
            return 0
        events = await self._take_expired(startup=False)
        if events:
            log.warning("taking over %d interrupted message(s) of a stopped replica", len(events))
            self._metrics.takeovers.inc(len(events))
            await self.recover(events)
        return len(events)

    async def renew(self) -> None:
        """Extend the leases of this replica's unfinished messages and held conversations."""
        until = time.time() + self._coord.timings.lease_s
        await self._store.renew_leases(self._coord.replica, until)
        await self._coord.locks.renew()

    async def _take_expired(self, *, startup: bool) -> list[EventRow]:
        now = time.time()
        before = now if self._coord.shared or not startup else float("inf")
        until = now + self._coord.timings.lease_s
        events: list[EventRow] = []
        seen: set[Namespace] = set()
        for name, channel in self._channels.items():
            store = self._store_of(name)
            if store.namespace in seen or not (startup or getattr(channel, "active", True)):
                continue
            seen.add(store.namespace)
            taken = await store.take_expired(self._coord.replica, before=before, until=until)
            events += [e for e in taken if e.channel in self._channels]
        events.sort(key=lambda e: e.created_at)
        return events

    def _store_of(self, channel: str) -> Store:
        """The store view of a channel instance's namespace (its deliveries)."""
        return self._stores.get(channel, self._store)

    def _for(self, channel: str, backend: Backend) -> tuple[Store, TurnRunner]:
        """The store view (and a runner on it) holding ``channel``'s conversations with
        ``backend``: the namespace (bot identity, backend name)."""
        key = (channel, backend.name)
        found = self._conv_stores.get(key)
        if found is None:
            ns = self._namespaces.get(channel)
            if ns is None:
                found = (self._store, self._runner)
            else:
                store = self._store.scoped(Namespace(bot=ns.bot, backend=backend.name))
                found = (store, self._runner.scoped(store))
            self._conv_stores[key] = found
        return found

    async def recover(self, events: list[EventRow]) -> int:
        """Tell the users of interrupted messages to resend them; each gets one notice."""
        told = 0
        for event in events:
            channel = self._channels.get(event.channel)
            if channel is None:
                continue
            reply = channel.notice_reply(
                event.channel, event.chat_id, event.thread, event.language
            )
            paced = self._pacers[event.channel].open(reply)
            try:
                if event.reply_id:  # the partial answer: close its stream, mark it incomplete
                    await channel.close_interrupted(
                        event.chat_id, event.thread, event.reply_id, event.language
                    )
                await paced.finish("", notice=t(event.language, "interrupted"))
                told += 1
            except Exception:
                log.exception(
                    "could not tell %s about interrupted %s", event.scope, event.event_id
                )
            await self._store_of(event.channel).finish_event(event.event_id)
        return told

    def stop_intake(self) -> None:
        self._closing = True

    async def drain(self, grace_s: float) -> None:
        """Let turns finish within ``grace_s``; cut the rest with a "please resend" notice."""
        self._closing = True
        await self._tasks.wait(grace_s)
        if self._tasks:
            log.warning("cutting %d unfinished turn(s) short at shutdown", len(self._tasks))
            self._aborting = True
            await self._tasks.cancel_all(within_s=10)

    @property
    def busy(self) -> int:
        return len(self._tasks)

    async def wait_idle(self) -> None:
        """Return once every accepted message has its final outcome."""
        await self._tasks.join()

    # --- one message -------------------------------------------------------------------------
    async def _handle(self, msg: InboundMessage) -> None:
        channel_name = msg.key.channel
        queued = False
        try:
            if msg.command == "stop":
                self._done(msg, "command")
                await self._stop(msg)
            elif (refusal := self._refusal(msg)) is not None:
                outcome, notice = refusal
                self._done(msg, outcome)
                if notice:
                    await self._notify(msg, notice)
            else:
                queued = True
                self._metrics.queued.inc()
                namespace = self._store_of(channel_name).namespace
                async with self._coord.locks.hold(namespace, msg.key.scope) as waited:
                    queued = False
                    self._metrics.queued.dec()
                    self._metrics.scope_wait_seconds.observe(waited)
                    if msg.command == "new":
                        backend = self._router.for_chat(channel_name, msg.key.chat_id)
                        store, _ = self._for(channel_name, backend)
                        await store.drop_conversation(msg.key.scope)
                        single = backend.capabilities.single_turn
                        new = "new_single_turn" if single else "new_conversation"
                        await self._notify(msg, t(msg.language, new))
                        self._done(msg, "command")
                    else:
                        await self._answer(msg)
        except asyncio.CancelledError:
            # Cut at shutdown while still waiting behind an earlier turn of its conversation:
            # it was accepted, so it gets the "please resend" notice like a cut answer does.
            if self._aborting and queued and msg.command is None:
                self._done(msg, "restarting")
                await self._bounded(self._notify(msg, t(msg.language, "restarting")), msg)
            raise
        except ScopeBusy as exc:
            log.warning("%s: %s; %s refused", channel_name, exc, msg.event_id)
            self._metrics.scope_wait_timeouts.inc()
            self._done(msg, "refused_busy")
            await self._notify(msg, t(msg.language, "scope_busy"))
        except ReplyGone as exc:
            self._note_gone(msg, exc)
        except ChannelError as exc:
            log.warning("%s: could not reply to %s: %s", channel_name, msg.event_id, exc)
        except Exception:
            log.exception("%s: unexpected failure handling %s", channel_name, msg.event_id)
        finally:
            if queued:
                self._metrics.queued.dec()
            await self._store_of(channel_name).finish_event(msg.event_id)

    async def _bounded(self, delivery: Awaitable[object], msg: InboundMessage) -> None:
        """Deliver a shutdown notice within a few seconds; at shutdown, a failure is one line."""
        try:
            await asyncio.wait_for(delivery, timeout=5)
        except Exception as exc:
            log.warning(
                "%s: no restart notice for %s (%s)",
                msg.key.channel,
                msg.event_id,
                type(exc).__name__,
            )

    def _refusal(self, msg: InboundMessage) -> tuple[str, str] | None:
        """None to proceed; else the outcome and a notice ("" = stay silent)."""
        if msg.command is not None:
            return None
        if not msg.text.strip() and not msg.attachments:
            return "refused_empty", t(msg.language, "empty_message")
        if len(msg.text) > self._limits.max_query_chars:
            limit = self._limits.max_query_chars
            notice = t(msg.language, "too_long", chars=len(msg.text), limit=limit)
            return "refused_too_long", notice
        for key, per_minute, notice in (
            (
                f"u:{msg.key.channel}:{msg.sender.id}",
                self._limits.user_messages_per_minute,
                "user_rate_limited",
            ),
            (
                f"c:{msg.key.channel}:{msg.key.chat_id}",
                self._limits.chat_messages_per_minute,
                "chat_rate_limited",
            ),
        ):
            verdict = self._over_limit(key, per_minute)
            if verdict is not None:
                # Tell once per window; later messages in the same minute stay silent.
                return "refused_rate_limited", t(msg.language, notice) if verdict else ""
        return None

    def _over_limit(self, key: str, per_minute: int) -> bool | None:
        """None when ``key`` may send one more message now (and count it); else True the first
        time the window is exceeded (tell the user), False after that (stay silent)."""
        if not per_minute:
            return None
        now = self._clock()
        window = self._recent.setdefault(key, deque())
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= per_minute:
            told = len(window) == per_minute
            window.append(now)
            return told
        window.append(now)
        if len(self._recent) > _REMEMBERED:
            self._recent = {k: v for k, v in self._recent.items() if v and v[-1] > now - 60}
        return None

    def _note_gone(self, msg: InboundMessage, exc: ReplyGone) -> None:
        """A chat the bot cannot write to (blocked, kicked): warn once, then stay quiet."""
        key = f"{msg.key.channel}:{msg.key.chat_id}"
        if key in self._gone:
            log.debug("%s: chat %s still unreachable", msg.key.channel, msg.key.chat_id)
            return
        self._gone[key] = None
        if len(self._gone) > _REMEMBERED:
            self._gone.pop(next(iter(self._gone)))
        log.warning("%s: chat %s unreachable: %s", msg.key.channel, msg.key.chat_id, exc)

    async def _notify(self, msg: InboundMessage, notice: str) -> None:
        paced = self._open(msg)
        await paced.finish("", notice=notice)

    def _open(self, msg: InboundMessage) -> PacedReply:
        reply = self._channels[msg.key.channel].open_reply(msg)
        return self._pacers[msg.key.channel].open(reply)

    async def _stop(self, msg: InboundMessage) -> None:
        running = self._running.get(msg.key.scope)
        state = running[0] if running else None
        if state and state.owner and state.owner != msg.sender.id and not msg.sender.is_admin:
            log.info(
                "%s: %s may not stop %s's answer", msg.key.channel, msg.sender.id, state.owner
            )
            await self._notify(msg, t(msg.language, "stop_not_yours"))
            return
        if not await self.stop_turn(msg.key):
            await self._notify(msg, t(msg.language, "nothing_to_stop"))

    async def _answer(self, msg: InboundMessage) -> None:
        channel = self._channels[msg.key.channel]
        scope = msg.key.scope
        backend = self._router.for_chat(msg.key.channel, msg.key.chat_id)
        store, runner = self._for(msg.key.channel, backend)
        row = await store.get_conversation(scope)
        state = TurnState(
            user=row.user if row else scope, owner=msg.sender.id, backend=backend.name
        )
        reply = channel.open_reply(msg)
        reply.on_message = self._remember_reply(msg)
        paced = self._pacers[msg.key.channel].open(reply)
        self._running[scope] = (state, backend)
        self._metrics.inflight.inc()
        outcome = "answered"
        try:
            await paced.start()
            await runner.run(msg, channel, paced, state, backend)
        except BackendError as exc:
            outcome = "failed"
            self._metrics.clickai_errors.labels(exc.kind).inc()
            self._metrics.backend_errors.labels(msg.key.channel, backend.name, exc.kind).inc()
            # A refused or disabled key and the plan's quota are the operator's to fix ("the
            # operator has been notified" is this ERROR line plus bridge_operator_alerts_total);
            # other failures are the user's to retry.
            level = logging.WARNING
            if exc.kind in OPERATOR_KINDS:
                self._metrics.operator_alerts.labels(f"{backend.name}_{exc.kind}").inc()
                level = logging.ERROR
            log.log(
                level,
                "%s: backend %s failed for %s: %s",
                msg.key.channel,
                backend.name,
                scope,
                exc,
            )
            if not state.delivered:
                await paced.finish(state.text, notice=backend_notice(msg.language, exc))
        except AttachmentError as exc:
            refused = exc.reason in ("too_large", "unsupported")
            outcome = "refused_file" if refused else "failed"
            log.info("%s: attachment refused for %s: %s", msg.key.channel, scope, exc.reason)
            await paced.finish("", notice=self._attachment_notice(msg, exc, backend))
        except asyncio.CancelledError:
            if self._aborting and not state.delivered:
                outcome = "restarting"
                notice = t(msg.language, "restarting")
                await self._bounded(paced.finish(state.text, notice=notice), msg)
            raise
        except ReplyGone:
            outcome = "failed"
            raise
        except ChannelError as exc:
            # The platform refused or lost a reply call. Finishing again could show the text
            # twice when the failed call may have been applied (a send that timed out), so the
            # answer stays as it is; the event is still marked finished by the caller.
            outcome = "failed"
            log.warning(
                "%s: reply for %s failed (%d chars answered): %s",
                msg.key.channel,
                scope,
                len(state.text),
                exc,
            )
        except Exception:
            log.exception("%s: turn failed for %s", msg.key.channel, scope)
            if not state.delivered:  # a finished answer never gets a failure note
                outcome = "failed"
                await paced.finish(state.text, notice=t(msg.language, "err_internal"))
        else:
            self._gone.pop(f"{msg.key.channel}:{msg.key.chat_id}", None)
            outcome = "stopped" if state.stop_requested else outcome
        finally:
            self._running.pop(scope, None)
            self._metrics.inflight.dec()
            self._done(msg, outcome, state)
            self._metrics.backend_turns.labels(msg.key.channel, backend.name, outcome).inc()
            self._metrics.turn_seconds.labels(msg.key.channel).observe(
                time.monotonic() - state.started_at
            )
            if state.first_text_at is not None:
                self._metrics.first_text_seconds.labels(msg.key.channel).observe(
                    state.first_text_at - state.started_at
                )

    def _done(self, msg: InboundMessage, outcome: str, state: TurnState | None = None) -> None:
        """Count the message's outcome and log one INFO line about it (ids and times only)."""
        self._metrics.messages.labels(msg.key.channel, outcome).inc()
        fields: dict[str, object] = {"event_id": msg.event_id, "scope": msg.key.scope}
        if state is not None:
            now, first = time.monotonic(), state.first_text_at
            fields |= {
                "backend": state.backend,
                "task_id": state.task_id,
                "message_id": state.message_id,
                "conversation_id": state.conversation_id,
                "ttft_s": None if first is None else first - state.started_at,
                "final_s": now - state.started_at,
                "chars": len(state.text),
                "tokens": state.usage.get("total_tokens"),
            }
            self._metrics.observe_usage(state.backend or self._app, state.usage)
        fields["outcome"] = outcome
        log.info("%s: turn %s", msg.key.channel, key_values(fields), extra=fields_extra(fields))

    def _remember_reply(self, msg: InboundMessage) -> Callable[[str], Awaitable[None]]:
        """Store the id of each message the answer opens, for recovery after a crash."""

        async def remember(message_id: str) -> None:
            try:
                await self._store_of(msg.key.channel).set_event_reply(msg.event_id, message_id)
            except Exception as exc:
                log.warning("%s: could not note reply %s: %s", msg.key.channel, message_id, exc)

        return remember

    def _attachment_notice(
        self, msg: InboundMessage, exc: AttachmentError, backend: Backend
    ) -> str:
        if exc.reason in ("not_accepted", "too_many_files"):
            return file_rules_notice(msg.language, exc)
        name = str(exc)
        if exc.reason == "unsupported":
            if backend.capabilities.attachments:
                return t(msg.language, "file_kind_unsupported", name=name)
            return t(msg.language, "files_unsupported")
        if exc.reason == "too_large":
            att = next((a for a in msg.attachments if a.name == name), None)
            size = (att.size or 0) / MB if att else 0
            channel = self._channels.get(msg.key.channel)
            limit = self._runner.file_limit(backend, channel) / MB
            return t(
                msg.language,
                "file_too_large",
                name=name,
                size_mb=f"{size:.1f}" if size else "?",
                limit_mb=f"{limit:g}",
            )
        return t(msg.language, "file_failed", name=name)


def backend_notice(lang: str, exc: BackendError) -> str:
    """The translated notice for a failed turn (ClickAI's request errors say what was wrong)."""
    if isinstance(exc, ClickAIError):
        return clickai_notice(lang, exc)
    return t(lang, "err_upstream" if exc.kind == "conversation_gone" else f"err_{exc.kind}")


def local_coordination(timings: Timings | None = None) -> Coordination:
    """One process on its own store: in-process scope locks; start-up takes every lease."""
    timings = timings or Timings()
    return Coordination(
        replica="local",
        locks=LocalScopeLocks(timings.scope_wait_s),
        timings=timings,
        shared=False,
    )
