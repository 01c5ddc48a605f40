"""baresip as a real softphone peer: plays a tone WAV, records what it hears, dialled over ctrl_tcp."""

from __future__ import annotations

import json
import re
import shutil
import socket
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.peers.audio_check import write_tone_wav
from tests.peers.procs import (
    PeerProcess,
    free_port,
    tcp_port_free,
    tcp_port_listening,
    udp_port_in_use,
    wait_until,
)

BARESIP = shutil.which("baresip") or "/usr/bin/baresip"
MODULE_PATH = "/usr/lib/baresip/modules"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class BaresipFailed(RuntimeError):
    """baresip did not start, did not answer a command, or no event came; carries its log."""


@dataclass
class ControlChannel:
    """baresip's ctrl_tcp: netstring-framed JSON commands, responses and events."""

    host: str
    port: int
    events: list[dict[str, Any]] = field(default_factory=list)
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._sock = socket.create_connection((self.host, self.port), timeout=2)
        self._sock.settimeout(0.2)
        self._lock = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read_loop, name="baresip-ctrl", daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        buffer = b""
        while not self._closed:
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            buffer += chunk
            while True:
                message, buffer = _take_netstring(buffer)
                if message is None:
                    break
                self._deliver(message)
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def _deliver(self, raw: bytes) -> None:
        try:
            message = json.loads(raw.decode(errors="replace"))
        except json.JSONDecodeError:
            return
        with self._lock:
            if message.get("response") and "token" in message:
                self.responses[message["token"]] = message
            elif message.get("event"):
                self.events.append(message)
            self._lock.notify_all()

    def command(self, command: str, params: str | None = None, timeout: float = 3.0) -> dict[str, Any]:
        """Run a baresip long command ("dial", "hangup", "quit"...) and return its response."""
        token = uuid.uuid4().hex[:12]
        payload: dict[str, str] = {"command": command, "token": token}
        if params is not None:
            payload["params"] = params
        data = json.dumps(payload).encode()
        self._sock.sendall(str(len(data)).encode() + b":" + data + b",")
        with self._lock:
            if not self._lock.wait_for(lambda: token in self.responses or self._closed, timeout):
                raise TimeoutError(f"baresip gave no response to {command!r} in {timeout} s")
            if token not in self.responses:
                raise ConnectionError(f"baresip closed its control connection during {command!r}")
            return self.responses.pop(token)

    def wait_event(self, event_type: str, timeout: float, start: int = 0) -> dict[str, Any] | None:
        """The first event of ``event_type`` (e.g. "CALL_ESTABLISHED") from index ``start``."""
        def found() -> dict[str, Any] | None:
            for event in self.events[start:]:
                if event.get("type") == event_type:
                    return event
            return None

        with self._lock:
            self._lock.wait_for(lambda: found() is not None or self._closed, timeout)
            return found()

    def close(self) -> None:
        self._closed = True
        try:
            self._sock.close()
        except OSError:
            pass
        self._reader.join(timeout=1)


def _free_sip_port(host: str) -> int:
    """A port free for UDP and TCP whose next port is free for TCP: baresip listens on
    UDP and TCP at its SIP port and on the next port for TLS."""
    for _ in range(50):
        port = free_port("both", host)
        if port < 65535 and tcp_port_free(port + 1, host):
            return port
    raise RuntimeError(f"no free SIP port pair for baresip on {host}")


def _take_netstring(buffer: bytes) -> tuple[bytes | None, bytes]:
    """Split one ``len:payload,`` netstring off the front of ``buffer``."""
    colon = buffer.find(b":")
    if colon < 0:
        return None, buffer
    length = int(buffer[:colon])
    end = colon + 1 + length
    if len(buffer) < end + 1:
        return None, buffer
    return buffer[colon + 1:end], buffer[end + 1:]


class Baresip:
    """One baresip softphone on 127.0.0.1 with a private config dir.

    It plays ``tone_path`` (a sine of ``tone_hz``) into every call and records what it
    receives into ``record_dir`` (``*-dec.wav``; ``*-enc.wav`` is what it sent). With no
    ``registrar`` it does not register and answers calls to ``uri`` by itself; with one,
    it registers ``user`` / ``password`` there (``regint`` seconds) and still auto-answers.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        user: str = "baresip",
        password: str | None = None,
        registrar: str | None = None,
        regint: int = 60,
        answer: str = "auto",
        tone_hz: float = 1000.0,
        sample_rate: int = 8000,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.user = user
        self.password = password
        self.registrar = registrar
        self.regint = regint
        self.answer = answer
        self.tone_hz = tone_hz
        self.sip_port = _free_sip_port(host)
        self.ctrl_port = free_port("tcp", host)
        rtp = free_port("udp", host)
        # a private RTP range: baresip picks ports from it for each call
        self.rtp_ports = (rtp, rtp + 40)
        self.config_dir = workdir / f"baresip-{user}-{self.sip_port}"
        self.record_dir = self.config_dir / "recordings"
        self.record_dir.mkdir(parents=True, exist_ok=True)
        # baresip's sndfile cuts file names at 128 bytes (the -dec.wav suffix goes first), so it writes
        # through a short link to the recordings folder; the link goes at stop()
        self._short_link = Path(tempfile.mkdtemp(prefix="bs-")) / "r"
        self._short_link.symlink_to(self.record_dir)
        self.tone_path = write_tone_wav(
            self.config_dir / "tone.wav", tone_hz, seconds=30.0, rate=sample_rate
        )
        self.log_path = self.config_dir / "baresip.log"
        self._process: PeerProcess | None = None
        self.control: ControlChannel | None = None
        self._write_config()

    @property
    def uri(self) -> str:
        """Where to call this baresip directly, e.g. ``sip:baresip@127.0.0.1:40100``."""
        return f"sip:{self.user}@{self.host}:{self.sip_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def account_line(self) -> str:
        """The line for baresip's ``accounts`` file."""
        params = [f"answermode={self.answer}", "audio_codecs=PCMU,PCMA"]
        if self.registrar:
            # the registrar's host:port in the address of record: REGISTER and calls go there
            aor = f"sip:{self.user}@{self.registrar}"
            params.append(f"regint={self.regint}")
            if self.password is not None:
                params.append(f"auth_pass={self.password}")
        else:
            aor = f"sip:{self.user}@{self.host}:{self.sip_port}"
            params.append("regint=0")
        return f"<{aor}>;" + ";".join(params) + "\n"

    def _write_config(self) -> None:
        config = f"""\
poll_method		epoll
sip_listen		{self.host}:{self.sip_port}
call_local_timeout	120
call_max_calls		4
audio_player		aubridge,null
audio_source		aufile,{self.tone_path}
audio_alert		aubridge,null
rtp_ports		{self.rtp_ports[0]}-{self.rtp_ports[1]}
rtcp_mux		no
jitter_buffer_delay	5-10
# loopback only: SDP and SIP carry 127.0.0.1, and no DNS leaves the box
net_interface		{self.host}
dns_server		127.0.0.1:53
module_path		{MODULE_PATH}
module			g711.so
module			aufile.so
module			aubridge.so
module			sndfile.so
module_tmp		uuid.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		{self.host}:{self.ctrl_port}
snd_path		{self._short_link}
"""
        (self.config_dir / "config").write_text(config)
        (self.config_dir / "accounts").write_text(self.account_line())
        (self.config_dir / "contacts").write_text("")

    def start(self, timeout: float = 5.0) -> Baresip:
        """Start baresip, connect to its control port, and (with a registrar) wait for REGISTER_OK."""
        self._process = PeerProcess(
            [BARESIP, "-f", str(self.config_dir)], self.log_path, cwd=self.config_dir
        )
        self._process.start()
        process = self._process
        ready = wait_until(
            lambda: not process.running
            or (udp_port_in_use(self.sip_port, self.host) and tcp_port_listening(self.ctrl_port, self.host)),
            timeout,
        )
        if not process.running or not ready:
            self.stop()
            raise BaresipFailed(f"baresip did not start on {self.uri}:\n{self.log_text()[-3000:]}")
        self.control = ControlChannel(self.host, self.ctrl_port)
        if self.registrar:
            # REGISTER_OK may fire before the control connection exists, so ask instead
            wait_until(lambda: self.registration() != "", timeout, interval=0.1)
            if self.registration() != "OK":
                state = self.registration() or "no answer"
                self.stop()
                raise BaresipFailed(
                    f"baresip {self.user} did not register at {self.registrar} ({state}):\n"
                    f"{self.log_text()[-3000:]}"
                )
        return self

    def registration(self) -> str:
        """"OK" when registered, "ERR" when the registrar refused, "" while unknown."""
        text = _ANSI.sub("", str(self._control().command("reginfo").get("data", "")))
        found = re.search(r"^> \S+\s+(OK|ERR)\b", text, re.MULTILINE)
        return found.group(1) if found else ""

    def _control(self) -> ControlChannel:
        if self.control is None:
            raise BaresipFailed("baresip is not running")
        return self.control

    def dial(self, uri: str) -> dict[str, Any]:
        """Call ``uri``; the ctrl_tcp response."""
        response = self._control().command("dial", uri)
        if not response.get("ok"):
            raise BaresipFailed(f"baresip refused to dial {uri}: {response.get('data')}")
        return response

    def hangup(self) -> dict[str, Any]:
        """Hang up the current call."""
        return self._control().command("hangup")

    def accept(self) -> dict[str, Any]:
        """Answer the ringing call (for ``answer="manual"``)."""
        return self._control().command("accept")

    def command(self, command: str, params: str | None = None) -> dict[str, Any]:
        """Any baresip long command, e.g. ``command("hold")``."""
        return self._control().command(command, params)

    def wait_event(self, event_type: str, timeout: float = 5.0) -> dict[str, Any] | None:
        """The first event of ``event_type`` seen so far or within ``timeout`` s, else None."""
        return self._control().wait_event(event_type, timeout)

    def events(self) -> list[str]:
        """The event types seen so far, in order."""
        return [str(e.get("type")) for e in (self.control.events if self.control else [])]

    def received_wavs(self) -> list[Path]:
        """Recordings of what baresip received (decoded), one per call."""
        # sndfile may add the .wav suffix only when it closes the file
        return sorted(self.record_dir.glob("*-dec.wav")) or sorted(self.record_dir.glob("*-dec"))

    def sent_wavs(self) -> list[Path]:
        """Recordings of what baresip sent (before encoding), one per call."""
        return sorted(self.record_dir.glob("*-enc.wav")) or sorted(self.record_dir.glob("*-enc"))

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """Stop by PID: SIGTERM, a short wait (it lingers while unregistering), then SIGKILL."""
        if self.control is not None:
            self.control.close()
            self.control = None
        if self._process is not None:
            self._process.stop(grace=1.0)
        shutil.rmtree(self._short_link.parent, ignore_errors=True)
