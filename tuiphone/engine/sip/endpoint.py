"""The pjsua2 Endpoint: creating it with its transports, codecs, INVITE gate and TCP guard, the direct-IP
account, and destroying it all again in the order pjsua needs."""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pjsua2 as pj

from tuiphone.engine.backend import TransportSettings
from tuiphone.engine.capacity import HANDLE_MARGIN, InviteGate, ioqueue_limits
from tuiphone.engine.sip.objects import DIRECT, SOCKETS_PER_CALL, _Account, _Call, _LogWriter
from tuiphone.engine.sip.state import _BackendState
from tuiphone.engine.sip.thread import _noise, log
from tuiphone.engine.tcp_guard import TcpGuard

_TRANSPORT_TYPES = {"udp": pj.PJSIP_TRANSPORT_UDP, "tcp": pj.PJSIP_TRANSPORT_TCP, "tls": pj.PJSIP_TRANSPORT_TLS}
_NAT_TYPES = {pj.PJ_STUN_NAT_TYPE_OPEN: "open", pj.PJ_STUN_NAT_TYPE_BLOCKED: "blocked",
              pj.PJ_STUN_NAT_TYPE_SYMMETRIC_UDP: "symmetric_udp", pj.PJ_STUN_NAT_TYPE_FULL_CONE: "full_cone",
              pj.PJ_STUN_NAT_TYPE_SYMMETRIC: "symmetric", pj.PJ_STUN_NAT_TYPE_RESTRICTED: "restricted",
              pj.PJ_STUN_NAT_TYPE_PORT_RESTRICTED: "port_restricted"}


_libc = ctypes.CDLL(None)
_PORT_ZERO_ATTEMPTS = 20


class _TcpPortTaken(Exception):
    """TCP could not have the port the kernel gave UDP (port 0 asked): pick another pair."""


@contextmanager
def _quiet_stdio() -> Iterator[None]:
    """Send C-level stdout/stderr to /dev/null: pjlib prints a banner with printf before our writer exists."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        _libc.fflush(None)
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


class _Endpoint(_BackendState):
    """PjsuaBackend's endpoint: made on the SIP thread in `_run`, destroyed there after the loop ends."""

    def _create_endpoint(self, s: TransportSettings) -> None:
        with _quiet_stdio():
            ep = pj.Endpoint()
            ep.libCreate()
        self._ep = ep
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = s.user_agent
        cfg.uaConfig.maxCalls = 32
        if s.stun_server:     # pjsua finds the public address with it and detects the NAT type (natGetType)
            cfg.uaConfig.stunServer.append(s.stun_server)
            cfg.uaConfig.stunIgnoreFailure = True
        lc = cfg.logConfig
        self._writer = _LogWriter(self)
        # the endpoint deletes its writer in libDestroy: hand ownership over, or Python deletes it twice
        self._writer.__disown__()
        lc.writer = self._writer
        lc.level = max(4 if s.sip_messages else 2, self._log_level)
        lc.consoleLevel = lc.level
        lc.msgLogging = 1 if s.sip_messages else 0
        cfg.medConfig.clockRate = s.clock_rate
        cfg.medConfig.sndClockRate = s.clock_rate
        cfg.medConfig.noVad = True
        cfg.medConfig.ecTailLen = 0
        ep.libInit(cfg)
        self._create_transports(ep, s)
        ep.audDevManager().setNullDev()
        ep.libStart()
        self._open_gate()
        self._guard_tcp()
        self._set_codecs(ep, s.codecs)
        self._make_direct_account()

    def _open_gate(self) -> None:
        """Refuse INVITEs beyond the phone's capacity before pjsua opens sockets for them (capacity.py)."""
        lib = ctypes.CDLL(pj._pjsua2.__file__)
        limits = ioqueue_limits(lib)
        if limits is not None and not 0 <= limits[1] < limits[0] <= 4096:
            limits = None           # not the select ioqueue's layout: keep the default budget
        if limits is not None:
            handles, used = limits
            self._budget.limit = max(SOCKETS_PER_CALL, min(self._budget.limit, handles - HANDLE_MARGIN - used))
        try:
            self._gate = InviteGate(lib, self._budget)
        except (AttributeError, OSError) as exc:
            log.warning("%s: floods of INVITEs can exhaust pjsua's sockets", exc)
            return
        log.info("capacity: %d calls at once, %d media sockets (ioqueue %s)", self._gate.max_calls,
                 self._budget.limit, "{} handles, {} in use".format(*limits) if limits else "unknown")

    def _guard_tcp(self) -> None:
        """Hold off new TCP/TLS connections while pjsip is short of socket handles (tcp_guard.py)."""
        ports = {int(self._local_names[t].rsplit(":", 1)[1]) for t in ("tcp", "tls") if t in self._local_names}
        if ports:
            self._tcp_guard = TcpGuard.install(ctypes.CDLL(pj._pjsua2.__file__), ports)

    def max_calls(self) -> int:
        """How many calls pjsua holds at once (PJSUA_MAX_CALLS of the build caps uaConfig.maxCalls)."""
        return self._gate.max_calls if self._gate is not None else 4

    def _create_transports(self, ep: pj.Endpoint, s: TransportSettings) -> None:
        """Open UDP and TCP on one port. On port 0 the kernel picks UDP's; TCP on that number may be
        some other program's (an ephemeral port of a TCP connection), so pick again a few times."""
        for attempt in range(_PORT_ZERO_ATTEMPTS if s.port == 0 else 1):
            try:
                self._create_udp_tcp(ep, s)
                break
            except _TcpPortTaken as taken:
                for tid in self._transports.values():
                    ep.transportClose(tid)
                self._transports.clear()
                self._local_names.clear()
                if attempt == _PORT_ZERO_ATTEMPTS - 1:
                    raise OSError(str(taken)) from None
        if "udp" in self._local_names:
            wake_host = s.bind_address if s.bind_address and ":" not in s.bind_address else "127.0.0.1"
            if wake_host in ("0.0.0.0", ""):
                wake_host = "127.0.0.1"
            self._wake_sock.bind((wake_host, 0))     # unbound, sendto would open it on 0.0.0.0
            self._wake_addr = (wake_host, int(self._local_names["udp"].rsplit(":", 1)[1]))
        self._create_tls(ep, s)

    def _create_udp_tcp(self, ep: pj.Endpoint, s: TransportSettings) -> None:
        port = s.port
        for name in ("udp", "tcp"):
            if name not in s.transports:
                continue
            tc = pj.TransportConfig()
            tc.port = port
            if s.bind_address:
                tc.boundAddress = s.bind_address
                tc.publicAddress = s.bind_address
            try:
                tid = ep.transportCreate(_TRANSPORT_TYPES[name], tc)
            except pj.Error as exc:
                sentence = f"cannot open the SIP {name.upper()} port {port}: {exc.reason}"
                if name == "tcp" and s.port == 0 and "udp" in self._transports:
                    raise _TcpPortTaken(sentence) from None
                raise OSError(sentence) from None
            self._transports[name] = tid
            self._local_names[name] = ep.transportGetInfo(tid).localName
            if port == 0:  # the next transport shares the port the first one got
                port = int(ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])

    def _create_tls(self, ep: pj.Endpoint, s: TransportSettings) -> None:
        if "tls" in s.transports:
            tc = pj.TransportConfig()
            tc.port = s.tls_port
            if s.bind_address:
                tc.boundAddress = s.bind_address
                tc.publicAddress = s.bind_address
            tls = tc.tlsConfig
            tls.verifyServer = s.tls_verify_server
            tls.CaListFile = s.tls_ca_file
            tls.certFile = s.tls_cert_file
            tls.privKeyFile = s.tls_key_file
            tls.method = pj.PJSIP_TLSV1_2_METHOD if hasattr(pj, "PJSIP_TLSV1_2_METHOD") else tls.method
            try:
                self._transports["tls"] = ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tc)
                self._local_names["tls"] = ep.transportGetInfo(self._transports["tls"]).localName
            except pj.Error as exc:
                raise OSError(f"cannot open the SIP TLS port {s.tls_port}: {exc.reason}") from None

    def _set_codecs(self, ep: pj.Endpoint, codecs: tuple[str, ...]) -> None:
        wanted = [c.lower() for c in codecs]
        for info in ep.codecEnum2():
            name = info.codecId.split("/", 1)[0].lower()
            prio = 0
            if name in wanted:
                prio = 250 - wanted.index(name) * 10
                if name == "speex" and "/8000/" not in info.codecId:
                    prio -= 5
            ep.codecSetPriority(info.codecId, prio)

    def _make_direct_account(self) -> None:
        host = self.local_address("udp" if "udp" in self._transports else next(iter(self._transports)))
        cfg = pj.AccountConfig()
        cfg.idUri = f"sip:tuiphone@{host}"
        # direct calls accept an SRTP offer (a secure caller is not turned away) and offer it optionally
        # (unless the settings say not to offer it: then they are plain RTP, as trunks carry)
        cfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_OPTIONAL if self._settings.offer_srtp else pj.PJMEDIA_SRTP_DISABLED
        cfg.mediaConfig.srtpSecureSignaling = 0
        # one crypto suite keeps the INVITE under the 1300-byte line past which pjsip moves it to TCP
        crypto = pj.SrtpCrypto()
        crypto.name = "AES_CM_128_HMAC_SHA1_80"
        cfg.mediaConfig.srtpOpt.cryptos.append(crypto)
        self._media_bind(cfg)
        acc = _Account(self, DIRECT)
        acc.create(cfg, True)
        self._accounts[DIRECT] = acc

    def _media_bind(self, cfg: pj.AccountConfig) -> None:
        if self._settings.bind_address:
            cfg.mediaConfig.transportConfig.boundAddress = self._settings.bind_address
            cfg.mediaConfig.transportConfig.publicAddress = self._settings.bind_address
        cfg.mediaConfig.transportConfig.port = self._settings.rtp_port
        cfg.mediaConfig.transportConfig.portRange = self._settings.rtp_port_range

    def _destroy(self) -> None:
        if self._native is not None:
            self._native.close()       # the sound card's callbacks stop using it before pjsua goes
            self._native = None
        for call in self._calls.values():
            self._drop_port(call)
        self._close_load_media()
        if self._ep is not None:
            try:
                self._ep.audDevManager().setNoDev()    # stops the media clock: no port callback runs after this
            except pj.Error:
                pass
        time.sleep(0.05)        # a clock tick or two: no port callback may still be running below
        self._local = None
        self._spare_ports.clear()
        self._buddies.clear()
        self._wake_addr = None
        self._calls.clear()
        self._ended.clear()
        self._pending_new.clear()
        for acc in (*self._accounts.values(), *self._anonymous.values(), *self._retired):
            try:
                acc.shutdown()
            except pj.Error:
                pass
        self._accounts.clear()
        self._anonymous.clear()
        self._retired.clear()
        gc.collect()
        # A Call still referenced elsewhere (say, by a traceback) must not run its C++ destructor
        # after libDestroy: pjsua asserts. Let such survivors leak instead.
        for call in list(_Call.live):
            call.thisown = False
        if self._tcp_guard is not None:
            self._tcp_guard.close()
            self._tcp_guard = None
        if self._gate is not None:
            self._gate.close()
            self._gate = None
        if self._ep is not None:
            try:
                # with nothing registered there is nothing to wait for: skip pjsua's ~1 s of draining
                self._ep.libDestroy(0 if self._registered else pj.PJSUA_DESTROY_NO_RX_MSG)
            except pj.Error:
                pass
            self._ep = None
        self._writer = None
        _noise.flush()          # say how many of pjsip's lines on bad packets were left out

    def nat_type(self) -> str:
        """The NAT type pjsua detected with the STUN server (call on the SIP thread): "open", "full_cone",
        "restricted", "port_restricted", "symmetric", "symmetric_udp", "blocked", or "detecting",
        "failed", "off" (no STUN server)."""
        if not self._settings.stun_server or self._ep is None:
            return "off"
        try:
            kind = self._ep.natGetType()
        except pj.Error as exc:
            return "detecting" if exc.status == 70002 else "failed"     # 70002: PJ_EPENDING
        return _NAT_TYPES.get(kind, "failed")

    def local_address(self, transport: str = "udp") -> str:
        """host:port of a transport; safe from any thread (read once when the transport opened)."""
        if transport not in self._local_names:
            raise KeyError(f"transport {transport} is not enabled")
        return self._local_names[transport]
