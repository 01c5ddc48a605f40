"""The phone database's schema: one script per version, run in order to migrate a database forward.

The version is SQLite's `PRAGMA user_version`; store.py runs the steps a database has not had yet, each in
its own transaction, when the phone opens it. A new step goes at the end; a step once released never changes.
"""

from __future__ import annotations

from collections.abc import Iterator

SCHEMA_VERSION = 3

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1
    """
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        direction TEXT NOT NULL,
        account INTEGER,
        remote_uri TEXT NOT NULL,
        remote_name TEXT NOT NULL,
        remote_number TEXT NOT NULL,
        started REAL NOT NULL,
        duration_s REAL NOT NULL,
        disposition TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX calls_started ON calls(started);
    CREATE TABLE groups (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        group_id INTEGER REFERENCES groups(id) ON DELETE SET NULL,
        search_key TEXT NOT NULL
    );
    CREATE TABLE numbers (
        id INTEGER PRIMARY KEY,
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        number TEXT NOT NULL,
        kind TEXT NOT NULL,
        plain TEXT NOT NULL
    );
    CREATE INDEX numbers_plain ON numbers(plain);
    CREATE TABLE blocklist (
        position INTEGER PRIMARY KEY,
        entry TEXT NOT NULL UNIQUE
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 1 -> 2: rows written when a call starts, found again by the engine's history key when it ends
    """
    ALTER TABLE calls ADD COLUMN call_key TEXT NOT NULL DEFAULT '';
    ALTER TABLE calls ADD COLUMN owner TEXT NOT NULL DEFAULT '';
    CREATE INDEX calls_key ON calls(call_key);
    """,
    # 2 -> 3: what the phone knew of a call as it ended (codec, MOS, loss, jitter, RTT, a transfer), as JSON
    """
    CREATE TABLE call_summaries (
        call_id INTEGER PRIMARY KEY REFERENCES calls(id) ON DELETE CASCADE,
        summary TEXT NOT NULL
    );
    """,
)


def statements(script: str) -> Iterator[str]:
    """The statements of a script, one by one (split at each `;`)."""
    for part in script.split(";"):
        if part.strip():
            yield part.strip()
