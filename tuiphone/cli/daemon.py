"""`tuiphone daemon`: the phone with no UI until SIGTERM (the phone process itself is tuiphone/daemon.py)."""

from __future__ import annotations

import sys

import click

from tuiphone.cli.common import RunOptions


@click.command()
@click.pass_obj
def daemon(opts: RunOptions) -> None:
    """Run the phone with no UI (CTI, Action URLs, syslog, auto-answer per config) until SIGTERM."""
    from tuiphone.daemon import run_daemon

    sys.exit(run_daemon(opts))
