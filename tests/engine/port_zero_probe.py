"""Run by test_port_zero.py inside a network namespace: start the real backend on port 0, print its ports."""

from __future__ import annotations

import sys

from tuiphone.config import parse_config_text
from tuiphone.engine.phone import Phone
from tuiphone.engine.sip import PjsuaBackend


def main() -> int:
    phone = Phone(parse_config_text(""), PjsuaBackend(), port=0, bind="127.0.0.1")
    try:
        phone.start()
    except OSError as exc:
        print("ERROR", exc)
        return 1
    try:
        backend = phone.backend
        print("PORTS", backend.local_address("udp"), backend.local_address("tcp"))
    finally:
        phone.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
