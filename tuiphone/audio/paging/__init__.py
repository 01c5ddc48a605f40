"""Multicast paging (seed 3.5): send a page to a group, listen to up to 10 groups by priority.

- `PagingSender` (sender.py) encodes 20 ms frames of a frame source (mic, file, tone) and sends them
  as RTP to a multicast group on its own thread, on an absolute clock.
- `PagingListener` (listener.py) joins the groups on one thread, plays one page at a time through a
  jitter buffer into a frame sink (16 kHz int16, 20 ms frames), and says when pages start and end.
  List order is priority (1 = highest); with `priority_active` a higher page replaces a lower
  one, otherwise the first page holds. A page ends after `silence_timeout` without packets.
- groups.py checks the groups and their ports; `barge_level` says whether a page may interrupt a SIP
  call (`paging.barge`). codec.py has the codecs (PCMU, PCMA, G.722) at 16 kHz.
"""

from __future__ import annotations

from tuiphone.addresses import used_ports
from tuiphone.audio.paging.codec import CODEC_BY_PT, CODECS, PagingCodec, paging_codec
from tuiphone.audio.paging.groups import (
    MAX_GROUPS,
    PagingError,
    PagingGroup,
    barge_level,
    check_groups,
    check_port,
    groups_from_config,
    parse_group,
)
from tuiphone.audio.paging.listener import SILENCE_TIMEOUT, GroupStats, Page, PagingListener
from tuiphone.audio.paging.sender import DEFAULT_TTL, PagingSender

__all__ = [
    "CODECS", "CODEC_BY_PT", "DEFAULT_TTL", "MAX_GROUPS", "SILENCE_TIMEOUT", "GroupStats", "Page",
    "PagingCodec", "PagingError", "PagingGroup", "PagingListener", "PagingSender", "barge_level",
    "check_groups", "check_port", "groups_from_config", "paging_codec", "parse_group", "used_ports",
]
