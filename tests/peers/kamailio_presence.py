"""Kamailio as registrar, proxy and presence server (presence, presence_xml, presence_mwi), on a loopback port.

Needs the Debian package kamailio-presence-modules on top of kamailio.
"""

from __future__ import annotations

from pathlib import Path

from tests.peers.kamailio import Kamailio

PRESENCE_CONFIG = Path(__file__).parent / "kamailio" / "kamailio-presence.cfg"
MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
PACKAGE = "kamailio-presence-modules"

# db_text headers of the tables the presence modules check at start (from Kamailio 5.6's schema)
_TABLES = {
    "presentity": (5, ("id(int,auto) username(string) domain(string) event(string) etag(string) expires(int) "
                       "received_time(int) body(string) sender(string) priority(int) ruid(string,null) ")),
    "active_watchers": (12, ("id(int,auto) presentity_uri(string) watcher_username(string) watcher_domain(string) "
                             "to_user(string) to_domain(string) event(string) event_id(string,null) to_tag(string) "
                             "from_tag(string) callid(string) local_cseq(int) remote_cseq(int) contact(string) "
                             "record_route(string,null) expires(int) status(int) reason(string,null) version(int) "
                             "socket_info(string) local_contact(string) from_user(string) from_domain(string) "
                             "updated(int) updated_winfo(int) flags(int) user_agent(string,null) ")),
    "watchers": (3, ("id(int,auto) presentity_uri(string) watcher_username(string) watcher_domain(string) "
                     "event(string) status(int) reason(string,null) inserted_time(int) ")),
    "xcap": (4, ("id(int,auto) username(string) domain(string) doc(string) doc_type(int) etag(string) source(int) "
                 "doc_uri(string) port(int) ")),
}


def presence_modules_installed() -> bool:
    """Whether the presence modules are where kamailio loads its modules from."""
    return (MODULES / "presence.so").exists() or any(Path("/usr/lib").glob("*/kamailio/modules/presence.so"))


class PresenceKamailio(Kamailio):
    """A Kamailio (see Kamailio) that also stores PUBLISHed presence and message-summary state and NOTIFYs
    every SUBSCRIBEd watcher of it. State is in memory; the db_text tables are only there to be checked."""

    def __init__(self, state_dir: Path, **kwargs) -> None:
        super().__init__(state_dir, config=PRESENCE_CONFIG, **kwargs)
        versions = [f"0:{table}:{version}\n" for table, (version, _) in _TABLES.items()]
        with open(self.db_dir / "version", "a") as f:
            f.writelines(versions)
        for table, (_, header) in _TABLES.items():
            (self.db_dir / table).write_text(header + "\n")
