"""Wi-Fi through NetworkManager's `nmcli -t`: device and radio state, scan, connect; failures as sentences.

The parsers take nmcli's terse output (fields split by `:`, with `\\:` and `\\\\` escaped), so they are tested on
recorded output. Every call goes through a runner `(args, stdin) -> (exit code, stdout, stderr)` that tests replace.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from tuiphone.i18n import t

NMCLI_TIMEOUT_S = 45          # a scan or a connection can take a while
NOT_FOUND = 127

Runner = Callable[[list[str], str], tuple[int, str, str]]


class WifiError(Exception):
    """Wi-Fi cannot be used or changed; the message says why and what to do."""


@dataclass(frozen=True)
class Device:
    name: str
    type: str
    state: str
    connection: str


@dataclass(frozen=True)
class WifiNetwork:
    ssid: str
    signal: int                # 0-100
    security: str              # "" = open
    in_use: bool


@dataclass(frozen=True)
class WifiState:
    device: str
    radio_on: bool
    connection: str            # the connected network's name, or ""


def split_terse(line: str) -> list[str]:
    """One line of `nmcli -t` output -> its fields, with the escapes undone."""
    fields, current, i = [], [], 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            current.append(line[i + 1])
            i += 2
            continue
        if ch == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    fields.append("".join(current))
    return fields


def parse_devices(text: str) -> list[Device]:
    """`nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device`."""
    found = []
    for line in text.splitlines():
        cols = split_terse(line)
        if len(cols) >= 4:
            found.append(Device(*cols[:4]))
    return found


def parse_networks(text: str) -> list[WifiNetwork]:
    """`nmcli -t -f IN-USE,SSID,SIGNAL,SECURITY device wifi list` -> networks by name, strongest first.

    Several access points of one network show once (the one in use, else the strongest); hidden networks
    (no name) are left out, as they cannot be chosen by name.
    """
    best: dict[str, WifiNetwork] = {}
    for line in text.splitlines():
        cols = split_terse(line)
        if len(cols) < 4 or not cols[1]:
            continue
        security = "" if cols[3] in ("", "--") else cols[3]
        net = WifiNetwork(cols[1], int(cols[2]) if cols[2].isdigit() else 0, security, cols[0].strip() == "*")
        old = best.get(net.ssid)
        if old is None or (net.in_use, net.signal) > (old.in_use, old.signal):
            best[net.ssid] = net
    return sorted(best.values(), key=lambda n: (not n.in_use, -n.signal, n.ssid.casefold()))


def problem(code: int, output: str) -> str:
    """A sentence for a failed nmcli run."""
    text = output.strip()
    low = text.lower()
    if code == NOT_FOUND:
        return t("wifi.no_nmcli")
    if code == 8 or "networkmanager is not running" in low:
        return t("wifi.nm_not_running")
    if "not authorized" in low or "insufficient privileges" in low or "permission" in low:
        return t("wifi.no_permission")
    if "secrets were required" in low or ("password" in low and code == 4):
        return t("wifi.bad_password")
    if code == 10:
        return t("wifi.gone")
    return t("wifi.failed", error=text.removeprefix("Error: ") or code)


def run_nmcli(args: list[str], stdin: str = "") -> tuple[int, str, str]:
    """Run nmcli; a missing nmcli is exit code 127, like the shell says."""
    try:
        done = subprocess.run(["nmcli", *args], input=stdin, capture_output=True, text=True,
                              timeout=NMCLI_TIMEOUT_S, env={**os.environ, "LC_ALL": "C"})  # English, to read it
    except FileNotFoundError:
        return NOT_FOUND, "", ""
    except subprocess.TimeoutExpired:
        return 3, "", f"nmcli gave no answer in {NMCLI_TIMEOUT_S} s"
    return done.returncode, done.stdout, done.stderr


class Nmcli:
    """The Wi-Fi commands the screen needs. Each may block for seconds: call them off the UI thread."""

    def __init__(self, run: Runner = run_nmcli) -> None:
        self.run = run

    def _run(self, *args: str, stdin: str = "") -> str:
        code, out, err = self.run(list(args), stdin)
        if code != 0:
            raise WifiError(problem(code, err or out))
        return out

    def state(self) -> WifiState:
        """The Wi-Fi device, whether its radio is on, and the network it is connected to."""
        devices = [d for d in parse_devices(self._run("-t", "-f", "DEVICE,TYPE,STATE,CONNECTION", "device"))
                   if d.type == "wifi"]
        if not devices:
            raise WifiError(t("wifi.no_device"))
        device = next((d for d in devices if d.state == "connected"), devices[0])
        radio_on = self._run("-t", "radio", "wifi").strip() == "enabled"
        return WifiState(device.name, radio_on, device.connection if device.state == "connected" else "")

    def scan(self) -> list[WifiNetwork]:
        return parse_networks(self._run("-t", "-f", "IN-USE,SSID,SIGNAL,SECURITY", "device", "wifi", "list",
                                        "--rescan", "yes"))

    def set_radio(self, on: bool) -> None:
        self._run("radio", "wifi", "on" if on else "off")

    def connect(self, ssid: str, password: str = "") -> None:
        """Join a network; the password goes on nmcli's stdin (--ask), never on a command line others can read."""
        if password:
            self._run("--ask", "device", "wifi", "connect", ssid, stdin=password + "\n")
        else:
            self._run("device", "wifi", "connect", ssid)
