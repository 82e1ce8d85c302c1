"""User files: Telegram file_id → bytes through getFile + download, with the size rules."""

from __future__ import annotations

import pytest

from bridge.errors import AttachmentError
from bridge.model import Attachment
from channels.telegram import TelegramChannel
from tests.fakes.telegram import FakeTelegram, RecordingIntake, TgUser, feed

ANN = TgUser(id=111, first_name="Ann")
MB = 1024 * 1024


async def test_a_sent_document_downloads_to_its_bytes(
    tg: FakeTelegram, intake: RecordingIntake, channel: TelegramChannel
):
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 40
    await feed(channel, tg, tg.document(ANN.id, ANN, pdf, name="cv.pdf", caption="summarise"))
    [att] = intake.messages[0].attachments
    assert await channel.download(att, max_bytes=15 * MB) == pdf
    [get_file] = tg.calls_to("getFile")
    assert get_file.params["file_id"] == att.ref


async def test_the_largest_photo_size_is_downloaded(
    tg: FakeTelegram, intake: RecordingIntake, channel: TelegramChannel
):
    photo = b"\xff\xd8\xff" + b"p" * 3000
    await feed(channel, tg, tg.photo(ANN.id, ANN, photo))
    [att] = intake.messages[0].attachments
    assert await channel.download(att, max_bytes=15 * MB) == photo


async def test_known_oversize_is_refused_before_any_call(
    tg: FakeTelegram, channel: TelegramChannel
):
    big = Attachment(
        ref="FILE9", name="movie.mp4", mime_type="video/mp4", kind="video", size=21 * MB
    )
    with pytest.raises(AttachmentError) as caught:
        await channel.download(big, max_bytes=100 * MB)  # Telegram's 20 MB still applies
    assert caught.value.reason == "too_large" and str(caught.value) == "movie.mp4"
    mid = Attachment(
        ref="FILE9", name="a.pdf", mime_type="application/pdf", kind="document", size=16 * MB
    )
    with pytest.raises(AttachmentError) as caught:
        await channel.download(mid, max_bytes=15 * MB)
    assert caught.value.reason == "too_large"
    assert tg.calls_to("getFile") == []


async def test_sizes_learnt_late_are_still_enforced(tg: FakeTelegram, channel: TelegramChannel):
    unknown = tg.add_file(b"x" * 10, "documents/big.bin", size=25 * MB)
    att = Attachment(ref=unknown, name="big.bin", mime_type="application/zip", kind="document")
    with pytest.raises(AttachmentError) as caught:
        await channel.download(att, max_bytes=50 * MB)  # getFile answers "file is too big"
    assert caught.value.reason == "too_large"
    real = tg.add_file(b"y" * 2000, "documents/y.bin")
    small_limit = Attachment(ref=real, name="y.bin", mime_type="text/plain", kind="document")
    with pytest.raises(AttachmentError) as caught:
        await channel.download(small_limit, max_bytes=1000)
    assert caught.value.reason == "too_large"


async def test_unknown_file_fails_cleanly(tg: FakeTelegram, channel: TelegramChannel):
    gone = Attachment(ref="NOPE", name="x.pdf", mime_type="application/pdf", kind="document")
    with pytest.raises(AttachmentError) as caught:
        await channel.download(gone, max_bytes=MB)
    assert caught.value.reason == "download_failed" and str(caught.value) == "x.pdf"
