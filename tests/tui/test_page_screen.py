"""Paging in the TUI: Menu › Page sends the microphone to a typed or picked group and stops, bad groups get
a sentence, an arriving page shows a notice and a mark, and `e` ends it. The app runs over a real Phone
(fake SIP stack) with its real Pager and sound on WAV files; multicast stays inside a private namespace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from textual.notifications import Notify

from tests.fakes import FakeBackend
from tests.paging.netns import netns  # noqa: F401  (the fixture)
from tests.paging.remote import RemotePage
from tests.tui.conftest import Clock, screen_text, until
from tuiphone.app import make_app
from tuiphone.audio.analysis import dominant_frequency
from tuiphone.audio.local import LocalAudio
from tuiphone.audio.paging import PagingListener
from tuiphone.audio.sources import sine
from tuiphone.audio.wav import write_wav
from tuiphone.config import parse_config_text
from tuiphone.engine.pager import Pager
from tuiphone.engine.phone import Phone
from tuiphone.screens.menu import MenuScreen
from tuiphone.screens.page import PageScreen
from tuiphone.store import Store

pytestmark = pytest.mark.timeout(30)

FRONT_DESK, LOBBY = "224.7.0.1:6300", "224.7.0.3:6300"
CONFIG = f"""
[sip]
port = 5060
[paging]
[[paging.listen]]
address = "{FRONT_DESK}"
label = "Front desk"
[[keys]]
mode = "paging"
label = "Lobby"
value = "{LOBBY}"
"""


class Rig:
    """The app over a started real Phone (fake SIP) with a Pager; `close()` stops both."""

    def __init__(self, ns, tmp_path: Path, config_text: str = CONFIG):
        write_wav(tmp_path / "mic.wav", sine(700, 1.0, level_dbfs=-6), 16000)
        config = parse_config_text(config_text)
        sound = LocalAudio(input_device=f"file:{tmp_path / 'mic.wav'}", output_device="null")
        self.phone = Phone(config, FakeBackend(), local_audio=sound)
        self.phone.start()
        self.pager = self.phone.pager = Pager(self.phone, interface="127.0.0.1", silence_timeout=0.4)
        with ns.inside():
            self.pager.start()
        self.app = make_app(self.phone, config, clock=Clock(), blink=False, store=Store(":memory:"))
        self.seen: list = []

    def notices(self) -> list[str]:
        return [str(m.notification.message) for m in self.seen if isinstance(m, Notify)]

    def close(self) -> None:
        self.pager.stop()
        self.phone.stop()


@pytest.fixture
def rigs(netns, tmp_path):  # noqa: F811
    made: list[Rig] = []

    def make(config_text: str = CONFIG) -> Rig:
        made.append(Rig(netns, tmp_path, config_text))
        return made[-1]

    yield make
    for rig in made:
        rig.close()


def status_line(app) -> str:
    return screen_text(app).splitlines()[0]


def flat(app) -> str:
    """The screen's text with wrapped lines joined, to find a sentence that wraps."""
    return " ".join(line.strip() for line in screen_text(app).splitlines() if line.strip())


async def open_page_screen(app, pilot) -> PageScreen:
    await pilot.press("m")
    await until(pilot, lambda: isinstance(app.screen, MenuScreen))
    entries = [e.label for e in app.screen.entries]
    app.screen.query_one("#menu-list").highlighted = entries.index("menu.page")
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, PageScreen))
    return app.screen


async def test_the_page_screen_pages_a_typed_group_with_the_chosen_codec_and_stops(netns, rigs):  # noqa: F811
    rig = rigs()
    heard: list[np.ndarray] = []

    class Sink:
        def write(self, frame):
            heard.append(frame.copy())

    other = PagingListener([LOBBY], sink=Sink(), interface="127.0.0.1", ignore_own=False)
    with netns.inside():
        other.start()
    try:
        async with rig.app.run_test(size=(110, 34)) as pilot:
            await open_page_screen(rig.app, pilot)
            text = screen_text(rig.app)
            assert "Lobby (224.7.0.3:6300)" in text and "Front desk (224.7.0.1:6300)" in text
            assert "Codec: PCMU" in text and "Not paging." in text
            await pilot.press("f2")
            assert "Codec: PCMA" in screen_text(rig.app)
            with netns.inside():
                await pilot.press(*LOBBY, "enter")
            await until(pilot, lambda: "PAGING ▸" in status_line(rig.app))
            text = screen_text(rig.app)
            assert "Paging Lobby (224.7.0.3:6300): everyone listening hears your microphone." in text
            assert "F1 Stop" in text and rig.pager.sending == LOBBY
            await until(pilot, lambda: len(heard) > 25)
            await pilot.press("f1")
            await until(pilot, lambda: "PAGING ▸" not in status_line(rig.app))
            assert "Not paging." in screen_text(rig.app) and rig.pager.sending is None
    finally:
        other.stop()
    assert other.stats[0].codec == "PCMA"
    assert abs(dominant_frequency(np.concatenate(heard), 16000) - 700) < 10


@pytest.mark.parametrize("typed, sentence", [
    ("", "Type a group as address:port, like 224.1.1.1:4009, or pick one below."),
    ("224.1.1.1", "Paging group '224.1.1.1' must be a multicast address and port, like 224.1.1.1:4009"),
    ("239.255.255.250:1900", "239.255.255.250 is outside the paging range 224.0.1.0–238.255.255.255"),
    ("224.1.1.1:5060", ("Paging group 224.1.1.1:5060 uses port 5060, which sip.port already uses; pick another "
                        "port.")),
])
async def test_a_bad_group_gets_a_sentence_and_nothing_is_sent(netns, rigs, typed, sentence):  # noqa: F811
    rig = rigs("[sip]\nport = 5060\n")
    async with rig.app.run_test(size=(110, 34)) as pilot:
        await open_page_screen(rig.app, pilot)
        assert "No paging keys or groups are set up" in screen_text(rig.app)
        with netns.inside():                               # should it page after all, it pages in there
            await pilot.press(*typed, "enter")
        await until(pilot, lambda: sentence in flat(rig.app))
        assert rig.pager.sending is None and "PAGING" not in status_line(rig.app)


async def test_an_arriving_page_shows_a_notice_and_a_mark_and_e_ends_it(netns, rigs):  # noqa: F811
    rig = rigs()
    async with rig.app.run_test(size=(110, 34), message_hook=rig.seen.append) as pilot:
        assert rig.app.check_action("end_page", ()) is False         # e is free while no page plays
        page = RemotePage(netns, FRONT_DESK, 900, seconds=6)
        try:
            await until(pilot, lambda: "◂ PAGE" in status_line(rig.app))
            assert "Page from Front desk (224.7.0.1:6300)" in rig.notices()
            await pilot.press("e")
            await until(pilot, lambda: "◂ PAGE" not in status_line(rig.app))
            assert rig.pager.page is None and rig.app.check_action("end_page", ()) is False
            await pilot.pause(0.5)
            assert "◂ PAGE" not in status_line(rig.app)            # still sent, no longer played
        finally:
            page.stop()


async def test_picking_a_paging_key_pages_it_until_the_screen_closes(netns, rigs):  # noqa: F811
    rig = rigs()
    async with rig.app.run_test(size=(110, 34)) as pilot:
        screen = await open_page_screen(rig.app, pilot)
        screen.query_one("#page-groups").focus()
        with netns.inside():
            await pilot.press("enter")                     # the first entry: the Lobby paging key
        await until(pilot, lambda: "PAGING ▸" in status_line(rig.app))
        assert rig.pager.sending == LOBBY and screen.query_one("#page-target").value == LOBBY
        await pilot.press("escape")
        await until(pilot, lambda: "PAGING ▸" not in status_line(rig.app))
        assert rig.pager.sending is None and not isinstance(rig.app.screen, PageScreen)
