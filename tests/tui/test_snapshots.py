"""Snapshots of the main screens, in English and Chinese, at 80×24 and 120×36.

Each screen is drawn with a fixed clock and zone, fixed data and no blinking, and its text is compared with
tests/tui/snapshots/<screen>-<language>-<size>.txt. A changed screen fails here; when the change is wanted,
run `python3 -m pytest tests/tui/test_snapshots.py --snapshot-update` and review the diff of the .txt files.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from tests.tui.conftest import ACCOUNTS, build, screen_text, until
from tuiphone import i18n
from tuiphone.engine.events import LineState, RegState
from tuiphone.screens.call import CallScreen
from tuiphone.screens.dialer import DialerScreen
from tuiphone.screens.history import HistoryScreen
from tuiphone.screens.incoming import IncomingCallScreen
from tuiphone.screens.menu import MenuScreen, main_menu
from tuiphone.screens.phonebook import PhonebookScreen
from tuiphone.screens.status import AccountsStatusScreen
from tuiphone.store import Contact, Number, Store

SNAPSHOTS = Path(__file__).parent / "snapshots"
CONFIG = '[phone]\ntimezone = "UTC"\nidle_text = "Front desk"\n' + ACCOUNTS
SIZES = {"80x24": (80, 24), "120x36": (120, 36)}


def registered(phone) -> None:
    phone.fire(RegState(account=0, registered=True, sip_status=200, reason="OK", expires=3600,
                        server="127.0.0.1:5090"),
               RegState(account=1, registered=False, sip_status=403, reason="Forbidden", expires=0,
                        server="127.0.0.2"))


async def idle(app, phone, pilot) -> None:
    registered(phone)
    await until(pilot, lambda: "●" in screen_text(app))


async def dialer(app, phone, pilot) -> None:
    await pilot.press("2", "0", "0")
    await until(pilot, lambda: isinstance(app.screen, DialerScreen) and "200" in screen_text(app))


async def incoming(app, phone, pilot) -> None:
    phone.ring(1, "3003", "Carol")
    await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))


async def call(app, phone, pilot) -> None:
    app.place_call("200", 0)
    await until(pilot, lambda: isinstance(app.screen, CallScreen))
    phone.set_state(1, LineState.TALKING, codec="PCMU")
    await until(pilot, lambda: "PCMU" in screen_text(app))


async def menu(app, phone, pilot) -> None:
    app.push_screen(main_menu())
    await until(pilot, lambda: isinstance(app.screen, MenuScreen))


async def history(app, phone, pilot) -> None:
    phone.log("3003", "in", "missed", started=1709280000.0, name="Carol")
    phone.log("200", "out", "answered", started=1709281000.0, duration=95.0)
    phone.log("127.0.0.1:5062", "out", "answered", started=1709282000.0, duration=12.0, account=None)
    await until(pilot, lambda: len(app.store.calls("all")) == 3)
    app.push_screen(HistoryScreen())
    await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and "5062" in screen_text(app))


async def phonebook(app, phone, pilot) -> None:
    app.store.save_contact(Contact("Alice Wong", [Number("8001"), Number("13800138000", "mobile")]))
    app.store.save_contact(Contact("张三", [Number("8002")]))
    app.reload_names()
    app.push_screen(PhonebookScreen())
    await until(pilot, lambda: isinstance(app.screen, PhonebookScreen) and "8002" in screen_text(app))


async def status(app, phone, pilot) -> None:
    registered(phone)
    app.push_screen(AccountsStatusScreen())
    await until(pilot, lambda: isinstance(app.screen, AccountsStatusScreen) and "403" in screen_text(app))


SCREENS = {f.__name__: f for f in (idle, dialer, incoming, call, menu, history, phonebook, status)}


def compare(name: str, text: str, update: bool) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    text = "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
    if update:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no snapshot {path.name}: run pytest tests/tui/test_snapshots.py --snapshot-update and review it")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "snapshot", "screen"))
        pytest.fail(f"{path.name} differs from the screen (--snapshot-update if the change is wanted):\n{diff}")


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", ["en", "zh_CN"])
@pytest.mark.parametrize("screen", SCREENS)
async def test_screen_matches_its_snapshot(screen, language, size, snapshot_update):
    config = CONFIG.replace("[phone]\n", f'[phone]\nlanguage = "{language}"\n')
    app, phone = build(config, store=Store(":memory:"))
    async with app.run_test(size=SIZES[size]) as pilot:
        assert i18n.language() == language
        await SCREENS[screen](app, phone, pilot)
        await pilot.pause()
        compare(f"{screen}-{language}-{size}", screen_text(app), snapshot_update)


async def test_a_changed_screen_fails_its_snapshot(tmp_path, monkeypatch):
    """The comparison is real: a snapshot that does not match the screen fails with a diff."""
    monkeypatch.setattr("tests.tui.test_snapshots.SNAPSHOTS", tmp_path)
    (tmp_path / "idle.txt").write_text("something else\n", encoding="utf-8")
    with pytest.raises(pytest.fail.Exception, match="idle.txt differs"):
        compare("idle", "the screen\n", update=False)
    with pytest.raises(pytest.fail.Exception, match="no snapshot"):
        compare("missing", "the screen\n", update=False)
