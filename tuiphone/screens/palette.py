"""The Ctrl+P command palette: phone commands built from the screen it was opened on.

Typing a number offers "Call 200" (and, in a call, "Transfer line 1 to 200"); typing a name offers each
of that contact's numbers; the rest are the phone's keys by name (Toggle DND, Open SIP trace, Hold, ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import partial

from rich.align import Align
from rich.text import Text
from textual.command import CommandList, CommandPalette, DiscoveryHit, Hit, Hits, Provider
from textual.widgets.option_list import Option

from tuiphone.engine.events import LineState
from tuiphone.i18n import LANGUAGES, language, t
from tuiphone.store import StoreError, plain_number

CONTACTS_SHOWN = 8
_TARGET = re.compile(r"[0-9*#+]+|sips?:\S+|[^\s@]+@[^\s@]+")

Command = tuple[str, Callable[[], object], str]       # (name, what it does, help)


class PhoneCommands(Provider):
    """Commands for the phone as it is now: the call screen adds call commands, a typed number adds Call."""

    def commands(self) -> Iterator[Command]:
        """The named commands (no typed number needed); the help names the key that does the same."""
        from tuiphone.screens.audio_test import AudioTestScreen
        from tuiphone.screens.call import CallScreen
        from tuiphone.screens.capture import CaptureScreen
        from tuiphone.screens.dialer import DialerScreen
        from tuiphone.screens.direct_ip import DirectIpScreen
        from tuiphone.screens.features import CallFeaturesScreen
        from tuiphone.screens.history import HistoryScreen
        from tuiphone.screens.keys import open_forwarding
        from tuiphone.screens.menu import main_menu, status_menu
        from tuiphone.screens.messages import MessagesScreen
        from tuiphone.screens.page import PageScreen
        from tuiphone.screens.phonebook import PhonebookScreen
        from tuiphone.screens.settings import open_settings
        from tuiphone.screens.trace import TraceScreen

        app = self.app
        screen = self.screen
        if isinstance(screen, CallScreen) and screen.view() is not None:
            view = screen.view()
            line = view.call.line
            if view.call.state in (LineState.TALKING, LineState.HELD):
                yield t("palette.hold", line=line), screen.action_hold_or_resume, t("palette.hold_help")
                yield t("palette.mute", line=line), screen.action_mute, t("palette.mute_help")
                yield t("palette.record", line=line), screen.action_record, t("palette.record_help")
                yield t("palette.transfer", line=line), screen.action_transfer, t("palette.transfer_help")
                yield t("palette.conference"), screen.action_conference, t("palette.conference_help")
            yield t("palette.end", line=line), screen.action_end, t("palette.end_help")
        yield t("palette.call"), lambda: app.push_screen(DialerScreen()), t("palette.call_help")
        yield t("palette.direct_ip"), lambda: app.push_screen(DirectIpScreen()), t("palette.direct_ip_help")
        yield t("palette.dnd"), app.action_toggle_dnd, t("palette.dnd_help")
        yield t("palette.forwarding"), lambda: open_forwarding(app), t("palette.forwarding_help")
        yield t("palette.voicemail"), app.dial_voicemail, t("palette.voicemail_help")
        yield t("palette.history"), lambda: app.push_screen(HistoryScreen()), t("palette.history_help")
        yield t("palette.phonebook"), lambda: app.push_screen(PhonebookScreen()), t("palette.phonebook_help")
        yield t("palette.messages"), lambda: app.push_screen(MessagesScreen()), t("palette.messages_help")
        yield t("palette.features"), lambda: app.push_screen(CallFeaturesScreen()), t("palette.features_help")
        yield t("palette.status"), lambda: app.push_screen(status_menu()), t("palette.status_help")
        yield t("palette.trace"), lambda: app.push_screen(TraceScreen()), t("palette.trace_help")
        yield t("palette.page"), lambda: app.push_screen(PageScreen()), t("palette.page_help")
        yield t("palette.capture"), lambda: app.push_screen(CaptureScreen()), t("palette.capture_help")
        yield t("palette.settings"), lambda: open_settings(app), t("palette.settings_help")
        yield t("palette.audio"), lambda: open_settings(app, AudioTestScreen), t("palette.audio_help")
        yield t("palette.menu"), lambda: app.push_screen(main_menu()), t("palette.menu_help")
        yield t("palette.lock"), app.action_lock, t("palette.lock_help")
        for code, name in LANGUAGES.items():
            if code != language():
                yield t("palette.language", language=name), partial(app.switch_language, code), ""
        yield t("palette.quit"), app.action_quit_phone, t("palette.quit_help")

    def targets(self, query: str) -> Iterator[Command]:
        """Commands for a typed number or SIP address, and for phonebook contacts the text finds, in the order
        they are offered (help is "" or the kind of number)."""
        from tuiphone.screens.call import CallScreen

        app = self.app
        text = query.strip()
        if _TARGET.fullmatch(plain_number(text) or "-"):
            target = plain_number(text) if not text.startswith("sip") else text
            yield t("palette.call_target", target=target), lambda: app.place_call(target), ""
            screen = self.screen
            if isinstance(screen, CallScreen) and screen.view() is not None:
                view = screen.view()
                if view.call.state in (LineState.TALKING, LineState.HELD):
                    def transfer(view=view, target=target) -> None:
                        view.transfer_to = target
                        app.command(app.phone.blind_transfer(view.call.line, target))
                    yield t("palette.transfer_to", line=view.call.line, target=target), transfer, ""
        if app.store is None or len(text) < 2:
            return
        try:
            contacts = app.store.contacts(text)[:CONTACTS_SHOWN]
        except StoreError:
            return
        for contact in contacts:
            for number in contact.numbers:
                dial = plain_number(number.number)
                yield (t("palette.call_contact", name=contact.name, number=number.number),
                       partial(app.place_call, dial), t(f"phonebook.kind_{number.kind}"))

    async def discover(self) -> Hits:
        for name, run, help_text in self.commands():
            yield DiscoveryHit(name, run, help=help_text or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for rank, (name, run, help_text) in enumerate(self.targets(query)):
            yield Hit(1.0 - rank / 100, name, run, help=help_text or None)     # kept in the order offered
        for name, run, help_text in self.commands():
            score = matcher.match(name)
            if score > 0:     # below the exact hits for what was typed
                yield Hit(0.9 * min(score, 1.0), matcher.highlight(name), run, help=help_text or None)


class PhoneCommandPalette(CommandPalette):
    """Textual's palette with its own words in the phone's language ("Search for commands…", "No matches found")."""

    def __init__(self) -> None:
        super().__init__(id="--command-palette", placeholder=t("palette.placeholder"))

    def _start_no_matches_countdown(self, search_value: str) -> None:
        # Textual's own version, with the sentence translated
        self._stop_no_matches_countdown()

        def show_no_matches() -> None:
            if search_value:
                self.query_one(CommandList).add_option(
                    Option(Align.center(Text(t("palette.no_matches"), style="not bold")), disabled=True,
                           id=self._NO_MATCHES))
                self._list_visible = True
            else:
                self._list_visible = False

        self._no_matches_timer = self.set_timer(self._NO_MATCHES_COUNTDOWN, show_no_matches)
