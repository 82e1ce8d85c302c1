"""Socket Mode: the real bolt/slack-sdk WebSocket client against the fake, acks and delivery."""

from __future__ import annotations

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from bridge.config import BridgeConfig
from bridge.errors import ChannelError
from channels.slack import SlackChannel
from tests.fakes.slack import APP_TOKEN, Events, FakeSlack, RecordingIntake, slack_config


async def test_socket_mode_connects_acks_envelopes_and_submits() -> None:
    fake = FakeSlack()
    await fake.start()
    config = slack_config(fake, mode="socket", signing_secret=None)  # not needed in this mode
    channel = SlackChannel(config, BridgeConfig())
    intake = RecordingIntake()
    events = Events()
    try:
        await channel.start(intake)  # returns once connected
        assert await fake.socket_connected()
        opens = [c for c in fake.calls if c.method == "apps.connections.open"]
        assert [c.token for c in opens] == [APP_TOKEN]
        mention = events.mention("over the socket")
        ack = await fake.socket_send(events.envelope(mention, event_id="EvS1"))
        assert ack["envelope_id"].startswith("env-")
        again = await fake.socket_send(events.envelope(mention, event_id="EvS1"), retry=1)
        assert again["envelope_id"] != ack["envelope_id"]
        click = events.feedback_click("like", message_ts="1.1")
        await fake.socket_send(click, kind="interactive")
        await channel.idle()
        assert [m.text for m in intake.messages] == ["over the socket", "over the socket"]
        assert len(intake.accepted) == 1
        assert len(intake.feedback_calls) == 1
        assert channel.http_routes() == []
    finally:
        await channel.stop()
        await channel.close()
        await fake.close()


async def test_a_refused_app_token_fails_start_instead_of_retrying_forever() -> None:
    fake = FakeSlack()
    await fake.start()
    channel = SlackChannel(
        slack_config(fake, mode="socket", app_token="xapp-wrong"), BridgeConfig()
    )
    try:
        with pytest.raises(ChannelError, match="app token refused"):
            await channel.start(RecordingIntake())
        assert not await fake.socket_connected(within_s=0.05)
    finally:
        await channel.close()
        await fake.close()


async def test_after_stop_the_socket_is_closed_and_nothing_is_acked() -> None:
    fake = FakeSlack()
    await fake.start()
    channel = SlackChannel(slack_config(fake, mode="socket"), BridgeConfig())
    intake = RecordingIntake()
    events = Events()
    try:
        await channel.start(intake)
        assert await fake.socket_connected()
        await channel.stop()
        assert await fake.socket_closed()
        late = events.envelope(events.mention("too late"))
        response = await channel.app.async_dispatch(
            AsyncBoltRequest(mode="socket_mode", body=late)
        )
        await channel.idle()
        assert response.status == 503  # not acked: Slack redelivers it later
        assert intake.messages == []
    finally:
        await channel.close()
        await fake.close()
