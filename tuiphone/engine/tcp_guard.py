"""The door of the SIP TCP/TLS ports: closed at the kernel while pjsip is short of socket handles.

pjsip's select ioqueue has 64 handles (PJ_IOQUEUE_MAX_HANDLES of the pjsua2 wheel); every SIP transport and
every TCP/TLS connection takes one. A closed socket gives its handle back only 500 ms later
(PJ_IOQUEUE_KEY_FREE_DELAY): meanwhile it is on the ioqueue's `closing_list`, counted neither as in use
(`count`) nor as free (`free_list`). pjlib refuses a new socket gracefully when `count` reaches the limit,
but when `count` is below it and `free_list` is empty it asserts and the process aborts. pjsip's TCP
listener accepts every pending connection at once and registers each before any pjsip module sees a byte,
so opening and closing connections quickly (some 70 in half a second) aborts the phone.

`TcpGuard` counts the handles really free (free list plus closing keys whose delay is over) before every
connection a TCP/TLS listener hands to pjsip (its pj_activesock accept callback is wrapped: the check runs
inside the accept loop), after every transport pjsip reports connected, and on every turn of the SIP
thread's loop. When fewer than `CLOSE_BELOW` are left it closes the door: a classic BPF socket filter
that drops every packet is attached to the TCP/TLS listening sockets. For a listening socket Linux runs
the filter on incoming SYNs and handshake ACKs, so no new connection is made; clients see no answer and
retry their SYN (after 1 s, then 3 s...). Connections already made are not touched. The door opens again
(the filter is detached) once `OPEN_AT` handles are free. The listen backlog is cut to `BACKLOG` so that
connections already queued when the door closes cannot use up the margin.

One source address may hold `SOURCE_SHARE` of the handles the door leaves to connections (23 of 64): a
connection beyond that is shut at once (pjsip_transport_shutdown, from the same callback) and the door's
filter drops that address's SYNs until it holds fewer, so one host holding connections open cannot lock
the others out. (TLS connections count from the end of their handshake: pjsip tells of them only then.)

Everything here runs on the SIP thread, where pjsip's ioqueue is polled (threadCnt = 0): reading the
ioqueue's lists there cannot race pjlib. Like capacity.py it reaches pjlib through ctypes on the library
pjsua2 is built into: pjsua2 has no Python API for any of this.
"""

from __future__ import annotations

import ctypes
import ipaddress
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from tuiphone.logthrottle import LogThrottle

log = logging.getLogger(__name__)
_noise = LogThrottle(log)

CLOSE_BELOW = 16          # free handles under which the door closes
OPEN_AT = 24              # free handles at which it opens again
BACKLOG = 4               # listen backlog of the TCP/TLS ports (pjsip's is 5): at most 5 wait to be accepted
SOURCE_SHARE = 0.5        # one source address may hold this part of the handles left to connections
SO_ATTACH_FILTER = 26     # asm-generic/socket.h (Linux)
SO_DETACH_FILTER = 27

# struct pj_ioqueue_t of ioqueue_select.c on 64-bit Linux (pjlib 2.15.1, 64 handles, checked at start):
# lock, auto_delete_lock, cfg{2}, max, count, nfds, active_list (a key), rfdset, wfdset, xfdset
# (pj_sock_t[68] each), ref_cnt_mutex, closing_list, free_list
_MAX_AT, _COUNT_AT, _ACTIVE_AT = 20, 24, 32
_KEY_SIZE = 352                      # sizeof(pj_ioqueue_key_t)
_CLOSING_AT = 2024
_FREE_AT = _CLOSING_AT + _KEY_SIZE
_KEY_FREE_TIME_AT = 336              # key->free_time {long sec, long msec}, after ref_count and closing
_KEY_FD_AT, _KEY_USER_DATA_AT = 56, 72
# struct pj_activesock_t (activesock.c): key, stream_oriented, whole_data, ioqueue, user_data, async_count,
# shutdown, max_loop, cb {on_data_read, on_data_recvfrom, on_data_sent, on_accept_complete, on_accept_complete2...}
_ASOCK_IOQUEUE_AT, _ASOCK_ACCEPT_AT, _ASOCK_ACCEPT2_AT = 16, 72, 80
# struct pjsip_transport (sip_transport.h): obj_name[32], pool, ref_cnt, lock, grp_lock, tracing, is_shutdown,
# is_destroying, key{type, rem_addr}, type_name, flag, info, addr_len, local_addr, local_name, remote_name, dir
_TP_TYPE_NAME_AT, _TP_INFO_AT, _TP_DIR_AT = 120, 136, 224
_TP_DIR_INCOMING = 2                 # PJSIP_TP_DIR_INCOMING
_TP_CONNECTED, _TP_DISCONNECTED, _TP_DESTROY = 0, 1, 3    # pjsip_transport_state


class _TimeVal(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("msec", ctypes.c_long)]


def _ptr(address: int) -> int:
    return ctypes.c_void_p.from_address(address).value or 0


class IoqueueView:
    """What pjsip's select ioqueue has left: read from its struct, on the thread that polls it."""

    def __init__(self, ioq: int, now_ms: Callable[[], int]):
        self._ioq = ioq
        self._now_ms = now_ms
        self.max = ctypes.c_uint.from_address(ioq + _MAX_AT).value
        if not 0 < self.max <= 4096:
            raise ValueError("not the select ioqueue's layout")
        active = self._length(ioq + _ACTIVE_AT)
        closing = self._length(ioq + _CLOSING_AT)
        free = self._length(ioq + _FREE_AT)
        if (active is None or closing is None or free is None or active + closing + free != self.max
                or active != self.count):
            raise ValueError(f"pjsip's ioqueue lists do not add up (active {active}, closing {closing}, "
                             f"free {free}, max {self.max}, count {self.count})")

    @classmethod
    def of_pjsip(cls, lib: ctypes.CDLL) -> IoqueueView:
        lib.pjsua_get_pjsip_endpt.restype = ctypes.c_void_p
        lib.pjsip_endpt_get_ioqueue.restype = ctypes.c_void_p
        lib.pjsip_endpt_get_ioqueue.argtypes = [ctypes.c_void_p]
        ioq = lib.pjsip_endpt_get_ioqueue(lib.pjsua_get_pjsip_endpt())
        if not ioq:
            raise ValueError("pjsip has no ioqueue")
        tick = _TimeVal()
        lib.pj_gettickcount.argtypes = [ctypes.c_void_p]

        def now_ms() -> int:        # pjlib's monotonic clock, the one free_time is set from
            lib.pj_gettickcount(ctypes.byref(tick))
            return int(tick.sec * 1000 + tick.msec)
        return cls(ioq, now_ms)

    @property
    def count(self) -> int:
        return ctypes.c_uint.from_address(self._ioq + _COUNT_AT).value

    def free(self, exact_below: int = OPEN_AT + 8) -> int:
        """Handles a new socket can have now: the free list and the closing keys whose delay is over (pjlib
        moves those to the free list on the next register). Reckoned from `count` and the closing list;
        counted on the free list itself when that gives fewer than `exact_below` (inside pjlib's callbacks,
        a key unregistered there is off `count` before it is on the closing list)."""
        head = self._ioq + _CLOSING_AT
        key = _ptr(head + 8)
        if key == head:                      # nothing closing: the common case costs two reads
            reckoned = self.max - self.count
            return reckoned if reckoned >= exact_below else self._length(self._ioq + _FREE_AT) or 0
        now, waiting, seen = self._now_ms(), 0, 0
        while key != head and key and seen <= self.max:
            sec = ctypes.c_long.from_address(key + _KEY_FREE_TIME_AT).value
            msec = ctypes.c_long.from_address(key + _KEY_FREE_TIME_AT + 8).value
            if sec * 1000 + msec > now:
                waiting += 1
            seen += 1
            key = _ptr(key + 8)
        reckoned = max(0, self.max - self.count - waiting)
        if reckoned >= exact_below:
            return reckoned
        return (self._length(self._ioq + _FREE_AT) or 0) + (seen - waiting)

    def listener_sockets(self, fds: Iterable[int]) -> dict[int, int]:
        """fd -> the pj_activesock_t pjsip accepts connections of that listening socket with (checked: its
        key is the fd's key, its ioqueue this one)."""
        wanted, found = set(fds), {}
        head = self._ioq + _ACTIVE_AT
        key, seen = _ptr(head + 8), 0
        while key != head and key and seen <= self.max:
            fd = ctypes.c_long.from_address(key + _KEY_FD_AT).value
            asock = _ptr(key + _KEY_USER_DATA_AT)
            if fd in wanted and asock and _ptr(asock) == key and _ptr(asock + _ASOCK_IOQUEUE_AT) == self._ioq:
                found[fd] = asock
            seen += 1
            key = _ptr(key + 8)
        return found

    def _length(self, head: int) -> int | None:
        n, key = 0, _ptr(head + 8)
        while key != head:
            if not key or n > self.max:
                return None
            n += 1
            key = _ptr(key + 8)
        return n


# ----- the listening sockets and their filter ------------------------------------------------------------
class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


_BPF_RET, _BPF_LD_W_ABS, _BPF_JEQ_K = 0x06, 0x20, 0x15
_SKF_NET_OFF = -0x100000                  # linux/filter.h: offsets from the IP header
MAX_BANNED = 64                           # source addresses one filter program holds off


def filter_program(banned: Iterable[str] = (), drop_all: bool = False) -> tuple[bytes, object]:
    """A classic BPF socket filter for an IPv4 listening socket (struct sock_fprog, and the instructions it
    points to: keep them alive while the kernel reads them): drop every packet, or those from `banned`
    IPv4 addresses, keep the others."""
    ops: list[tuple[int, int, int, int]] = []
    if not drop_all:
        ips = sorted({int(ipaddress.IPv4Address(ip)) for ip in banned})[:MAX_BANNED]
        ops.append((_BPF_LD_W_ABS, 0, 0, (_SKF_NET_OFF + 12) & 0xFFFFFFFF))    # the IPv4 source address
        ops += [(_BPF_JEQ_K, len(ips) - n, 0, ip) for n, ip in enumerate(ips)]  # jump to the drop
        ops.append((_BPF_RET, 0, 0, 0xFFFFFFFF))                                # keep the packet
    ops.append((_BPF_RET, 0, 0, 0))                                             # drop it
    code = (_SockFilter * len(ops))(*(_SockFilter(*op) for op in ops))
    return bytes(_SockFprog(len(ops), ctypes.cast(code, ctypes.POINTER(_SockFilter)))), code


def _ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
        return True
    except ValueError:
        return False


def _is_listener(sock: socket.socket, ports: set[int]) -> bool:
    try:
        return (sock.type == socket.SOCK_STREAM and sock.family in (socket.AF_INET, socket.AF_INET6)
                and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
                and sock.getsockname()[1] in ports)
    except OSError:
        return False


def _with_socket(fd: int, fn: Callable[[socket.socket], object]) -> object:
    """fn on a Python socket for the same socket as fd (a dup, closed after: the socket stays pjsip's)."""
    sock = socket.socket(fileno=os.dup(fd))
    try:
        return fn(sock)
    finally:
        sock.close()


def listening_fds(ports: Iterable[int], fd_dir: str = "/proc/self/fd") -> list[int]:
    """This process's file descriptors of TCP sockets listening on one of `ports` (any address)."""
    wanted, found = set(ports), []
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return []
    for name in names:
        try:
            fd = int(name)
            if not os.readlink(f"{fd_dir}/{name}").startswith("socket:"):
                continue
            if _with_socket(fd, lambda s: _is_listener(s, wanted)):
                found.append(fd)
        except (ValueError, OSError):
            continue            # the directory's own fd, or one closed meanwhile
    return sorted(found)


class Door:
    """The TCP/TLS listening sockets of the phone: closed (a drop-all filter), open to all, or open to all but
    some IPv4 source addresses (a filter that drops theirs)."""

    def __init__(self, fds: list[int], ports: set[int]):
        self.fds = fds
        self.ports = ports
        self.closed = False
        self.banned: frozenset[str] = frozenset()

    def shrink_backlog(self, backlog: int = BACKLOG) -> None:
        for fd in self._still_ours():
            _with_socket(fd, lambda s: s.listen(backlog))

    def close(self) -> None:
        self.closed = True
        self._apply()

    def open(self) -> None:
        self.closed = False
        self._apply()

    def ban(self, sources: Iterable[str]) -> None:
        """Hold off new connections from these IPv4 addresses (IPv6 listeners: the door alone)."""
        banned = frozenset(ip for ip in sources if _ipv4(ip))
        if banned != self.banned:
            self.banned = banned
            self._apply()

    def _apply(self) -> None:
        prog, _code = filter_program(self.banned, drop_all=self.closed)     # _code: alive until set
        for fd in self._still_ours():
            _with_socket(fd, lambda s: self._set(s, prog))

    def _set(self, sock: socket.socket, prog: bytes) -> None:
        if self.closed or (self.banned and sock.family == socket.AF_INET):
            sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, prog)
            return
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
        except OSError:
            pass             # no filter on it (ENOENT)

    def _still_ours(self) -> list[int]:
        """The fds that are still those listening sockets (not reused for something else since)."""
        out = []
        for fd in self.fds:
            try:
                if _with_socket(fd, lambda s: _is_listener(s, self.ports)):
                    out.append(fd)
            except OSError:
                pass
        return out


def transport_source(tp: int) -> str | None:
    """The remote IP address of an incoming pjsip TCP/TLS transport, from its info text ("TCP to
    127.0.0.1:5060", checked against its type name); None when it is not one or does not read right."""
    if ctypes.c_int.from_address(tp + _TP_DIR_AT).value != _TP_DIR_INCOMING:
        return None
    type_name, info = _ptr(tp + _TP_TYPE_NAME_AT), _ptr(tp + _TP_INFO_AT)
    if not type_name or not info:
        return None
    prefix = ctypes.string_at(type_name, 16).split(b"\0", 1)[0] + b" to "
    text = ctypes.string_at(info, 64).split(b"\0", 1)[0]
    if not text.startswith(prefix) or len(prefix) > 12:
        return None
    host = text[len(prefix):].decode("latin-1").rsplit(":", 1)[0].strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


_libc = ctypes.CDLL(None, use_errno=True)


def _unfilter(fd: int) -> None:
    """Take the door's filter off a socket just accepted. A connection the kernel made while the filter went
    on (its handshake passed the listener's filter a moment before) is cloned from the listener with the
    filter, and would hear nothing for good."""
    zero = ctypes.c_int(0)
    _libc.setsockopt(fd, socket.SOL_SOCKET, SO_DETACH_FILTER, ctypes.byref(zero), 4)   # ENOENT: it had none


# ----- the guard -----------------------------------------------------------------------------------------
_STATE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)
_ON_ACCEPT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p, ctypes.c_int)
_ON_ACCEPT2 = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p, ctypes.c_int,
                               ctypes.c_int)


class TcpGuard:
    """Closes the door while pjsip's ioqueue has fewer than `close_below` free handles, opens it at `open_at`."""

    def __init__(self, free: Callable[[], int], door: Door, close_below: int = CLOSE_BELOW,
                 open_at: int = OPEN_AT, clock: Callable[[], float] = time.monotonic):
        self._free = free
        self.door = door
        self.close_below = close_below
        self.open_at = max(open_at, close_below + 1)
        self._clock = clock
        self._closed_at = 0.0
        self.closings = 0
        self.closed_s = 0.0            # how long the door has been closed in all
        self.least_free: int | None = None
        self._least_while_closed = 0
        self.share = 4                 # connections one source address may hold (set by install)
        self.held: dict[str, int] = {}       # source address -> incoming connections it holds
        self._sources: dict[int, str] = {}   # pjsip_transport* -> its source address
        self.shut = 0                  # connections shut for going over their source's share
        self._lib: ctypes.CDLL | None = None
        self._tpmgr = None
        self._old_cb = None
        self._cb: Any = None           # the CFUNCTYPE pjsip calls, kept alive here
        self._accept_hooks: list[tuple[int, int, int | None, object]] = []   # (slot address, original, ours, keep)

    @classmethod
    def install(cls, lib: ctypes.CDLL, ports: Iterable[int]) -> TcpGuard | None:
        """The guard of pjsip's TCP/TLS ports `ports`, hooked into pjsip's accept loop; None (and a warning)
        when pjsip's ioqueue or the listening sockets are not found."""
        ports = set(ports)
        try:
            view = IoqueueView.of_pjsip(lib)
        except (AttributeError, OSError, ValueError) as exc:
            log.warning("TCP guard off (%s): quick TCP connections can exhaust pjsip's sockets", exc)
            return None
        fds = listening_fds(ports)
        if not fds:
            log.warning("TCP guard off: no listening socket found for port(s) %s", sorted(ports))
            return None
        door = Door(fds, ports)
        door.shrink_backlog()
        guard = cls(view.free, door)
        guard.share = max(4, int((view.free() - guard.close_below) * SOURCE_SHARE))
        guard._hook(lib)
        guard._hook_accepts(view.listener_sockets(fds))
        log.info("TCP guard: %d listening socket(s), door closes under %d free handles of %d, "
                 "%d connections per source address", len(fds), guard.close_below, view.max, guard.share)
        return guard

    def check(self) -> None:
        """Close or open the door for the handles free now (each turn of the SIP thread's loop)."""
        free = self._free()
        if self.least_free is None or free < self.least_free:
            self.least_free = free
        self._least_while_closed = min(self._least_while_closed, free)
        if not self.door.closed and free < self.close_below:
            try:
                self.door.close()
            except OSError as exc:
                _noise.failed("tcp-door", "closing the SIP TCP door", exc)
                return
            self._closed_at = self._clock()
            self._least_while_closed = free
            self.closings += 1
            _noise.info("tcp-door-closed", "SIP stack short of sockets (%d free): new TCP/TLS connections held off",
                        free)
        elif self.door.closed and free >= self.open_at:
            self.door.open()
            closed_for = self._clock() - self._closed_at
            self.closed_s += closed_for
            _noise.info("tcp-door-open", "SIP TCP/TLS connections taken again (%d sockets free, held off %.1f s, "
                        "%d free at least)", free, closed_for, self._least_while_closed)

    def close(self) -> None:
        """Unhook from pjsip and open the door (before the endpoint is destroyed)."""
        for slot, original, ours, _ in self._accept_hooks:
            if _ptr(slot) == ours:               # still the listener we hooked: give it its own back
                ctypes.c_void_p.from_address(slot).value = original
        self._accept_hooks.clear()
        if self._tpmgr is not None:
            self._lib.pjsip_tpmgr_set_state_cb(self._tpmgr, self._old_cb)
            self._tpmgr = None
        if self.door.closed:
            self.door.open()

    # ----- pjsip's transport-state callback: called right after each accepted connection is registered ---
    def _hook(self, lib: ctypes.CDLL) -> None:
        lib.pjsua_get_pjsip_endpt.restype = ctypes.c_void_p
        lib.pjsip_endpt_get_tpmgr.restype = ctypes.c_void_p
        lib.pjsip_endpt_get_tpmgr.argtypes = [ctypes.c_void_p]
        lib.pjsip_tpmgr_get_state_cb.restype = ctypes.c_void_p
        lib.pjsip_tpmgr_get_state_cb.argtypes = [ctypes.c_void_p]
        lib.pjsip_tpmgr_set_state_cb.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.pjsip_transport_shutdown.argtypes = [ctypes.c_void_p]
        tpmgr = lib.pjsip_endpt_get_tpmgr(lib.pjsua_get_pjsip_endpt())
        if not tpmgr:
            return                   # the loop's checks alone
        old = lib.pjsip_tpmgr_get_state_cb(tpmgr)
        chained = _STATE_CB(old) if old else None

        def on_state(tp: int, state: int, info: int) -> None:
            if chained is not None:
                chained(tp, state, info)       # pjsua's own handling first
            try:
                self.on_transport(tp, state)
                self.check()
            except Exception as exc:     # a bug here must not take pjsip down
                _noise.failed("tcp-guard", "TCP guard", exc)

        self._lib, self._tpmgr, self._old_cb = lib, tpmgr, old
        self._cb = _STATE_CB(on_state)
        lib.pjsip_tpmgr_set_state_cb(tpmgr, ctypes.cast(self._cb, ctypes.c_void_p))

    def _hook_accepts(self, asocks: dict[int, int]) -> None:
        """Check before each connection a listener's accept loop hands to pjsip (TLS too, whose transport
        state is told only after its handshake): the door can close in the middle of a burst."""
        for asock in asocks.values():
            for at, kind in ((_ASOCK_ACCEPT2_AT, _ON_ACCEPT2), (_ASOCK_ACCEPT_AT, _ON_ACCEPT)):  # noqa: B007 (the for-else leaves kind set for below)
                original = _ptr(asock + at)
                if original:
                    break
            else:
                continue
            call = kind(original)

            def before(*args: Any, _call: Any = call) -> Any:
                try:
                    self.check()
                    if self.door.closed and args[1] >= 0 and (len(args) < 5 or args[4] == 0):
                        _unfilter(args[1])
                except Exception as exc:     # a bug here must not take pjsip down
                    _noise.failed("tcp-guard", "TCP guard", exc)
                return _call(*args)
            ours = kind(before)
            address = ctypes.cast(ours, ctypes.c_void_p).value
            ctypes.c_void_p.from_address(asock + at).value = address
            self._accept_hooks.append((asock + at, original, address, (ours, call)))

    def on_transport(self, tp: int, state: int, source: Callable[[int], str | None] = transport_source) -> None:
        """Count the incoming connections of each source address; one over its share is shut at once and the
        source held off at the door until it holds fewer than its share again."""
        if state == _TP_CONNECTED:
            src = source(tp)
            if src is None:
                return
            self._sources[tp] = src
            held = self.held[src] = self.held.get(src, 0) + 1
            if held > self.share:
                self.shut += 1
                if src not in self.door.banned:
                    self.door.ban({*self.door.banned, src})
                    _noise.info("tcp-share", "%s holds %d SIP TCP/TLS connections, more than its share: "
                                "its new ones are held off", src, held - 1)
                if self._lib is not None:
                    self._lib.pjsip_transport_shutdown(tp)
        elif state in (_TP_DISCONNECTED, _TP_DESTROY):
            src = self._sources.pop(tp, None)
            if src is None:
                return
            held = self.held[src] = self.held[src] - 1
            if held <= 0:
                del self.held[src]
            if held < self.share and src in self.door.banned:
                self.door.ban(self.door.banned - {src})
