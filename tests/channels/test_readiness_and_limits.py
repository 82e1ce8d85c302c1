"""Honest limits and health: /readyz, the effective file limit, and alerts behind "notified"."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from bridge.app import BridgeApp
from bridge.config import load_settings
from bridge.i18n import t
from tests.channels.test_telegram_e2e import BINH, running_bridge
from tests.fakes.clickai import FakeClickAI
from tests.fakes.telegram import FakeTelegram

MB = 1_000_000


@pytest.fixture
async def clickai() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI() as fake:
        yield fake


@asynccontextmanager
async def bridge_app(clickai: FakeClickAI, db: Path, **env: str) -> AsyncIterator[BridgeApp]:
    base = {
        "BRIDGE_CLICKAI__BASE_URL": clickai.base_url,
        "BRIDGE_CLICKAI__API_KEY": clickai.key,
        "BRIDGE_CLICKAI__APP_MODE": "chat",
        "BRIDGE_STORE__URL": f"sqlite:///{db}",
        "BRIDGE_SERVER__LISTEN": "127.0.0.1:0",
    }
    app = BridgeApp(load_settings(None, base | env))
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


def _url(app: BridgeApp, path: str) -> str:
    assert app.server is not None
    return f"http://127.0.0.1:{app.server.bound_port}{path}"


async def test_readyz_says_which_check_fails_while_healthz_stays_live(
    clickai: FakeClickAI, tmp_path: Path
) -> None:
    async with (
        bridge_app(clickai, tmp_path / "b.db", BRIDGE_SERVER__READYZ_CACHE_S="0") as app,
        httpx.AsyncClient() as http,
    ):
        ready = await http.get(_url(app, "/readyz"))
        assert (ready.status_code, ready.json()) == (
            200,
            {"status": "ok", "store": "ok", "backend": "ok"},
        )

        clickai.disabled_keys = frozenset({clickai.key})  # ClickAI now refuses the key
        refused = await http.get(_url(app, "/readyz"))
        assert refused.status_code == 503
        assert refused.json()["backend"] == "key refused (403)"
        assert refused.json()["store"] == "ok"
        assert (await http.get(_url(app, "/healthz"))).status_code == 200

        clickai.disabled_keys = frozenset()
        assert (await http.get(_url(app, "/readyz"))).status_code == 200

        assert app.store is not None
        await app.store.close()  # the store is gone
        down = await http.get(_url(app, "/readyz"))
        assert down.status_code == 503
        assert down.json()["store"].startswith("unreachable")
        assert down.json()["backend"] == "ok"
        assert (await http.get(_url(app, "/healthz"))).status_code == 200


async def test_readyz_asks_clickai_at_most_once_per_cache_period(
    clickai: FakeClickAI, tmp_path: Path
) -> None:
    async with bridge_app(clickai, tmp_path / "b.db") as app, httpx.AsyncClient() as http:
        before = len(clickai.calls("parameters"))
        for _ in range(20):
            assert (await http.get(_url(app, "/readyz"))).status_code == 200
        assert len(clickai.calls("parameters")) - before == 1


@pytest.mark.parametrize(
    ("env", "size", "limit"),
    [
        ({"BRIDGE_BRIDGE__MAX_FILE_MB": "50"}, 25 * MB, "20"),  # Telegram's own cap is lower
        ({"BRIDGE_BRIDGE__MAX_FILE_MB": "15"}, 16 * MB, "15"),  # ours is lower; MB means MB
        (
            {"BRIDGE_BRIDGE__MAX_FILE_MB": "50", "BRIDGE_TELEGRAM__LOCAL_BOT_API": "true"},
            60 * MB,
            "50",
        ),
    ],
)
async def test_the_file_notice_states_the_effective_limit_in_one_unit(
    tg: FakeTelegram,
    clickai: FakeClickAI,
    tmp_path: Path,
    env: dict[str, str],
    size: int,
    limit: str,
) -> None:
    async with running_bridge(tg, clickai, tmp_path / "b.db", **env) as b:
        update = tg.document(BINH.id, BINH, b"x", name="phim.mp4", mime="video/mp4", size=size)
        await b.send(update)
        [notice] = tg.chat(BINH.id).texts()
    shown = f"{size / MB:.1f}"
    assert notice == t("vi", "file_too_large", name="phim.mp4", size_mb=shown, limit_mb=limit)
    assert clickai.calls("files/upload") == []


@pytest.mark.parametrize(
    ("fault", "kind"), [("revoked", "auth"), ("disabled", "forbidden")], ids=["401", "403"]
)
async def test_a_refused_key_is_logged_at_error_and_counted_for_alerts(
    tg: FakeTelegram,
    clickai: FakeClickAI,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    kind: str,
) -> None:
    """The user is told "the operator has been notified"; this is what makes it true."""
    caplog.set_level(logging.WARNING)
    async with running_bridge(tg, clickai, tmp_path / "b.db") as b:
        if fault == "revoked":
            del clickai.apps[clickai.key]
        else:
            clickai.disabled_keys = frozenset({clickai.key})
        await b.send(tg.text(BINH.id, BINH, "xin chào"))
        [notice] = tg.chat(BINH.id).texts()
        alerts = b.app.metrics.registry.get_sample_value(
            "bridge_operator_alerts_total", {"reason": f"clickai_{kind}"}
        )
    assert notice == t("vi", f"err_{kind}")
    assert alerts == 1
    assert any(r.levelno == logging.ERROR and "clickai" in r.getMessage() for r in caplog.records)
