"""The Textual phone: builds the screens, keeps what the UI knows of lines and accounts, routes engine events.

`make_app()` builds the app for the CLI (`run_app`) and for the tests alike. The engine talks to the
app only through messages (see messages.py); the app talks to the engine only through `Phone`'s
commands, whose Futures it awaits in workers so the UI never blocks on the SIP thread.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, cast

from textual import events
from textual.app import App
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.signal import Signal

from tuiphone import i18n
from tuiphone.app_events import EngineEventHandlers, LineView
from tuiphone.engine.events import (
    CallState,
    FeaturesChanged,
    IncomingCall,
    LineState,
    RegState,
    SipMessage,
)
from tuiphone.engine.phone_error import PhoneError
from tuiphone.i18n import t
from tuiphone.logbook import last_dialed
from tuiphone.messages import EngineBridge
from tuiphone.screen_updates import draw_when_changed
from tuiphone.screens.base import PhoneScreen
from tuiphone.screens.call import CallScreen
from tuiphone.screens.idle import CallOutcome, IdleScreen
from tuiphone.screens.lock import LockScreen, ScreenLock
from tuiphone.services.call_history import HEARTBEAT_S, CallHistory
from tuiphone.store import Store, StoreError, plain_number
from tuiphone.terminal_closed import forget_the_terminal, stop_on_terminal_closed, survives_hangup
from tuiphone.textual_tuning import tune_textual
from tuiphone.widgets.status_bar import PhoneMarks

log = logging.getLogger(__name__)

TRACE_KEEP = 2000          # SIP messages kept for the trace screen
RING_PROMPT = "ringing-prompt"     # the installed IncomingCallScreen


def _phone_commands() -> Any:
    """The palette's provider, imported when the palette first opens (not at start)."""
    from tuiphone.screens.palette import PhoneCommands

    return PhoneCommands


class PhoneApp(EngineEventHandlers, App[int]):
    """The phone's UI over one `Phone` (or anything with its public methods)."""

    CSS_PATH = "tuiphone.tcss"
    TITLE = "tuiphone"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = {_phone_commands}
    BINDINGS = [Binding("ctrl+p", "command_palette", "Commands", show=False, priority=True, id="command-palette"),
                Binding("e", "end_page", "End page", show=False, id="end-page")]   # only while a page plays

    def __init__(self, phone: Any, config: Any, *, clock: Callable[[], float] | None = None,
                 config_path: Path | None = None, keymap: Mapping[str, str] | None = None,
                 blink: bool = True, handle_sigterm: bool = False, store: Store | None = None,
                 store_problem: str = "", services: Any = None) -> None:
        """`services` (services.runner.Services) start on the app's loop once it runs and stop with it."""
        super().__init__()
        self.phone = phone
        self.services = services
        self.store = store
        self.store_problem = store_problem      # why there is no database, or entries it could not load
        self.config = config
        self.clock = clock or time.time
        self.config_path = config_path
        self.blink = blink
        self.handle_sigterm = handle_sigterm
        # run_app and run_attached: freeze startup garbage and hand the GIL over sooner (audio.realtime), so the
        # sound card's threads (standalone) and the control client's thread (attached) get it within 1 ms, and
        # the UI draws without the collector's 20 ms pauses
        self.tuned = False
        # attached to the phone process (control.client.RemotePhone): q detaches, it keeps the history
        self.attached = bool(getattr(phone, "remote", False))
        self.detached = False           # q left the phone running (attach.run_attached says so on exit)
        self.restart_phone: Callable[[], Any] | None = None    # attach: start the phone again, a new RemotePhone
        self.phone_stopped = ""         # attached: why the phone process went, while it is gone
        # standalone: the first screen is drawn on a starting_phone.StartingPhone; keys wait for the real one
        self.held_input: list[events.Event] | None = [] if getattr(phone, "starting", False) else None
        self.start_error: Exception | None = None      # why that phone could not start (runtime.StartError)
        self._leaving = False
        self.registrations: dict[int, RegState] = {}
        self.lines: dict[int, LineView] = {}
        self.trace: deque[SipMessage] = deque(maxlen=TRACE_KEEP)
        self.audio_state = "none"     # no local sound device yet: calls send silence
        self.phone_features: FeaturesChanged | None = None
        self.last_dialed: tuple[str, int | None] | None = last_dialed(store, config)
        self.started = self.clock()
        self.status_changed: Signal[None] = Signal(self, "status_changed")
        self.lines_changed: Signal[int | None] = Signal(self, "lines_changed")
        self.trace_added: Signal[SipMessage] = Signal(self, "trace_added")
        self.language_changed: Signal[str] = Signal(self, "language_changed")
        self.history_changed: Signal[None] = Signal(self, "history_changed")
        self.call_outcome_changed: Signal[None] = Signal(self, "call_outcome_changed")
        self.call_outcome: CallOutcome | None = None   # how the last call ended, said on the idle screen
        self.phonebook_changed: Signal[None] = Signal(self, "phonebook_changed")
        self.keys_changed: Signal[None] = Signal(self, "keys_changed")
        self.blf: dict[int, str] = {}           # [[keys]] index -> the watched extension's state
        self.missed_unseen = 0                  # missed calls since the history was last opened
        self.voicemail: dict[int | None, tuple[bool, int, int]] = {}   # account -> (waiting, new, old)
        self.page_in: Any = None                # PageState of the page playing now
        self.page_out: Any = None               # PageState of the page we send now
        self.screen_lock = ScreenLock(self)
        self.names: dict[str, str] = {}         # phonebook: number -> name
        self._saved_blocklist: tuple[str, ...] | None = None
        self._incoming: deque[IncomingCall] = deque()
        self._forwarded_to: dict[int, str] = {}   # line -> where we forwarded its ringing call
        self._ringing_screen: ModalScreen | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._history: CallHistory | None = (CallHistory(store, self.call_log_mode, on_error=self.show_error)
                                             if store is not None and not self.attached else None)
        i18n.set_language(config.phone.language)
        # [keymap] from the config (checked by the schema), then any the caller gives
        keys = {**(config.keymap.model_extra or {}), **dict(keymap or {})}
        i18n.use_keymap(keys)       # hints and the palette name the keys as they are now
        if keys:
            self.set_keymap(keys)

    # ----- lifecycle -------------------------------------------------------------------------------
    def get_driver_class(self) -> Any:
        return survives_hangup(super().get_driver_class())     # a closed terminal must not stall the stop

    def get_default_screen(self) -> Screen:
        return IdleScreen()

    def on_mount(self) -> None:
        self._take_phone()
        if self.held_input is not None:
            from tuiphone.starting_phone import phone_comes_up

            self.call_after_refresh(phone_comes_up, self)
        if self.active_lines():      # attached mid-call: the call shows at once, its timer where it is
            self.call_after_refresh(self.show_calls)
        self.reload_names()
        self.status_changed.publish(None)
        self.lines_changed.publish(None)
        if self.store_problem:
            self.show_error(self.store_problem)
        if self._history is not None:
            self.set_interval(HEARTBEAT_S, self._history.touch)    # what a crash leaves of a call's talk time
        if self.services is not None:
            self.run_worker(self._start_services(), group="services", exit_on_error=False)
        if self.handle_sigterm:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, self.exit)
            # the terminal closed: stop as for SIGTERM (the phone unregisters on the way out)
            def terminal_closed() -> None:
                forget_the_terminal()
                loop.call_soon_threadsafe(self.exit)

            stop_on_terminal_closed(terminal_closed)
        if self.tuned:
            from tuiphone.audio.realtime import hand_over_sooner
            from tuiphone.collector import freeze_what_lives

            hand_over_sooner()
            self.set_timer(2.0, freeze_what_lives)     # once the first screens and the services are up

    def _take_phone(self, unsubscribe: Callable[[], None] | None = None) -> None:
        """Follow self.phone: subscribed here, or already (`unsubscribe` ends that subscription)."""
        self._unsubscribe = unsubscribe or self.phone.subscribe(EngineBridge(self))
        # subscribe first, then read: an event in between is at worst shown twice, never lost
        self.registrations.update(self.phone.registrations())
        self.phone_features = self.phone.feature_state()
        for call in self.phone.lines():
            self._update_line(call)
        self._saved_blocklist = self.phone_features.blocklist
        self.voicemail.update(self.phone.voicemail)
        if self.attached:
            from tuiphone.screens.phone_stopped import watch_the_phone

            watch_the_phone(self)

    def take_started_phone(self, phone: Any, problem: str, unsubscribe: Callable[[], None] | None) -> None:
        """Standalone: the phone is up (starting_phone.phone_comes_up); the screens follow it from now. Its
        events come to the app from before its SIP port opened (`unsubscribe` ends that)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.phone = phone
        self.config = phone.config
        self._take_phone(unsubscribe)
        self.status_changed.publish(None)
        self.lines_changed.publish(None)
        self.keys_changed.publish(None)
        if problem:
            self.show_error(problem)
        if self.services is not None:
            self.run_worker(self._start_services(), group="services", exit_on_error=False)

    async def on_event(self, event: events.Event) -> None:
        if (self.held_input is not None and isinstance(event, events.InputEvent) and not event.is_forwarded
                and not isinstance(event, events.MouseMove)):
            self.held_input.append(event)       # handled once the phone is up (starting_phone.release_input)
            return
        await super().on_event(event)

    async def _start_services(self) -> None:
        from tuiphone.services.runner import ServiceError

        try:
            await self.services.start()
        except ServiceError as exc:    # the phone works on without them; say what to change
            self.show_error(t("error.services", error=exc))

    async def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.services is not None:
            await self.services.stop()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "end_page":
            return self.page_in is not None     # the key does nothing (and is free) when no page plays
        return True

    def action_end_page(self) -> None:
        """Stop listening to the page playing now; calls it held come back."""
        pager = getattr(self.phone, "pager", None)
        if pager is not None:
            pager.end_page()
        elif self.attached:
            self.command(self.phone.end_page())

    # ----- the database: history, phonebook names, blocklist ---------------------------------------
    def call_log_mode(self, account: int | None) -> str:
        """all | answered | off for an account; direct calls (no account) are all kept."""
        from tuiphone.services.records import call_log_mode

        return call_log_mode(self.config, account)

    def _save_blocklist(self, entries: tuple[str, ...]) -> None:
        if self.store is None or self.attached or entries == self._saved_blocklist:   # attached: the phone saves
            return
        try:
            self.store.set_blocklist(entries)
            self._saved_blocklist = entries
        except StoreError as exc:
            self.show_error(str(exc))

    def reload_names(self) -> None:
        """Read the phonebook's numbers again (after an edit) and tell the screens that show names."""
        if self.store is not None:
            try:
                self.names = self.store.names()
            except StoreError as exc:
                self.show_error(str(exc))
        self.phonebook_changed.publish(None)

    def name_for(self, number: str) -> str:
        """The phonebook's name for a number, or ""."""
        return self.names.get(plain_number(number), "") if number else ""

    # ----- what screens ask -----------------------------------------------------------------------
    def calls(self) -> dict[int, CallState]:
        """The call on each busy line."""
        return {n: v.call for n, v in self.lines.items()}

    def active_lines(self) -> list[int]:
        """Lines with a call that is past ringing (calling, talking, held), in order."""
        return sorted(n for n, v in self.lines.items() if v.call.state != LineState.RINGING)

    def usable_accounts(self) -> list[int]:
        """Accounts a number can be dialed through: enabled and with a SIP server."""
        return [i for i, a in enumerate(self.config.accounts) if a.enabled and a.sip_server]

    def command(self, future: Future, *, done: Callable[[Any], None] | None = None,
                failed: Callable[[str], None] | None = None) -> None:
        """Await an engine Future in a worker; a PhoneError becomes a sentence on screen."""
        async def wait() -> None:
            try:
                result = await asyncio.wrap_future(future)
            except PhoneError as exc:
                (failed or self.show_error)(str(exc))
                return
            except Exception as exc:  # the engine broke: say so, keep the phone running
                log.exception("engine command failed")
                (failed or self.show_error)(t("error.engine", error=exc))
                return
            if done is not None:
                done(result)
        self.run_worker(wait(), group="engine", exit_on_error=False)

    def show_error(self, text: str) -> None:
        log.warning("shown to the user: %s", text)
        self.notify(text, severity="error", timeout=6, markup=False)

    # ----- calls ---------------------------------------------------------------------------------
    def place_call(self, target: str, account: int | None = None, *,
                   failed: Callable[[str], None] | None = None) -> None:
        """Dial `target` on a free line and show the call screen once the line is up."""
        self.last_dialed = (target, account)
        self.command(self.phone.call(target, account), done=self.show_calls, failed=failed)

    def dial_voicemail(self, account: int | None = None) -> None:
        """Call an account's voicemail (the first usable account's when None)."""
        try:
            future = self.phone.dial_voicemail(account)
        except PhoneError as exc:       # no account, or no voicemail number: said before any Future
            self.show_error(str(exc))
            return
        self.command(future, done=self.show_calls)

    def show_calls(self, line: int | None = None) -> None:
        """Bring the call screen to the top (closing dialers and menus above the idle screen)."""
        if isinstance(self.screen, ModalScreen):
            return    # the ringing prompt stays; we come back here when it closes
        # close dialers and menus, but never the lock: a call answered while locked shows over it
        while len(self.screen_stack) > 1 and not isinstance(self.screen, (CallScreen, LockScreen)):
            self.pop_screen()
        if isinstance(self.screen, CallScreen):
            if line is not None:
                self.screen.select_line(line)
        elif self.active_lines():
            self.push_screen(CallScreen(selected=line))

    def _show_next_incoming(self) -> None:
        if self._ringing_screen is not None:
            self._ringing_screen.set_waiting(self.waiting_calls())
            return
        while self._incoming:
            event = self._incoming.popleft()
            view = self.lines.get(event.line)
            if view is None or view.call.state != LineState.RINGING:
                continue    # the caller gave up before we got to it
            screen = self._ring_prompt()
            screen.ring(event, waiting=self.waiting_calls())
            self._ringing_screen = screen
            self.push_screen(screen, lambda choice, e=event: self._on_incoming_choice(e, choice))
            return

    def push_screen(self, screen: Any, *args: Any, **kwargs: Any) -> Any:
        """As Textual's; the phone screen it covers skips the whole repaint Textual gives it (PhoneScreen.refresh)."""
        below = self.screen_stack[-1] if self.screen_stack else None
        if not isinstance(below, PhoneScreen):
            return super().push_screen(screen, *args, **kwargs)
        below.covered = True
        try:
            return super().push_screen(screen, *args, **kwargs)
        finally:
            below.covered = False

    @property
    def _background_screens(self) -> list[Screen]:
        """As Textual's (the screens that show through the top one), less the opaque screen under an opaque top
        screen: Textual counts it, and repaints the top screen's rows wherever it changes (a line key lighting
        or blinking under the ringing prompt repainted those rows of the prompt, where it does not show)."""
        stack = self.screen_stack
        if stack and stack[-1].styles.background.a == 1:
            return []
        return super()._background_screens

    def pop_screen(self) -> Any:
        """As Textual's; the phone screen it uncovers is painted again from the lines it has (PhoneScreen.refresh)."""
        below = self.screen_stack[-2] if len(self.screen_stack) > 1 else None
        if not isinstance(below, PhoneScreen):
            return super().pop_screen()
        below.uncovered = True
        done = super().pop_screen()      # Textual repaints it whole twice: as it resumes and in its pop task
        self.call_next(setattr, below, "uncovered", False)      # after that task (call_next runs in order)
        return done

    def _ring_prompt(self) -> Any:
        """The one ringing prompt, installed with the first call and given each call after it."""
        from tuiphone.screens.incoming import IncomingCallScreen

        if not self.is_screen_installed(RING_PROMPT):
            self.install_screen(IncomingCallScreen(), RING_PROMPT)
        return self.get_screen(RING_PROMPT, IncomingCallScreen)

    def waiting_calls(self) -> int:
        """Ringing calls queued behind the one on screen."""
        return sum(1 for e in self._incoming if e.line in self.lines)

    def _on_incoming_choice(self, event: IncomingCall, choice: str | None) -> None:
        self._ringing_screen = None
        if choice == "answer":
            self.command(self.phone.answer(event.line), done=lambda _: self.show_calls(event.line))
        elif choice == "reject":
            self.command(self.phone.reject(event.line, 486))
        self._show_next_incoming()
        if self._ringing_screen is None and self.active_lines():
            self.show_calls()

    def can_forward(self) -> bool:
        """Whether the engine can send a ringing call elsewhere (Phone.forward)."""
        return callable(getattr(self.phone, "forward", None))

    def forward_call(self, line: int, target: str) -> None:
        self._forwarded_to[line] = target
        self.command(self.phone.forward(line, target), failed=lambda text: self._forward_failed(line, text))

    def _forward_failed(self, line: int, text: str) -> None:
        self._forwarded_to.pop(line, None)
        self.show_error(text)

    def can_silence(self) -> bool:
        """Whether something rings here that Silence can stop (no sound device: nothing rings)."""
        return getattr(self.phone, "local_audio", None) is not None

    def silence_ringer(self) -> None:
        """Stop the ringtone; the call keeps ringing for the caller and can still be answered."""
        self.phone.silence_ringer()

    def features_now(self) -> FeaturesChanged:
        """DND, forwarding, call waiting, anonymous and blocklist as the engine last said."""
        return self.phone_features or self.phone.feature_state()

    def dnd_on(self) -> bool:
        return self.features_now().dnd

    def phone_marks(self) -> PhoneMarks:
        """What the status bar shows after the account icons."""
        f = self.features_now()
        waiting = [new for on, new, _ in self.voicemail.values() if on]
        return PhoneMarks(dnd=f.dnd, forward_always=f.forward_always, forward_busy=f.forward_busy,
                          forward_no_answer=f.forward_no_answer, messages=sum(waiting) if waiting else None,
                          missed=self.missed_unseen, locked=self.locked, audio=self.audio_state,
                          paging="in" if self.page_in else "out" if self.page_out else "")

    def action_toggle_dnd(self) -> None:
        """Do not disturb on or off; the engine keeps it in the config and says so in a notice."""
        self.command(self.phone.set_dnd(not self.dnd_on()))

    # ----- settings the UI changes -------------------------------------------------------------------
    def editable_config(self) -> Any:
        """The config as the schema's models, for what changes it. Attached, the app starts on the phone's
        plain view of the file (config.view: no pydantic at start); the first change builds the models from
        that same data, and from then on `self.config` is them."""
        from tuiphone.config.view import ConfigView, editable

        if isinstance(self.config, ConfigView):
            self.config = editable(self.config)
        return self.config

    def switch_language(self, code: str) -> None:
        """Switch every screen to `code` now, and keep it in the config file when we have one."""
        i18n.set_language(code)
        self.editable_config().phone.language = code
        self._save_config()
        self.language_changed.publish(code)
        self.status_changed.publish(None)
        self.lines_changed.publish(None)

    def _save_config(self) -> None:
        problem = self.save_settings()
        if problem:       # the phone keeps working with the setting in memory
            self.show_error(t("error.save_config", path=self.config_path, error=problem))

    def save_settings(self) -> str:
        """Write the config file (atomically, keeping config.toml.bak); "" or what went wrong."""
        if self.config_path is None:
            return ""     # a phone started without a config file keeps its settings in memory
        from tuiphone.config import ConfigError, save_config

        try:
            save_config(self.editable_config(), self.config_path)
        except ConfigError as exc:
            log.warning("could not save %s: %s", self.config_path, exc)
            return str(exc)
        return ""

    def change_setting(self, target: Any, name: str, value: object) -> str:
        """Set one setting of a config section (checked by the schema) and save the config file.

        Returns "" or the sentence saying what is wrong; then the old value stays.
        """
        from pydantic import ValidationError

        from tuiphone.config import validation_problems
        from tuiphone.config.view import same_section

        target = same_section(self.editable_config(), target)    # a section read before the first change
        old = getattr(target, name)
        try:
            setattr(target, name, value)     # the config models validate on assignment
        except ValidationError as exc:
            return "; ".join(validation_problems(exc))
        problem = self.save_settings()
        if problem:
            setattr(target, name, old)
            return problem
        self.status_changed.publish(None)
        return ""

    # ----- screen lock (its state and steps: screens/lock.py ScreenLock) -------------------------------
    @property
    def locked(self) -> bool:
        """Whether the lock screen covers the phone (calls still ring and can be answered)."""
        return self.screen_lock.locked

    def action_lock(self) -> None:
        """Lock the phone: menus and dialers close, a call in progress goes on under the lock."""
        self.screen_lock.lock()

    def remote_lock(self, on: bool) -> None:
        """LOCK / UNLOCK from the CTI API's send_key (its passcode stands in for the lock password)."""
        self.screen_lock.remote(on)

    def unlock(self) -> None:
        """Take the lock screen away (it is on top: a call answered while locked has ended by then)."""
        self.screen_lock.unlock()

    # ----- app-wide actions ------------------------------------------------------------------------
    def action_command_palette(self) -> None:
        """Ctrl+P: the phone's commands, by name or by a typed number (not while the phone is locked)."""
        from textual.command import CommandPalette

        from tuiphone.screens.palette import PhoneCommandPalette

        if not self.locked and self.use_command_palette and not CommandPalette.is_open(cast("App[object]", self)):
            self.push_screen(PhoneCommandPalette())

    def action_quit_phone(self) -> None:
        """q: quit; attached, leave the phone process running (its calls go on) and go."""
        if self.attached:
            self.detach()
            return
        if not self.lines:
            self.exit(0)
            return
        from tuiphone.screens.confirm import ConfirmScreen

        self.push_screen(ConfirmScreen(t("quit.confirm")), lambda yes: self.exit(0) if yes else None)

    def detach(self) -> None:
        self._leaving = self.detached = True
        self.exit(0)

    def action_stop_phone(self) -> None:
        """Menu › Quit phone: stop the phone (attached: the phone process too), asking while calls are up."""
        if not self.attached:
            self.action_quit_phone()
            return
        if self.phone_stopped:
            self._leaving = True
            self.exit(0)
            return

        def refused(text: str) -> None:
            self._leaving = False
            self.show_error(text)

        def stop(yes: bool | None = True) -> None:
            if yes:
                self._leaving = True
                self.command(self.phone.stop_phone(), done=lambda _: self.exit(0), failed=refused)
        if not self.lines:
            stop()
            return
        from tuiphone.screens.confirm import ConfirmScreen

        self.push_screen(ConfirmScreen(t("quit.confirm")), stop)


def load_blocklist(phone: Any, store: Store) -> str:
    """Hand the saved blocklist to the engine before the UI subscribes (so no notice per entry).

    Returns "" or a sentence naming the entries the engine refused.
    """
    from tuiphone.services.records import load_saved_blocklist

    try:
        problems = load_saved_blocklist(phone, store)
    except StoreError as exc:
        return str(exc)
    return t("error.blocklist_load", problems="; ".join(problems)) if problems else ""


def make_app(phone: Any, config: Any, *, clock: Callable[[], float] | None = None,
             config_path: Path | None = None, keymap: Mapping[str, str] | None = None,
             blink: bool = True, handle_sigterm: bool = False, store: Store | None = None,
             store_problem: str = "", services: Any = None) -> PhoneApp:
    """The one way to build the phone UI, for the CLI and the tests; loads the saved blocklist into `phone`."""
    draw_when_changed()
    tune_textual()
    i18n.set_language(config.phone.language)
    # attached, the phone process loaded it; standalone, the phone loads it once up (starting_phone)
    if store is not None and not getattr(phone, "remote", False) and not getattr(phone, "starting", False):
        store_problem = " ".join(filter(None, (store_problem, load_blocklist(phone, store))))
    return PhoneApp(phone, config, clock=clock, config_path=config_path, keymap=keymap, blink=blink,
                    handle_sigterm=handle_sigterm, store=store, store_problem=store_problem, services=services)
