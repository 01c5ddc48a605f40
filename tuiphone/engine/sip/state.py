"""What the parts of PjsuaBackend share: the state PjsuaBackend.__init__ sets up, and the methods one part calls
on another, declared once so that each part (loop.py, endpoint.py, accounts.py, calls.py, bridge.py) and the
pjsua2 objects that call back into the backend (objects.py, frames.py) are checked against them.

Only annotations: at run time `_BackendState` is an empty class, and every attribute is set in
PjsuaBackend.__init__ (or, for `_done`, in `start`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import queue
    import socket
    import threading
    from collections.abc import Callable, Iterator
    from concurrent.futures import Future
    from typing import Any

    import pjsua2 as pj

    from tuiphone.engine.backend import AccountSettings, BackendListener, CallMedia, TransportSettings
    from tuiphone.engine.capacity import InviteGate, SocketBudget
    from tuiphone.engine.localport import LocalPort
    from tuiphone.engine.sip.frames import _FramePort
    from tuiphone.engine.sip.objects import _Account, _Buddy, _Call, _LogWriter
    from tuiphone.engine.tcp_guard import TcpGuard


class _BackendState:
    """The state every part of PjsuaBackend reads and writes (set up in PjsuaBackend.__init__)."""

    listener: BackendListener
    _log_level: int
    # the SIP thread and its command queue, timers and lifecycle (loop.py)
    _jobs: queue.SimpleQueue[Callable[[], None]]
    _timers: list[tuple[float, int, Callable[[], None]]]
    _timer_seq: Iterator[int]
    _cancelled: set[int]
    _thread: threading.Thread | None
    _stopping: threading.Event
    _started: threading.Event
    _start_error: BaseException | None
    _done: Future[None]                             # the loop's run on the SIP thread (set in start)
    _wake_sock: socket.socket
    _wake_addr: tuple[str, int] | None
    # the endpoint and its transports (endpoint.py)
    _ep: pj.Endpoint | None
    _settings: TransportSettings
    _transports: dict[str, int]
    _local_names: dict[str, str]
    _writer: _LogWriter | None
    _budget: SocketBudget
    _gate: InviteGate | None
    _tcp_guard: TcpGuard | None
    # accounts and presence (accounts.py)
    _accounts: dict[int, _Account]
    _settings_of: dict[int, AccountSettings]
    _anonymous: dict[int, _Account]
    _retired: list[_Account]
    _registered: set[int]
    _buddies: list[_Buddy | None]
    # calls (calls.py)
    _calls: dict[int, _Call]
    _ended: list[_Call]
    _in_incoming: int | None
    _pending_new: list[tuple[_Call, int | None, str, int | None]]
    # the bridge's ports (bridge.py)
    _local: _FramePort | None
    _native: LocalPort | None
    _spare_ports: list[_FramePort]

    if TYPE_CHECKING:
        # What one part calls on another; each is defined in the module named beside it.
        def _post(self, fn: Callable[[], None]) -> None: ...                               # loop.py
        def schedule(self, delay: float, fn: Callable[[], None]) -> object: ...              # loop.py
        def _create_endpoint(self, s: TransportSettings) -> None: ...                         # endpoint.py
        def _destroy(self) -> None: ...                                                       # endpoint.py
        def _media_bind(self, cfg: pj.AccountConfig) -> None: ...                             # endpoint.py
        def _anonymous_account(self, index: int, from_uri: str) -> _Account: ...              # accounts.py
        def _account_of(self, call: _Call) -> _Account: ...                                   # accounts.py
        def _index_of(self, acc: _Account) -> int | None: ...                                 # accounts.py
        def answer(self, cid: int, code: int, media: CallMedia | None = None,
                   headers: dict[str, str] | None = None) -> None: ...                        # calls.py
        def _call(self, cid: int) -> _Call: ...                                               # calls.py
        def _on_call_state(self, call: _Call) -> None: ...                                    # calls.py
        def _on_media_state(self, call: _Call) -> None: ...                                   # calls.py
        def _connect_port(self, call: _Call) -> None: ...                                     # bridge.py
        def _join_local_media(self, call: _Call, am: Any, on: bool) -> None: ...              # bridge.py
        def _attach_port(self, call: _Call, am: Any) -> None: ...                             # bridge.py
        def _drop_port(self, call: _Call) -> None: ...                                        # bridge.py
        def _attach_load_media(self, call: _Call, am: Any) -> None: ...                       # load_media.py
        def _drop_load_media(self, call: _Call) -> None: ...                                  # load_media.py
        def _close_load_media(self) -> None: ...                                              # load_media.py
