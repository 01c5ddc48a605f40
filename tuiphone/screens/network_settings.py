"""Settings › Network & Wi-Fi: the [sip] settings (SIP port, random port, bind address, transports, STUN
server, RTP ports) and the Wi-Fi networks.

pjsua opens its transports and media ports when the phone starts, so these settings are checked as the
config file is, saved at once, and take effect at the next start: every entry whose saved value is not
the one running says "applies after restart". With a STUN server the line under the title says the NAT
type pjsua detected with it (seed 1.3), or that it is still being detected.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from textual.app import App, ComposeResult
from textual.widgets import OptionList, Static

from tuiphone.config import Config, SipConfig, validation_problems
from tuiphone.i18n import t
from tuiphone.screens.menu_list import MenuEntry, MenuScreen
from tuiphone.widgets.soft_keys import SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar

NAT_KINDS = ("open", "full_cone", "restricted", "port_restricted", "symmetric", "symmetric_udp", "blocked",
             "detecting", "failed")
TRANSPORT_CHOICES: tuple[tuple[str, ...], ...] = (
    ("udp", "tcp"), ("udp",), ("tcp",), ("udp", "tcp", "tls"), ("udp", "tls"), ("tcp", "tls"), ("tls",))

# the [sip] settings the phone started with, per app: what a saved value is compared with
_running: weakref.WeakKeyDictionary[App, SipConfig] = weakref.WeakKeyDictionary()


def running_sip(app: App) -> SipConfig:
    """[sip] as the phone started with it (only this screen changes [sip] while the phone runs)."""
    if app not in _running:
        _running[app] = app.config.sip.model_copy(deep=True)
    return _running[app]


def change_sip(app: App, **values: Any) -> str:
    """Set [sip] keys, checked as the whole config file is, and save; "" or the problems as sentences."""
    data = app.config.model_dump(mode="python")
    data["sip"].update(values)
    try:
        checked = Config.model_validate(data)
    except ValidationError as exc:
        return " ".join(line if line.endswith(".") else line + "." for line in validation_problems(exc))
    running_sip(app)
    old = app.config.sip
    app.config.sip = checked.sip
    problem = app.save_settings()
    if problem:
        app.config.sip = old
        return problem
    app.status_changed.publish(None)
    return ""


def _port_text(port: int) -> str:
    return t("netset.any_port") if port == 0 else str(port)


def _rtp_text(sip: SipConfig) -> str:
    return t("netset.any_port") if not sip.rtp_port_min else f"{sip.rtp_port_min}–{sip.rtp_port_max}"


def _transports_text(transports: Sequence[str]) -> str:
    return ", ".join(name.upper() for name in transports)


def parse_rtp_range(text: str) -> tuple[int, int] | None:
    """"10000-10100" -> (10000, 10100); "" or "0" -> (0, 0) (any free port); None when it is neither."""
    text = text.strip().replace("–", "-")
    if text in ("", "0"):
        return 0, 0
    low, dash, high = text.partition("-")
    if not dash or not low.strip().isdigit() or not high.strip().isdigit():
        return None
    return int(low), int(high)


def local_addresses() -> list[tuple[str, str]]:
    """(interface, address) of this machine, for the bind address choice."""
    from tuiphone.screens import netinfo

    try:
        facts = netinfo.gather()
    except Exception:       # no `ip`, no /sys: the address can still be typed
        return []
    return [(iface.name, address.split("/", 1)[0]) for iface in facts.interfaces
            for address in [*iface.ipv4, *iface.ipv6] if not address.lower().startswith("fe80")]


class NetworkSettingsScreen(MenuScreen):
    """The [sip] settings as menu entries, a note on when they apply and the NAT type, then Wi-Fi."""

    DEFAULT_CSS = """
    NetworkSettingsScreen #network-note { padding: 0 2; color: $text-muted; height: auto; }
    """

    def __init__(self) -> None:
        super().__init__("settings.wifi", self._entries)
        self.nat = ""       # what the engine said of the NAT type ("" = not asked yet)

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t(self.title_key), classes="screen-title")
        yield Static(self.note(), id="network-note", markup=False)
        self.entries = list(self.entries_of())
        yield OptionList(*self._options(), id="menu-list")
        yield SoftKeyBar()

    def on_mount(self) -> None:
        super().on_mount()
        running_sip(self.app)
        self.ask_nat()
        self.set_interval(1.0, self._poll_nat)

    def refresh_entries(self) -> None:
        super().refresh_entries()
        self.show_note()

    # ----- NAT type: asked of the engine on its own thread --------------------------------------------------
    def _poll_nat(self) -> None:
        if self.nat in ("", "detecting"):
            self.ask_nat()

    def ask_nat(self) -> None:
        backend = getattr(self.app.phone, "backend", None)
        if not running_sip(self.app).stun_server or backend is None or not hasattr(backend, "nat_type"):
            return

        def told(kind: object) -> None:
            self.nat = str(kind)
            self.show_note()
        self.app.command(backend.submit(backend.nat_type), done=told, failed=lambda _: None)

    def note(self) -> str:
        from tuiphone.screens.network import sip_address

        running = running_sip(self.app)
        lines = [t("netset.listening", address=sip_address(self.app.phone) or t("network.unknown")),
                 t("netset.applies_after_restart")]
        if running.stun_server:
            kind = self.nat if self.nat in NAT_KINDS else "detecting"
            lines.append(t("netset.nat_type", kind=t(f"netset.nat_{kind}"), server=running.stun_server))
        elif self.app.config.sip.stun_server:
            lines.append(t("netset.nat_after_restart"))
        return "\n".join(lines)

    def show_note(self) -> None:
        if self.is_attached:
            self.query_one("#network-note", Static).update(self.note())

    # ----- the entries -------------------------------------------------------------------------------------
    def _entries(self) -> tuple[MenuEntry, ...]:
        app = self.app
        sip, running = app.config.sip, running_sip(app)

        def entry(key: str, changed: bool, choose, **fields: Any) -> MenuEntry:
            text = t(key, **fields)
            if changed:
                text += " — " + t("netset.after_restart")
            return MenuEntry(text, choose, literal=True)

        from tuiphone.screens.wifi import WifiScreen

        return (
            entry("netset.sip_port", sip.port != running.port, self.ask_port, port=_port_text(sip.port)),
            entry("netset.random_port", sip.random_port != running.random_port,
                  lambda a: self._apply(random_port=not sip.random_port),
                  state=t("features.on") if sip.random_port else t("features.off")),
            entry("netset.bind", sip.bind_address != running.bind_address, self.choose_bind,
                  address=sip.bind_address or t("netset.all_interfaces")),
            entry("netset.transports", sip.transports != running.transports, self.choose_transports,
                  transports=_transports_text(sip.transports)),
            entry("netset.stun", sip.stun_server != running.stun_server, self.ask_stun,
                  server=sip.stun_server or t("network.none")),
            entry("netset.rtp", (sip.rtp_port_min, sip.rtp_port_max) != (running.rtp_port_min, running.rtp_port_max),
                  self.ask_rtp, ports=_rtp_text(sip)),
            MenuEntry("netset.wifi", lambda a: WifiScreen()),
        )

    def _apply(self, **values: Any) -> None:
        problem = change_sip(self.app, **values)
        if problem:
            self.app.show_error(problem)
        else:
            self.app.notify(t("netset.saved"), markup=False)
            self.refresh_entries()

    def _prompt(self, title: str, value: str, parse, help_text: str = "") -> None:
        """A text prompt whose answer `parse` turns into [sip] values (or a sentence saying what is wrong)."""
        from tuiphone.screens.prompt import TextPromptScreen

        def check(text: str) -> str:
            values = parse(text)
            if isinstance(values, str):
                return values
            problem = change_sip(self.app, **values)
            if not problem:
                self.app.notify(t("netset.saved"), markup=False)
            return problem
        self.app.push_screen(TextPromptScreen(title, value=value, check=check, help_text=help_text),
                             lambda _: self.refresh_entries())

    def ask_port(self, app: App) -> None:
        def parse(text: str):
            return {"port": int(text)} if text.isdigit() else t("netset.port_number")
        self._prompt(t("netset.ask_port"), str(app.config.sip.port), parse)

    def ask_stun(self, app: App) -> None:
        self._prompt(t("netset.ask_stun"), app.config.sip.stun_server, lambda text: {"stun_server": text},
                     help_text=t("netset.stun_help"))

    def ask_rtp(self, app: App) -> None:
        def parse(text: str):
            ports = parse_rtp_range(text)
            if ports is None:
                return t("netset.rtp_range")
            return {"rtp_port_min": ports[0], "rtp_port_max": ports[1]}
        sip = app.config.sip
        self._prompt(t("netset.ask_rtp"), f"{sip.rtp_port_min}-{sip.rtp_port_max}" if sip.rtp_port_min else "",
                     parse, help_text=t("netset.rtp_help"))

    def choose_bind(self, app: App) -> None:
        from tuiphone.screens.prompt import ChoiceScreen

        addresses = local_addresses()
        choices = [t("netset.all_interfaces"), *(f"{address} ({name})" for name, address in addresses),
                   t("netset.type_address")]

        def chosen(index: int | None) -> None:
            if index is None:
                return
            if index == 0:
                self._apply(bind_address="")
            elif index <= len(addresses):
                self._apply(bind_address=addresses[index - 1][1])
            else:
                self._prompt(t("netset.ask_bind"), app.config.sip.bind_address,
                             lambda text: {"bind_address": text})
        app.push_screen(ChoiceScreen(t("netset.ask_bind"), choices), chosen)

    def choose_transports(self, app: App) -> None:
        from tuiphone.screens.prompt import ChoiceScreen

        def chosen(index: int | None) -> None:
            if index is not None:
                self._apply(transports=list(TRANSPORT_CHOICES[index]))
        app.push_screen(ChoiceScreen(t("netset.ask_transports"),
                                     [_transports_text(c) for c in TRANSPORT_CHOICES]), chosen)
