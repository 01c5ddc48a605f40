"""The pjsua2 adapter: the only package that imports pjsua2.

Its modules: thread.py (the SIP thread that owns pjlib), loop.py (the command queue, timers and the loop),
frames.py (ctypes views of pjsua2's frames, a call's Python port), objects.py (the pjsua2 subclasses: log
writer, call, account, buddy), endpoint.py, accounts.py, calls.py and bridge.py (the parts of the backend),
backend.py (PjsuaBackend, made of them). Nothing outside this package imports pjsua2.

One SIP thread creates the Endpoint (so it is pjsua's main thread), polls it, and runs every command
handed to it through `submit`. pjsua2 callbacks become calls on the `BackendListener`, always on the SIP
thread. The phone's microphone and speaker meet the calls the user talks on through the local port, a C
port (localport.py) that the sound card's callbacks drive, so pjmedia's clock never waits for Python. A
call gets an `AudioMediaPort` of its own, copying 20 ms frames between pjmedia and numpy sources/sinks, only
while its media has a source or sinks (a file, a tone, a recording with no local audio).
"""

from tuiphone.engine.sip.backend import PjsuaBackend
from tuiphone.engine.sip.frames import CLOCK_RATE, FRAME_SAMPLES, _make_port
from tuiphone.engine.sip.objects import DIRECT

__all__ = ["CLOCK_RATE", "DIRECT", "FRAME_SAMPLES", "PjsuaBackend", "_make_port"]
