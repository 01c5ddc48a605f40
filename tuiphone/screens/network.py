"""Status › Network: the address SIP uses, gateways, DNS, the NAT type (with a STUN server), and each interface
with its MAC and IPv4/IPv6 addresses."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from tuiphone.i18n import t
from tuiphone.screens import netinfo
from tuiphone.screens.base import PhoneScreen
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar


def sip_address(phone) -> str:
    """The address and port SIP listens on, as the engine's transport says."""
    try:
        return phone.backend.local_address()
    except Exception:       # not started, or the transport went away: say so rather than fail
        return ""


def nat_type(phone) -> str:
    """The NAT type the engine detected with the STUN server ("" when no STUN server is set); blocks up to 2 s."""
    backend = getattr(phone, "backend", None)
    if not phone.config.sip.stun_server or backend is None or not hasattr(backend, "nat_type"):
        return ""
    try:
        return str(backend.submit(backend.nat_type).result(2))
    except Exception:       # the SIP thread is busy or gone: say nothing rather than guess
        return ""


def link_state(state: str) -> str:
    """An interface's state as `ip` says it (UP, DOWN, UNKNOWN…), in the phone's language when it has words for it."""
    key = f"network.state_{state.lower()}"
    text = t(key)
    return (state or "-") if text == key else text


def network_text(facts: netinfo.NetworkFacts, sip: str, nat: str = "") -> str:
    """The facts as aligned lines (labels padded by terminal cells, for Chinese too)."""
    rows = [("network.sip_address", sip or t("network.unknown")),
            ("network.gateway", ", ".join(facts.gateways) or t("network.none")),
            ("network.dns", ", ".join(facts.dns) or t("network.none"))]
    if facts.search:
        rows.append(("network.search", " ".join(facts.search)))
    if nat and nat != "off":
        rows.append(("network.nat_type", t(f"netset.nat_{nat}")))
    width = max(cell_len(t(key)) for key, _ in rows)
    lines = [f"{t(key)}{' ' * (width - cell_len(t(key)))}  {value}" for key, value in rows]
    for iface in facts.interfaces:
        lines.append("")
        lines.append(f"{iface.name}  {link_state(iface.state)}  {t('network.mac')} {iface.mac or '-'}")
        lines += [f"    IPv4 {a}" for a in iface.ipv4] + [f"    IPv6 {a}" for a in iface.ipv6]
        if not iface.ipv4 and not iface.ipv6:
            lines.append(f"    {t('network.no_address')}")
    return "\n".join(lines)


class NetworkStatusScreen(PhoneScreen):
    """Read once on opening (and on F1); the reading runs off the UI thread."""

    BINDINGS = [Binding("escape", "back", "Back", show=False, id="back")]
    DEFAULT_CSS = """
    NetworkStatusScreen #network-facts { height: 1fr; padding: 1 2; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.facts: netinfo.NetworkFacts | None = None
        self.nat = ""       # the NAT type with STUN (seed 1.3), "" without a STUN server

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t("menu.status_network"), classes="screen-title")
        with VerticalScroll(id="network-facts"):
            yield Static(t("network.reading"), id="network-text", markup=False)
        yield SoftKeyBar()

    def on_mount(self) -> None:
        self.action_refresh()

    async def relabel(self) -> None:
        await super().relabel()
        self.show()

    def action_refresh(self) -> None:
        self.run_worker(self._gather, thread=True, exclusive=True, group="network", exit_on_error=False)

    def _gather(self) -> None:
        facts = netinfo.gather()
        nat = nat_type(self.app.phone)
        self.app.call_from_thread(self._gathered, facts, nat)

    def _gathered(self, facts: netinfo.NetworkFacts, nat: str = "") -> None:
        self.facts = facts
        self.nat = nat
        if self.is_attached:
            self.show()

    def show(self) -> None:
        if self.facts is not None:
            self.query_one("#network-text", Static).update(
                network_text(self.facts, sip_address(self.app.phone), self.nat))

    def soft_keys(self) -> Sequence[SoftKey | None]:
        return (SoftKey("key.refresh", "refresh"), None, None, SoftKey("key.back", "back"))

    def action_back(self) -> None:
        self.dismiss()
