"""Fixtures for the TUI tests: a config from TOML text, a fake phone, and a helper to wait for the UI."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable

import pytest

from tests.tui.fake_phone import FakePhone
from tuiphone import i18n
from tuiphone.app import PhoneApp, make_app
from tuiphone.config import parse_config_text
from tuiphone.store import Store

# 2024-03-01 09:05:00 UTC, a Friday: a fixed clock keeps durations and the idle clock predictable
FIXED_NOW = 1709283900.0

ACCOUNTS = """
[[accounts]]
name = "Office"
sip_server = "127.0.0.1:5090"
user_id = "1001"
no_key_timeout = 0

[[accounts]]
name = "Home"
sip_server = "127.0.0.2"
user_id = "2002"
no_key_timeout = 0
"""


def make_config(text: str = ACCOUNTS):
    return parse_config_text(text)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run `async def` tests on a fresh event loop (no pytest-asyncio plugin needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(pyfuncitem.obj(**args))
        return True
    return None


@pytest.fixture(autouse=True)
def english():
    i18n.set_language("en")
    yield
    i18n.set_language("en")


@pytest.fixture
def clock() -> Clock:
    return Clock()


def build(config_text: str = ACCOUNTS, clock: Callable[[], float] | None = None, store: Store | None = None,
          **kwargs) -> tuple[PhoneApp, FakePhone]:
    """An app over a fake phone, with a fixed clock, no blinking (deterministic screens) and a database
    in memory unless the test gives one."""
    config = make_config(config_text)
    phone = FakePhone(config)
    store = store if store is not None else Store(":memory:")
    return make_app(phone, config, clock=clock or Clock(), blink=False, store=store, **kwargs), phone


async def until(pilot, check: Callable[[], object], timeout: float = 10.0) -> None:
    """Let the UI run until `check()` is true; fail the test when it never is."""
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause()
        if check():
            return
        if time.monotonic() > deadline:
            app = pilot.app
            raise AssertionError(f"the UI never got there: {getattr(check, '__doc__', None) or check}; "
                                 f"on {type(app.screen).__name__} (focus: {app.focused!r}) it shows:\n"
                                 f"{screen_text(app)}")
        await asyncio.sleep(0.02)


def screen_text(app: PhoneApp) -> str:
    """What the terminal shows now, as plain text lines."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@pytest.fixture
def snapshot_update(request) -> bool:
    """True when the run was asked to rewrite the screen snapshots (--snapshot-update, or TUIPHONE_SNAPSHOT_UPDATE=1
    as an environment variable)."""
    import os

    return bool(request.config.getoption("--snapshot-update", default=False)
                or os.environ.get("TUIPHONE_SNAPSHOT_UPDATE") == "1")
