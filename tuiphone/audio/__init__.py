"""numpy sample work. Imports neither textual nor pjsua2."""
