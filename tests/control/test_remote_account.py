"""An account saved in an attached front-end is applied by the phone process at once, as in the standalone TUI."""

from __future__ import annotations

import time

import pytest

from tuiphone.config import AccountConfig
from tuiphone.control.client import PhoneRefused, RemotePhone

pytestmark = pytest.mark.peers


def test_an_account_added_in_an_attached_front_end_registers_at_kamailio(ctl_daemons, kamailio):
    daemon = ctl_daemons("phone")
    remote = RemotePhone.attach(daemon.config_path)
    try:
        account = AccountConfig(name="Desk", sip_server=f"{kamailio.host}:{kamailio.port}", user_id="1001",
                                password=kamailio.users["1001"], reg_expires=60)
        remote.reconfigure_account(0, account).result(timeout=15)
        deadline = time.monotonic() + 15
        reg = remote.registrations().get(0)
        while time.monotonic() < deadline and not (reg is not None and reg.registered):
            time.sleep(0.1)
            reg = remote.registrations().get(0)
        assert reg is not None and reg.registered and reg.sip_status == 200, reg
        with pytest.raises(PhoneRefused, match="There is no account 5"):
            remote.reconfigure_account(4, account).result(timeout=15)
        bad = remote._op("reconfigure_account", index=0, account={"sip_server": 5})
        with pytest.raises(PhoneRefused, match="The account is not valid: sip_server"):
            bad.result(timeout=15)
    finally:
        remote.detach()
