"""Phonebook files (seed 3.14): Grandstream phonebook.xml, CSV and vCard, read and written.

Everything works on plain `Contact`s (first, last, numbers, groups); `phonebook_store` moves them in
and out of the phone's database. Every XML goes through defusedxml (no DTDs, entities or external
references) and every file is refused above MAX_BYTES, with a sentence that says what is wrong.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, cast
from xml.etree.ElementTree import Element, SubElement, tostring

if TYPE_CHECKING:
    from vobject.base import ContentLine

MAX_BYTES = 5_000_000
MAX_CONTACTS = 20_000
FORMATS = ("gs-xml", "csv", "vcard")
KINDS = ("work", "mobile", "home", "other")
_GS_KIND = {"work": "Work", "mobile": "Mobile", "home": "Home", "other": "Other"}


class PhonebookError(Exception):
    """A phonebook file that cannot be read or written; `str()` says what is wrong and what to do."""


class PhoneNumber(NamedTuple):
    number: str
    account: int | None = None    # 0-based account index (Grandstream accountindex); None = any
    kind: str = "work"            # work | mobile | home | other


@dataclass
class Contact:
    first: str
    last: str = ""
    numbers: list[PhoneNumber] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The name as one line: Chinese-style family name first with no space, else "first last"."""
        if _is_cjk(self.first + self.last):
            return (self.last + self.first).strip()
        return " ".join(part for part in (self.first, self.last) if part)


def _is_cjk(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in ("W", "F") for ch in text)


def split_name(name: str) -> tuple[str, str]:
    """One-line name -> (first, last): "张三" -> ("三", "张"); "Mary Ann Lee" -> ("Mary Ann", "Lee")."""
    name = " ".join(name.split())
    if _is_cjk(name) and " " not in name and len(name) > 1:
        return name[1:], name[:1]
    first, _, last = name.rpartition(" ")
    return (first, last) if first else (name, "")


def _kind(text: str) -> str:
    text = text.strip().lower()
    for kind in KINDS:
        if kind in text:
            return kind
    return {"cell": "mobile", "office": "work", "business": "work"}.get(text, "work" if not text else "other")


def _checked(data: bytes, source: str) -> bytes:
    if len(data) > MAX_BYTES:
        raise PhonebookError(f"{source} is larger than {MAX_BYTES // 1_000_000} MB; a phonebook that big is "
                             "refused: split it or remove what the phone does not need")
    return data


def _text(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PhonebookError(f"{source} is not UTF-8 text; save it as UTF-8 and try again") from None


def _too_many(count: int, source: str) -> None:
    if count > MAX_CONTACTS:
        raise PhonebookError(f"{source} has more than {MAX_CONTACTS} contacts; the phone keeps at most that many")


# ----- Grandstream phonebook.xml ---------------------------------------------------------------------------
def parse_gs_xml(data: bytes, source: str = "the phonebook") -> list[Contact]:
    """<AddressBook><pbgroup><id/><name/></pbgroup><Contact><FirstName/><LastName/><Phone type=..>
    <phonenumber/><accountindex/></Phone><Group/> (or <Groups><groupid/></Groups>)</Contact></AddressBook>."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        root = fromstring(_checked(data, source), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise PhonebookError(f"{source} declares a DTD or entities, which a phonebook never needs; it is "
                             "refused to keep the phone safe") from None
    except ParseError as exc:
        raise PhonebookError(f"{source} is not well-formed XML ({exc}); fix the file or export it again") from None
    if root.tag != "AddressBook":
        raise PhonebookError(f"{source} is XML but not a Grandstream phonebook: its root is <{root.tag}>, "
                             "expected <AddressBook>")
    groups = {(g.findtext("id") or "").strip(): (g.findtext("name") or "").strip() for g in root.iter("pbgroup")}
    entries = root.findall("Contact")
    _too_many(len(entries), source)
    contacts = []
    for entry in entries:
        numbers = []
        for phone in entry.findall("Phone"):
            number = (phone.findtext("phonenumber") or "").strip()
            index = (phone.findtext("accountindex") or "").strip()
            if number:
                numbers.append(PhoneNumber(number, int(index) if index.isdigit() else None,
                                           _kind(phone.get("type", "work"))))
        ids = [(g.text or "").strip() for g in entry.findall("Group")]
        ids += [(g.text or "").strip() for g in entry.findall("Groups/groupid")]
        names = [groups.get(i, i) for i in ids if i]
        contacts.append(Contact((entry.findtext("FirstName") or "").strip(), (entry.findtext("LastName") or "").strip(),
                                numbers, [n for n in names if n]))
    return contacts


def write_gs_xml(contacts: Iterable[Contact]) -> bytes:
    contacts = list(contacts)
    root = Element("AddressBook")
    group_ids: dict[str, int] = {}
    for contact in contacts:
        for name in contact.groups:
            group_ids.setdefault(name, len(group_ids) + 1)
    for name, gid in group_ids.items():
        group = SubElement(root, "pbgroup")
        SubElement(group, "id").text = str(gid)
        SubElement(group, "name").text = name
    for contact in contacts:
        entry = SubElement(root, "Contact")
        SubElement(entry, "LastName").text = contact.last
        SubElement(entry, "FirstName").text = contact.first
        for number in contact.numbers:
            phone = SubElement(entry, "Phone", type=_GS_KIND.get(number.kind, "Other"))
            SubElement(phone, "phonenumber").text = number.number
            SubElement(phone, "accountindex").text = str(number.account or 0)
        for name in contact.groups:
            SubElement(entry, "Group").text = str(group_ids[name])
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"


# ----- CSV ------------------------------------------------------------------------------------------
CSV_FIELDS = ["First Name", "Last Name", "Groups"]
_PHONE_COLUMN = re.compile(r"^(?:phone|number|tel)\s*(\d*)\s*(?:-\s*)?(value|type|account)?$")


def parse_csv(data: bytes, source: str = "the phonebook") -> list[Contact]:
    """Columns by header, case-insensitive: First Name / Given Name, Last Name / Family Name, Name,
    Groups / Group Membership ("a;b" or "a ::: b"), Phone N, Phone N Type, Phone N Account."""
    text = _text(_checked(data, source), source)
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise PhonebookError(f"{source} is not a CSV file ({exc})") from None
    if not rows:
        return []
    header = [h.strip().lower() for h in rows[0]]
    _too_many(len(rows) - 1, source)
    phones: dict[str, dict[str, int]] = {}
    for col, name in enumerate(header):
        m = _PHONE_COLUMN.match(name.replace("phone number", "phone"))
        if m:
            phones.setdefault(m.group(1) or "1", {})[m.group(2) or "value"] = col
    if not phones:
        raise PhonebookError(f"{source} has no phone column: the first row must name columns like "
                             "First Name, Last Name, Phone 1, Phone 1 Type")

    def cell(row: list[str], *names: str) -> str:
        for name in names:
            if name in header and header.index(name) < len(row):
                return row[header.index(name)].strip()
        return ""
    contacts = []
    for row in rows[1:]:
        if not any(c.strip() for c in row):
            continue
        first, last = cell(row, "first name", "given name", "first"), cell(row, "last name", "family name", "last")
        if not first and not last:
            first, last = split_name(cell(row, "name", "full name", "display name"))
        numbers = []
        for key in sorted(phones, key=int):
            cols = phones[key]
            number = row[cols["value"]].strip() if "value" in cols and cols["value"] < len(row) else ""
            if not number:
                continue
            kind = row[cols["type"]] if "type" in cols and cols["type"] < len(row) else ""
            account = row[cols["account"]].strip() if "account" in cols and cols["account"] < len(row) else ""
            numbers.append(PhoneNumber(number, int(account) if account.isdigit() else None, _kind(kind)))
        groups = re.split(r"\s*(?:;|:::)\s*", cell(row, "groups", "group", "group membership"))
        contacts.append(Contact(first, last, numbers, [g for g in groups if g and not g.startswith("*")]))
    return contacts


def write_csv(contacts: Iterable[Contact]) -> bytes:
    contacts = list(contacts)
    most = max((len(c.numbers) for c in contacts), default=1) or 1
    header = CSV_FIELDS + [f"Phone {i} {part}".strip() for i in range(1, most + 1) for part in ("", "Type", "Account")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for c in contacts:
        row = [c.first, c.last, ";".join(c.groups)]
        for n in c.numbers:
            row += [n.number, n.kind, "" if n.account is None else str(n.account)]
        writer.writerow(row + [""] * (len(header) - len(row)))
    return out.getvalue().encode("utf-8")


# ----- vCard ----------------------------------------------------------------------------------------
def parse_vcard(data: bytes, source: str = "the phonebook") -> list[Contact]:
    import vobject

    text = _text(_checked(data, source), source)
    contacts = []
    try:
        for card in vobject.readComponents(text, ignoreUnreadable=True):
            if card.name != "VCARD":
                continue
            first = last = ""
            if hasattr(card, "n"):
                first, last = str(card.n.value.given or "").strip(), str(card.n.value.family or "").strip()
            if not first and not last and hasattr(card, "fn"):
                first, last = split_name(str(card.fn.value))
            numbers = []
            for tel in cast("list[ContentLine]", card.contents.get("tel", [])):     # the stubs say VBase
                types = " ".join(tel.params.get("TYPE", []))
                account = (tel.params.get("X-ACCOUNT") or [""])[0]
                numbers.append(PhoneNumber(str(tel.value).strip(), int(account) if account.isdigit() else None,
                                           _kind(types)))
            categories = cast("list[ContentLine]", card.contents.get("categories", []))
            groups = [g.strip() for cat in categories for g in cat.value if g.strip()]
            contacts.append(Contact(first, last, [n for n in numbers if n.number], groups))
            _too_many(len(contacts), source)
    except PhonebookError:
        raise
    except Exception as exc:     # vobject raises many kinds of errors for a broken card
        raise PhonebookError(f"{source} is not a vCard file vobject can read ({exc}); export it again") from None
    return contacts


def write_vcard(contacts: Iterable[Contact]) -> bytes:
    import vobject

    out = []
    for c in contacts:
        card = vobject.vCard()
        card.add("n").value = vobject.vcard.Name(family=c.last, given=c.first)
        card.add("fn").value = c.name or (c.numbers[0].number if c.numbers else "?")
        for n in c.numbers:
            tel = card.add("tel")
            tel.value = n.number
            tel.type_param = n.kind.upper() if n.kind != "mobile" else "CELL"
            if n.account is not None:
                tel.params["X-ACCOUNT"] = [str(n.account)]
        if c.groups:
            card.add("categories").value = list(c.groups)
        out.append(card.serialize())
    return "".join(out).encode("utf-8")


# ----- files --------------------------------------------------------------------------------------
def sniff(data: bytes) -> str:
    """The format of a phonebook by its content: gs-xml, vcard or csv."""
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").upper()
    if head.startswith(b"<"):
        return "gs-xml"
    if head.startswith(b"BEGIN:VCARD"):
        return "vcard"
    return "csv"


def parse(data: bytes, fmt: str | None = None, source: str = "the phonebook") -> list[Contact]:
    fmt = fmt or sniff(data)
    return {"gs-xml": parse_gs_xml, "csv": parse_csv, "vcard": parse_vcard}[fmt](data, source)


def render(contacts: Iterable[Contact], fmt: str) -> bytes:
    return {"gs-xml": write_gs_xml, "csv": write_csv, "vcard": write_vcard}[fmt](contacts)


def format_for(path: Path) -> str:
    """The export format a file name suggests (.xml, .csv, .vcf/.vcard); gs-xml otherwise."""
    return {".csv": "csv", ".vcf": "vcard", ".vcard": "vcard"}.get(path.suffix.lower(), "gs-xml")


def read_file(path: Path, fmt: str | None = None) -> list[Contact]:
    """Contacts of a phonebook file, refusing files above MAX_BYTES without reading them whole."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise PhonebookError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse(data, fmt, str(path))
