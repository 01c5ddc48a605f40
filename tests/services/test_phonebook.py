"""Phonebook files: Grandstream phonebook.xml, CSV and vCard round trips through the phone's database,
Chinese names, hostile files refused with a sentence, downloads from a local HTTP server, and the CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from tests.services.helpers import DAEMON_MAIN
from tuiphone.config import PhonebookConfig
from tuiphone.services.phonebook_download import PhonebookDownloader
from tuiphone.services.phonebook_io import (
    MAX_BYTES,
    Contact,
    PhonebookError,
    PhoneNumber,
    parse,
    parse_csv,
    parse_gs_xml,
    read_file,
    render,
    split_name,
)
from tuiphone.services.phonebook_store import StorePhonebook
from tuiphone.store import Contact as Saved
from tuiphone.store import Number, Store

GS_XML = """<?xml version="1.0" encoding="UTF-8"?>
<AddressBook>
  <pbgroup><id>1</id><name>同事</name></pbgroup>
  <pbgroup><id>2</id><name>Suppliers</name></pbgroup>
  <Contact>
    <LastName>张</LastName><FirstName>三</FirstName>
    <Phone type="Work"><phonenumber>8001</phonenumber><accountindex>0</accountindex></Phone>
    <Phone type="Mobile"><phonenumber>+86 138 0000 0000</phonenumber><accountindex>1</accountindex></Phone>
    <Group>1</Group>
  </Contact>
  <Contact>
    <LastName>Smith</LastName><FirstName>John Paul</FirstName>
    <Phone><phonenumber>sip:jp@example.com</phonenumber><accountindex>2</accountindex></Phone>
    <Groups><groupid>2</groupid></Groups>
  </Contact>
</AddressBook>
""".encode()

EXPECTED = [
    Contact("三", "张", [PhoneNumber("8001", 0, "work"), PhoneNumber("+86 138 0000 0000", 1, "mobile")], ["同事"]),
    Contact("John Paul", "Smith", [PhoneNumber("sip:jp@example.com", 2, "work")], ["Suppliers"]),
]


def test_grandstream_xml_is_read_with_groups_kinds_and_accounts():
    assert parse_gs_xml(GS_XML) == EXPECTED
    assert [c.name for c in EXPECTED] == ["张三", "John Paul Smith"]


@pytest.mark.parametrize("fmt", ["gs-xml", "csv", "vcard"])
def test_every_format_round_trips(fmt):
    data = render(EXPECTED, fmt)
    assert parse(data) == EXPECTED          # the format is recognised from the content


@pytest.mark.parametrize("fmt", ["gs-xml", "csv", "vcard"])
def test_round_trip_through_the_database(fmt):
    store = Store(":memory:")
    book = StorePhonebook(store)
    report = book.import_contacts(parse_gs_xml(GS_XML))
    assert (report.added, report.skipped) == (2, [])
    saved = {c.name: c for c in store.contacts()}
    assert [n.number for n in saved["张三"].numbers] == ["8001", "+86 138 0000 0000"]
    assert {g.name for g in store.groups()} == {"同事", "Suppliers"}
    again = parse(render(book.export(), fmt))
    # the database keeps no account per number: everything else comes back
    assert [(c.first, c.last, [(n.number, n.kind) for n in c.numbers], c.groups) for c in again] == [
        ("John Paul", "Smith", [("sip:jp@example.com", "work")], ["Suppliers"]),
        ("三", "张", [("8001", "work"), ("+86 138 0000 0000", "mobile")], ["同事"])]


def test_google_style_csv_is_understood():
    data = ("Name,Given Name,Family Name,Group Membership,Phone 1 - Type,Phone 1 - Value,Phone 2 - Type,"
            "Phone 2 - Value\r\n"
            "李四,四,李,* myContacts ::: 家人,Mobile,13900000000,Home,010-1234\r\n"
            "Only Name,,,,Work,200,,\r\n").encode()
    assert parse_csv(data) == [
        Contact("四", "李", [PhoneNumber("13900000000", None, "mobile"), PhoneNumber("010-1234", None, "home")],
                ["家人"]),
        Contact("Only", "Name", [PhoneNumber("200", None, "work")], [])]


def test_names_split_like_people_write_them():
    assert split_name("张三丰") == ("三丰", "张")
    assert split_name("Mary Ann Lee") == ("Mary Ann", "Lee")
    assert split_name("Reception") == ("Reception", "")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<AddressBook><Contact><FirstName>&lol3;</FirstName></Contact></AddressBook>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE AddressBook [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<AddressBook><Contact><FirstName>&secret;</FirstName></Contact></AddressBook>"""


@pytest.mark.parametrize("data, words", [
    (BILLION_LAUGHS, "declares a DTD or entities"),
    (EXTERNAL, "declares a DTD or entities"),
    (b"<AddressBook><Contact>", "is not well-formed XML"),
    (b"<html><body/></html>", "not a Grandstream phonebook: its root is <html>"),
    (b"First Name,Phone 1\r\n\xff\xfe,1\r\n", "is not UTF-8 text"),
    (b"First Name,Last Name\r\nA,B\r\n", "has no phone column"),
    (b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:;;;;\r\nTEL:1\r\nBEGIN:VCARD\r\n", "not a vCard file"),
])
def test_hostile_and_broken_files_are_refused_with_a_sentence(data, words):
    with pytest.raises(PhonebookError) as err:
        parse(data, source="book")
    assert words in str(err.value)
    assert str(err.value).startswith("book ")


def test_a_50_mb_file_is_refused_without_reading_it_all(tmp_path):
    big = tmp_path / "phonebook.xml"
    with open(big, "wb") as handle:
        handle.write(b"<AddressBook>")
        handle.truncate(50_000_000)
    started = time.monotonic()
    with pytest.raises(PhonebookError, match="larger than 5 MB"):
        read_file(big)
    assert time.monotonic() - started < 2


def _book(store: Store) -> dict[str, list[str]]:
    return {c.name: [n.number for n in c.numbers] for c in store.contacts()}


@pytest.mark.parametrize("remove_edited, expected", [
    (True, {"张三": ["8001", "+86 138 0000 0000"], "John Paul Smith": ["sip:jp@example.com"]}),
    (False, {"张三": ["9999"], "John Paul Smith": ["sip:jp@example.com"], "Hand Made": ["123"]}),
])
def test_download_from_a_local_server_honours_remove_edited(recorder, remove_edited, expected):
    server = recorder(body=GS_XML)
    store = Store(":memory:")
    store.save_contact(Saved("Hand Made", [Number("123")]))
    store.save_contact(Saved("张三", [Number("9999")]))          # edited by hand on the phone
    cfg = PhonebookConfig(download_url=f"http://{server.base}/phonebook.xml",
                          remove_edited_on_download=remove_edited)
    downloader = PhonebookDownloader(cfg, StorePhonebook(store))
    assert asyncio.run(downloader.download_once()) is True
    assert _book(store) == expected
    assert server.requests[0][0] == "/phonebook.xml"


def test_downloads_repeat_every_interval_and_failures_keep_the_old_book(recorder, caplog):
    server = recorder(body=GS_XML)
    store = Store(":memory:")
    cfg = PhonebookConfig(download_url=f"http://{server.base}/pb.xml", download_interval=1)
    downloader = PhonebookDownloader(cfg, StorePhonebook(store))
    downloader.interval_s = 0.2           # minutes in the config; a fraction of a second here

    async def run() -> None:
        downloader.start()
        await asyncio.sleep(0.5)
        server.status = 404
        await asyncio.sleep(0.3)
        await downloader.stop()
    asyncio.run(run())
    assert downloader.downloads >= 2 and len(server.requests) >= 3
    assert "answered HTTP 404" in downloader.last_problem
    assert sorted(_book(store)) == ["John Paul Smith", "张三"]
    assert sum("the phonebook is left as it was" in r.getMessage() for r in caplog.records) >= 1


def test_an_oversized_download_is_refused(recorder):
    server = recorder(body=b"<AddressBook>" + b" " * MAX_BYTES)
    store = Store(":memory:")
    downloader = PhonebookDownloader(PhonebookConfig(download_url=f"http://{server.base}/big.xml"),
                                     StorePhonebook(store))
    assert asyncio.run(downloader.download_once()) is False
    assert "more than the 5000000 bytes allowed" in downloader.last_problem


def _cli(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    main = DAEMON_MAIN.replace("main.add_command(daemon)",
                               "from tuiphone.cli.phonebook import phonebook; main.add_command(phonebook)")
    return subprocess.run([sys.executable, "-c", main, "--config", str(tmp_path / "c.toml"), "--data-dir",
                           str(tmp_path / "data"), *args], capture_output=True, text=True, timeout=60)


def test_cli_imports_and_exports(tmp_path):
    (tmp_path / "in.xml").write_bytes(GS_XML)
    done = _cli(tmp_path, "phonebook", "import", str(tmp_path / "in.xml"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{tmp_path / 'in.xml'}: 2 contacts read; 2 added"
    done = _cli(tmp_path, "phonebook", "export", str(tmp_path / "out.vcf"))
    assert done.returncode == 0, done.stderr
    assert "2 contacts written as vcard" in done.stdout
    assert sorted(c.name for c in read_file(tmp_path / "out.vcf")) == ["John Paul Smith", "张三"]
    done = _cli(tmp_path, "phonebook", "export", str(tmp_path / "out.txt"), "--format", "csv")
    assert "First Name,Last Name,Groups,Phone 1" in (tmp_path / "out.txt").read_text()


def test_cli_refuses_a_hostile_file_with_exit_code_2(tmp_path):
    (tmp_path / "evil.xml").write_bytes(BILLION_LAUGHS)
    done = _cli(tmp_path, "phonebook", "import", str(tmp_path / "evil.xml"))
    assert done.returncode == 2
    assert "declares a DTD or entities" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.peers
def test_the_daemon_downloads_the_phonebook_at_start(daemons, recorder, tmp_path):
    from tests.services.helpers import wait_for

    server = recorder(body=GS_XML)
    daemon, _ = daemons(config={"phonebook": {"download_url": f"http://{server.base}/pb.xml"}}, cti=False)
    wait_for(lambda: server.requests, 10, "the phonebook download")
    wait_for(lambda: "phonebook downloaded from" in (tmp_path / "daemon-data/logs/tuiphone.log").read_text(),
             5, "the download to be saved")
    daemon.stop()
    with Store(tmp_path / "daemon-data" / "tuiphone.db") as store:
        assert sorted(_book(store)) == ["John Paul Smith", "张三"]
