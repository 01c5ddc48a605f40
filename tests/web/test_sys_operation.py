"""CTI api-sys_operation on a real daemon: REBOOT restarts the process for real (the same argv, the same PID),
PROV fetches provisioning.config_url again and applies it; anything else is a 400."""

from __future__ import annotations

import time

import pytest

from tests.services.helpers import daemon_proc, wait_cti


def test_reboot_restarts_the_daemon_and_prov_re_runs_provisioning(tmp_path):
    prov = tmp_path / "prov.toml"
    prov.write_text('[phone]\ntime_format = "24h"\n')
    proc, cti = daemon_proc(tmp_path, "rebooter", {"provisioning": {"config_url": f"file://{prov}"}})
    proc.start()
    try:
        proc.wait_ready()
        wait_cti(cti)
        assert cti.get("api-sys_operation", request="EXPLODE")[0] == 400
        prov.write_text('[phone]\ntime_format = "12h"\n')
        body = cti.ok("api-sys_operation", request="PROV")
        assert "1 settings changed" in body and "[phone] changed" in body
        pid = proc.pid
        assert cti.ok("api-sys_operation", request="REBOOT") == "the phone restarts"
        deadline = time.monotonic() + 40
        while proc.stderr().count("tuiphone daemon: SIP on") < 2:
            assert proc._popen.poll() is None, proc.stderr()
            if time.monotonic() > deadline:
                pytest.fail(f"the daemon did not come back: {proc.stderr()}")
            time.sleep(0.1)
        proc.wait_ready()
        wait_cti(cti)
        assert proc._popen.poll() is None and proc.pid == pid        # exec: the same process, started again
        assert "Traceback" not in proc.stderr()
    finally:
        proc.stop()
    assert proc._popen.returncode == 0
