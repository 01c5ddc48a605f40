"""The TCP guard's parts on their own: the ioqueue reading (on a struct laid out like pjlib's), finding the
listening sockets, the door's filter on a real listening socket, and when the guard closes and opens it."""

from __future__ import annotations

import ctypes
import socket
import time

import pytest

from tuiphone.engine import tcp_guard
from tuiphone.engine.tcp_guard import Door, IoqueueView, TcpGuard, listening_fds


# ----- a pj_ioqueue_t in Python memory: max, count and the three intrusive lists of keys --------------------
class _FakeIoqueue:
    def __init__(self, max_keys: int = 8, active: int = 2, closing_ms: tuple[int, ...] = ()):
        self.mem = ctypes.create_string_buffer(tcp_guard._FREE_AT + tcp_guard._KEY_SIZE)
        self.keys = [ctypes.create_string_buffer(tcp_guard._KEY_SIZE) for _ in range(max_keys)]
        self.base = ctypes.addressof(self.mem)
        ctypes.c_uint.from_address(self.base + tcp_guard._MAX_AT).value = max_keys
        ctypes.c_uint.from_address(self.base + tcp_guard._COUNT_AT).value = active
        addrs = [ctypes.addressof(k) for k in self.keys]
        closing = addrs[active:active + len(closing_ms)]
        for key, due in zip(closing, closing_ms, strict=False):
            ctypes.c_long.from_address(key + tcp_guard._KEY_FREE_TIME_AT).value = due // 1000
            ctypes.c_long.from_address(key + tcp_guard._KEY_FREE_TIME_AT + 8).value = due % 1000
        self._link(tcp_guard._ACTIVE_AT, addrs[:active])
        self._link(tcp_guard._CLOSING_AT, closing)
        self._link(tcp_guard._FREE_AT, addrs[active + len(closing_ms):])

    def _link(self, head_at: int, nodes: list[int]) -> None:
        head = self.base + head_at
        ring = [head, *nodes]
        for i, node in enumerate(ring):
            ctypes.c_void_p.from_address(node).value = ring[i - 1]                   # prev
            ctypes.c_void_p.from_address(node + 8).value = ring[(i + 1) % len(ring)]  # next


def test_free_handles_are_the_free_list_plus_closing_keys_whose_delay_is_over():
    fake = _FakeIoqueue(max_keys=8, active=2, closing_ms=(1_000, 1_400, 2_600))
    view = IoqueueView(fake.base, now_ms=lambda: 1_500)
    assert (view.max, view.count) == (8, 2)
    assert view.free() == 8 - 2 - 1          # three free, two closing keys past their time, one not yet
    later = IoqueueView(fake.base, now_ms=lambda: 3_000)
    assert later.free() == 6


def test_nothing_closing_costs_no_walk():
    fake = _FakeIoqueue(max_keys=8, active=3)
    view = IoqueueView(fake.base, now_ms=lambda: pytest.fail("no clock"))
    assert view.free() == 5


def test_near_the_margin_the_free_list_itself_is_counted():
    fake = _FakeIoqueue(max_keys=8, active=2)
    view = IoqueueView(fake.base, now_ms=lambda: 0)
    ctypes.c_uint.from_address(fake.base + tcp_guard._COUNT_AT).value = 1    # unregistered, not yet closing
    assert view.free() == 6                     # what pjlib can hand out: the free list, not max - count
    assert view.free(exact_below=0) == 7        # far from the margin: reckoned from count


def test_a_layout_that_does_not_add_up_is_refused():
    fake = _FakeIoqueue(max_keys=8, active=2)
    ctypes.c_uint.from_address(fake.base + tcp_guard._COUNT_AT).value = 3     # count says 3, the list 2
    with pytest.raises(ValueError):
        IoqueueView(fake.base, now_ms=lambda: 0)


# ----- the listening sockets and the door ------------------------------------------------------------------
@pytest.fixture
def listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    yield sock
    sock.close()


def _connects(port: int, timeout: float = 0.15, source: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)).close()
        return True
    except OSError:
        return False


def test_listening_sockets_are_found_by_port_and_nothing_else(listener):
    port = listener.getsockname()[1]
    other = socket.create_connection(("127.0.0.1", port))       # a connected socket on the same port
    try:
        assert listening_fds({port}) == [listener.fileno()]
        assert listening_fds({1}) == []
    finally:
        other.close()


def test_a_closed_door_holds_off_new_connections_and_opens_again(listener):
    port = listener.getsockname()[1]
    door = Door(listening_fds({port}), {port})
    door.shrink_backlog(2)
    door.close()
    began = time.monotonic()
    assert not _connects(port), "the SYN should have been dropped"
    assert time.monotonic() - began >= 0.12                     # no RST: the client just hears nothing
    door.open()
    assert _connects(port)
    door.open()                                                 # no filter to detach: no error
    assert listener.fileno() >= 0                               # the socket is still the caller's


def test_banned_sources_are_held_off_and_the_others_let_in(listener):
    port = listener.getsockname()[1]
    door = Door(listening_fds({port}), {port})
    door.ban({"127.0.0.2", "127.0.0.9", "::1"})                # IPv6 addresses: the door alone
    assert door.banned == {"127.0.0.2", "127.0.0.9"}
    assert not _connects(port, source="127.0.0.2")
    assert _connects(port, source="127.0.0.3")
    door.close()
    assert not _connects(port, source="127.0.0.3")
    door.open()                                                 # open again, still without the banned
    assert _connects(port, source="127.0.0.3") and not _connects(port, source="127.0.0.9")
    door.ban(set())
    assert _connects(port, source="127.0.0.2")


def test_a_door_whose_fd_was_reused_leaves_that_socket_alone(listener):
    port = listener.getsockname()[1]
    door = Door([listener.fileno()], {port + 1})                # that fd is not a listener of port+1
    door.close()
    assert _connects(port)


# ----- when the guard closes and opens ---------------------------------------------------------------------
class _Door:
    closed = False

    def close(self):
        self.closed = True

    def open(self):
        self.closed = False


def test_the_door_closes_below_the_margin_and_opens_with_room_again():
    free = [40]
    guard = TcpGuard(lambda: free[0], _Door(), close_below=16, open_at=24)
    for value, closed in ((40, False), (16, False), (15, True), (20, True), (23, True), (24, False),
                          (30, False), (3, True)):
        free[0] = value
        guard.check()
        assert guard.door.closed is closed, value
    assert guard.closings == 2 and guard.least_free == 3


def test_a_source_over_its_share_is_shut_and_held_off_until_it_holds_fewer():
    guard = TcpGuard(lambda: 40, _BanDoor())
    guard.share = 2
    sources = {1: "192.0.2.1", 2: "192.0.2.1", 3: "192.0.2.1", 4: "198.51.100.7", 5: None}
    for tp in sources:
        guard.on_transport(tp, 0, source=sources.get)          # PJSIP_TP_STATE_CONNECTED
    assert guard.shut == 1 and guard.door.banned == {"192.0.2.1"}
    assert guard.held == {"192.0.2.1": 3, "198.51.100.7": 1}
    guard.on_transport(3, 3, source=sources.get)               # the one shut is destroyed: 2, its share
    assert guard.door.banned == {"192.0.2.1"}
    guard.on_transport(1, 1, source=sources.get)               # one more goes: below its share
    assert guard.door.banned == set() and guard.held == {"192.0.2.1": 1, "198.51.100.7": 1}
    guard.on_transport(1, 3, source=sources.get)               # DESTROY after DISCONNECTED: counted once
    guard.on_transport(5, 3, source=sources.get)
    assert guard.held == {"192.0.2.1": 1, "198.51.100.7": 1}


class _BanDoor(_Door):
    banned = frozenset()

    def ban(self, sources):
        self.banned = frozenset(sources)


# ----- the listener's accept callback ----------------------------------------------------------------------
def _fake_listener(fake: _FakeIoqueue, fd: int):
    """Make the first active key a listening socket `fd` whose pj_activesock_t has an accept callback."""
    key = ctypes.addressof(fake.keys[0])
    asock = ctypes.create_string_buffer(128)
    ctypes.c_long.from_address(key + tcp_guard._KEY_FD_AT).value = fd
    ctypes.c_void_p.from_address(key + tcp_guard._KEY_USER_DATA_AT).value = ctypes.addressof(asock)
    ctypes.c_void_p.from_address(ctypes.addressof(asock)).value = key
    ctypes.c_void_p.from_address(ctypes.addressof(asock) + tcp_guard._ASOCK_IOQUEUE_AT).value = fake.base
    return asock


def test_the_accept_callback_of_a_listener_is_found_and_checks_before_each_connection():
    fake = _FakeIoqueue(max_keys=8, active=2)
    asock = _fake_listener(fake, fd=17)
    view = IoqueueView(fake.base, now_ms=lambda: 0)
    assert view.listener_sockets([17]) == {17: ctypes.addressof(asock)}
    assert view.listener_sockets([18]) == {}
    accepted = []
    original = tcp_guard._ON_ACCEPT(lambda a, sock, addr, alen: accepted.append(sock) or 1)
    slot = ctypes.addressof(asock) + tcp_guard._ASOCK_ACCEPT_AT
    ctypes.c_void_p.from_address(slot).value = ctypes.cast(original, ctypes.c_void_p).value
    free = [20]
    guard = TcpGuard(lambda: free[0], _Door())
    guard._hook_accepts(view.listener_sockets([17]))
    hooked = tcp_guard._ON_ACCEPT(ctypes.c_void_p.from_address(slot).value)
    free[0] = 10
    assert hooked(ctypes.addressof(asock), 42, None, 16) == 1
    assert accepted == [42] and guard.door.closed          # checked first, then pjsip's own callback
    guard.close()
    assert ctypes.c_void_p.from_address(slot).value == ctypes.cast(original, ctypes.c_void_p).value


def test_a_socket_accepted_while_the_door_closed_loses_the_filter_it_was_cloned_with():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        prog, _code = tcp_guard.filter_program(drop_all=True)
        sock.setsockopt(socket.SOL_SOCKET, tcp_guard.SO_ATTACH_FILTER, prog)
        assert sock.getsockopt(socket.SOL_SOCKET, tcp_guard.SO_ATTACH_FILTER) != 0     # SO_GET_FILTER
        tcp_guard._unfilter(sock.fileno())
        assert sock.getsockopt(socket.SOL_SOCKET, tcp_guard.SO_ATTACH_FILTER) == 0
        tcp_guard._unfilter(sock.fileno())                                            # none: no error
    finally:
        sock.close()
