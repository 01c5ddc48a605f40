"""Settings › Accounts › Edit / Add: a form with every key of an `[[accounts]]` block of the config.

The fields come from `_FORM` (a test checks it names every field of `AccountConfig`); what the user typed
is checked as the config file is (the whole `Config` schema, so `transport` must be one `sip.transports`
opens, a key's `account` must exist...), and each problem is a sentence naming the field by its label and
its config key. F1 saves the config file (only the changed keys) and hands the account to the engine at
once (`Phone.reconfigure_account`): it registers again, or for the first time, with the new settings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal, get_args, get_origin

from pydantic import ValidationError
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Input, Select, Static

from tuiphone.config import AccountConfig, Config, _unwrap, validation_problems
from tuiphone.i18n import t
from tuiphone.screens.base import PhoneScreen
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar

# (section label key, the account fields in it), in the order of the form
_FORM: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("settings.acc_section_account", ("enabled", "name", "display_name")),
    ("settings.acc_section_server", ("sip_server", "secondary_sip_server", "outbound_proxy",
                                     "backup_outbound_proxy", "transport")),
    ("settings.acc_section_sign_in", ("user_id", "auth_id", "password")),
    ("settings.acc_section_registration", ("register", "reg_expires", "options_keepalive", "options_interval",
                                           "options_max_lost")),
    ("settings.acc_section_dialing", ("dial_plan", "dial_plan_prefix", "no_key_timeout", "pound_sends",
                                      "voicemail")),
    ("settings.acc_section_media", ("codecs", "dtmf", "srtp")),
    ("settings.acc_section_privacy", ("anonymous", "reject_anonymous", "accept_only_from_server",
                                      "check_user_id")),
    ("settings.acc_section_incoming", ("auto_answer", "ringtone", "call_log", "mwi", "local_call_features")),
)
FORM_FIELDS: tuple[str, ...] = tuple(name for _, names in _FORM for name in names)

# labels that were there before the form had every key keep their old keys
_LABEL_KEYS = {"sip_server": "settings.acc_server", "user_id": "settings.acc_user", "auth_id": "settings.acc_auth",
               "display_name": "settings.acc_display"}
_PASSWORDS = ("password",)


def field_label(name: str) -> str:
    return t(_LABEL_KEYS.get(name, f"settings.acc_{name}"))


def _kind(name: str) -> str:
    """"bool", "int", "choice", "list" (codecs) or "text", from the schema's type of the field."""
    annotation = _unwrap(AccountConfig.model_fields[name].annotation)
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if get_origin(annotation) is Literal:
        return "choice"
    if get_origin(annotation) is list:
        return "list"
    return "text"


def _choices(name: str) -> list[tuple[str, Any]]:
    """(what the form shows, the config value) for a yes/no or a one-of field."""
    if _kind(name) == "bool":
        return [(t("features.on"), True), (t("features.off"), False)]
    return [(t(f"settings.choice_{name}_{choice}"), choice)
            for choice in get_args(_unwrap(AccountConfig.model_fields[name].annotation))]


_PROBLEM = re.compile(r"accounts\[(\d+)\]\.([A-Za-z_]+)(\S*): (.*)", re.DOTALL)


def problem_sentence(line: str, index: int) -> str | None:
    """`accounts[0].reg_expires: must be ... (got 5)` -> `Registration expiry (reg_expires): must be ....`;
    None for a problem of another account."""
    match = _PROBLEM.fullmatch(line)
    if match is None:
        return line if line.endswith(".") else line + "."
    if int(match[1]) != index:
        return None
    name, rest, reason = match[2], match[3], match[4]
    label = field_label(name) if name in AccountConfig.model_fields else name
    return f"{label} ({name}{rest}): {reason}" + ("" if reason.endswith(".") else ".")


def check_accounts(config: Config, accounts: list[AccountConfig], index: int) -> list[str]:
    """The problems the whole config would have with `accounts` in place of its accounts (as sentences)."""
    data = config.model_dump(mode="python")
    data["accounts"] = [a.model_dump(mode="python") for a in accounts]
    try:
        Config.model_validate(data)
    except ValidationError as exc:
        lines = [problem_sentence(line, index) for line in validation_problems(exc)]
        return [line for line in lines if line is not None] or [
            line + ("" if line.endswith(".") else ".") for line in validation_problems(exc)]
    return []


class AccountEditScreen(PhoneScreen):
    """One account's fields (or a new account's, when `index` is the number of accounts); F1 checks them
    against the config schema and saves, Esc leaves everything as it was."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False, id="back")]
    DEFAULT_CSS = """
    AccountEditScreen #account-form { height: 1fr; padding: 0 1; }
    AccountEditScreen #account-error { height: auto; max-height: 6; }
    AccountEditScreen .field-label { height: 1; color: $text-muted; }
    AccountEditScreen .form-section { height: 1; margin-top: 1; text-style: bold; }
    AccountEditScreen Select { width: 30; }
    """

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    @property
    def adding(self) -> bool:
        return self.index >= len(self.app.config.accounts)

    def starting_account(self) -> AccountConfig:
        if self.adding:     # the schema's defaults; model_construct: a blank server is for the user to fill
            return AccountConfig.model_construct(name=t("settings.acc_new_name", number=self.index + 1))
        return self.app.config.accounts[self.index]

    def compose(self) -> ComposeResult:
        account = self.starting_account()
        title = t("settings.add_account", number=self.index + 1) if self.adding else \
            t("settings.edit_account", number=self.index + 1)
        yield StatusBar()
        yield Static(title, classes="screen-title")
        yield Static("", id="account-error", classes="message -error", markup=False)
        with VerticalScroll(id="account-form"):
            for section, names in _FORM:
                yield Static(t(section), classes="form-section")
                for name in names:
                    yield Static(field_label(name), classes="field-label", markup=False)
                    value = getattr(account, name)
                    kind = _kind(name)
                    if kind in ("bool", "choice"):
                        yield Select(_choices(name), value=value, allow_blank=False, id=f"acc-{name}")
                    elif kind == "list":
                        yield Input(" ".join(value), id=f"acc-{name}")
                    else:
                        yield Input(str(value), password=name in _PASSWORDS, id=f"acc-{name}")
        yield SoftKeyBar()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#acc-name", Input).focus()
        self.refresh_soft_keys()

    def soft_keys(self) -> Sequence[SoftKey | None]:
        return (SoftKey("key.save", "save"), None, None, SoftKey("key.cancel", "cancel"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def form(self) -> dict[str, object]:
        """What the form says, as config values (a bad number stays text: the schema names it)."""
        values: dict[str, object] = {}
        for name in FORM_FIELDS:
            raw = self.query_one(f"#acc-{name}").value
            kind = _kind(name)
            if kind == "int":
                text = str(raw).strip()
                values[name] = int(text) if re.fullmatch(r"-?\d+", text) else text
            elif kind == "list":
                values[name] = [item for item in re.split(r"[\s,]+", str(raw)) if item]
            elif kind == "text" and name not in _PASSWORDS:
                values[name] = str(raw).strip()
            else:
                values[name] = raw
        return values

    def action_save(self) -> None:
        app, index = self.app, self.index
        accounts = app.config.accounts
        adding = self.adding
        old = None if adding else accounts[index]
        try:
            new = AccountConfig.model_validate({**self.starting_account().model_dump(), **self.form()})
        except ValidationError as exc:
            self._error([problem_sentence(line, index) or line
                         for line in validation_problems(exc, ("accounts", index))])
            return
        wanted = [*accounts[:index], new, *accounts[index + 1:]]
        problems = check_accounts(app.config, wanted, index)
        if problems:
            self._error(problems)
            return
        if adding:
            accounts.append(new)
        else:
            accounts[index] = new
        problem = app.save_settings()
        if problem:
            if adding:
                accounts.pop()
            else:
                accounts[index] = old
            self._error([problem])
            return
        apply_account(app, index, new, old)
        app.status_changed.publish(None)
        self.dismiss()

    def _error(self, lines: list[str]) -> None:
        self.query_one("#account-error", Static).update("\n".join(lines))
        for line in lines:      # take the user to the first field named
            match = re.search(r"\(([a-z_]+)[\[)]", line)
            if match and match[1] in FORM_FIELDS:
                widget = self.query_one(f"#acc-{match[1]}")
                widget.focus()
                self.query_one("#account-form", VerticalScroll).scroll_to_widget(widget)
                break

    def action_cancel(self) -> None:
        self.dismiss()


# fields of an account an engine without live reconfiguration reads only when it starts
_SIP_FIELDS = ("sip_server", "user_id", "auth_id", "password", "transport", "outbound_proxy", "dial_plan")


def apply_account(app: App, index: int, new: AccountConfig, old: AccountConfig | None) -> None:
    """Hand the saved account to the engine at once: it registers (again) with the new settings."""
    reconfigure = getattr(app.phone, "reconfigure_account", None)
    if reconfigure is None:      # an engine that reads accounts only at start
        restart = old is None or any(getattr(new, f) != getattr(old, f) for f in _SIP_FIELDS)
        app.notify(t("settings.saved_restart" if restart else "settings.saved", number=index + 1), markup=False)
        return
    app.command(reconfigure(index, new),
                done=lambda _: app.notify(t("settings.saved_applied", number=index + 1), markup=False),
                failed=lambda text: app.show_error(t("settings.apply_failed", number=index + 1, error=text)))


def delete_account(app: App, index: int) -> str:
    """Remove account `index` from the config file and from the phone: the accounts after it move up one
    number. "" or the problem (then nothing changed).

    The engine numbers accounts by position, so every account from `index` on is retired first (its
    un-REGISTER answered, or the engine's bounded wait over) and only then are the moved ones applied under
    their new numbers: an account moving to a lower number registers the same address of record, and an
    un-REGISTER sent after its REGISTER would remove the new binding at the registrar."""
    accounts = app.config.accounts
    before = list(accounts)
    gone = before[index]
    kept = [*before[:index], *before[index + 1:]]
    problems = check_accounts(app.config, kept, -1)
    if problems:
        return " ".join(problems)
    accounts[:] = kept
    problem = app.save_settings()
    if problem:
        accounts[:] = before
        return problem
    reconfigure = getattr(app.phone, "reconfigure_account", None)
    if reconfigure is None:
        app.notify(t("settings.deleted_restart", number=index + 1), markup=False)
        return ""
    # the list is the one the engine reads: it holds retired copies until the engine has let them go
    accounts[:] = [*before[:index], *(a.model_copy(update={"enabled": False}) for a in before[index:])]
    app.run_worker(_renumber(app, index, kept, [reconfigure(k, accounts[k]) for k in range(index, len(before))],
                             gone), group="engine", exit_on_error=False)
    return ""


async def _renumber(app: App, index: int, kept: list[AccountConfig], retiring: list, gone: AccountConfig) -> None:
    import asyncio
    import time

    from tuiphone.engine.phone_error import PhoneError
    from tuiphone.engine.registration import LEAVE_TIMEOUT_S

    accounts = app.config.accounts
    last = len(kept)
    try:
        for future in retiring:
            await asyncio.wrap_future(future)
        deadline = time.monotonic() + LEAVE_TIMEOUT_S + 1.0
        while time.monotonic() < deadline and any(
                (reg := app.registrations.get(k)) is not None and reg.registered for k in range(index, last + 1)):
            await asyncio.sleep(0.05)
        for k in range(index, last):
            accounts[k] = kept[k]
            await asyncio.wrap_future(app.phone.reconfigure_account(k, kept[k]))
    except PhoneError as exc:
        app.show_error(t("settings.apply_failed", number=index + 1, error=exc))
    finally:
        accounts[:] = kept
        app.registrations.pop(last, None)
        app.save_settings()     # a setting saved meanwhile wrote the retired copies: write the file as it is
    app.notify(t("settings.deleted", number=index + 1, name=gone.name or gone.user_id), markup=False)
    app.status_changed.publish(None)
