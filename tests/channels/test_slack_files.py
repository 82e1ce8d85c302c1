"""Downloading users' Slack files: token only to Slack, size limits, login pages, redirects."""

from __future__ import annotations

import pytest

from bridge.errors import AttachmentError
from bridge.model import Attachment
from tests.fakes.slack import Harness, running_slack


def as_attachment(
    file: dict[str, object], *, size: int | None = None, ref: str = ""
) -> Attachment:
    return Attachment(
        ref=ref or str(file["url_private_download"]),
        name=str(file["name"]),
        mime_type=str(file["mimetype"]),
        kind="document",
        size=size,
    )


async def fetch(h: Harness, attachment: Attachment, max_bytes: int = 1_000_000) -> bytes:
    return await h.channel.download(attachment, max_bytes=max_bytes)


async def test_download_sends_the_bot_token_and_returns_the_bytes() -> None:
    async with running_slack() as h:
        shared = h.fake.add_file("a.bin", b"\x00\x01payload", "application/octet-stream")
        assert await fetch(h, as_attachment(shared)) == b"\x00\x01payload"
        assert h.fake.downloads == [(f"/files/{shared['id']}/a.bin", True)]


async def test_a_file_id_is_resolved_with_files_info() -> None:
    async with running_slack() as h:
        shared = h.fake.add_file("b.txt", b"hello", "text/plain")
        assert await fetch(h, as_attachment(shared, ref=str(shared["id"]))) == b"hello"
        assert [c["file"] for c in h.fake.calls_to("files.info")] == [shared["id"]]


async def test_too_large_by_declared_size_is_refused_before_any_request() -> None:
    async with running_slack() as h:
        shared = h.fake.add_file("big.bin", b"x" * 50, "application/octet-stream")
        with pytest.raises(AttachmentError) as info:
            await fetch(h, as_attachment(shared, size=50), max_bytes=10)
        assert info.value.reason == "too_large"
        assert str(info.value) == "big.bin"
        assert h.fake.downloads == []


async def test_too_large_by_files_info_is_refused_before_downloading() -> None:
    async with running_slack() as h:
        shared = h.fake.add_file("big.bin", b"x" * 50, "application/octet-stream")
        with pytest.raises(AttachmentError) as info:
            await fetch(h, as_attachment(shared, ref=str(shared["id"])), max_bytes=10)
        assert info.value.reason == "too_large"
        assert h.fake.downloads == []


async def test_too_large_while_streaming_when_the_size_was_unknown() -> None:
    async with running_slack() as h:
        shared = h.fake.add_file("big.bin", b"x" * 5000, "application/octet-stream")
        with pytest.raises(AttachmentError) as info:
            await fetch(h, as_attachment(shared), max_bytes=100)
        assert info.value.reason == "too_large"


async def test_an_html_login_page_is_a_failed_download() -> None:
    async with running_slack() as h:
        shared = h.fake.add_file("c.pdf", b"%PDF", "application/pdf")
        h.fake.file_bytes.pop(str(shared["id"]))  # Slack answers with its sign-in page
        with pytest.raises(AttachmentError) as info:
            await fetch(h, as_attachment(shared))
        assert info.value.reason == "download_failed"


async def test_an_html_body_with_a_binary_content_type_is_detected() -> None:
    async with running_slack() as h:
        shared = h.fake.add_file("d.pdf", b"%PDF", "application/pdf", route="files-sniff")
        with pytest.raises(AttachmentError) as info:
            await fetch(h, as_attachment(shared))
        assert info.value.reason == "download_failed"


async def test_a_same_host_redirect_keeps_the_token() -> None:
    async with running_slack() as h:
        shared = h.fake.add_file("e.txt", b"moved", "text/plain", route="files-redirect")
        assert await fetch(h, as_attachment(shared)) == b"moved"
        assert [auth for _, auth in h.fake.downloads] == [True, True]


async def test_a_cross_host_redirect_never_carries_the_token() -> None:
    async with running_slack() as h:
        shared = h.fake.add_file("f.txt", b"on the cdn", "text/plain", route="files-cross")
        assert await fetch(h, as_attachment(shared)) == b"on the cdn"
        assert h.fake.downloads == [(f"/files-cross/{shared['id']}/f.txt", True)]
        assert h.fake.cdn_requests == [(f"/cdn/{shared['id']}/f.txt", False)]


async def test_the_token_is_never_sent_to_a_foreign_host() -> None:
    async with running_slack() as h:
        foreign = Attachment(
            ref=f"{h.fake.cdn_url}/cdn/F1/x.txt",
            name="x.txt",
            mime_type="text/plain",
            kind="document",
        )
        with pytest.raises(AttachmentError) as info:
            await fetch(h, foreign)
        assert info.value.reason == "download_failed"
        assert h.fake.cdn_requests == []


async def test_an_unknown_file_id_fails_cleanly() -> None:
    async with running_slack() as h:
        ghost = Attachment(ref="F_NOPE", name="ghost", mime_type="text/plain", kind="document")
        with pytest.raises(AttachmentError) as info:
            await fetch(h, ghost)
        assert info.value.reason == "download_failed"
