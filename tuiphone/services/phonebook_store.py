"""Phonebook files into and out of the phone's database (`tuiphone.store.Store`).

The store keeps one name, one group and kinds of number per contact; the files' first/last names are
joined and split again (`Contact.name`, `split_name`), and a contact's first group is the one kept.
Account indexes of numbers are not stored, so an export writes none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tuiphone.services.phonebook_io import Contact, PhoneNumber, split_name

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    added: int = 0
    replaced: int = 0
    kept: int = 0                                     # already on the phone (download that keeps edits)
    removed: int = 0
    skipped: list[str] = field(default_factory=list)  # sentences: contacts the phone could not take

    def summary(self) -> str:
        parts = [f"{self.added} added"]
        if self.replaced:
            parts.append(f"{self.replaced} replaced")
        if self.kept:
            parts.append(f"{self.kept} kept as edited on the phone")
        if self.removed:
            parts.append(f"{self.removed} removed")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return ", ".join(parts)


class StorePhonebook:
    """The phonebook side of a `Store`: import, export, and the download's replace rule."""

    def __init__(self, store: Any):
        self.store = store

    def export(self) -> list[Contact]:
        names = {g.id: g.name for g in self.store.groups()}
        out = []
        for saved in self.store.contacts():
            first, last = split_name(saved.name)
            groups = [names[saved.group_id]] if saved.group_id in names else []
            out.append(Contact(first, last, [PhoneNumber(n.number, None, n.kind) for n in saved.numbers], groups))
        return out

    def import_contacts(self, contacts: Iterable[Contact], *, replace_same_name: bool = True) -> ImportReport:
        """Add every contact; one with the name of a saved contact replaces it (or, with
        `replace_same_name=False`, leaves the saved one as it is)."""
        from tuiphone.store import Contact as Saved
        from tuiphone.store import Number, StoreError

        report = ImportReport()
        saved_by_name = {c.name: c for c in self.store.contacts()}
        group_ids = {g.name: g.id for g in self.store.groups()}
        for contact in contacts:
            name = contact.name or (contact.numbers[0].number if contact.numbers else "")
            existing = saved_by_name.get(name)
            if existing is not None and not replace_same_name:
                report.kept += 1
                continue
            group_id = None
            if contact.groups:
                group = contact.groups[0]
                if group not in group_ids:
                    group_ids[group] = self.store.add_group(group)
                group_id = group_ids[group]
            numbers = [Number(n.number, n.kind) for n in contact.numbers]
            try:
                new_id = self.store.save_contact(Saved(name=name, numbers=numbers, group_id=group_id,
                                                       id=existing.id if existing is not None else None))
            except StoreError as exc:
                report.skipped.append(str(exc))
                continue
            if existing is not None:
                report.replaced += 1
            else:
                report.added += 1
                saved_by_name[name] = Saved(name=name, id=new_id)
        return report

    def replace_downloaded(self, contacts: list[Contact], remove_edited: bool) -> ImportReport:
        """A downloaded phonebook arrives: with `remove_edited` it replaces the whole phonebook (hand-made
        entries go); without, entries already on the phone stay as they are and new ones are added."""
        removed = 0
        if remove_edited:
            for saved in self.store.contacts():
                self.store.delete_contact(saved.id)
                removed += 1
        report = self.import_contacts(contacts, replace_same_name=False)
        report.removed = removed
        return report
