"""TLS signalling with a verified server certificate, and SRTP media, between tuiphone processes."""

from __future__ import annotations

import subprocess

import pytest

from tests.phoneproc import sip_port
from tuiphone.audio.analysis import dominant_frequency
from tuiphone.audio.wav import read_wav

pytestmark = pytest.mark.peers


def make_cert(folder, name: str) -> tuple[str, str]:
    key, cert = folder / f"{name}.key", folder / f"{name}.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture
def tls_callee(phones, tmp_path):
    cert, key = make_cert(tmp_path, "callee")
    tls_port = sip_port()
    config = {"sip": {"transports": ["udp", "tls"], "tls": {"port": tls_port, "cert_file": cert, "key_file": key}}}
    callee = phones("callee", ["answer", "--tone", "1000", "--timeout", "20", "--json"], config=config, ready=True)
    callee.tls_port = tls_port
    callee.cert = cert
    return callee


def caller_config(callee, ca_file: str, verify: bool = True, srtp: str = "mandatory") -> dict:
    return {"sip": {"transports": ["udp", "tls"], "tls": {"port": 0, "ca_file": ca_file, "verify_server": verify}},
            "accounts": [{"sip_server": f"127.0.0.1:{callee.tls_port}", "user_id": "5", "register": False,
                          "transport": "tls", "srtp": srtp}]}


def test_tls_call_with_mandatory_srtp_is_answered_and_encrypted(tls_callee, phones, tmp_path):
    caller = phones("caller", ["call", f"sip:x@127.0.0.1:{tls_callee.tls_port}", "--account", "1", "--duration", "2",
                               "--record", str(tmp_path / "heard.wav"), "--json"],
                    config=caller_config(tls_callee, tls_callee.cert))
    rc, report = caller.result()
    assert rc == 0, (report, caller.stderr())
    assert report["result"] == "answered"
    trace = caller.trace()
    assert f"OUT TLS to 127.0.0.1:{tls_callee.tls_port}" in trace
    assert "RTP/SAVP" in tls_callee.trace().split("SIP/2.0 200 OK", 1)[1]      # the answer accepted SRTP
    assert abs(dominant_frequency(read_wav(tmp_path / "heard.wav")[4800:], 16000) - 1000) < 20


def test_tls_server_certificate_that_does_not_verify_is_refused(tls_callee, phones, tmp_path):
    other_ca, _ = make_cert(tmp_path, "stranger")
    caller = phones("caller", ["call", f"sip:x@127.0.0.1:{tls_callee.tls_port}", "--account", "1", "--timeout", "8",
                               "--json"], config=caller_config(tls_callee, other_ca))
    rc, report = caller.result()
    assert rc == 1
    assert report["result"] == "failed"
    assert "INVITE sip:" not in tls_callee.trace()


def test_tls_verification_can_be_turned_off(tls_callee, phones, tmp_path):
    other_ca, _ = make_cert(tmp_path, "stranger")
    caller = phones("caller", ["call", f"sip:x@127.0.0.1:{tls_callee.tls_port}", "--account", "1", "--duration", "1",
                               "--json"], config=caller_config(tls_callee, other_ca, verify=False))
    rc, report = caller.result()
    assert rc == 0, report
