"""The runnable demo and the standalone fake Telegram with its control API."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

from bridge.i18n import t
from tests.fakes.demo import CHAT_ID, answer_after, running_demo, say
from tests.fakes.slack import BOT_TOKEN
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.fakes.telegram.control import TelegramControl
from tests.test_cli import cli

ROOT = Path(__file__).resolve().parent.parent


async def test_the_demo_answers_a_user_and_takes_a_like(tmp_path: Path) -> None:
    async with running_demo(tmp_path, delta_delay=0.005) as demo, ClientSession() as http:
        sent = await say(http, demo.control.url, "hello bridge")
        assert await answer_after(http, demo.control.url, sent["message_id"]) == [
            "You said: hello bridge"
        ]
        async with http.get(f"{demo.control.url}/chats/{CHAT_ID}") as resp:
            shown = (await resp.json())["messages"]
        assert [(m["from"], m["text"]) for m in shown] == [
            ("user", "hello bridge"),
            ("bot", "You said: hello bridge"),
        ]
        assert shown[1]["buttons"] == ["👍", "👎"]

        pressed = await say(http, demo.control.url, "/like")
        assert pressed["status"] == 200
        for _ in range(200):
            if demo.clickai.calls("feedbacks"):
                break
            await asyncio.sleep(0.02)
        assert demo.clickai.calls("feedbacks")[0].json["rating"] == "like"

        async with http.post(
            f"{demo.control.url}/chats/{CHAT_ID}/press", json={"button": "nope"}
        ) as resp:
            assert resp.status == 404


async def test_the_demo_answers_in_slack_through_the_slack_control_api(tmp_path: Path) -> None:
    async with running_demo(tmp_path, delta_delay=0.005) as demo, ClientSession() as http:
        base = f"{demo.slack_control.url}/channels/C7"
        async with http.post(f"{base}/messages", json={"text": "hi from slack"}) as resp:
            assert resp.status == 200
            asked = (await resp.json())["ts"]
        shown: list[dict[str, Any]] = []
        for _ in range(500):
            async with http.get(base) as resp:
                shown = (await resp.json())["messages"]
            if shown and shown[-1]["feedback_buttons"]:
                break
            await asyncio.sleep(0.02)
        assert [(m["thread_ts"], m["text"]) for m in shown] == [(asked, "You said: hi from slack")]
        async with http.post(f"{base}/press", json={"button": "dislike"}) as resp:
            assert resp.status == 200
        for _ in range(250):
            if demo.clickai.calls("feedbacks"):
                break
            await asyncio.sleep(0.02)
        assert demo.clickai.calls("feedbacks")[0].json["rating"] == "dislike"


async def standalone(module: str) -> tuple[asyncio.subprocess.Process, str]:
    """Start ``python -m MODULE --port 0 --control-port 0``; returns it and its banner."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        "--port",
        "0",
        "--control-port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    banner = ""
    while "bridge settings:" not in banner:
        banner += (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    return proc, banner


def url_after(label: str, banner: str) -> str:
    found = re.search(re.escape(label) + r" (\S+)", banner)
    assert found is not None, banner
    return found.group(1)


async def test_the_fake_telegram_runs_standalone_with_its_control_api() -> None:
    proc, banner = await standalone("tests.fakes.telegram")
    try:
        api, control = url_after("Bot API:", banner), url_after("control API:", banner)
        async with ClientSession() as http:
            async with http.get(control + "/") as resp:
                assert "POST /chats/{chat_id}/messages" in await resp.text()
            async with http.post(f"{control}/chats/77/messages", json={"text": "hi bot"}) as resp:
                assert resp.status == 200
            async with http.get(f"{api}/bot{TOKEN}/getUpdates?timeout=0") as resp:
                updates = (await resp.json())["result"]
        assert [u["message"]["text"] for u in updates] == ["hi bot"]
        assert updates[0]["message"]["chat"]["id"] == 77
    finally:
        proc.terminate()
        await proc.wait()


async def test_the_fake_slack_runs_standalone_with_its_control_api() -> None:
    proc, banner = await standalone("tests.fakes.slack")
    try:
        api, control = url_after("Web API:", banner), url_after("control API:", banner)
        async with ClientSession() as http:
            async with http.get(control + "/") as resp:
                assert "POST /channels/{channel}/messages" in await resp.text()
            async with http.post(f"{control}/channels/C1/messages", json={"text": "hi"}) as resp:
                assert resp.status == 409  # no bridge connected over Socket Mode yet
            headers = {"Authorization": f"Bearer {BOT_TOKEN}"}
            async with http.post(api + "auth.test", headers=headers) as resp:
                assert (await resp.json())["ok"] is True
    finally:
        proc.terminate()
        await proc.wait()


async def test_a_demo_user_can_send_a_file_through_the_control_api(tmp_path: Path) -> None:
    """A new operator tries files from the demo: the control API posts a document."""
    async with running_demo(tmp_path, delta_delay=0.005) as demo, ClientSession() as http:
        body = {
            "text": "Tóm tắt giúp tôi",
            "file": {"name": "notes.txt", "content": "Biên bản họp", "mime": "text/plain"},
        }
        async with http.post(f"{demo.control.url}/chats/{CHAT_ID}/messages", json=body) as resp:
            assert resp.status == 200
            sent = await resp.json()
        answer = await answer_after(http, demo.control.url, sent["message_id"])
        assert answer == ["You said: Tóm tắt giúp tôi"]
        upload = demo.clickai.calls("files/upload")[0].files["file"]
        assert (upload[0], upload[2]) == ("notes.txt", "Biên bản họp".encode())
        turn = demo.clickai.calls("chat-messages")[0].json
        assert turn["query"] == "Tóm tắt giúp tôi" and len(turn["files"]) == 1
        async with http.get(f"{demo.control.url}/chats/{CHAT_ID}") as resp:
            shown = (await resp.json())["messages"]
        assert (shown[0]["kind"], shown[0]["file"], shown[0]["text"]) == (
            "document",
            "notes.txt",
            "Tóm tắt giúp tôi",
        )


async def test_the_fake_telegram_delivers_an_unacknowledged_webhook_update_again() -> None:
    """Like Telegram: a webhook update answered with an error (e.g. the bridge's store was
    locked) comes again, the same update, until it is acknowledged; nothing is silently lost."""
    seen: list[int] = []

    async def webhook(request: web.Request) -> web.Response:
        seen.append((await request.json())["update_id"])
        return web.Response(status=503 if len(seen) < 3 else 200)

    app = web.Application()
    app.router.add_post("/telegram/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    fake = FakeTelegram()
    await fake.start(0)
    control = TelegramControl(fake, redelivery_s=(0.0, 0.0, 0.0, 0.0))
    await control.start(0)
    try:
        fake.webhook_url = f"http://127.0.0.1:{runner.addresses[0][1]}/telegram/webhook"
        async with (
            ClientSession() as http,
            http.post(f"{control.url}/chats/31/messages", json={"text": "hi"}) as resp,
        ):
            sent = await resp.json()
        assert sent["webhook_status"] == 503
        for _ in range(250):
            if len(seen) >= 3:
                break
            await asyncio.sleep(0.02)
        assert seen == [sent["update_id"]] * 3
    finally:
        await control.stop()
        await fake.stop()
        await runner.cleanup()


async def test_a_restarted_standalone_fake_telegram_never_repeats_an_update_id() -> None:
    """The operator restarts the fake but keeps the bridge's store: an update id it repeated
    would be ignored by the bridge as a redelivery, and the user's message never answered."""
    first_ids = []
    for _ in range(2):
        proc, banner = await standalone("tests.fakes.telegram")
        try:
            control = url_after("control API:", banner)
            async with (
                ClientSession() as http,
                http.post(f"{control}/chats/77/messages", json={"text": "hi"}) as resp,
            ):
                first_ids.append((await resp.json())["update_id"])
        finally:
            proc.terminate()
            await proc.wait()
    assert first_ids[0] != first_ids[1]


async def test_the_control_api_shows_a_streaming_draft_and_presses_its_stop_button(
    tmp_path: Path,
) -> None:
    """With telegram.drafts on, what the chat shows while the answer streams is the draft; an
    operator can watch it grow and press Telegram's stop button on it."""
    async with (
        running_demo(tmp_path, delta_delay=0.3, drafts=True) as demo,
        ClientSession() as http,
    ):
        chat = f"{demo.control.url}/chats/{CHAT_ID}"
        sent = await say(http, demo.control.url, "kể chuyện dài")
        draft: dict[str, Any] | None = None
        for _ in range(400):
            async with http.get(chat) as resp:
                draft = (await resp.json())["draft"]
            if draft is not None and draft["text"].startswith("You said"):
                break
            await asyncio.sleep(0.02)
        assert draft is not None and draft["stop_button"] is True
        async with http.post(f"{chat}/stop") as resp:
            assert resp.status == 200
        answer = await answer_after(http, demo.control.url, sent["message_id"])
        assert len(answer) == 1 and answer[0].startswith("You said") and "⏹" in answer[0]
        assert not answer[0].startswith("You said: kể chuyện dài\n")  # cut short, not finished
        assert len(demo.clickai.calls("/stop")) == 1
        async with http.get(chat) as resp:
            assert (await resp.json())["draft"] is None


async def test_the_standalone_fake_clickai_prints_settings_that_list_its_assistant(
    tmp_path: Path,
) -> None:
    """A new operator tries `clickai-bridge apps` with the settings the fake prints."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.clickai", "--port", "0",
        stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        banner = ""
        while "apps settings:" not in banner:
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line, banner
            banner += line
        settings = banner.split("apps settings:", 1)[1].split()
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
        env |= dict(pair.split("=", 1) for pair in settings)
        code, out, err = await cli("apps", env=env, cwd=tmp_path)
        assert code == 0, err
        assert "Fake Assistant" in out
    finally:
        proc.terminate()
        await proc.wait()


async def test_a_slack_user_of_the_control_api_can_be_vietnamese(tmp_path: Path) -> None:
    """The Slack control API takes a language like Telegram's, so a Vietnamese Slack user can
    be tried (users.info gives the bridge the user's locale)."""
    async with running_demo(tmp_path, delta_delay=0.005) as demo, ClientSession() as http:
        base = f"{demo.slack_control.url}/channels/D9"
        body = {"text": "help", "user": "U9", "language": "vi"}
        async with http.post(f"{base}/messages", json=body) as resp:
            assert resp.status == 200
        shown: list[dict[str, Any]] = []
        for _ in range(500):
            async with http.get(base) as resp:
                shown = (await resp.json())["messages"]
            if shown:
                break
            await asyncio.sleep(0.02)
        assert [m["text"] for m in shown] == [t("vi", "slack_help")]
