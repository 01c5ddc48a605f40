"""Settings › Network & Wi-Fi: SIP port, random port, bind address, transports, STUN server and RTP ports,
checked as the config file is, saved at once and marked "applies after restart"; the NAT type with STUN."""

from __future__ import annotations

from tests.tui.conftest import ACCOUNTS, build, screen_text, until
from tuiphone.config import load_config
from tuiphone.screens.network_settings import NetworkSettingsScreen
from tuiphone.screens.prompt import ChoiceScreen, TextPromptScreen
from tuiphone.screens.wifi import WifiScreen


def flat(app) -> str:
    return " ".join(screen_text(app).replace("▌", " ").split())


def said(app) -> str:
    """The toasts and a prompt's error line, whole (a toast's border cuts its lines on screen)."""
    texts = [n.message for n in app._notifications]
    if isinstance(app.screen, TextPromptScreen):
        texts.append(str(app.screen.query_one("#prompt-error").render()))
    return " ".join(" ".join(texts).split())


def entries(app) -> list[str]:
    return [entry.text() for entry in app.screen.entries]


async def open_network(pilot, app) -> None:
    await pilot.press("m", "8", "3")
    await until(pilot, lambda: isinstance(app.screen, NetworkSettingsScreen))


async def test_network_settings_show_every_sip_setting_and_when_it_applies():
    app, _ = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_network(pilot, app)
        assert entries(app) == ["SIP port: 5060", "Random SIP port at each start: Off",
                                "Bind address: all interfaces", "Transports: UDP, TCP", "STUN server: none",
                                "RTP ports: any free port", "Wi-Fi networks"]
        text = flat(app)
        assert "SIP listens on 127.0.0.1:5060 now." in text
        assert "These settings are saved at once and apply when tuiphone starts again." in text
        assert "NAT type" not in text           # only with a STUN server
        await pilot.press("7")
        assert isinstance(app.screen, WifiScreen)


async def test_a_changed_port_is_saved_in_place_and_says_it_applies_after_restart(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("# hand-written\n[sip]\nport = 5060  # the usual\n" + ACCOUNTS)
    app, _ = build(path.read_text(), config_path=path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_network(pilot, app)
        await pilot.press("1")
        assert isinstance(app.screen, TextPromptScreen)
        await pilot.press("ctrl+u", *"99999", "enter")
        await until(pilot, lambda: "sip.port: must be between 0 and 65535 (got 99999)." in said(app))
        await pilot.press("ctrl+u", *"5070", "enter")
        await until(pilot, lambda: isinstance(app.screen, NetworkSettingsScreen))
        await until(pilot, lambda: entries(app)[0] == "SIP port: 5070 — applies after restart")
        await pilot.press("2")
        await until(pilot, lambda: entries(app)[1] == "Random SIP port at each start: On — applies after restart")
        await pilot.press("1", "ctrl+u", *"5060", "enter")      # back to the running value: nothing to wait for
        await until(pilot, lambda: entries(app)[0] == "SIP port: 5060")
    assert path.read_text().startswith("# hand-written\n[sip]\nport = 5060  # the usual\nrandom_port = true")
    assert load_config(path).sip.random_port is True


async def test_transports_and_rtp_ports_are_checked_as_the_config_is(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(ACCOUNTS)
    app, _ = build(config_path=path)
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await open_network(pilot, app)
        await pilot.press("4")
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("3")                    # TCP only: the accounts use UDP
        await until(pilot, lambda: 'accounts[0].transport: is "udp" but sip.transports does not open it' in said(app))
        assert app.config.sip.transports == ["udp", "tcp"]
        await pilot.press("4", "4")               # UDP, TCP and TLS
        await until(pilot, lambda: entries(app)[3] == "Transports: UDP, TCP, TLS — applies after restart")
        await pilot.press("6")
        await pilot.press(*"20000-20000", "enter")
        await until(pilot, lambda: "sip.rtp_port_max: must be above rtp_port_min (20000)" in said(app))
        await pilot.press("ctrl+u", *"5000-6000", "enter")
        await until(pilot, lambda: "includes sip.port (5060)" in said(app))
        await pilot.press("ctrl+u", *"20000-20100", "enter")
        await until(pilot, lambda: entries(app)[5] == "RTP ports: 20000–20100 — applies after restart")
    saved = load_config(path).sip
    assert (saved.transports, saved.rtp_port_min, saved.rtp_port_max) == (["udp", "tcp", "tls"], 20000, 20100)


async def test_bind_address_is_chosen_from_the_interfaces_or_typed():
    app, _ = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_network(pilot, app)
        await pilot.press("3")
        assert isinstance(app.screen, ChoiceScreen)
        assert app.screen.choices[0] == "all interfaces" and "127.0.0.1 (lo)" in app.screen.choices
        await pilot.press("down")
        while app.screen.choices[app.screen.query_one("OptionList").highlighted] != "127.0.0.1 (lo)":
            await pilot.press("down")
        await pilot.press("enter")
        await until(pilot, lambda: entries(app)[2] == "Bind address: 127.0.0.1 — applies after restart")
        await pilot.press("3", "end", "enter")   # Type an address…
        await until(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        await pilot.press("ctrl+u", *"lan0", "enter")
        await until(pilot, lambda: "sip.bind_address: must be an IP address of this machine" in said(app))


async def test_with_a_stun_server_the_nat_type_the_engine_detected_is_shown():
    app, phone = build("[sip]\nstun_server = \"127.0.0.1:3478\"\n" + ACCOUNTS)
    answers = iter(["detecting", "port_restricted"])
    phone.backend.nat_type = lambda: next(answers, "port_restricted")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_network(pilot, app)
        assert "NAT type (STUN 127.0.0.1:3478): detecting…" in flat(app)
        await until(pilot, lambda: "NAT type (STUN 127.0.0.1:3478): port-restricted cone" in flat(app))


async def test_a_stun_server_set_now_says_the_nat_type_comes_after_restart():
    app, _ = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_network(pilot, app)
        await pilot.press("5", *"stun.example.com", "enter")
        await until(pilot, lambda: entries(app)[4] == "STUN server: stun.example.com — applies after restart")
        assert "NAT type: detected with the STUN server after restart." in flat(app)


async def test_status_network_shows_the_nat_type_with_a_stun_server():
    from tuiphone.screens.network import NetworkStatusScreen

    app, phone = build("[sip]\nstun_server = \"127.0.0.1:3478\"\n" + ACCOUNTS)
    phone.backend.nat_type = lambda: "symmetric"
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "6", "2")
        assert isinstance(app.screen, NetworkStatusScreen)
        await until(pilot, lambda: "NAT type" in screen_text(app))
        assert "symmetric" in screen_text(app)
