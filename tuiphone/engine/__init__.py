"""The phone's brain: accounts, lines, calls. Imports neither textual nor rich."""
