"""The phone's web admin (issue 16): sign in, Status, Config, Phonebook, Captures, Recordings, Click-to-dial and
the web password, served by the phone process itself on aiohttp with server-rendered jinja2 pages.
"""
