"""Assistant-file URLs are fetched only through the guarded fetcher (hosts, addresses, limits)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bridge.fetch import FetchError, GuardedFetcher
from bridge.turn import TurnOptions
from tests.fakes.clickai import FakeClickAI, RawFrames
from tests.fakes.files import SECRET, FileHost
from tests.test_relay import make_rig

MB = 1024 * 1024


def _frames_with_file(url: str) -> RawFrames:
    ids = {
        "conversation_id": str(uuid.uuid4()),
        "message_id": str(uuid.uuid4()),
        "task_id": str(uuid.uuid4()),
    }

    def frame(event: str, **extra: object) -> str:
        return "data: " + json.dumps({"event": event, **ids, "created_at": 1, **extra}) + "\n\n"

    return RawFrames(
        [
            frame("message", id=ids["message_id"], answer="Here is your file"),
            frame("message_file", id="f1", type="image", belongs_to="assistant", url=url),
            frame("message_end", id=ids["message_id"], metadata={}, files=[]),
        ]
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(delta_delay=0.0, first_token_delay=0.0) as server:
        yield server


@pytest.fixture
async def host() -> AsyncIterator[FileHost]:
    async with FileHost() as server:
        yield server


async def test_a_message_file_on_an_internal_service_is_never_fetched(
    fake: FakeClickAI, host: FileHost, tmp_path: Path
) -> None:
    # The API is reached as "localhost"; the file URL names another host, 127.0.0.1.
    api = fake.base_url.replace("127.0.0.1", "localhost")
    rig = await make_rig(fake, tmp_path / "b.db", base_url=api)
    try:
        fake.script(_frames_with_file(f"{host.origin}/secret"))
        await rig.relay.submit(rig.channel.message("show me"))
        await rig.settle()
        (reply,) = rig.channel.chat("42")
        assert reply.text.startswith("Here is your file")
        assert not reply.files
        assert host.hits == []
        assert all(SECRET not in f.data for m in rig.channel.chat("42") for f in m.files)
    finally:
        await rig.pacer.stop()
        await rig.client.aclose()
        await rig.store.close()


async def test_a_64_mib_file_stops_at_the_limit_without_being_read_whole(
    fake: FakeClickAI, host: FileHost, tmp_path: Path
) -> None:
    rig = await make_rig(
        fake,
        tmp_path / "b.db",
        options=TurnOptions(max_file_bytes=1 * MB),
        file_hosts=(f"127.0.0.1:{host.port}",),
    )
    try:
        fake.script(_frames_with_file(f"{host.origin}/big?size={64 * MB}"))
        await rig.relay.submit(rig.channel.message("zip it"))
        await rig.settle()
        (reply,) = rig.channel.chat("42")
        assert reply.text.startswith("Here is your file")
        assert not reply.files
        assert host.hits == ["/big"]
        assert not host.finished_big
        assert host.sent < 32 * MB  # what the kernel buffered, not the whole 64 MiB
    finally:
        await rig.pacer.stop()
        await rig.client.aclose()
        await rig.store.close()


def _fetcher(
    http: httpx.AsyncClient,
    dns: dict[str, list[str]],
    *,
    allow: tuple[str, ...] = (),
    origin: str = "https://api.clickai.test/v1",
    timeout_s: float = 10.0,
) -> GuardedFetcher:
    async def resolve(name: str, port: int) -> list[str]:
        if name not in dns:
            raise OSError(f"no such host {name}")
        return dns[name]

    return GuardedFetcher(
        http=http,
        origin=origin,
        headers=lambda: {"Authorization": "Bearer app-secret"},
        allow_hosts=allow,
        timeout_s=timeout_s,
        resolve=resolve,
    )


PUBLIC_API = {"api.clickai.test": ["93.184.215.14"]}


async def test_an_allow_listed_host_on_a_loopback_address_is_refused(host: FileHost) -> None:
    dns = PUBLIC_API | {
        "files.internal": ["127.0.0.1"],
        "cdn.mixed": ["93.184.215.15", "10.0.0.7"],
    }
    async with httpx.AsyncClient() as http:
        fetcher = _fetcher(http, dns, allow=("files.internal", "cdn.mixed", "127.0.0.1"))
        for url in (
            f"http://files.internal:{host.port}/secret",
            f"http://cdn.mixed:{host.port}/secret",
            f"http://127.0.0.1:{host.port}/secret",
            "http://169.254.169.254/latest/meta-data/",
            "file:///etc/passwd",
        ):
            with pytest.raises(FetchError) as info:
                await fetcher.fetch(url, max_bytes=MB)
            assert info.value.reason == "refused", url
    assert host.hits == []


async def test_every_redirect_is_checked_again(host: FileHost) -> None:
    async with httpx.AsyncClient() as http:
        # The backend itself is on loopback, so a listed loopback host may be fetched ...
        fetcher = _fetcher(
            http,
            {"localhost": ["127.0.0.1"], "127.0.0.1": ["127.0.0.1"]},
            origin="http://localhost:1/v1",
            allow=(f"127.0.0.1:{host.port}",),
        )
        assert await fetcher.fetch(f"{host.origin}/secret", max_bytes=MB) == SECRET
        # ... but not when it redirects to a host that is not listed.
        to = "http://127.0.0.1:9/secret"
        with pytest.raises(FetchError) as info:
            await fetcher.fetch(f"{host.origin}/redirect?to={to}", max_bytes=MB)
        assert info.value.reason == "refused"
    assert host.hits == ["/secret", "/redirect"]


async def test_the_secret_goes_only_to_the_backend_origin() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/files/hop.png":
            return httpx.Response(302, headers={"Location": "https://cdn.example.org/hop.png"})
        return httpx.Response(200, content=b"data")

    dns = PUBLIC_API | {"cdn.example.org": ["93.184.215.16"]}
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        fetcher = _fetcher(http, dns, allow=("cdn.example.org",))
        assert await fetcher.fetch("/files/a.png", max_bytes=10) == b"data"
        assert await fetcher.fetch("https://cdn.example.org/b.png", max_bytes=10) == b"data"
        assert await fetcher.fetch("/files/hop.png", max_bytes=10) == b"data"
    auth = [(str(r.url), r.headers.get("Authorization")) for r in seen]
    assert auth == [
        ("https://api.clickai.test/files/a.png", "Bearer app-secret"),
        ("https://cdn.example.org/b.png", None),
        ("https://api.clickai.test/files/hop.png", "Bearer app-secret"),
        ("https://cdn.example.org/hop.png", None),
    ]


async def test_a_fetch_that_never_finishes_times_out() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        async def endless() -> AsyncIterator[bytes]:
            while True:
                yield b"x"
                await asyncio.sleep(0.01)

        return httpx.Response(200, content=endless())

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        fetcher = _fetcher(http, PUBLIC_API, timeout_s=0.2)
        with pytest.raises(FetchError) as info:
            await fetcher.fetch("/files/slow.bin", max_bytes=MB)
    assert info.value.reason == "failed"
