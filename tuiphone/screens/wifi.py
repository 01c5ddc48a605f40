"""Settings › Network & Wi-Fi: the Wi-Fi radio on or off, scan (SSID, signal, security), connect with a password.

Everything goes through NetworkManager (`nmcli`), in a worker thread; where there is no Wi-Fi device, no
NetworkManager or no permission, the screen says so in a sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from tuiphone.i18n import t
from tuiphone.screens import nmcli
from tuiphone.screens.base import PhoneScreen
from tuiphone.screens.nmcli import Nmcli, WifiError, WifiNetwork, WifiState
from tuiphone.screens.prompt import TextPromptScreen
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar
from tuiphone.widgets.table import fill_table


def signal_bars(signal: int) -> str:
    """▂▄▆█ with as many bars lit as the signal deserves."""
    lit = 1 + min(3, signal // 25) if signal > 0 else 0
    return "▂▄▆█"[:lit].ljust(4, "·")


class WifiScreen(PhoneScreen):
    """F1 scans, Enter or F2 joins the chosen network (asking for its password), F3 turns the radio on or off."""

    BINDINGS = [Binding("escape", "back", "Back", show=False, id="back")]
    DEFAULT_CSS = """
    WifiScreen #wifi-state { height: auto; padding: 0 1; }
    WifiScreen #wifi-state.-error { color: $error; text-style: bold; }
    WifiScreen DataTable { height: 1fr; }
    """

    def __init__(self, wifi: Nmcli | None = None) -> None:
        super().__init__()
        self.wifi = wifi or Nmcli(nmcli.run_nmcli)
        self.state: WifiState | None = None
        self.networks: list[WifiNetwork] = []
        self.message = t("wifi.reading")
        self.error = False
        self.busy = False

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t("wifi.title"), classes="screen-title")
        yield Static("", id="wifi-state", markup=False)
        yield DataTable(id="wifi-table", cursor_type="row", zebra_stripes=True)
        yield SoftKeyBar()

    def on_mount(self) -> None:
        self._work(self._refresh, t("wifi.reading"))

    async def relabel(self) -> None:
        await super().relabel()
        self.redraw()

    # ----- talking to nmcli off the UI thread ------------------------------------------------------
    def _work(self, job: Callable[[], str], doing: str) -> None:
        """Run `job` (which returns the sentence to show) in a thread; a WifiError is shown as the error."""
        if self.busy:
            return
        self.busy, self.message, self.error = True, doing, False
        self.redraw()

        def run() -> None:
            try:
                text, error = job(), False
            except WifiError as exc:
                text, error = str(exc), True
            self.app.call_from_thread(self._done, text, error)
        self.run_worker(run, thread=True, exclusive=True, group="wifi", exit_on_error=False)

    def _done(self, text: str, error: bool) -> None:
        self.busy, self.message, self.error = False, text, error
        if self.is_attached:
            self.redraw()

    def _refresh(self) -> str:
        self.state = self.wifi.state()
        self.networks = self.wifi.scan() if self.state.radio_on else []
        if not self.state.radio_on:
            return t("wifi.radio_off", device=self.state.device)
        if self.state.connection:
            return t("wifi.connected", device=self.state.device, ssid=self.state.connection)
        return t("wifi.not_connected", device=self.state.device, count=len(self.networks))

    # ----- drawing ----------------------------------------------------------------------------------
    def redraw(self) -> None:
        state = self.query_one("#wifi-state", Static)
        state.update(self.message)
        state.set_class(self.error, "-error")
        table = self.query_one(DataTable)
        fill_table(table, ["", t("wifi.col_ssid"), t("wifi.col_signal"), t("wifi.col_security")],
                   [(Text("●", style="bold green") if n.in_use else "", n.ssid, f"{signal_bars(n.signal)} {n.signal}%",
                     n.security or t("wifi.open")) for n in self.networks])
        table.display = bool(self.networks)
        self.refresh_soft_keys()

    def chosen(self) -> WifiNetwork | None:
        row = self.query_one(DataTable).cursor_row
        return self.networks[row] if self.networks and 0 <= row < len(self.networks) else None

    def soft_keys(self) -> Sequence[SoftKey | None]:
        back = SoftKey("key.back", "back")
        if self.busy or self.state is None:
            return (None, None, None, back)
        radio = SoftKey("key.wifi_off" if self.state.radio_on else "key.wifi_on", "radio")
        if not self.state.radio_on:
            return (None, None, radio, back)
        connect = SoftKey("key.connect", "connect") if self.chosen() is not None else None
        return (SoftKey("key.scan", "scan"), connect, radio, back)

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self.refresh_soft_keys()

    def on_data_table_row_selected(self, _: DataTable.RowSelected) -> None:
        self.action_connect()

    # ----- keys ---------------------------------------------------------------------------------------
    def action_scan(self) -> None:
        self._work(self._refresh, t("wifi.scanning"))

    def action_radio(self) -> None:
        if self.state is None:
            return
        on = not self.state.radio_on

        def job() -> str:
            self.wifi.set_radio(on)
            return self._refresh()
        self._work(job, t("wifi.turning_on" if on else "wifi.turning_off"))

    def action_connect(self) -> None:
        network = self.chosen()
        if network is None or self.busy:
            return
        if not network.security or network.in_use:
            self._join(network, "")
            return
        self.app.push_screen(
            TextPromptScreen(t("wifi.password_for", ssid=network.ssid), password=True,
                             check=lambda text: "" if text else t("wifi.need_password")),
            lambda password: self._join(network, password) if password is not None else None)

    def _join(self, network: WifiNetwork, password: str) -> None:
        def job() -> str:
            self.wifi.connect(network.ssid, password)
            return self._refresh()
        self._work(job, t("wifi.connecting", ssid=network.ssid))

    def action_back(self) -> None:
        self.dismiss()
