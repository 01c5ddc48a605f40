"""Run SIPp scenarios in the background and read back every message they exchanged."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tests.peers.procs import (
    PeerProcess,
    free_port,
    free_port_block,
    tcp_port_listening,
    udp_port_in_use,
    wait_until,
)

SCENARIOS = Path(__file__).parent / "sipp"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"
BUILTIN_SCENARIOS = ("uac", "uas", "regexp", "branchc", "branchs")

# SIPp's exit codes (sipp(1)): 0 all calls passed, 1 some failed, 97 stopped by command,
# 99 ended with no call processed, 255 fatal error, 254 could not bind its socket
EXIT_MEANINGS = {
    0: "every call passed",
    1: "at least one call failed",
    97: "stopped by an internal command",
    99: "ended without processing a call",
    255: "fatal error",
    254: "could not bind its socket",
}

_SEPARATOR = re.compile(r"^-{20,} .*$", re.MULTILINE)
_HEADING = re.compile(r"^(UDP|TCP|TLS|SCTP) message (sent|received)", re.IGNORECASE)


@dataclass(frozen=True)
class SipMessage:
    """One SIP message SIPp sent or received, as written to its message trace."""

    direction: Literal["sent", "received"]
    first_line: str
    text: str

    @property
    def is_request(self) -> bool:
        return not self.first_line.startswith("SIP/2.0")

    @property
    def method(self) -> str | None:
        """The request method (INVITE, BYE...), or None for a response."""
        return self.first_line.split(" ", 1)[0] if self.is_request else None

    @property
    def status(self) -> int | None:
        """The response code (200, 486...), or None for a request."""
        if self.is_request:
            return None
        return int(self.first_line.split(" ", 2)[1])

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower() + ":"
        for line in self.text.splitlines()[1:]:
            if not line.strip():
                break
            if line.lower().startswith(wanted):
                return line.split(":", 1)[1].strip()
        return None

    @property
    def body(self) -> str:
        parts = re.split(r"\r?\n\r?\n", self.text, maxsplit=1)
        return parts[1] if len(parts) == 2 else ""


def parse_message_trace(text: str) -> list[SipMessage]:
    """Split a SIPp ``-trace_msg`` file into the messages it holds, in order."""
    messages: list[SipMessage] = []
    for chunk in _SEPARATOR.split(text):
        chunk = chunk.strip("\r\n")
        if not chunk:
            continue
        heading, _, rest = chunk.partition("\n")
        found = _HEADING.match(heading.strip())
        if not found:
            continue
        sip_text = rest.lstrip("\r\n")
        first_line = sip_text.split("\n", 1)[0].strip()
        if not first_line:
            continue
        messages.append(SipMessage(found.group(2).lower(), first_line, sip_text))  # type: ignore[arg-type]
    return messages


@dataclass(frozen=True)
class SippResult:
    """What a finished SIPp run did: exit code, its message trace, and its screen/log output."""

    returncode: int | None
    messages_text: str
    messages: list[SipMessage] = field(default_factory=list)
    log: str = ""
    errors: str = ""

    @property
    def passed(self) -> bool:
        """True when SIPp says every call followed the scenario."""
        return self.returncode == 0

    @property
    def meaning(self) -> str:
        if self.returncode is None:
            return "still running"
        if self.returncode < 0:
            return f"stopped by signal {-self.returncode}"
        return EXIT_MEANINGS.get(self.returncode, f"exit code {self.returncode}")

    @property
    def received(self) -> list[str]:
        """First lines of the messages SIPp received, in order."""
        return [m.first_line for m in self.messages if m.direction == "received"]

    @property
    def sent(self) -> list[str]:
        """First lines of the messages SIPp sent, in order."""
        return [m.first_line for m in self.messages if m.direction == "sent"]

    def received_statuses(self) -> list[int]:
        return [m.status for m in self.messages if m.direction == "received" and m.status]

    def sent_statuses(self) -> list[int]:
        return [m.status for m in self.messages if m.direction == "sent" and m.status]

    def find(
        self, direction: Literal["sent", "received"], method: str | None = None, status: int | None = None
    ) -> list[SipMessage]:
        """Messages in one direction, filtered by request method or response code."""
        return [
            m
            for m in self.messages
            if m.direction == direction
            and (method is None or m.method == method)
            and (status is None or m.status == status)
        ]

    def explain(self) -> str:
        """A short account for assertion messages: exit code, what went by, SIPp's errors."""
        lines = [f"sipp exit code {self.returncode} ({self.meaning})"]
        lines += [f"  {m.direction:8} {m.first_line}" for m in self.messages]
        if self.errors.strip():
            lines.append("errors:\n" + self.errors.strip()[-3000:])
        if not self.messages and self.log.strip():
            lines.append("log tail:\n" + self.log.strip()[-1500:])
        return "\n".join(lines)


class Sipp:
    """One SIPp run of one scenario on 127.0.0.1, in the background.

    ``scenario`` is a file name in tests/peers/sipp (``"uas_answer.xml"``), a path, or a
    built-in name (``"uac"``, ``"uas"``). ``remote`` is ``"host:port"`` for a UAC (None for a
    UAS). ``keys`` become ``-key NAME VALUE`` (``[NAME]`` in the scenario).
    """

    def __init__(
        self,
        scenario: str | Path,
        workdir: Path,
        *,
        remote: str | None = None,
        service: str | None = None,
        port: int | None = None,
        media_port: int | None = None,
        transport: Literal["udp", "tcp"] = "udp",
        calls: int = 1,
        timeout: float = 15,
        pause_ms: int | None = None,
        rtp_echo: bool = False,
        auth_user: str | None = None,
        auth_password: str | None = None,
        keys: dict[str, str] | None = None,
        auto_answer: bool = True,
        extra_args: Sequence[str] = (),
        host: str = "127.0.0.1",
    ) -> None:
        self.scenario = scenario
        self.host = host
        self.remote = remote
        self.service = service
        self.transport = transport
        self.port = port or free_port("both" if transport == "tcp" else "udp", host)
        self.media_port = media_port or _free_media_port(host)
        self.calls = calls
        self.timeout = timeout
        self.pause_ms = pause_ms
        self.rtp_echo = rtp_echo
        self.auth_user = auth_user
        self.auth_password = auth_password
        # keywords the scenarios here use, with defaults that fit a loopback test
        self.keys = {
            "caller": "sipp",
            "domain": host,
            "expires": "60",
            "contact": f"{host}:{self.port}",
            **(keys or {}),
        }
        self.auto_answer = auto_answer
        self.extra_args = list(extra_args)
        name = Path(str(scenario)).stem
        self.workdir = workdir / f"sipp-{name}-{self.port}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.message_file = self.workdir / "messages.log"
        self.error_file = self.workdir / "errors.log"
        self.log_path = self.workdir / "sipp.log"
        self._process: PeerProcess | None = None

    @property
    def uri(self) -> str:
        """Where to call this SIPp (as a UAS), e.g. ``sip:sipp@127.0.0.1:40000``."""
        user = self.service or "sipp"
        suffix = ";transport=tcp" if self.transport == "tcp" else ""
        return f"sip:{user}@{self.host}:{self.port}{suffix}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def argv(self) -> list[str]:
        """The sipp command line for this run."""
        argv = [SIPP]
        if self.remote:
            argv.append(self.remote)
        argv += _scenario_args(self.scenario)
        argv += [
            "-nostdin", "-bind_local",
            "-i", self.host, "-p", str(self.port),
            "-mi", self.host, "-mp", str(self.media_port),
            "-t", "t1" if self.transport == "tcp" else "u1",
            "-m", str(self.calls),
            "-timeout", f"{self.timeout}s", "-timeout_error",
            "-trace_msg", "-message_file", str(self.message_file),
            "-trace_err", "-error_file", str(self.error_file),
        ]
        if self.service is not None:
            argv += ["-s", self.service]
        if self.pause_ms is not None:
            argv += ["-d", str(self.pause_ms)]
        if self.rtp_echo:
            argv.append("-rtp_echo")
        if self.auto_answer:
            # INFO (DTMF), NOTIFY, OPTIONS, UPDATE from the phone get 200 instead of failing the call
            argv.append("-aa")
        if self.auth_user is not None:
            argv += ["-au", self.auth_user]
        if self.auth_password is not None:
            argv += ["-ap", self.auth_password]
        for name, value in self.keys.items():
            argv += ["-key", name, value]
        return argv + self.extra_args

    def start(self, ready_timeout: float = 5.0) -> Sipp:
        """Start SIPp and wait until its SIP port is bound (so a UAS can be called at once)."""
        self._process = PeerProcess(self.argv(), self.log_path, cwd=self.workdir)
        self._process.start()
        process = self._process
        bound = wait_until(
            lambda: not process.running or self._port_bound(), ready_timeout, interval=0.02
        )
        # a fast UAC may legitimately finish (even fail a call) in this window; having
        # exchanged no message at all means SIPp itself could not start
        exited_early = not process.running and process.returncode != 0
        if not bound or (exited_early and not self.result().messages):
            result = self.wait(1)
            self.stop()
            raise RuntimeError(
                f"sipp {self.scenario} did not start on {self.address}:\n"
                f"{' '.join(self.argv())}\n{result.explain()}"
            )
        return self

    def _port_bound(self) -> bool:
        if self.transport == "tcp" and not self.remote:
            return tcp_port_listening(self.port, self.host)
        return udp_port_in_use(self.port, self.host) if self.transport == "udp" else True

    def wait(self, timeout: float | None = None) -> SippResult:
        """Wait for SIPp to finish (at most ``timeout`` s, default its own -timeout + 5)."""
        if self._process is None:
            raise RuntimeError("sipp was never started")
        limit = timeout if timeout is not None else self.timeout + 5
        returncode = self._process.wait(limit)
        if returncode is None:
            self.stop()
            returncode = self._process.returncode
        return self.result(returncode)

    def result(self, returncode: int | None = None) -> SippResult:
        """The messages and logs so far (``returncode`` None while it still runs)."""
        text = _read(self.message_file)
        return SippResult(
            returncode=returncode,
            messages_text=text,
            messages=parse_message_trace(text),
            log=_read(self.log_path),
            errors=_read(self.error_file),
        )

    def stop(self) -> None:
        """Stop SIPp by PID (SIGTERM, then SIGKILL)."""
        if self._process is not None:
            self._process.stop(grace=2.0)


def _scenario_args(scenario: str | Path) -> list[str]:
    if str(scenario) in BUILTIN_SCENARIOS:
        return ["-sn", str(scenario)]
    path = Path(scenario)
    if not path.is_absolute():
        path = SCENARIOS / path
    if not path.exists():
        raise FileNotFoundError(f"no SIPp scenario {path}")
    return ["-sf", str(path)]


def _free_media_port(host: str) -> int:
    """An even RTP port with port+1, +2 and +3 free too, none of them a port handed out already: SIPp binds
    its audio RTP/RTCP there and video RTP/RTCP at +2 and +3 (once it got the SIP port it was given, 54764
    with -mp 54762, and could not start)."""
    return free_port_block(host, 4)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
