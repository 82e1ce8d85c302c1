"""Security: constant-time secret checks, stale Slack requests, no secret anywhere in what the
bridge emits, allow-lists before any ClickAI call, and per-user / per-chat limits.

Covered elsewhere (not repeated here): the SQLite file is created 0600 and tightened to 0600
(tests/test_store_sqlite.py), the ClickAI key is not sent on a cross-host file redirect
(tests/test_clickai_endpoints.py::test_download_redirect_to_another_host_drops_the_key), and the
Slack token is not sent on a cross-host redirect (tests/channels/test_slack_files.py).
"""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
import os
import stat
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.config import BridgeConfig, load_settings
from bridge.errors import BridgeError, ConfigError
from bridge.i18n import t
from bridge.logs import RedactSecrets
from bridge.relay import RelayLimits
from tests.fakes.clickai import FakeClickAI, HttpFailure
from tests.fakes.slack import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    json_body,
    signed_headers,
)
from tests.fakes.telegram import BOT_ID, FakeTelegram, TgUser
from tests.reliability.helpers_faults import make_rig, running

API_KEY = "app-Sup3rSecretKey-0001"
TG_TOKEN = f"{BOT_ID}:SECRET-tg-token-xyz0987"
HOOK_SECRET = "hook-Secret_42-zz"
STUDIO_TOKEN = "studio-S3cret-token-77"
SECRETS = (API_KEY, TG_TOKEN, HOOK_SECRET, BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, STUDIO_TOKEN)
ANN = TgUser(id=111, first_name="Ann", language_code="en")
BINH = TgUser(id=222, first_name="Bình", language_code="vi")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TG_TOKEN) as server:
        yield server


@pytest.fixture
async def clickai() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(key=API_KEY, studio_token=STUDIO_TOKEN, deltas=3) as server:
        yield server


def webhook_env(tg: FakeTelegram) -> dict[str, str]:
    return {
        "BRIDGE_TELEGRAM__MODE": "webhook",
        "BRIDGE_TELEGRAM__WEBHOOK_URL": "https://bot.example.com/telegram/webhook",
        "BRIDGE_TELEGRAM__WEBHOOK_SECRET": HOOK_SECRET,
        "BRIDGE_CLICKAI__STUDIO_TOKEN": STUDIO_TOKEN,
        "BRIDGE_CLICKAI__WORKSPACE_ID": "ws-test",
    }


# --- constant-time comparisons -------------------------------------------------------------------


@pytest.fixture
def compare_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[list[tuple[Any, Any]]]:
    """Records every ``hmac.compare_digest`` call (and still compares)."""
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def recording(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    yield calls


async def test_secrets_are_compared_in_constant_time(
    tg: FakeTelegram,
    slack: FakeSlack,
    clickai: FakeClickAI,
    tmp_path: Path,
    compare_calls: list[tuple[Any, Any]],
) -> None:
    async with running(clickai, tmp_path / "b.db", tg=tg, slack=slack, env=webhook_env(tg)) as b:
        assert b.app.server is not None
        hook = f"http://127.0.0.1:{b.app.server.bound_port}/telegram/webhook"
        update = tg.text(ANN.id, ANN, "hi")
        assert await tg.post_webhook(update, url=hook, secret="wrong-secret") == 403
        assert (b"wrong-secret", HOOK_SECRET.encode()) in compare_calls
        compare_calls.clear()

        body = json_body(b.events.envelope(b.events.mention("hi")))
        forged = signed_headers(body, secret="not-the-signing-secret")
        async with b.session.post(b.slack_url, data=body, headers=forged) as r:
            assert r.status == 401
        assert any(given == forged["X-Slack-Signature"] for _, given in compare_calls)
        await b.settle()
    assert clickai.calls("chat-messages") == []


async def test_stale_or_unsigned_slack_requests_are_refused(
    slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path
) -> None:
    async with running(clickai, tmp_path / "b.db", slack=slack) as b:
        body = json_body(b.events.envelope(b.events.mention("replayed")))
        for headers in (
            signed_headers(body, timestamp=int(time.time()) - 6 * 60),  # a replay
            signed_headers(body, timestamp=int(time.time()) + 6 * 60),
            {"Content-Type": "application/json"},
            {**signed_headers(body), "X-Slack-Request-Timestamp": "soon"},
        ):
            async with b.session.post(b.slack_url, data=body, headers=headers) as r:
                assert r.status == 401
        await b.settle()
    assert clickai.calls("chat-messages") == []
    assert slack.messages == []


# --- no secret anywhere ------------------------------------------------------------------------


async def _cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridge",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


async def test_a_full_scenario_leaks_no_secret(
    tg: FakeTelegram, slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path
) -> None:
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(SECRETS))  # what the CLI installs
    root = logging.getLogger()
    noisy = ("httpx", "httpcore", "telegram", "slack_bolt", "slack_sdk", "aiohttp", "asyncio")
    levels = {name: logging.getLogger(name).level for name in (*noisy, "")}
    root.addHandler(handler)
    for name in (*noisy, ""):
        logging.getLogger(name).setLevel(logging.DEBUG)
    emitted: list[str] = []
    try:
        env = webhook_env(tg) | {"BRIDGE_LOG__LEVEL": "DEBUG"}
        async with running(clickai, tmp_path / "b.db", tg=tg, slack=slack, env=env) as b:
            emitted += [repr(b.app.settings), str(b.app.settings), repr(b.app.settings.clickai)]
            emitted.append(b.app.settings.model_dump_json())
            assert b.app.server is not None
            hook = f"http://127.0.0.1:{b.app.server.bound_port}/telegram/webhook"
            # Telegram: an answer, a press, a wrong secret, a file
            assert await tg.post_webhook(tg.text(ANN.id, ANN, "hello"), url=hook) == 200
            await b.settle()
            [answer] = tg.chat(ANN.id).bot_messages()
            assert (
                await tg.post_webhook(
                    tg.callback(ANN.id, ANN, answer.message_id, "fb:like"), url=hook
                )
                == 200
            )
            assert await tg.post_webhook(tg.text(ANN.id, ANN, "x"), url=hook, secret="no") == 403
            doc = tg.document(ANN.id, ANN, b"%PDF-1.7 data", name="a.pdf", caption="read")
            assert await tg.post_webhook(doc, url=hook) == 200
            # Slack: a mention, a click, a forged signature, a shared file
            shared = slack.add_file("n.txt", b"notes", "text/plain", route="files-cross")
            mention = b.events.mention("hello", files=[shared])
            assert await b.slack_post(mention) == 200
            await b.settle()
            [reply] = slack.thread("C1", str(mention["ts"]))
            assert await b.slack_click(b.events.feedback_click("like", message_ts=reply.ts)) == 200
            body = json_body(b.events.envelope(b.events.mention("x")))
            bad = signed_headers(body, secret="wrong")
            async with b.session.post(b.slack_url, data=body, headers=bad) as r:
                assert r.status == 401
            # ClickAI refuses the key mid-run: the user is told, the exception is clean
            clickai.fail_next(HttpFailure(status=401, code="unauthorized", path="chat-messages"))
            assert await tg.post_webhook(tg.text(BINH.id, BINH, "now?"), url=hook) == 200
            await b.settle()
            assert tg.chat(BINH.id).texts() == [t("vi", "err_auth")]
            assert b.app.clickai is not None
            clickai.fail_next(HttpFailure(status=401, code="unauthorized"))
            with pytest.raises(BridgeError) as raised:
                await b.app.clickai.parameters()
            emitted += [repr(raised.value), str(raised.value), repr(raised.value.__cause__)]
        db = tmp_path / "b.db"
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)

    # `check`, passing and with a refused key, as a subprocess
    base = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    cli_env = base | {
        "BRIDGE_CLICKAI__BASE_URL": clickai.base_url,
        "BRIDGE_CLICKAI__API_KEY": API_KEY,
        "BRIDGE_CLICKAI__STUDIO_TOKEN": STUDIO_TOKEN,
        "BRIDGE_STORE__URL": f"sqlite:///{tmp_path / 'c.db'}",
        "BRIDGE_LOG__LEVEL": "DEBUG",
        "BRIDGE_TELEGRAM__ENABLED": "true",
        "BRIDGE_TELEGRAM__TOKEN": TG_TOKEN,
        "BRIDGE_TELEGRAM__API_BASE_URL": tg.url,
        "BRIDGE_SLACK__ENABLED": "true",
        "BRIDGE_SLACK__BOT_TOKEN": BOT_TOKEN,
        "BRIDGE_SLACK__APP_TOKEN": APP_TOKEN,
        "BRIDGE_SLACK__SIGNING_SECRET": SIGNING_SECRET,
        "BRIDGE_SLACK__API_BASE_URL": slack.api_url,
    }
    code, output = await _cli("check", env=cli_env, cwd=tmp_path)
    assert code == 0, output
    emitted.append(output)
    wrong = "app-Wr0ngKey-but-still-secret"
    code, output = await _cli(
        "check", env=cli_env | {"BRIDGE_CLICKAI__API_KEY": wrong}, cwd=tmp_path
    )
    assert code == 1 and "clickai.api_key" in output
    assert wrong not in output
    emitted.append(output)

    everything = captured.getvalue() + "\n".join(emitted)
    assert len(captured.getvalue()) > 10_000  # DEBUG from every library was really captured
    leaks = {secret: everything.count(secret) for secret in SECRETS}
    assert leaks == dict.fromkeys(SECRETS, 0)


def test_config_errors_never_echo_a_secret() -> None:
    env = {"BRIDGE_CLICKAI__API_KEY": API_KEY, "BRIDGE_TELEGRAM__TOKEN": TG_TOKEN}
    with pytest.raises(ConfigError) as raised:
        load_settings(
            None, env | {"BRIDGE_TELEGRAM__MODE": "webhook", "BRIDGE_TELEGRAM__ENABLED": "x"}
        )
    text = str(raised.value) + repr(raised.value)
    assert API_KEY not in text and TG_TOKEN not in text


# --- allow-lists before ClickAI ------------------------------------------------------------------


async def test_refused_users_never_reach_clickai_on_either_platform(
    tg: FakeTelegram, slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path
) -> None:
    env = {
        "BRIDGE_TELEGRAM__ALLOWED_USER_IDS": f"[{ANN.id}]",
        "BRIDGE_SLACK__ALLOWED_USER_IDS": '["U1"]',
    }
    async with running(clickai, tmp_path / "b.db", tg=tg, slack=slack, env=env) as b:
        before = len(clickai.requests)
        tg.push(tg.text(BINH.id, BINH, "let me in"))
        doc = tg.document(BINH.id, BINH, b"data", name="x.pdf", caption="and this")
        tg.push(doc)
        mention = b.events.mention("let me in", user="U2", channel="C5")
        assert await b.slack_post(mention) == 200
        dm = b.events.dm("me too", user="U2", channel="D5")
        assert await b.slack_post(dm) == 200
        await b.settle()
        assert clickai.requests[before:] == []
        assert tg.chat(BINH.id).texts() == [t("vi", "access_denied")]
        assert tg.calls_to("getFile") == []
        # the allowed ones still are answered
        tg.push(tg.text(ANN.id, ANN, "hello"))
        ok = b.events.mention("hello", user="U1", channel="C5")
        assert await b.slack_post(ok) == 200
        await b.settle()
        assert tg.chat(ANN.id).texts() == ["You said: hello"]
        assert slack.thread_text("C5", str(ok["ts"])) == "You said: hello"
    users = {c.json["user"] for c in clickai.calls("chat-messages")}
    assert users == {f"telegram:{ANN.id}", f"slack:C5:t:{ok['ts']}"}


# --- per-user and per-chat limits ----------------------------------------------------------------


async def test_the_per_chat_limit_protects_the_quota(clickai: FakeClickAI, tmp_path: Path) -> None:
    limits = RelayLimits(user_messages_per_minute=0, chat_messages_per_minute=3)
    rig = await make_rig(clickai, tmp_path / "b.db", limits=limits)
    try:
        for i in range(6):  # six different users in one busy group
            await rig.relay.submit(
                rig.channel.message(f"q{i}", chat_id="-5", user_id=f"u{i}", language="vi")
            )
        await rig.relay.submit(rig.channel.message("other chat", chat_id="-6", user_id="u0"))
        await rig.settle()
        shown = [(m.text, m.notice) for m in rig.channel.chat("-5")]
        answers = sorted(text for text, notice in shown if notice is None)
        assert answers == [f"You said: q{i}" for i in range(3)]
        # told once, then silence
        assert [n for _, n in shown if n] == [t("vi", "chat_rate_limited")]
        assert [m.text for m in rig.channel.chat("-6")] == ["You said: other chat"]
        assert len(clickai.calls("chat-messages")) == 4
        assert await rig.store.pending_events() == []
    finally:
        await rig.close()


async def test_the_per_user_limit_still_applies_across_chats(
    clickai: FakeClickAI, tmp_path: Path
) -> None:
    limits = RelayLimits(user_messages_per_minute=2, chat_messages_per_minute=0)
    rig = await make_rig(clickai, tmp_path / "b.db", limits=limits)
    try:
        for chat in ("1", "2", "3", "4"):
            await rig.relay.submit(rig.channel.message("hi", chat_id=chat, user_id="spammer"))
        await rig.settle()
        assert len(clickai.calls("chat-messages")) == 2
        notices = [m.notice for m in rig.channel.messages if m.notice]
        assert notices == [t("en", "user_rate_limited")]
    finally:
        await rig.close()


def test_chat_limit_config_key() -> None:
    env = {"BRIDGE_CLICKAI__API_KEY": API_KEY}
    assert load_settings(None, env).bridge.chat_messages_per_minute == 30
    settings = load_settings(None, env | {"BRIDGE_BRIDGE__CHAT_MESSAGES_PER_MINUTE": "0"})
    assert settings.bridge.chat_messages_per_minute == 0
    with pytest.raises(ConfigError, match=r"bridge\.chat_messages_per_minute"):
        load_settings(None, env | {"BRIDGE_BRIDGE__CHAT_MESSAGES_PER_MINUTE": "-1"})
    with pytest.raises(ValidationError):
        BridgeConfig(chat_messages_per_minute=-5)
    example = (Path(__file__).parents[2] / "config.example.toml").read_text(encoding="utf-8")
    assert "\nchat_messages_per_minute = 30\n" in example
    assert RelayLimits().chat_messages_per_minute == 30
