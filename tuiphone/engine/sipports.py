"""What to change when the phone cannot open its SIP ports at start: a sentence naming the option or key."""

from __future__ import annotations

EXPLAINED = "usage"      # PhoneError.result of a start that failed on the config or the command line: exit 2


def why_no_transport(exc: OSError, port_given: bool) -> tuple[str, str]:
    """(sentence, result) for the OSError the SIP stack raised at start. `port_given`: --port was on the
    command line (then it, not sip.port, is what to change). A port in use or an address the host does not
    have is the user's to fix (result EXPLAINED); anything else is a failure of the stack ("failed")."""
    text = str(exc)
    if text.startswith("the SIP stack did not start"):
        return text, "failed"
    if "assign requested address" in text.lower():
        return (f"{text}: this computer has no such address; choose another with --bind or "
                "sip.bind_address (\"\" = every address)."), EXPLAINED
    if " TLS port " in text:
        return (f"{text}: another program uses it; set another port in sip.tls.port (0 = any free port), "
                "or stop the other program."), EXPLAINED
    where = ("choose another port with --port (0 = any free port)" if port_given else
             "set another port in sip.port (0 = any free port) or give --port")
    return f"{text}: another program uses it; {where}, or stop the other program.", EXPLAINED
