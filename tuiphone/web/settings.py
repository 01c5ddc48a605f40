"""The `[web]` config section (issue 16): the web admin served by the phone process.

Defined here until the config package takes it in: `Config.web` is a `WebConfig`, and `web_problems(cfg)`
is the cross-section check (enabling it needs web.password or phone.admin_password).
Only pydantic is imported here, because tuiphone.config imports this module.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _listen(text: str) -> str:
    from tuiphone.config import parse_listen_address   # at validation time: config imports this module

    parse_listen_address(text)      # raises ValueError with a sentence
    return text


class WebConfig(BaseModel):
    """[web] The web admin: Status, Config, Phonebook, Captures, Recordings, Click-to-dial (issue 16)."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)

    enabled: bool = Field(False, description="Serve the web admin from the phone process")
    listen: Annotated[str, AfterValidator(_listen)] = Field(
        "127.0.0.1:8089", description="address:port the web admin listens on")
    password: str = Field("", description='"" = phone.admin_password; enabling with neither set is an error')
    tls_cert: str = Field("", description='PEM certificate file: with tls_key the web admin is https; "" = http')
    tls_key: str = Field("", description='PEM private key file of tls_cert; "" = http')
    session_minutes: int = Field(60, ge=1, le=10080, description="A sign-in lasts this many minutes, 1-10080")


def web_problems(cfg: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """The [web] problems that need the rest of the config (key path, sentence), for Config's check."""
    web = cfg.web
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if web.enabled and not web.password and not cfg.phone.admin_password:
        problems.append((("web", "password"), "is empty and so is phone.admin_password; set one of them, "
                         "or set web.enabled = false"))
    if bool(web.tls_cert) != bool(web.tls_key):
        problems.append((("web", "tls_key" if web.tls_cert else "tls_cert"),
                         "is empty but the other one is set; give both tls_cert and tls_key for https, "
                         "or neither for http"))
    return problems


def web_password(cfg: Any) -> str:
    """The password the web admin asks for."""
    return cfg.web.password or cfg.phone.admin_password
