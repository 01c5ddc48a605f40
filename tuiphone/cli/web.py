"""`tuiphone web`: the phone with its web admin in the foreground, for a quick look (Ctrl-C stops both).

It is `tuiphone daemon` with the web admin on even when web.enabled is false (web.listen and the password
still come from the config); it prints the address to open.
"""

from __future__ import annotations

import sys
from typing import Any

import click


@click.command("web")
@click.pass_obj
def web(common: Any) -> None:
    """Run the phone with its web admin (web.listen) in the foreground until Ctrl-C or SIGTERM."""
    from tuiphone.daemon import run_daemon

    common.web_forced = True
    sys.exit(run_daemon(common))
