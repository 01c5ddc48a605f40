"""Kamailio as a registrar/proxy with digest auth, on a loopback port of its own."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

from tests.peers.procs import PeerProcess, free_port, tcp_port_listening

CONFIG = Path(__file__).parent / "kamailio" / "kamailio.cfg"
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
DEFAULT_USERS = {"1001": "pw1001", "1002": "pw1002", "1003": "pw1003"}
DOMAIN = "127.0.0.1"

_VERSION_TABLE = "id(int,auto) table_name(string) table_version(int) \n0:subscriber:7\n0:version:1\n"
_SUBSCRIBER_HEADER = (
    "id(int,auto) username(string) domain(string) password(string) "
    "ha1(string,null) ha1b(string,null) \n"
)


class KamailioFailed(RuntimeError):
    """Kamailio did not start or did not answer; the message carries its log."""


def write_db(db_dir: Path, users: dict[str, str], domain: str = DOMAIN) -> None:
    """Write the db_text ``version`` and ``subscriber`` tables (plain passwords)."""
    db_dir.mkdir(parents=True, exist_ok=True)
    (db_dir / "version").write_text(_VERSION_TABLE)
    rows = "".join(
        f"{n}:{user}:{domain}:{password}::\n"
        for n, (user, password) in enumerate(sorted(users.items()), start=1)
    )
    (db_dir / "subscriber").write_text(_SUBSCRIBER_HEADER + rows)


def check_config(config: Path = CONFIG) -> subprocess.CompletedProcess[str]:
    """Run ``kamailio -c`` on the config; returncode 0 means it parsed."""
    return subprocess.run(
        [KAMAILIO, "-c", "-f", str(config), "-l", "udp:127.0.0.1:5060"],
        capture_output=True,
        text=True,
        timeout=20,
    )


def sip_options_ping(host: str, port: int, timeout: float = 0.5) -> str | None:
    """Send one OPTIONS over UDP to host:port; the first line of the answer, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        sock.settimeout(timeout)
        local_port = sock.getsockname()[1]
        branch = "z9hG4bK" + uuid.uuid4().hex[:16]
        msg = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {host}:{local_port};branch={branch};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@{host}>;tag={uuid.uuid4().hex[:8]}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: {uuid.uuid4().hex}@{host}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        try:
            sock.connect((host, port))      # connected: a closed port is told at once (ICMP), not after `timeout`
            sock.send(msg.encode())
            data, _ = sock.recvfrom(65535)
        except (TimeoutError, ConnectionRefusedError, OSError):
            return None
    return data.decode(errors="replace").split("\r\n", 1)[0]


class Kamailio:
    """One Kamailio registrar/proxy on host:port over UDP and TCP, state in ``state_dir``.

    Users live in domain (and digest realm) ``127.0.0.1``. REGISTER is challenged with
    401, other requests with 407; a wrong password gets "403 Wrong Password" unless
    ``wrong_password="challenge"``, which answers it with a fresh 401/407.
    """

    def __init__(
        self,
        state_dir: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        users: dict[str, str] | None = None,
        wrong_password: str = "403",
        config: Path = CONFIG,
    ) -> None:
        if wrong_password not in ("403", "challenge"):
            raise ValueError('wrong_password must be "403" or "challenge"')
        self.host = host
        self.port = port or free_port("both", host)
        self.domain = DOMAIN
        self.users = dict(users or DEFAULT_USERS)
        self.wrong_password = wrong_password
        self.config = config
        self.state_dir = state_dir
        self.db_dir = state_dir / "db"
        self.run_dir = state_dir / "run"
        self.log_path = state_dir / "kamailio.log"
        self._process: PeerProcess | None = None
        write_db(self.db_dir, self.users, self.domain)
        self.run_dir.mkdir(parents=True, exist_ok=True)

    @property
    def uri(self) -> str:
        """The proxy's own SIP URI, e.g. ``sip:127.0.0.1:40123``."""
        return f"sip:{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process and self._process.running else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def argv(self) -> list[str]:
        """The kamailio command line for this instance."""
        argv = [
            KAMAILIO, "-DD", "-E", "-f", str(self.config),
            "-l", f"udp:{self.host}:{self.port}", "-l", f"tcp:{self.host}:{self.port}",
            "-A", f'DBURL="text://{self.db_dir}"', "-A", f'DOMAIN="{self.domain}"',
            "-P", str(self.run_dir / "kamailio.pid"), "-Y", str(self.run_dir),
            "-w", str(self.state_dir), "-m", "32", "-M", "4", "-n", "2",
        ]
        if self.wrong_password == "challenge":
            argv += ["-A", "WRONG_PASSWORD_CHALLENGES"]
        return argv

    def start(self, timeout: float = 5.0) -> None:
        """Start (or restart, on the same port and state dir) and wait until it answers OPTIONS."""
        if self.running:
            raise RuntimeError(f"kamailio on port {self.port} is already running")
        with open(self.log_path, "a") as log:
            log.write(f"--- start {time.strftime('%H:%M:%S')}: {' '.join(self.argv())}\n")
        self._process = PeerProcess(self.argv(), self.log_path, cwd=self.state_dir)
        self._process.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._process.running:
                raise KamailioFailed(
                    f"kamailio exited with code {self._process.returncode} on port {self.port}:\n"
                    + self.log_text()[-4000:]
                )
            if sip_options_ping(self.host, self.port, timeout=0.2) and tcp_port_listening(
                self.port, self.host
            ):
                return
            time.sleep(0.02)
        self.stop()
        raise KamailioFailed(
            f"kamailio did not answer OPTIONS on {self.host}:{self.port} within {timeout} s:\n"
            + self.log_text()[-4000:]
        )

    def stop(self) -> None:
        """Stop it by PID (SIGTERM, then SIGKILL to its process group)."""
        if self._process is not None:
            self._process.stop(grace=3.0)

    def log_text(self) -> str:
        """Kamailio's log (stderr) across every start."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
