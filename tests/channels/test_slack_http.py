"""Slack HTTP delivery: signatures, url_verification, acks, retries, bad bodies, lifecycle."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from bridge.errors import ChannelError
from bridge.model import Attachment, ThreadKey
from tests.fakes.slack import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    json_body,
    running_slack,
    signed_headers,
)


async def test_url_verification_is_answered_with_the_challenge() -> None:
    async with running_slack() as h:
        body = json_body({"token": "x", "challenge": "c-123", "type": "url_verification"})
        status, text = await h.post(body, signed_headers(body))
        assert status == 200
        assert "c-123" in text


@pytest.mark.parametrize(
    "make_headers",
    [
        pytest.param(lambda b: signed_headers(b, secret="wrong-secret"), id="bad-signature"),
        pytest.param(
            lambda b: signed_headers(b, timestamp=int(time.time()) - 6 * 60), id="stale-timestamp"
        ),
        pytest.param(
            lambda b: signed_headers(b, timestamp=int(time.time()) + 6 * 60), id="future-timestamp"
        ),
        pytest.param(lambda b: {"Content-Type": "application/json"}, id="unsigned"),
        pytest.param(
            lambda b: {**signed_headers(b), "X-Slack-Request-Timestamp": "soon"}, id="bad-stamp"
        ),
    ],
)
async def test_unauthenticated_requests_are_refused_and_not_processed(
    make_headers: Callable[[bytes], dict[str, str]],
) -> None:
    async with running_slack() as h:
        body = json_body(h.events.envelope(h.events.mention("hi")))
        calls_before = len(h.fake.calls)
        status, _ = await h.post(body, make_headers(body))
        await h.channel.idle()
        assert status == 401
        assert h.intake.messages == []
        assert len(h.fake.calls) == calls_before


async def test_a_tampered_body_fails_the_signature() -> None:
    async with running_slack() as h:
        body = json_body(h.events.envelope(h.events.mention("hi")))
        headers = signed_headers(body)
        status, _ = await h.post(body.replace(b"hi", b"yo"), headers)
        assert status == 401
        assert h.intake.messages == []


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe\x00", b"", b"[1, 2, 3]", b"payload=%7Bbroken"],
    ids=["bad-json", "not-utf8", "empty", "json-list", "bad-form-payload"],
)
async def test_malformed_but_signed_bodies_get_4xx_without_crashing(body: bytes) -> None:
    async with running_slack() as h:
        status, _ = await h.post(body, signed_headers(body))
        assert 400 <= status < 500
        assert h.intake.messages == []
        # The endpoint still works afterwards.
        assert await h.send(h.events.mention("still alive")) == 200
        assert len(h.intake.messages) == 1


async def test_mention_is_acked_and_submitted_once_with_a_stable_event_id() -> None:
    async with running_slack() as h:
        event = h.events.mention("what is the weather?", channel="C9", user="U7")
        assert await h.send(event, event_id="Ev1") == 200
        [msg] = h.intake.messages
        assert msg.key == ThreadKey(channel="slack", chat_id="C9", thread_id=event["ts"])
        assert msg.reply_thread == event["ts"]
        assert msg.text == "what is the weather?"
        assert msg.sender.id == "U7"
        assert msg.message_id == event["ts"]
        assert msg.event_id == f"slack:C9:{event['ts']}"


async def test_a_retried_delivery_reaches_the_core_with_the_same_event_id() -> None:
    async with running_slack() as h:
        event = h.events.mention("once please")
        assert await h.send(event, event_id="EvRetry") == 200
        assert await h.send(event, event_id="EvRetry", retry_num=1) == 200
        assert await h.send(event, event_id="EvRetry", retry_num=2) == 200
        ids = {m.event_id for m in h.intake.messages}
        assert len(ids) == 1
        assert len(h.intake.accepted) == 1  # the core's dedupe keeps exactly one


async def test_unused_events_and_foreign_actions_are_acked_so_slack_does_not_retry() -> None:
    async with running_slack() as h:
        joined = {"type": "member_joined_channel", "user": "U1", "channel": "C1"}
        assert await h.send(joined) == 200
        started = {"type": "assistant_thread_started", "assistant_thread": {"channel_id": "D1"}}
        assert await h.send(started) == 200
        payload = h.events.feedback_click("like", message_ts="1.2")
        payload["actions"][0]["action_id"] = "someone_elses_button"
        assert await h.click(payload) == 200
        assert h.intake.messages == []
        assert h.intake.feedback_calls == []


async def test_ignored_message_subtypes_are_still_acked() -> None:
    async with running_slack() as h:
        edited = h.events.message("x", subtype="message_changed")
        assert await h.send(edited) == 200
        assert h.intake.messages == []


async def test_requests_before_start_get_503_and_are_not_processed() -> None:
    async with running_slack(start=False) as h:
        body = json_body(h.events.envelope(h.events.mention("too early")))
        status, _ = await h.post(body, signed_headers(body))
        assert status == 503
        assert h.intake.messages == []


async def test_after_stop_requests_get_503() -> None:
    async with running_slack() as h:
        await h.channel.stop()
        body = json_body(h.events.envelope(h.events.mention("too late")))
        status, _ = await h.post(body, signed_headers(body))
        assert status == 503
        assert h.intake.messages == []


async def test_start_fails_clearly_with_a_bad_token() -> None:
    async with running_slack(start=False, bot_token="xoxb-wrong") as h:
        with pytest.raises(ChannelError, match=r"auth\.test"):
            await h.channel.start(h.intake)


async def test_no_route_in_socket_mode() -> None:
    async with running_slack(start=False, mode="socket") as h:
        assert h.channel.http_routes() == []


async def test_pace_budget_follows_the_config() -> None:
    async with running_slack(start=False, update_interval_s=2.0, updates_per_minute=30) as h:
        budget = h.channel.pace_budget
        assert budget.chat_interval_s == 2.0
        assert budget.group_interval_s == 2.0
        assert budget.global_per_s == pytest.approx(0.5)


async def test_no_secret_reaches_the_logs_even_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_slack() as h:
        body = json_body(h.events.envelope(h.events.mention("hi")))
        await h.post(body, signed_headers(body, secret="wrong"))
        assert await h.send(h.events.mention("hello")) == 200
        reply = h.channel.open_reply(h.intake.messages[0])
        await reply.start()
        await reply.update("partial")
        await reply.finish("partial and final", feedback=True)
        shared = h.fake.add_file("a.txt", b"data", "text/plain")
        await h.channel.download(_attachment(shared), max_bytes=100)
    text = caplog.text
    for secret in (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET):
        assert secret not in text


def _attachment(file: dict[str, object]) -> Attachment:
    return Attachment(
        ref=str(file["url_private_download"]),
        name=str(file["name"]),
        mime_type=str(file["mimetype"]),
        kind="document",
    )
