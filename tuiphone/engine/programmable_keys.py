"""The programmable keys (config.keys): speed dial, BLF (presence of an extension, call pickup while it
rings) and intercom (a call the far phone answers by itself).

Runs on the SIP thread, like the rest of the phone logic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuiphone.engine.backend import CallMedia
from tuiphone.engine.dialing import default_account, server_uri
from tuiphone.engine.events import Blf
from tuiphone.engine.phone_error import PhoneError
from tuiphone.engine.phone_part import PhonePart

if TYPE_CHECKING:
    from tuiphone.engine.phone import Phone

INTERCOM_HEADERS = {"Call-Info": "<sip:127.0.0.1>;answer-after=0", "Alert-Info": "info=alert-autoanswer"}


def blf_state(status: str, activity: str, note: str) -> str:
    """Presence (PIDF/RPID) -> what a BLF key shows."""
    text = note.lower()
    if status == "offline":
        return "offline"
    if "ring" in text or "early" in text:
        return "ringing"
    if activity == "busy" or any(w in text for w in ("on the phone", "on-the-phone", "busy", "talk", "confirmed")):
        return "busy"
    if status == "online":
        return "idle"
    return "unknown"


class ProgrammableKeys(PhonePart):
    def __init__(self, phone: Phone) -> None:
        super().__init__(phone)
        self.blf_keys: dict[int, int] = {}               # presence handle -> key index
        self.blf: dict[int, str] = {}                     # key index -> idle | ringing | busy | offline | unknown

    def watch(self, account: int | None = None) -> None:
        """Subscribe to the presence of every BLF key's extension (only the keys of `account`, when given)."""
        regs = self.phone.registration.regs
        for index, key in enumerate(self.config.keys):
            if key.mode != "blf" or (account is not None and key.account - 1 != account):
                continue
            acc_index = key.account - 1
            if acc_index not in regs:
                self.phone._notice(f"BLF key {index + 1} ({key.value}): account {key.account} is disabled or has "
                                   "no SIP server.", "warning")
                continue
            uri = f"sip:{key.value}@{self.config.accounts[acc_index].sip_server}"
            try:
                self.blf_keys[self.backend.watch(acc_index, uri)] = index
            except Exception as exc:     # a bad URI must not stop the phone starting
                self.phone._notice(f"BLF key {index + 1}: cannot watch {uri}: {exc}", "warning")
                continue
            self.blf[index] = "unknown"

    def rewatch(self, account: int) -> None:
        """The account's server or identity may have changed: subscribe its BLF keys anew."""
        for handle, key_index in list(self.blf_keys.items()):
            if self.config.keys[key_index].account - 1 == account:
                self.backend.unwatch(handle)
                del self.blf_keys[handle]
                self.blf.pop(key_index, None)
        if any(k.mode == "blf" and k.account - 1 == account for k in self.config.keys):
            self.watch(account)
            for index, key in enumerate(self.config.keys):
                if key.mode == "blf" and key.account - 1 == account:   # what it showed came from the old account
                    self.phone._emit(Blf(key=index, extension=key.value, state=self.blf.get(index, "unknown")))

    def on_buddy_state(self, handle: int, status: str, activity: str, note: str) -> None:
        index = self.blf_keys.get(handle)
        if index is None:
            return
        state = blf_state(status, activity, note)
        self.blf[index] = state
        self.phone._emit(Blf(key=index, extension=self.config.keys[index].value, state=state))

    def press(self, index: int, media: CallMedia | None) -> int | None:
        """Press programmable key `index` (SIP thread); the line it called on."""
        keys = self.config.keys
        if not 0 <= index < len(keys):
            raise PhoneError(f"There is no programmable key {index + 1}: the config has {len(keys)}.", "failed")
        key = keys[index]
        if key.mode not in ("speed_dial", "blf", "intercom"):
            raise PhoneError(f"Key {index + 1} is a {key.mode} key, not one that dials: "
                             "only speed_dial, blf and intercom keys call a number.", "failed")
        if not key.value:
            raise PhoneError(f"Key {index + 1} has no number: set keys[{index}].value.", "failed")
        account = key.account - 1 if key.account <= len(self.config.accounts) else None
        if key.mode == "blf" and self.blf.get(index) == "ringing" and key.pickup_code:
            return self._pickup(key.pickup_code + key.value, account, media)
        headers = dict(INTERCOM_HEADERS) if key.mode == "intercom" else None
        line: int | None = self.phone.call(key.value, account, media, headers).result(0)
        return line

    def _pickup(self, code: str, account: int | None, media: CallMedia | None) -> int:
        """Dial the server's pickup code (like **1002) as it is: the admin set it, so the dial plan does not apply."""
        index = account if account is not None else default_account(self.config)
        acc = self.config.accounts[index] if index is not None else None
        if acc is None or not acc.enabled or not acc.sip_server:
            raise PhoneError(f"Picking up {code} needs an enabled account with a SIP server.", "failed")
        uri = server_uri(code, acc)
        return self.phone.dialing.place_call(index, uri, code, media, None)
