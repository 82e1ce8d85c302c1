"""The app's file settings (``/parameters`` → ``file_upload``) are respected before any download:
a Telegram user's file the app will not take is refused with what it does take, and Telegram's
``getFile`` is never called for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.i18n import t
from tests.channels.test_telegram_dify_captures import bridge
from tests.channels.test_telegram_e2e import ANN, BINH
from tests.fakes import captures
from tests.fakes.clickai import FakeClickAI
from tests.fakes.telegram import FakeTelegram

IMAGES_AND_PDF: dict[str, Any] = {
    "enabled": True,
    "allowed_file_types": ["image", "custom"],
    "allowed_file_extensions": [".PDF"],
    "allowed_file_upload_methods": ["local_file", "remote_url"],
    "number_limits": 3,
}


async def test_a_voice_note_the_app_does_not_take_is_refused_before_downloading(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    async with FakeClickAI(mode="advanced-chat", file_upload=IMAGES_AND_PDF) as app:
        async with bridge(tg, app, tmp_path) as b:
            voice = tg.document(ANN.id, ANN, b"OggS", name="v.ogg", mime="audio/ogg", kind="voice")
            await b.send(voice)
            [notice] = tg.chat(ANN.id).texts()
            assert notice.startswith("📎 The assistant does not take “voice_")
            assert notice.endswith("It takes: images, .pdf.")
        assert tg.calls_to("getFile") == []
        assert app.calls("files/upload") == [] and app.calls("chat-messages") == []


async def test_a_file_of_an_unlisted_type_goes_as_custom_when_its_extension_is_listed(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    async with FakeClickAI(mode="advanced-chat", file_upload=IMAGES_AND_PDF) as app:
        async with bridge(tg, app, tmp_path) as b:
            await b.send(tg.document(BINH.id, BINH, b"%PDF-1.7", name="hop-dong.pdf"))
        [chat] = app.calls("chat-messages")
        assert [f["type"] for f in chat.json["files"]] == ["custom"]
        assert tg.chat(BINH.id).texts()[0].startswith("You said:")


async def test_an_app_without_file_upload_takes_no_files(tg: FakeTelegram, tmp_path: Path) -> None:
    settings = captures.load("44-wf-params").json()
    assert isinstance(settings, dict)
    async with FakeClickAI(mode="workflow", file_upload=settings["file_upload"]) as app:
        async with bridge(tg, app, tmp_path) as b:
            await b.send(tg.document(BINH.id, BINH, b"%PDF-1.7", name="a.pdf"))
            assert tg.chat(BINH.id).texts() == [t("vi", "files_not_taken")]
        assert tg.calls_to("getFile") == [] and app.calls("workflows/run") == []


async def test_settings_changed_by_the_operator_are_read_again_after_a_refusal(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    async with FakeClickAI(mode="advanced-chat") as app:  # every type at start-up
        async with bridge(tg, app, tmp_path) as b:
            app.file_upload = dict(IMAGES_AND_PDF)  # the operator turns audio off
            app.script(captures.replay("121-audio-disallowed-streaming"))
            voice = tg.document(ANN.id, ANN, b"OggS", name="v.ogg", mime="audio/ogg", kind="voice")
            await b.send(voice)
            assert tg.chat(ANN.id).texts()[-1].startswith("📎 The assistant does not accept")
            downloads = len(tg.calls_to("getFile"))
            await b.send(
                tg.document(ANN.id, ANN, b"OggS", name="v.ogg", mime="audio/ogg", kind="voice")
            )
            assert tg.chat(ANN.id).texts()[-1].endswith("It takes: images, .pdf.")
            assert len(tg.calls_to("getFile")) == downloads  # refused before downloading
        assert len(app.calls("chat-messages")) == 1


async def test_one_read_serves_every_setting_and_a_refusal_refreshes_the_opening_too(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    async with FakeClickAI(mode="advanced-chat", opening_statement="Hello.") as app:
        async with bridge(tg, app, tmp_path) as b:
            await b.send(tg.text(ANN.id, ANN, "/start"))
            assert tg.chat(ANN.id).texts() == ["Hello."]
            assert len(app.calls("parameters")) == 1  # start-up's read serves the opening
            app.opening_statement = "Hello again."  # the operator edits the app
            app.file_upload = dict(IMAGES_AND_PDF)
            app.script(captures.replay("121-audio-disallowed-streaming"))
            voice = tg.document(ANN.id, ANN, b"OggS", name="v.ogg", mime="audio/ogg", kind="voice")
            await b.send(voice)
            await b.send(tg.text(ANN.id, ANN, "/start"))
            assert tg.chat(ANN.id).texts()[-1] == "Hello again."
        assert len(app.calls("parameters")) == 2
