"""What the web admin asks for at sign-in (the [web] section itself is in tuiphone/config/service_schema.py)."""

from __future__ import annotations

from typing import Any


def web_password(cfg: Any) -> str:
    """The password the web admin asks for: web.password, or phone.admin_password when that is empty."""
    return str(cfg.web.password or cfg.phone.admin_password)
