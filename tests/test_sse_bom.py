"""A UTF-8 byte order mark at the start of an SSE stream does not cost the first frame."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.clickai import FakeClickAI, RawFrames
from tests.test_relay import make_rig

BOM = b"\xef\xbb\xbf"


@pytest.fixture
async def fake() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI() as server:
        yield server


def _frames(*answers: str) -> list[bytes]:
    ids = {"conversation_id": str(uuid.uuid4()), "message_id": str(uuid.uuid4())}
    ids["task_id"] = str(uuid.uuid4())

    def frame(event: str, **extra: object) -> bytes:
        body = {"event": event, **ids, "created_at": 1, **extra}
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    deltas = [frame("message", id=ids["message_id"], answer=a) for a in answers]
    return [*deltas, frame("message_end", id=ids["message_id"], metadata={}, files=[])]


@pytest.mark.parametrize("split", [False, True], ids=["bom-in-first-chunk", "bom-alone"])
async def test_a_bom_before_the_first_frame_keeps_the_whole_answer(
    fake: FakeClickAI, tmp_path: Path, split: bool
) -> None:
    frames = _frames("Xin chào, ", "this is ", "the whole answer.")
    chunks = [BOM, *frames] if split else [BOM + frames[0], *frames[1:]]
    fake.script(RawFrames(chunks))
    rig = await make_rig(fake, tmp_path / "b.db")
    try:
        await rig.relay.submit(rig.channel.message("hi"))
        await rig.settle()
        [reply] = rig.channel.chat("42")
        assert reply.text == "Xin chào, this is the whole answer."
        assert reply.notice is None
    finally:
        await rig.pacer.stop()
        await rig.client.aclose()
        await rig.store.close()
