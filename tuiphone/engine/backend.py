"""The narrow interface between the phone logic and a SIP stack.

`Phone` (phone.py) drives a `SipBackend`; the backend reports back through a `BackendListener`.
Everything on both sides runs on the SIP thread, so neither needs locks.
The real backend is `engine.sip.PjsuaBackend`; tests also use a fake one.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tuiphone.engine.events import SipMessage
from tuiphone.engine.quality import CallQuality

if TYPE_CHECKING:      # annotations only: the UI imports this module and needs no numpy
    from tuiphone.audio.frames import FrameSink, FrameSource


@dataclass(frozen=True)
class TransportSettings:
    bind_address: str = ""          # "" = all interfaces
    port: int = 5060                # 0 = any free port
    transports: tuple[str, ...] = ("udp", "tcp")
    tls_port: int = 5061
    tls_verify_server: bool = True
    tls_ca_file: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    codecs: tuple[str, ...] = ("G722", "PCMU", "PCMA")
    user_agent: str = "tuiphone"
    stun_server: str = ""           # host[:port] for NAT discovery, "" = none
    rtp_port: int = 0               # first local RTP port, 0 = any free port
    rtp_port_range: int = 0         # how many ports from rtp_port may be used (0 with rtp_port 0)
    clock_rate: int = 16000         # the conference bridge's sample rate (8000 spares G.711 calls resampling)
    offer_srtp: bool = True         # direct calls offer SRTP (optionally); False: plain RTP only
    sip_messages: bool = True       # every SIP message reaches the listener (on_sip_message, the trace); False:
                                    # only pjsip's warnings and errors reach Python (a load worker's calls/s)


@dataclass(frozen=True)
class AccountSettings:
    """What the stack needs to know of one account; the phone decides server and proxy (failover)."""
    index: int
    user_id: str
    auth_id: str
    password: str
    display_name: str
    domain: str                     # host[:port] used in the From / AOR
    registrar: str                  # host[:port], "" = no registration
    proxy: str                      # host[:port], "" = none
    transport: str = "udp"
    srtp: str = "off"
    reg_expires: int = 3600
    register: bool = True
    mwi: bool = True
    contact: str = ""               # a forced Contact (a URI), "" = pjsua's own (the transport's address)


@dataclass(frozen=True)
class IncomingInfo:
    remote_uri: str
    remote_name: str
    remote_number: str
    request_user: str               # user part of the Request-URI
    source: str                     # "ip:port"
    headers: dict[str, str] = field(default_factory=dict)
    call_id: str = ""


@dataclass(frozen=True)
class PortMedia:
    """A call's audio in pjmedia's own ports, so nothing runs in Python per 20 ms frame (calls under load):
    `play` is a 16 kHz mono 16-bit WAV file sent over and over (one player per file, shared by the calls), or
    `echo` sends the call's own audio back; pjmedia writes what the call hears to the WAV file `record`."""
    play: str = ""
    echo: bool = False
    record: str = ""


@dataclass
class CallMedia:
    """What a call hears from us (source) and where what we hear goes (sinks). 16 kHz mono int16.
    With `ports`, pjmedia's ports instead (source and sinks unused)."""
    source: FrameSource | None = None
    sinks: list[FrameSink] = field(default_factory=list)
    ports: PortMedia | None = None


class BackendListener(Protocol):
    def on_reg_state(self, account: int, sip_status: int, reason: str, expires: int) -> None: ...
    def on_incoming_call(self, cid: int, account: int | None, info: IncomingInfo) -> None: ...
    def on_call_state(self, cid: int, state: str, sip_status: int, reason: str, call_id: str = "") -> None: ...
    def on_media_state(self, cid: int, active: bool, remote_hold: bool, codec: str) -> None: ...
    def on_dtmf(self, cid: int, digit: str, method: str) -> None: ...
    def on_transfer_status(self, cid: int, sip_status: int, reason: str, final: bool) -> None: ...
    def on_new_call(self, cid: int, account: int | None, remote_uri: str, replaces: int | None) -> None: ...
    def on_sip_message(self, msg: SipMessage) -> None: ...
    def on_mwi(self, account: int | None, body: str) -> None: ...
    def on_buddy_state(self, handle: int, status: str, activity: str, note: str) -> None: ...


class SipBackend(Protocol):
    listener: BackendListener

    # thread plumbing
    def submit(self, fn: Callable[[], Any]) -> Future[Any]: ...
    def schedule(self, delay: float, fn: Callable[[], None]) -> object: ...
    def cancel(self, handle: object) -> None: ...
    # lifecycle
    def start(self, settings: TransportSettings) -> None: ...
    def stop(self) -> None: ...
    def local_address(self, transport: str = "udp") -> str: ...
    # accounts
    def set_account(self, acc: AccountSettings) -> None: ...
    def remove_account(self, index: int) -> None: ...
    def register(self, index: int, on: bool) -> None: ...
    # calls
    def make_call(self, account: int | None, uri: str, headers: dict[str, str], media: CallMedia,
                  from_uri: str = "") -> int: ...
    def answer(self, cid: int, code: int, media: CallMedia | None = None,
               headers: dict[str, str] | None = None) -> None: ...
    def hangup(self, cid: int, code: int = 0) -> None: ...
    def hold(self, cid: int) -> None: ...
    def unhold(self, cid: int) -> None: ...
    def set_mute(self, cid: int, on: bool) -> None: ...
    def set_media(self, cid: int, media: CallMedia) -> None: ...
    def send_dtmf(self, cid: int, digits: str, method: str) -> None: ...
    def blind_transfer(self, cid: int, uri: str) -> None: ...
    def attended_transfer(self, cid: int, other_cid: int) -> None: ...
    def quality(self, cid: int) -> CallQuality: ...
    def rx_activity(self, cid: int) -> int | None: ...   # moves while RTP/RTCP arrives; None = no stream
    def call_alive(self, cid: int) -> bool: ...          # the stack still has this call
    def max_calls(self) -> int: ...                      # calls the stack holds at once
    # the phone's own audio and conferences
    def open_local_port(self) -> Any: ...     # a BridgeLink (audio/local.py) the sound card drives, or None
    def set_local_media(self, media: CallMedia) -> None: ...
    def join_local(self, cid: int, on: bool) -> None: ...
    def link(self, cid: int, other_cid: int, on: bool) -> None: ...
    # presence
    def watch(self, account: int, uri: str) -> int: ...
    def unwatch(self, handle: int) -> None: ...
