"""SQLite in the data dir: call history, phonebook (contacts with several numbers, groups) and the blocklist.

The database runs in WAL mode with `synchronous=FULL`, so a transaction that has returned is on disk:
a crash (or a power cut) never loses a committed entry. A call's history row is written when the call starts
("in_progress") and finished when it ends; a row still in progress whose phone process is gone when the
database opens again becomes "interrupted", with the talk time known so far. The schema carries a version
(`PRAGMA user_version`) and is migrated forward step by step when the phone starts (the steps: store_schema.py).
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tuiphone.engine.sipuri import network_text
from tuiphone.liveness import still_running, this_process
from tuiphone.store_schema import MIGRATIONS, SCHEMA_VERSION, statements

log = logging.getLogger(__name__)

HISTORY_KEEP = 1000                  # newest calls kept; older ones are dropped as new ones come
HISTORY_FILTERS = ("all", "missed", "incoming", "outgoing")
MISSED = ("missed", "dnd", "busy")   # incoming calls nobody took: the desk phone lists them as missed
IN_PROGRESS = "in_progress"          # the call has not ended yet (its row was written when it started)
INTERRUPTED = "interrupted"          # the phone stopped (crash, kill -9, power cut) before the call ended
NUMBER_KINDS = ("work", "mobile", "home", "other")


class StoreError(Exception):
    """The database cannot be opened or written; the message says what to do."""


@dataclass(frozen=True)
class CallRecord:
    """One call in the history."""

    id: int
    direction: str          # "in" | "out"
    account: int | None
    remote_uri: str
    remote_name: str
    remote_number: str
    started: float
    duration_s: float
    disposition: str        # answered | missed | rejected | busy | forwarded | dnd | blocked | failed
    #                         | in_progress (not ended yet) | interrupted (the phone stopped during the call)
    reason: str = ""

    @property
    def missed(self) -> bool:
        return self.direction == "in" and self.disposition in MISSED


@dataclass(frozen=True)
class Group:
    id: int
    name: str


@dataclass(frozen=True)
class Number:
    """One of a contact's numbers: what to dial (a number or a SIP address) and its kind."""

    number: str
    kind: str = "work"


@dataclass
class Contact:
    """A phonebook entry; `id` is None until it is saved."""

    name: str
    numbers: list[Number] = field(default_factory=list)
    group_id: int | None = None
    id: int | None = None


def keeps(disposition: str, mode: str) -> bool:
    """Whether an account's `call_log` mode (all | answered | off) keeps a call that ended so."""
    return mode == "all" or (mode == "answered" and disposition == "answered")


def plain_number(number: str) -> str:
    """A number as the network sees it: spaces, dashes, dots and brackets people type are dropped."""
    return re.sub(r"[\s\-().]", "", number)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def search_key(name: str) -> str:
    """What a search matches a name against: the name folded, plus its pinyin and pinyin initials
    (张三 → "张三 zhangsan zs"), so Chinese names are found by either."""
    folded = _fold(name)
    if not any("\u3400" <= ch <= "\u9fff" for ch in folded):
        return folded          # before the import: pypinyin's dictionaries take ~55 MiB and a few 100 ms
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError:    # without pypinyin, Chinese names are found by their characters only
        return folded
    full = "".join(lazy_pinyin(folded)).replace(" ", "")
    initials = "".join(lazy_pinyin(folded, style=Style.FIRST_LETTER)).replace(" ", "")
    return f"{folded} {full} {initials}"


def _like(text: str) -> str:
    """A LIKE pattern that finds `text` anywhere, with LIKE's own wildcards taken literally."""
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


class Store:
    """The phone's database. Safe to share between threads; every write is one transaction."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")      # committed means on disk, even after a crash
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            self._refresh_search_keys()
            self._owner = this_process()
            self._close_interrupted_calls()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"Cannot open the phone's database {self.path}: {exc}. Check that the data dir "
                             "is writable, or move the file aside to start a new one.") from None

    # ----- plumbing ------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"it was written by a newer tuiphone (schema {version}, this one knows "
                                        f"{SCHEMA_VERSION})")
        for step in range(version, SCHEMA_VERSION):
            with self._write() as db:
                db.executescript_in_txn(MIGRATIONS[step])
                db.execute(f"PRAGMA user_version={step + 1}")

    def _write(self) -> _Transaction:
        return _Transaction(self)

    def _read(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"Cannot read the phone's database {self.path}: {exc}.") from None

    def schema_version(self) -> int:
        return self._read("PRAGMA user_version")[0][0]

    def _refresh_search_keys(self) -> None:
        """Recompute search keys when the way they are made changed (pypinyin came or went)."""
        # what search_key("张") gives, without loading pypinyin at every start for it
        how = "张 zhang z" if importlib.util.find_spec("pypinyin") is not None else "张"
        row = self._read("SELECT value FROM meta WHERE key = 'search_keys'")
        if row and row[0][0] == how:
            return
        with self._write() as db:
            for cid, name in db.execute("SELECT id, name FROM contacts").fetchall():
                db.execute("UPDATE contacts SET search_key = ? WHERE id = ?", (search_key(name), cid))
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('search_keys', ?)", (how,))

    # ----- call history --------------------------------------------------------------------------
    _CALL_COLUMNS = ("direction, account, remote_uri, remote_name, remote_number, started, duration_s, disposition, "
                     "reason, call_key, owner")

    def _insert_call(self, db: _Transaction, row: Sequence[object]) -> int:
        cur = db.execute(f"INSERT INTO calls({self._CALL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        db.execute("DELETE FROM calls WHERE id NOT IN (SELECT id FROM calls ORDER BY started DESC, id DESC "
                   "LIMIT ?)", (HISTORY_KEEP,))
        return _row_id(cur)

    def add_call(self, direction: str, account: int | None, remote_uri: str, remote_name: str, remote_number: str,
                 started: float, duration_s: float, disposition: str, reason: str = "", key: str = "") -> int:
        """Keep one finished call; the oldest calls beyond HISTORY_KEEP go. With the `key` of a row
        `start_call` wrote, that row is finished instead (one row per call)."""
        text = [network_text(v) for v in (remote_uri, remote_name, remote_number, reason)]
        with self._write() as db:
            if key:
                found = db.execute("SELECT id FROM calls WHERE call_key = ?", (key,)).fetchone()
                if found:
                    db.execute("UPDATE calls SET remote_uri = ?, remote_name = ?, remote_number = ?, duration_s = ?,"
                               " disposition = ?, reason = ? WHERE id = ?",
                               (*text[:3], duration_s, disposition, text[3], found[0]))
                    return int(found[0])
            return self._insert_call(db, (direction, account, text[0], text[1], text[2], started, duration_s,
                                          disposition, text[3], key, self._owner))

    def add_log_entry(self, entry) -> int:
        """Keep an engine CallLogEntry (finishing the row its call's start wrote, when there is one)."""
        return self.add_call(entry.direction, entry.account, entry.remote_uri, entry.remote_name,
                             entry.remote_number, entry.started, entry.duration_s, entry.disposition, entry.reason,
                             getattr(entry, "key", ""))

    def start_call(self, key: str, direction: str, account: int | None, remote_uri: str, remote_name: str,
                   remote_number: str, started: float) -> int:
        """Write the row of a call that starts now ("in_progress"), found again by `key` when it ends."""
        with self._write() as db:
            found = db.execute("SELECT id FROM calls WHERE call_key = ?", (key,)).fetchone()
            if found:
                return int(found[0])
            return self._insert_call(db, (direction, account, network_text(remote_uri), network_text(remote_name),
                                          network_text(remote_number), started, 0.0, IN_PROGRESS, "", key,
                                          self._owner))

    def touch_calls(self, talk_s: dict[str, float]) -> None:
        """Write the talk time so far of calls in progress (key -> seconds): what a crash leaves in history."""
        if not talk_s:
            return
        with self._write() as db:
            db.executemany("UPDATE calls SET duration_s = ? WHERE call_key = ? AND disposition = ?",
                           [(round(seconds, 2), key, IN_PROGRESS) for key, seconds in talk_s.items()])

    def _close_interrupted_calls(self) -> None:
        """Calls still in progress whose phone process is gone were cut off by a crash: mark them so."""
        rows = self._read("SELECT id, owner FROM calls WHERE disposition = ?", (IN_PROGRESS,))
        gone = [(INTERRUPTED, cid) for cid, owner in rows if not still_running(owner)]
        if gone:
            with self._write() as db:
                db.executemany("UPDATE calls SET disposition = ? WHERE id = ?", gone)
            log.info("%d call(s) were in progress when the phone last stopped; kept in history as interrupted",
                     len(gone))

    @staticmethod
    def _where(kind: str) -> str:
        if kind not in HISTORY_FILTERS:
            raise ValueError(f"unknown history filter {kind!r}: use one of {', '.join(HISTORY_FILTERS)}")
        missed = ", ".join(f"'{d}'" for d in MISSED)
        return {"all": "1", "missed": f"direction = 'in' AND disposition IN ({missed})",
                "incoming": "direction = 'in'", "outgoing": "direction = 'out'"}[kind]

    def calls(self, kind: str = "all", limit: int = HISTORY_KEEP) -> list[CallRecord]:
        """Calls of one filter (all | missed | incoming | outgoing), newest first."""
        rows = self._read(f"SELECT id, direction, account, remote_uri, remote_name, remote_number, started, "
                          f"duration_s, disposition, reason FROM calls WHERE {self._where(kind)} "
                          f"ORDER BY started DESC, id DESC LIMIT ?", (limit,))
        return [CallRecord(*row) for row in rows]

    def call(self, call_id: int) -> CallRecord | None:
        rows = self._read("SELECT id, direction, account, remote_uri, remote_name, remote_number, started, "
                          "duration_s, disposition, reason FROM calls WHERE id = ?", (call_id,))
        return CallRecord(*rows[0]) if rows else None

    def set_call_summary(self, call_id: int, summary: str) -> None:
        """Keep what the UI measured of a call (JSON: codec, mos, loss_pct, jitter_ms, rtt_ms, transfer_to…)."""
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO call_summaries(call_id, summary) VALUES (?, ?)", (call_id, summary))

    def call_summary(self, call_id: int) -> str:
        """The JSON kept with a call by set_call_summary, or ""."""
        rows = self._read("SELECT summary FROM call_summaries WHERE call_id = ?", (call_id,))
        return rows[0][0] if rows else ""

    def delete_call(self, call_id: int) -> None:
        with self._write() as db:
            db.execute("DELETE FROM calls WHERE id = ?", (call_id,))

    def clear_calls(self, kind: str = "all") -> int:
        """Delete every call the filter shows; returns how many went."""
        with self._write() as db:
            return db.execute(f"DELETE FROM calls WHERE {self._where(kind)}").rowcount

    # ----- phonebook: groups -------------------------------------------------------------------------
    def groups(self) -> list[Group]:
        return [Group(*row) for row in self._read("SELECT id, name FROM groups ORDER BY name COLLATE NOCASE")]

    def add_group(self, name: str) -> int:
        name = _clean_name(name, "A group")
        with self._write() as db:
            if db.execute("SELECT 1 FROM groups WHERE name = ?", (name,)).fetchone():
                raise StoreError(f"There is already a group called {name}: choose another name.")
            return _row_id(db.execute("INSERT INTO groups(name) VALUES (?)", (name,)))

    def rename_group(self, group_id: int, name: str) -> None:
        name = _clean_name(name, "A group")
        with self._write() as db:
            if db.execute("SELECT 1 FROM groups WHERE name = ? AND id != ?", (name, group_id)).fetchone():
                raise StoreError(f"There is already a group called {name}: choose another name.")
            db.execute("UPDATE groups SET name = ? WHERE id = ?", (name, group_id))

    def delete_group(self, group_id: int) -> None:
        """Delete a group; its contacts stay, in no group."""
        with self._write() as db:
            db.execute("DELETE FROM groups WHERE id = ?", (group_id,))

    # ----- phonebook: contacts -----------------------------------------------------------------------
    def save_contact(self, contact: Contact) -> int:
        """Add a contact (id None) or replace the saved one with the same id; returns its id."""
        name = _clean_name(contact.name, "A contact")
        numbers = [Number(n.number.strip(), n.kind) for n in contact.numbers if n.number.strip()]
        if not numbers:
            raise StoreError(f"{name} has no number: give at least one.")
        for n in numbers:
            if n.kind not in NUMBER_KINDS:
                raise StoreError(f"'{n.kind}' is not a kind of number: use {', '.join(NUMBER_KINDS)}.")
        with self._write() as db:
            if contact.id is None:
                cid = _row_id(db.execute("INSERT INTO contacts(name, group_id, search_key) VALUES (?, ?, ?)",
                                         (name, contact.group_id, search_key(name))))
            else:
                cid = contact.id
                db.execute("UPDATE contacts SET name = ?, group_id = ?, search_key = ? WHERE id = ?",
                           (name, contact.group_id, search_key(name), cid))
                db.execute("DELETE FROM numbers WHERE contact_id = ?", (cid,))
            db.executemany("INSERT INTO numbers(contact_id, position, number, kind, plain) VALUES (?, ?, ?, ?, ?)",
                           [(cid, i, n.number, n.kind, plain_number(n.number)) for i, n in enumerate(numbers)])
        contact.id = cid
        return cid

    def delete_contact(self, contact_id: int) -> None:
        with self._write() as db:
            db.execute("DELETE FROM contacts WHERE id = ?", (contact_id,))

    def contact(self, contact_id: int) -> Contact | None:
        found = self._contacts("WHERE c.id = ?", (contact_id,))
        return found[0] if found else None

    def contacts(self, search: str = "", group_id: int | None = None) -> list[Contact]:
        """Contacts by name; `search` finds a part of the name (or its pinyin) or of a number."""
        where: list[str] = []
        args: list[object] = []
        text = _fold(search.strip())
        if text:
            digits = plain_number(text)
            where.append("(c.search_key LIKE ? ESCAPE '\\' OR c.id IN "
                         "(SELECT contact_id FROM numbers WHERE plain LIKE ? ESCAPE '\\'))")
            args += [_like(text), _like(digits or text)]
        if group_id is not None:
            where.append("c.group_id = ?")
            args.append(group_id)
        return self._contacts(("WHERE " + " AND ".join(where)) if where else "", args)

    def _contacts(self, where: str, args: Sequence[object]) -> list[Contact]:
        rows = self._read(f"SELECT c.id, c.name, c.group_id, n.number, n.kind FROM contacts c "
                          f"LEFT JOIN numbers n ON n.contact_id = c.id {where} "
                          f"ORDER BY c.name COLLATE NOCASE, c.id, n.position", args)
        found: dict[int, Contact] = {}
        for cid, name, group_id, number, kind in rows:
            contact = found.setdefault(cid, Contact(name=name, group_id=group_id, id=cid))
            if number is not None:
                contact.numbers.append(Number(number, kind))
        return list(found.values())

    def names(self) -> dict[str, str]:
        """Every saved number (as dialed, without spaces or dashes) -> its contact's name."""
        rows = self._read("SELECT n.plain, c.name FROM numbers n JOIN contacts c ON c.id = n.contact_id "
                          "ORDER BY c.id DESC")
        return dict(rows)    # the oldest contact wins a number two contacts share

    # ----- blocklist ---------------------------------------------------------------------------------
    def blocklist(self) -> list[str]:
        return [row[0] for row in self._read("SELECT entry FROM blocklist ORDER BY position")]

    def set_blocklist(self, entries: Iterable[str]) -> None:
        """Replace the saved blocklist with `entries`, in order."""
        unique = list(dict.fromkeys(entries))
        with self._write() as db:
            db.execute("DELETE FROM blocklist")
            db.executemany("INSERT INTO blocklist(position, entry) VALUES (?, ?)", list(enumerate(unique)))


def _clean_name(name: str, what: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise StoreError(f"{what} needs a name.")
    return name


def _row_id(cur: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just wrote (sqlite3 sets lastrowid after each INSERT)."""
    assert cur.lastrowid is not None
    return cur.lastrowid


class _Transaction:
    """`with store._write() as db:` — BEGIN IMMEDIATE … COMMIT (or ROLLBACK), under the store's lock."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> _Transaction:
        self.store._lock.acquire()
        try:
            self.store._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self.store._lock.release()
            raise StoreError(f"Cannot write to the phone's database {self.store.path}: {exc}. "
                             "Check that the disk is not full and the file is writable.") from None
        return self

    def execute(self, sql: str, args: Sequence[object] = ()) -> sqlite3.Cursor:
        return self.store._db.execute(sql, args)

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> sqlite3.Cursor:
        return self.store._db.executemany(sql, rows)

    def executescript_in_txn(self, script: str) -> None:
        """Run several statements inside this transaction (executescript would commit first)."""
        for statement in statements(script):
            self.store._db.execute(statement)

    def __exit__(self, kind, exc, tb) -> None:
        db = self.store._db
        try:
            if kind is None:
                try:
                    db.execute("COMMIT")
                except sqlite3.Error as error:
                    db.execute("ROLLBACK")
                    raise StoreError(f"Cannot write to the phone's database {self.store.path}: {error}. "
                                     "Check that the disk is not full and the file is writable.") from None
            else:
                db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"Cannot write to the phone's database {self.store.path}: {exc}. "
                                     "Check that the disk is not full and the file is writable.") from None
        finally:
            self.store._lock.release()

