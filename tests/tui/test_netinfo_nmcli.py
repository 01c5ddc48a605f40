"""Parsers for Status › Network (ip -j, /proc, resolv.conf) and Wi-Fi (nmcli -t), on recorded output."""

from __future__ import annotations

from tuiphone.screens import netinfo, nmcli
from tuiphone.screens.nmcli import Nmcli, WifiError, WifiNetwork, WifiState

IP_ADDR = ('[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"operstate":"UNKNOWN",'
           '"link_type":"loopback","address":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1",'
           '"prefixlen":8,"scope":"host","label":"lo"},{"family":"inet6","local":"::1","prefixlen":128,"scope":"host"}]},'
           '{"ifindex":2,"ifname":"ifb0","flags":["BROADCAST","NOARP"],"mtu":1500,"operstate":"DOWN",'
           '"link_type":"ether","address":"52:4b:dc:13:c7:dc","addr_info":[]},'
           '{"ifindex":4,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1400,'
           '"operstate":"UP","link_type":"ether","address":"02:fc:00:00:00:01","addr_info":[{"family":"inet",'
           '"local":"192.0.2.2","prefixlen":24,"broadcast":"192.0.2.255","scope":"global","label":"eth0"},'
           '{"family":"inet6","local":"fd00::2","prefixlen":64,"scope":"global"}]}]')
IP_ROUTE = ('[{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},{"dst":"192.0.2.0/24","dev":"eth0",'
            '"protocol":"kernel","scope":"link","prefsrc":"192.0.2.2","flags":[]}]')
IP6_ROUTE = ('[{"dst":"fd00::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[]},'
             '{"dst":"default","gateway":"fd00::1","dev":"eth0","metric":1024,"flags":[],"pref":"medium"}]')
PROC_ROUTE = ("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
              "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
              "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n")
IF_INET6 = ("00000000000000000000000000000001 01 80 10 80       lo\n"
            "fd000000000000000000000000000002 04 40 00 80     eth0\n")
RESOLV = "# from DHCP\nnameserver 10.255.255.53\nnameserver 2001:db8::53  # v6\nsearch example.com lab.example\n"

# nmcli 1.42, `nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device`
NM_DEVICES = "wlp2s0:wifi:connected:Office\\: 5G\neth0:ethernet:unavailable:\nlo:loopback:unmanaged:\n"
NM_WIRED_ONLY = "eth0:ethernet:connected:Wired connection 1\nlo:loopback:unmanaged:\n"
# `nmcli -t -f IN-USE,SSID,SIGNAL,SECURITY device wifi list --rescan yes`
NM_WIFI = ("*:Office\\: 5G:82:WPA2\n"
           " :Office\\: 5G:40:WPA2\n"
           " :Cafe:55:\n"
           " :Home\\\\Net:67:WPA1 WPA2\n"
           " ::30:WPA2\n"
           " :Lab:67:WPA3\n")


def test_ip_json_gives_interfaces_addresses_and_gateways():
    ifaces = {i.name: i for i in netinfo.parse_ip_addr(IP_ADDR)}
    assert ifaces["eth0"].mac == "02:fc:00:00:00:01" and ifaces["eth0"].state == "UP"
    assert ifaces["eth0"].ipv4 == ["192.0.2.2/24"] and ifaces["eth0"].ipv6 == ["fd00::2/64"]
    assert ifaces["lo"].ipv4 == ["127.0.0.1/8"] and ifaces["ifb0"].ipv4 == []
    assert netinfo.parse_ip_route(IP_ROUTE) + netinfo.parse_ip_route(IP6_ROUTE) == ["192.0.2.1 (eth0)",
                                                                                     "fd00::1 (eth0)"]


def test_proc_files_give_the_gateway_ipv6_addresses_and_dns():
    assert netinfo.parse_proc_route(PROC_ROUTE) == ["192.0.2.1 (eth0)"]
    assert netinfo.parse_if_inet6(IF_INET6) == {"lo": ["::1/128"], "eth0": ["fd00::2/64"]}
    assert netinfo.parse_resolv_conf(RESOLV) == (["10.255.255.53", "2001:db8::53"], ["example.com", "lab.example"])


def test_gather_reads_this_machine_with_ip_or_from_sys(monkeypatch):
    facts = netinfo.gather()
    assert any(i.name == "lo" and "127.0.0.1/8" in i.ipv4 for i in facts.interfaces)
    monkeypatch.setattr(netinfo.shutil, "which", lambda name: None)      # no iproute2
    facts = netinfo.gather()
    assert any(i.name == "lo" and i.ipv4 == ["127.0.0.1"] and "::1/128" in i.ipv6 for i in facts.interfaces)


def test_terse_fields_undo_nmcli_escapes():
    assert nmcli.split_terse("*:Office\\: 5G:82:WPA2") == ["*", "Office: 5G", "82", "WPA2"]
    assert nmcli.split_terse(" :Home\\\\Net:67:") == [" ", "Home\\Net", "67", ""]


def test_networks_are_listed_once_each_in_use_first_then_by_signal_without_hidden_ones():
    nets = nmcli.parse_networks(NM_WIFI)
    assert nets == [WifiNetwork("Office: 5G", 82, "WPA2", True), WifiNetwork("Home\\Net", 67, "WPA1 WPA2", False),
                    WifiNetwork("Lab", 67, "WPA3", False), WifiNetwork("Cafe", 55, "", False)]


def fake(replies: dict[str, tuple[int, str, str]], calls: list):
    def run(args: list[str], stdin: str = ""):
        calls.append((args, stdin))
        for key, reply in replies.items():
            if key in " ".join(args):
                return reply
        return 0, "", ""
    return run


def test_state_finds_the_connected_wifi_device_and_the_radio():
    calls: list = []
    wifi = Nmcli(fake({"device": (0, NM_DEVICES, ""), "radio wifi": (0, "enabled\n", "")}, calls))
    assert wifi.state() == WifiState("wlp2s0", True, "Office: 5G")


def test_every_failure_is_a_sentence_that_says_what_to_do():
    def error(code: int, text: str = "", devices: str = NM_DEVICES) -> str:
        wifi = Nmcli(fake({"device": (code, devices if code == 0 else "", text)}, []))
        try:
            wifi.state()
        except WifiError as exc:
            return str(exc)
        raise AssertionError("no error")
    assert "not installed" in error(nmcli.NOT_FOUND)
    assert "NetworkManager is not running" in error(8, "Error: NetworkManager is not running.\n")
    assert "not allowed to change the network" in error(1, "Error: Not authorized to control networking.\n")
    assert "no Wi-Fi device" in error(0, devices=NM_WIRED_ONLY)
    assert error(1, "Error: something odd.\n") == "Wi-Fi: something odd."


def test_connect_passes_the_password_on_stdin_and_names_a_wrong_one():
    calls: list = []
    wifi = Nmcli(fake({}, calls))
    wifi.connect("Lab", "s3cret pass")
    assert calls == [(["--ask", "device", "wifi", "connect", "Lab"], "s3cret pass\n")]
    bad = Nmcli(fake({"connect": (4, "", "Error: Connection activation failed: Secrets were required, but not "
                                           "provided.\n")}, []))
    try:
        bad.connect("Lab", "wrong")
    except WifiError as exc:
        assert "did not accept the password" in str(exc)
    else:
        raise AssertionError("no error")
