"""The phone's control endpoint: a Unix socket per config on which front-ends drive the running phone.

endpoint.py (where, who may), protocol.py (the lines), codec.py (events as JSON), state.py (the snapshot),
ops.py (what may be asked), server.py (the phone's side), client.py (a front-end's side). The
commands `tuiphone ctl` and `tuiphone stop` are in tuiphone/cli/ctl.py.
"""
