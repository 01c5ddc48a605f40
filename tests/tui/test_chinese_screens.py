"""Every screen in 简体中文 shows no English words beyond protocol, codec and product names.

The test walks the phone as a user would: the idle screen, dialing, a call, a ringing call, the lock, the
palette, and every entry of every menu (Settings included), and reads each screen's text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from textual.command import CommandList, CommandPalette

from tests.tui.conftest import build, screen_text, until
from tests.tui.test_app_core import KEEP_IN_CHINESE
from tuiphone import i18n
from tuiphone.audio.local import LocalAudio
from tuiphone.audio.sources import sine
from tuiphone.audio.wav import write_wav
from tuiphone.engine.events import LineState, RegState, SipMessage
from tuiphone.screens.audio_test import AudioTestScreen
from tuiphone.screens.call import CallScreen
from tuiphone.screens.dialer import DialerScreen
from tuiphone.screens.history import HistoryScreen
from tuiphone.screens.incoming import IncomingCallScreen
from tuiphone.screens.lock import LockScreen
from tuiphone.screens.menu import MenuScreen, main_menu
from tuiphone.screens.phonebook import PhonebookScreen
from tuiphone.screens.settings import AccountsSettingsScreen
from tuiphone.store import Contact, Number, Store

CONFIG = """
[phone]
language = "zh_CN"
timezone = "UTC"

[[accounts]]
name = "办公室"
sip_server = "127.0.0.1:5090"
user_id = "1001"
no_key_timeout = 0
voicemail = "*97"
"""
# what the test's own data and the machine put on screen: protocol words, codecs, addresses, zone names
ALLOWED = KEEP_IN_CHINESE | {"sip", "PCMU", "PCMA", "G722", "opus", "UTC", "Ctrl", "Shift", "REGISTER", "ACK",
                             "BYE", "lo", "null", "udp", "tcp", "tls", "Hz", "kbps", "TZ", "ring1", "ring2",
                             "ring3", "wav", "pcap", "pcapng", "IANA", "SRTP", "STUN", "NAT", "MWI", "BLF",
                             "CSV", "vCard", "XML", "TOML", "WAV", "MB", "KB", "GB", "Wi", "Fi", "Del", "PgUp",
                             "PgDn", "Backspace", "zzzqqq", "tuiphone", "toml", "config", "data", "dBFS",
                             "English",                         # the language menu names each language in itself
                             "shanghai", "new", "york",         # what to type to find a zone (its English name)
                             "xx"}                              # the dial plan (*xx*x+)
WORD = re.compile(r"[A-Za-z]{2,}")


def english_words(text: str) -> set[str]:
    # paths and file names (/tmp/…/config.toml), addresses, config keys (lock_password) and names with digits
    # (eth0, ring1, IPv6) are data, not words
    text = re.sub(r"\S*[/\\:_@\d]\S*|\S+\.\w{2,5}\b", " ", text)
    return {w for w in WORD.findall(text) if w not in ALLOWED}


def no_matches_shown(app) -> bool:
    """The palette's search found nothing and says so (its sentence comes on a timer)."""
    options = app.screen.query(CommandList)
    return bool(options) and options.first().option_count > 0 and \
        options.first().get_option_at_index(0).id == CommandPalette._NO_MATCHES


class Seen:
    def __init__(self, app) -> None:
        self.app = app
        self.found: dict[str, set[str]] = {}

    def look(self, where: str, names: set[str] = frozenset()) -> None:
        """Read the screen; `names` are words of the machine's own (sound device names)."""
        words = english_words(screen_text(self.app)) - names
        if words:
            self.found.setdefault(where, set()).update(words)


async def walk_menu(app, pilot, seen: Seen, path: str, depth: int = 0) -> None:
    """Open every entry of the menu on top (and every menu under it), look, and come back."""
    menu = app.screen
    seen.look(path)
    if menu.title_key == "menu.language" or depth > 4:
        return              # choosing a language would leave Chinese
    for number in range(1, len(menu.entries) + 1):
        label = menu.entries[number - 1].label
        if label in ("lock.lock_now",):
            continue        # the lock is looked at on its own
        depth_before = len(app.screen_stack)
        menu.action_pick(number)
        await pilot.pause()
        where = f"{path} › {number}"
        if len(app.screen_stack) > depth_before:
            top = app.screen
            if isinstance(top, MenuScreen):
                await walk_menu(app, pilot, seen, where, depth + 1)
            elif isinstance(top, AudioTestScreen):
                await until(pilot, lambda: top.devices is not None, timeout=10)  # noqa: B023 (awaited before the loop moves on)
                seen.look(where, {w for d in top.devices for w in WORD.findall(d.name)})
            else:
                seen.look(where)
                if isinstance(top, AccountsSettingsScreen):
                    top.action_edit()           # the account form, its choices (all / answered / off) included
                    await pilot.pause()
                    seen.look(where + " › edit")
                if isinstance(top, HistoryScreen) and top.records:
                    top.action_details()
                    await pilot.pause()
                    seen.look(where + " › details")
            while len(app.screen_stack) > depth_before:
                app.pop_screen()
                await pilot.pause()
        else:
            seen.look(where)
        assert app.screen is menu, (where, app.screen_stack)


@pytest.fixture
def sound(tmp_path) -> Iterator[LocalAudio]:
    """Sound devices that work (files), so Settings › Audio shows its state line and counters."""
    mic = tmp_path / "mic.wav"
    write_wav(mic, sine(700, 1.0, level_dbfs=-6), 16000)
    audio = LocalAudio(input_device=f"file:{mic}", output_device=f"file:{tmp_path / 'speaker.wav'}")
    audio.start()
    yield audio
    audio.stop()


async def test_every_screen_in_chinese_has_no_english_left(sound):
    store = Store(":memory:")
    store.save_contact(Contact("张三", [Number("8002"), Number("13800138000", "mobile")]))
    app, phone = build(CONFIG, store=store)
    phone.local_audio = sound
    async with app.run_test(size=(120, 60)) as pilot:     # tall: the whole account form is on screen
        assert i18n.language() == "zh_CN"
        seen = Seen(app)
        phone.fire(RegState(account=0, registered=True, sip_status=200, reason="OK", expires=3600,
                            server="127.0.0.1:5090"))
        phone.fire(SipMessage(time=1709283000.0, direction="in", transport="UDP", remote="127.0.0.1:5090",
                              first_line="SIP/2.0 200 OK", call_id="abc",
                              text="SIP/2.0 200 OK\r\nCSeq: 1 REGISTER\r\nCall-ID: abc\r\n\r\n"))
        phone.log("3003", "in", "missed", started=1709280000.0, name="李四")
        phone.log("200", "out", "answered", started=1709281000.0, duration=95.0)
        await until(pilot, lambda: len(app.store.calls("all")) == 2)
        app.reload_names()
        await pilot.pause()
        seen.look("idle")

        await pilot.press("2", "0", "0")
        await until(pilot, lambda: isinstance(app.screen, DialerScreen))
        seen.look("dialer")
        await pilot.press("escape")

        await pilot.press("ctrl+p")
        await pilot.pause(0.4)
        seen.look("palette")
        await pilot.press(*"zzzqqq")
        await until(pilot, lambda: no_matches_shown(app))
        await pilot.pause()
        seen.look("palette, nothing found")     # (zzzqqq is allowed: it is what was typed)
        await pilot.press("escape")
        await pilot.pause()

        app.push_screen(main_menu())
        await until(pilot, lambda: isinstance(app.screen, MenuScreen))
        await walk_menu(app, pilot, seen, "menu")
        app.pop_screen()
        await pilot.pause()

        app.push_screen(PhonebookScreen())
        await pilot.pause(0.2)
        seen.look("phonebook")
        app.pop_screen()

        app.place_call("200", 0)
        await until(pilot, lambda: isinstance(app.screen, CallScreen))
        phone.set_state(1, LineState.TALKING, codec="PCMU")
        await until(pilot, lambda: "PCMU" in screen_text(app))
        seen.look("call")
        await pilot.press("t")
        await pilot.pause()
        seen.look("call, transfer")
        await pilot.press("escape")
        phone.ring(2, "3005", "王五")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        seen.look("ringing")
        await pilot.press("escape")
        await pilot.press("escape")
        await until(pilot, lambda: not app.active_lines())

        app.action_lock()
        await until(pilot, lambda: isinstance(app.screen, LockScreen))
        seen.look("lock")
        assert seen.found == {}, "\n".join(f"{k}: {sorted(v)}" for k, v in seen.found.items())
