"""CTI `api-sys_operation` (Grandstream's CTI guide): request=PROV re-runs provisioning, request=REBOOT restarts
the phone process.

REBOOT is real: the daemon stops as on SIGTERM (calls hung up, accounts unregistered, ports closed) and then
execs the same argv again, so the process keeps its PID and comes back with the config file as it is now.
PROV fetches provisioning.config_url again and lays it over the config file, like a start does (nothing is
written to disk): accounts re-register at once, other sections are named as needing a restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

from tuiphone.services.remote_keys import Refused

log = logging.getLogger(__name__)

ANSWER_FIRST_S = 0.3        # REBOOT: the CTI answer goes out before the phone stops


class SysOperations:
    """What api-sys_operation may do to the phone process of a daemon."""

    def __init__(self, phone: Any, config_path: Path):
        self.phone, self.config_path = phone, Path(config_path)
        self.restart_requested = False
        self.stopping: asyncio.Event | None = None      # set by the daemon once its loop runs

    async def run(self, request: str) -> str:
        request = request.strip().upper()
        if request == "REBOOT":
            return self.reboot()
        if request == "PROV":
            return await self.reprovision()
        raise Refused("request must be REBOOT or PROV", 400)

    def reboot(self) -> str:
        if self.stopping is None:
            raise Refused("this phone cannot restart itself in this mode", 409)
        log.warning("CTI: REBOOT requested: the phone restarts")
        self.restart_requested = True
        asyncio.get_running_loop().call_later(ANSWER_FIRST_S, self.stopping.set)
        return "the phone restarts"

    async def reprovision(self) -> str:
        from tuiphone.config import ConfigError, load_config
        from tuiphone.services.provisioning import ProvisioningError, apply_provisioning, fetch
        from tuiphone.web.config_files import Outcome, apply_live

        url = self.phone.config.provisioning.config_url
        if not url:
            raise Refused("provisioning.config_url is not set: there is nothing to provision from", 409)
        try:
            data = await asyncio.to_thread(fetch, url)
            applied = apply_provisioning(data, load_config(self.config_path), url)
        except ProvisioningError as exc:
            raise Refused(f"provisioning from {url} failed: {exc}", 502) from None
        except ConfigError as exc:
            raise Refused(f"provisioning from {url} was not applied: {' '.join(str(exc).split())}", 422) from None
        outcome = Outcome()
        await apply_live(self.phone, applied.config, outcome)
        log.info("CTI: PROV from %s: %d settings changed", url, len(applied.changes))
        return "; ".join([f"{len(applied.changes)} settings changed"] + outcome.applied + outcome.restart)

    def restart_if_asked(self) -> None:
        """After the phone stopped: exec the same command line again (REBOOT); returns when none was asked."""
        if not self.restart_requested:
            return
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, list(sys.orig_argv))
