"""Syslog: log records at the chosen level and SIP messages (when on) reach UDP and TCP listeners on loopback."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time

import pytest

from tuiphone.engine.events import SipMessage
from tuiphone.services.syslog import SyslogSender, split_server

INVITE = SipMessage(time=1700000000.0, direction="out", transport="UDP", remote="127.0.0.1:5070",
                    first_line="INVITE sip:200@127.0.0.1 SIP/2.0", call_id="c1",
                    text="INVITE sip:200@127.0.0.1 SIP/2.0\r\nCall-ID: c1\r\n\r\n")
LINE = re.compile(rb"^<(\d+)>1 (\S+) (\S+) tuiphone (\d+) (\S+) - (.*)$", re.DOTALL)


def udp_listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.3)
    return sock


def received(sock: socket.socket, wait_s: float = 1.0) -> list[tuple[int, str, str]]:
    """(priority, msgid, text) of every datagram that arrives within wait_s."""
    out = []
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65535)
        except TimeoutError:
            continue
        m = LINE.match(data)
        assert m, data
        out.append((int(m.group(1)), m.group(5).decode(), m.group(6).decode()))
    return out


def test_records_at_the_level_and_sip_messages_go_over_udp():
    sock = udp_listener()
    sender = SyslogSender("127.0.0.1", sock.getsockname()[1], "udp", "info", sip_messages=True, hostname="desk")
    sender.start()
    try:
        logging.getLogger("tuiphone.test").info("hello 你好")
        logging.getLogger("tuiphone.test").debug("too chatty")
        logging.getLogger("tuiphone.test").error("it broke")
        sender.sip_message(INVITE)
        got = received(sock)
    finally:
        sender.stop()
        sock.close()
    assert got == [(134, "-", "tuiphone.test: hello 你好"), (131, "-", "tuiphone.test: it broke"),
                   (134, "SIP", "OUT UDP to 127.0.0.1:5070\nINVITE sip:200@127.0.0.1 SIP/2.0\r\nCall-ID: c1")]


def test_sip_messages_off_and_a_higher_level_send_less():
    sock = udp_listener()
    sender = SyslogSender("127.0.0.1", sock.getsockname()[1], "udp", "error", sip_messages=False)
    root_level = logging.getLogger().level
    sender.start()
    try:
        logging.getLogger("tuiphone.test").warning("a warning")
        logging.getLogger("tuiphone.test").error("an error")
        sender.sip_message(INVITE)
        got = received(sock, 0.6)
    finally:
        sender.stop()
        sock.close()
    assert [text for _, _, text in got] == ["tuiphone.test: an error"]
    assert logging.getLogger().level == root_level


def test_sip_messages_only_when_the_level_is_off():
    sock = udp_listener()
    sender = SyslogSender("127.0.0.1", sock.getsockname()[1], "udp", "off", sip_messages=True)
    sender.start()
    try:
        logging.getLogger("tuiphone.test").error("not sent")
        sender.sip_message(INVITE)
        got = received(sock, 0.6)
    finally:
        sender.stop()
        sock.close()
    assert [msgid for _, msgid, _ in got] == ["SIP"]


def test_tcp_frames_are_octet_counted():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    chunks: list[bytes] = []

    def accept() -> None:
        conn, _ = server.accept()
        conn.settimeout(2)
        while True:
            try:
                data = conn.recv(65535)
            except TimeoutError:
                break
            if not data:
                break
            chunks.append(data)
        conn.close()
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    sender = SyslogSender("127.0.0.1", server.getsockname()[1], "tcp", "info", sip_messages=True)
    sender.start()
    logging.getLogger("tuiphone.test").warning("first\nwith a newline")
    sender.sip_message(INVITE)
    sender.stop()
    thread.join(5)
    server.close()
    stream, frames = b"".join(chunks), []
    while stream:
        length, _, rest = stream.partition(b" ")
        frames.append(rest[:int(length)])
        stream = rest[int(length):]
    assert [LINE.match(f).group(6) for f in frames] == [
        b"tuiphone.test: first\nwith a newline",
        b"OUT UDP to 127.0.0.1:5070\nINVITE sip:200@127.0.0.1 SIP/2.0\r\nCall-ID: c1"]


def test_an_unreachable_tcp_server_is_reported_once(caplog):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()                       # nothing listens here now
    caplog.set_level(logging.WARNING, logger="tuiphone.services.syslog")
    sender = SyslogSender("127.0.0.1", port, "tcp", "info")
    sender.start()
    for n in range(3):
        logging.getLogger("tuiphone.test").warning("lost %d", n)
    time.sleep(0.3)
    sender.stop(timeout=3)
    complaints = [r for r in caplog.records if "cannot send logs to the syslog server" in r.getMessage()]
    assert len(complaints) == 1
    assert f"127.0.0.1:{port} over TCP" in complaints[0].getMessage()


@pytest.mark.parametrize("text, expected", [("logs.example.com", ("logs.example.com", 514)),
                                            ("10.0.0.9:1514", ("10.0.0.9", 1514)), ("[::1]:601", ("::1", 601)),
                                            ("[::1]", ("::1", 514))])
def test_server_address_forms(text, expected):
    assert split_server(text) == expected
