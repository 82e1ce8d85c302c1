"""What an operator sees: one log line per turn (text and JSON), honest outcome metrics, token
usage and cost per app, build info, and library DEBUG held back."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.logs import JsonFormatter, LibraryLevel, RedactSecrets
from bridge.metrics import Metrics
from bridge.model import Attachment
from bridge.relay import RelayLimits
from bridge.turn import TurnOptions
from bridge.version import bridge_version
from tests.fakes.clickai import FakeClickAI, Reply
from tests.test_relay import Rig, make_rig


@pytest.fixture
async def fake() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(delta_delay=0.005) as server:
        yield server


@pytest.fixture
async def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def rig(fake: FakeClickAI, tmp_path: Path, metrics: Metrics) -> AsyncIterator[Rig]:
    r = await make_rig(
        fake,
        tmp_path / "bridge.db",
        metrics=metrics,
        limits=RelayLimits(max_query_chars=100),
        options=TurnOptions(max_file_bytes=1000),
    )
    yield r
    await r.relay.drain(5)
    await r.pacer.stop()
    await r.client.aclose()
    await r.store.close()


def outcome_count(metrics: Metrics, outcome: str) -> float:
    labels = {"channel": "fake", "outcome": outcome}
    return metrics.registry.get_sample_value("bridge_messages_total", labels) or 0.0


def turn_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bridge.relay" and " turn " in r.getMessage()]


async def test_one_info_line_per_turn_with_ids_and_times_but_no_bodies(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.relay")
    rig.fake.script(Reply(answer="The secret recipe is flour and patience.", deltas=4))
    msg = rig.channel.message("what is in the secret recipe?")
    await rig.relay.submit(msg)
    await rig.settle()

    [record] = turn_records(caplog)
    assert record.levelno == logging.INFO
    fields = record.fields  # type: ignore[attr-defined]
    message = rig.fake.messages("fake:42")[0]
    assert fields["event_id"] == msg.event_id and fields["scope"] == "fake:42"
    assert fields["message_id"] == message["id"]
    assert fields["conversation_id"] == message["conversation_id"]
    assert fields["task_id"] and fields["outcome"] == "answered"
    assert 0 <= fields["ttft_s"] <= fields["final_s"]
    line = record.getMessage()
    assert f"message_id={message['id']}" in line and "outcome=answered" in line
    assert "recipe" not in line and "flour" not in line  # no message bodies

    body = json.loads(JsonFormatter().format(record))
    assert body["level"] == "INFO" and body["scope"] == "fake:42"
    assert body["task_id"] == fields["task_id"] and body["outcome"] == "answered"
    assert isinstance(body["ttft_s"], float) and isinstance(body["final_s"], float)


async def test_outcomes_are_honest(
    rig: Rig, metrics: Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.relay")
    big = Attachment(ref="x", name="big.zip", mime_type="application/zip", kind="document",
                     size=5_000)  # fmt: skip
    for msg in (
        rig.channel.message("x" * 101),
        rig.channel.message("   "),
        rig.channel.message("look", attachments=(big,)),
        rig.channel.message("/new", command="new"),
        rig.channel.message("/stop", command="stop"),
        rig.channel.message("a fine question"),
    ):
        await rig.relay.submit(msg)
        await rig.settle()
    rig.relay.refused("fake", "access")  # what a channel reports for a stranger
    expected = {
        "refused_access": 1,
        "refused_too_long": 1,
        "refused_empty": 1,
        "refused_file": 1,
        "command": 2,
        "answered": 1,
        "refused": 0,
        "failed": 0,
    }
    assert {k: outcome_count(metrics, k) for k in expected} == expected
    outcomes = [r.fields["outcome"] for r in turn_records(caplog)]  # type: ignore[attr-defined]
    assert sorted(outcomes) == sorted(
        ["refused_too_long", "refused_empty", "refused_file", "command", "command", "answered"]
    )


async def test_a_stopped_answer_counts_as_stopped(rig: Rig, metrics: Metrics) -> None:
    rig.fake.script(Reply(answer="word " * 300, deltas=300, delta_delay=0.02))
    await rig.relay.submit(rig.channel.message("long please"))
    await rig.fake.wait_for_requests(1)
    for _ in range(500):
        if rig.fake.running_tasks:
            break
        await asyncio.sleep(0.01)
    await rig.relay.submit(rig.channel.message("/stop", command="stop"))
    await rig.settle()
    assert outcome_count(metrics, "stopped") == 1
    assert outcome_count(metrics, "answered") == 0


async def test_token_usage_and_cost_from_message_end_per_app(rig: Rig, metrics: Metrics) -> None:
    for question in ("one", "two"):
        await rig.relay.submit(rig.channel.message(question))
        await rig.settle()
    ends = rig.fake.messages("fake:42")
    assert len(ends) == 2
    # The fake's message_end usage: 9 prompt tokens and len(answer) // 4 completion tokens.
    completion = sum(max(1, len(m["answer"]) // 4) for m in ends)
    get = metrics.registry.get_sample_value
    assert get("bridge_clickai_tokens_total", {"app": "clickai", "kind": "prompt"}) == 18
    assert get("bridge_clickai_tokens_total", {"app": "clickai", "kind": "completion"}) == (
        completion
    )
    cost = get("bridge_clickai_cost_total", {"app": "clickai", "currency": "USD"})
    assert cost == pytest.approx(2 * 0.000009 + completion * 0.000002, abs=2e-6)


def test_build_info_carries_the_version() -> None:
    metrics = Metrics()
    samples = [
        s for m in metrics.registry.collect() if m.name == "bridge_build_info" for s in m.samples
    ]
    assert [s.labels["version"] for s in samples] == [bridge_version()]
    assert samples[0].value == 1


def test_library_debug_is_held_back_unless_asked() -> None:
    def record(name: str, level: int) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, "m", None, None)

    quiet = LibraryLevel("INFO")
    assert quiet.filter(record("bridge.relay", logging.DEBUG))
    assert quiet.filter(record("channels.telegram.reply", logging.DEBUG))
    assert not quiet.filter(record("markdown_it.rules_block", logging.DEBUG))
    assert not quiet.filter(record("aiosqlite", logging.DEBUG))
    assert quiet.filter(record("aiosqlite", logging.WARNING))
    assert LibraryLevel("DEBUG").filter(record("aiosqlite", logging.DEBUG))


def test_json_fields_are_scrubbed_of_secrets() -> None:
    record = logging.LogRecord("bridge.x", logging.INFO, __file__, 1, "turn", None, None)
    record.fields = {"scope": "telegram:1", "detail": "token=123:SECRET-TOKEN"}
    RedactSecrets(["123:SECRET-TOKEN"]).filter(record)
    body = json.loads(JsonFormatter().format(record))
    assert body["detail"] == "token=***" and body["scope"] == "telegram:1"


async def test_a_shutdown_counts_the_cut_turn_and_the_one_queued_behind_it(
    rig: Rig, metrics: Metrics
) -> None:
    rig.fake.script(Reply(answer="slow " * 100, deltas=100, delta_delay=0.05))
    await rig.relay.submit(rig.channel.message("first"))
    await rig.relay.submit(rig.channel.message("second, queued"))
    await rig.fake.wait_for_requests(1)
    assert metrics.registry.get_sample_value("bridge_turns_queued") == 1
    await rig.relay.drain(0.1)
    assert outcome_count(metrics, "restarting") == 2
    assert metrics.registry.get_sample_value("bridge_turns_queued") == 0
    assert metrics.registry.get_sample_value("bridge_turns_inflight") == 0
