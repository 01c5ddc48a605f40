"""Run by test_real_phone.py in a subprocess: the UI over the real Phone and pjsua on 127.0.0.1, port 0.

Prints what the idle screen showed, then "QUIT-OK" once the app has quit and the phone has stopped.
A subprocess keeps a pjsua assertion from taking the test runner down with it.
"""

from __future__ import annotations

import asyncio
import sys

from tuiphone.app import make_app
from tuiphone.config import parse_config_text
from tuiphone.engine.phone import Phone
from tuiphone.engine.sip import PjsuaBackend


async def drive(phone: Phone) -> None:
    app = make_app(phone, phone.config, blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        print(type(app.screen).__name__)
        print("\n".join(strip.text for strip in app.screen._compositor.render_strips()))
        await pilot.press("q")
        await pilot.pause()
    print("RETURN", app.return_code)


def main() -> int:
    config = parse_config_text("[phone]\nidle_text = \"smoke\"\n")
    phone = Phone(config, PjsuaBackend(), port=0, bind="127.0.0.1")
    phone.start()
    try:
        asyncio.run(drive(phone))
    finally:
        phone.stop()
    print("QUIT-OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
