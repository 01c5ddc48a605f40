"""The [web] config section: defaults, and the sentences of a config that cannot enable it."""

from __future__ import annotations

import pytest

from tuiphone.config import Config, ConfigError, parse_config_text
from tuiphone.web.settings import web_password


def test_defaults_keep_the_web_admin_off_on_loopback():
    web = Config().web
    assert (web.enabled, web.listen, web.password, web.tls_cert, web.tls_key, web.session_minutes) == (
        False, "127.0.0.1:8089", "", "", "", 60)


def test_enabling_without_any_password_is_a_config_error_sentence():
    with pytest.raises(ConfigError) as caught:
        parse_config_text("[web]\nenabled = true\n", "c.toml")
    assert str(caught.value) == ("c.toml: web.password: is empty and so is phone.admin_password; set one of them, "
                                 "or set web.enabled = false")
    assert web_password(parse_config_text('[phone]\nadmin_password = "a"\n[web]\nenabled = true\n')) == "a"
    assert web_password(parse_config_text('[phone]\nadmin_password = "a"\n[web]\npassword = "w"\n')) == "w"


@pytest.mark.parametrize("text, words", [
    ('[web]\nlisten = "localhost"\n', "web.listen: must be an address and port"),
    ('[web]\ntls_cert = "c.pem"\n', "web.tls_key: is empty but the other one is set"),
    ('[web]\nsession_minutes = 0\n', "web.session_minutes"),
    ('[web]\nenable = true\n', "web.enable"),
])
def test_bad_web_keys_are_named(text, words):
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, "c.toml")
    assert words in str(caught.value)
