"""The dialer: on-hook and off-hook dialing, the dial-plan verdict as you type, `#`, Enter and timeout sending."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from tuiphone.engine.dialing import account_plan, check_number, direct_ip_uri
from tuiphone.engine.dialplan import DialPlanError
from tuiphone.engine.directip import DirectIpError, display_form, is_direct_ip
from tuiphone.i18n import t
from tuiphone.screens.base import PhoneScreen, keypad_bindings
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar, account_label

COUNTDOWN_TICK = 0.1
# four octets typed with * between them and no port yet: the next # is the port's colon, not SEND
_IPV4_TYPED = re.compile(r"[0-9]{1,3}(?:\*[0-9]{1,3}){3}")


@dataclass(frozen=True)
class DialVerdict:
    """What the dial plan says about the digits so far: a state and a sentence for the screen."""

    state: str          # "complete" | "incomplete" | "invalid" | "empty"
    text: str


def dial_verdict(number: str, account) -> DialVerdict:
    """Judge `number` as dialed so far through `account` (None: no account, direct calls only)."""
    if not number:
        return DialVerdict("empty", t("dial.enter_number"))
    if number.endswith("#") and _IPV4_TYPED.fullmatch(number[:-1]):
        return DialVerdict("incomplete", t("dial.direct_ip_port", address=display_form(number)))
    # the same chain as the phone's resolve_target (engine/dialing.py): direct IP, then the account's dial plan
    try:
        direct = direct_ip_uri(number)
    except DirectIpError:
        return DialVerdict("invalid", t("dial.direct_ip_bad"))
    if direct is not None:
        return DialVerdict("incomplete", t("dial.direct_ip", uri=direct))
    if account is None:
        return DialVerdict("invalid", t("dial.no_account"))
    try:
        plan = account_plan(account)
    except DialPlanError:
        return DialVerdict("invalid", t("dial.plan_broken"))
    state = plan.state(number)
    verdict = check_number(plan, number, account)
    if state == "invalid":
        if verdict.blocked:
            return DialVerdict("invalid", t("dial.blocked", rule=verdict.rule))
        return DialVerdict("invalid", t("dial.not_allowed"))
    if state == "complete":
        return DialVerdict("complete", t("dial.complete", number=verdict.number))
    if verdict.allowed:
        key = "dial.allowed_as" if verdict.number != number else "dial.allowed"
        return DialVerdict("incomplete", t(key, rule=verdict.rule, number=verdict.number))
    return DialVerdict("incomplete", t("dial.keep_dialing"))


def shown_number(digits: str) -> str:
    """The number as the phone shows and logs it: a typed IP address as 127.0.0.1:5062, not 127*0*0*1#5062."""
    if is_direct_ip(digits) or (digits.endswith("#") and _IPV4_TYPED.fullmatch(digits[:-1])):
        return display_form(digits)
    return digits


class DialerScreen(PhoneScreen):
    """Digits build the number; `#` (when the account says so), Enter or the timeout send it."""

    BINDINGS = [
        *keypad_bindings(),
        Binding("backspace", "delete", "Delete", show=False, id="delete"),
        Binding("enter", "send", "Send", show=False, id="send"),
        Binding("escape", "cancel", "Cancel", show=False, id="end"),
        Binding("tab", "next_account", "Account", show=False, id="next-account"),
    ]
    DEFAULT_CSS = """
    DialerScreen #dialer { padding: 1 2; height: 1fr; }
    DialerScreen #dial-title { text-style: bold; color: $accent; }
    DialerScreen #dial-number { height: 3; border: round $primary; padding: 0 1; text-style: bold;
                                margin: 1 0; }
    DialerScreen #dial-verdict.-invalid { color: $error; }
    DialerScreen #dial-verdict.-complete { color: $success; }
    DialerScreen #dial-countdown { color: $warning; }
    """

    def __init__(self, digits: str = "", *, off_hook: bool = False) -> None:
        super().__init__()
        self.digits = ""
        self.off_hook = off_hook
        usable = self._usable()
        self.account: int | None = usable[0] if usable else None
        self.deadline: float | None = None
        self.sending = False
        self.error = ""
        self._first = digits
        self._countdown_text = ""

    def _usable(self) -> list[int]:
        return self.app.usable_accounts()

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical(id="dialer"):
            yield Static(t("dial.off_hook" if self.off_hook else "dial.title"), id="dial-title")
            yield Static("", id="dial-account", markup=False)
            yield Static("", id="dial-number", markup=False)
            yield Static("", id="dial-verdict", markup=False)
            yield Static("", id="dial-countdown")
            yield Static("", id="dial-error", classes="message -error", markup=False)
            yield Static(t("dial.hint"), classes="hint")
        yield SoftKeyBar()

    def on_mount(self) -> None:
        self.set_interval(COUNTDOWN_TICK, self._tick)
        for digit in self._first:
            self.action_digit(digit)
        self.redraw()

    # ----- state -----------------------------------------------------------------------------------
    def account_config(self):
        return self.app.config.accounts[self.account] if self.account is not None else None

    def verdict(self) -> DialVerdict:
        return dial_verdict(self.digits, self.account_config())

    def soft_keys(self) -> Sequence[SoftKey | None]:
        return (SoftKey("key.send", "send"),
                SoftKey("key.delete", "delete") if self.digits else None,
                SoftKey("key.account", "next_account") if len(self._usable()) > 1 else None,
                SoftKey("key.cancel", "cancel"))

    def redraw(self) -> None:
        account = self.account_config()
        self.query_one("#dial-account", Static).update(
            t("dial.account", account=account_label(self.account, account))
            if self.account is not None and account is not None
            else t("dial.account_none"))
        self.query_one("#dial-number", Static).update(shown_number(self.digits) or "_")
        verdict = self.verdict()
        widget = self.query_one("#dial-verdict", Static)
        widget.update(verdict.text)
        for state in ("invalid", "complete"):
            widget.set_class(verdict.state == state, f"-{state}")
        self.query_one("#dial-error", Static).update(self.error)
        self._show_countdown()
        self.refresh_soft_keys()

    async def relabel(self) -> None:
        await super().relabel()
        self._countdown_text = ""
        self.redraw()

    def _show_countdown(self) -> None:
        text = ""
        if self.deadline is not None and not self.sending:
            left = max(0, math.ceil(self.deadline - time.monotonic()))
            text = t("dial.countdown", seconds=left)
        if text != self._countdown_text:    # ticks every 0.1 s: redraw only when the number changes
            self._countdown_text = text
            self.query_one("#dial-countdown", Static).update(text)

    def _restart_timeout(self) -> None:
        account = self.account_config()
        timeout = account.no_key_timeout if account is not None else 0
        self.deadline = time.monotonic() + timeout if timeout and self.digits else None

    def _tick(self) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.deadline = None
            self.action_send()
        self._show_countdown()

    # ----- keys ----------------------------------------------------------------------------------
    def action_digit(self, digit: str) -> None:
        if self.sending:
            return
        if digit == "*" and self.app.screen_lock.star_held(self.digits):
            return      # `*` held down since the idle screen: the phone locked and this dialer closed
        account = self.account_config()
        if digit == "#" and _IPV4_TYPED.fullmatch(self.digits):
            pass      # 127*0*0*1# : the port comes next
        elif digit == "#" and self.digits and (account is None or account.pound_sends):
            self.action_send()
            return
        self.digits += digit
        self.error = ""
        self._restart_timeout()
        self.redraw()
        if self.verdict().state == "complete":
            self.action_send()    # no rule can grow further: send at once, like the desk phone

    def action_delete(self) -> None:
        if self.sending or not self.digits:
            return
        self.digits = self.digits[:-1]
        self.error = ""
        self._restart_timeout()
        self.redraw()

    def action_next_account(self) -> None:
        usable = self._usable()
        if len(usable) < 2 or self.sending:
            return
        at = usable.index(self.account) if self.account in usable else -1
        self.account = usable[(at + 1) % len(usable)]
        self._restart_timeout()
        self.redraw()

    def action_send(self) -> None:
        """Send the number; on an empty dialer, redial the last number."""
        if self.sending:
            return
        if not self.digits:
            if self.app.last_dialed is None:
                self.error = t("dial.nothing_to_redial")
                self.redraw()
                return
            self.digits, self.account = self.app.last_dialed
        self.sending = True
        self.deadline = None
        self.redraw()
        self.app.place_call(shown_number(self.digits), self.account, failed=self._call_failed)

    def _call_failed(self, text: str) -> None:
        self.sending = False
        self.error = text
        if self.is_attached:
            self.redraw()

    def action_cancel(self) -> None:
        self.dismiss()
