"""Programs the tests drive that `scripts/test` installs: a missing one fails the test with what to install,
never skips it (a skip would hide that the behaviour went untested)."""

from __future__ import annotations

import shutil

import pytest


def require_tool(name: str, package: str) -> str:
    """The path of program `name`; the test fails, naming the Debian package, when it is not installed."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: install the Debian package {package} (./scripts/test does)",
                    pytrace=False)
    return path
