"""PjsuaBackend, the SipBackend on pjsua2: its state, and the parts (modules beside this one) it is made of."""

from __future__ import annotations

import itertools
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any

import pjsua2 as pj

from tuiphone.engine.backend import AccountSettings, BackendListener, PortMedia, TransportSettings
from tuiphone.engine.capacity import InviteGate, SocketBudget
from tuiphone.engine.localport import LocalPort
from tuiphone.engine.sip.accounts import _Accounts
from tuiphone.engine.sip.bridge import _Bridge
from tuiphone.engine.sip.calls import _Calls
from tuiphone.engine.sip.endpoint import _Endpoint
from tuiphone.engine.sip.frames import _FramePort
from tuiphone.engine.sip.load_media import _LoadMedia
from tuiphone.engine.sip.loop import _Loop
from tuiphone.engine.sip.objects import _Account, _Buddy, _Call, _LogWriter
from tuiphone.engine.tcp_guard import TcpGuard


class PjsuaBackend(_Loop, _Endpoint, _Accounts, _Calls, _Bridge, _LoadMedia):
    """SipBackend on pjsua2. Create, set `listener`, then `start()`; every other method runs on the SIP thread."""

    def __init__(self, listener: BackendListener | None = None, log_level: int = 0):
        self.listener: BackendListener = listener  # type: ignore[assignment]  # the phone sets it before start()
        self._log_level = log_level
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_seq = itertools.count()
        self._cancelled: set[int] = set()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._ep: pj.Endpoint | None = None
        self._transports: dict[str, int] = {}
        self._local_names: dict[str, str] = {}
        self._accounts: dict[int, _Account] = {}
        self._settings_of: dict[int, AccountSettings] = {}
        self._anonymous: dict[int, _Account] = {}       # account -> its twin for anonymous calls
        self._retired: list[_Account] = []              # twins replaced while their calls went on
        self._calls: dict[int, _Call] = {}
        self._ended: list[_Call] = []                   # disconnected calls, deleted on the next loop turn
        self._in_incoming: int | None = None            # the call whose onIncomingCall is running
        self._pending_new: list[tuple[_Call, int | None, str, int | None]] = []
        self._writer: _LogWriter | None = None
        self._local: _FramePort | None = None           # the local port in Python (when no C one: see open_local_port)
        self._native: LocalPort | None = None           # the local port in C
        self._buddies: list[_Buddy | None] = []         # by watch handle; None once unwatched
        self._registered: set[int] = set()
        self._spare_ports: list[_FramePort] = []     # call ports no call uses now (see _retire_port)
        self._players: dict[str, Any] = {}              # pjmedia ports of calls under load (load_media.py)
        self._recorders: dict[int, tuple[str, Any]] = {}
        self._port_media: dict[int, PortMedia] = {}
        self._wake_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._wake_sock.setblocking(False)
        self._budget = SocketBudget()
        self._gate: InviteGate | None = None
        self._tcp_guard: TcpGuard | None = None
        self._wake_addr: tuple[str, int] | None = None
        self._settings = TransportSettings()
