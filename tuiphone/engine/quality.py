"""Call quality: an E-model (ITU-T G.107, simplified) MOS estimate and the per-call numbers.

R = 93.2 - Id - Ie_eff, then MOS from R with the G.107 conversion.

- Id (delay) is baresip's `mos_calculate` (src/mos.c, after Algorithm::MOS): effective
  latency = RTT + 2 x jitter + 10 ms, Id = latency/40 below 160 ms, else (latency - 120)/10.
  The whole RTT is used, as baresip does: it stands for network delay plus the device and
  jitter-buffer delay a one-way figure would leave out. With no loss our R and MOS equal
  baresip's published test vectors (test/mos.c).
- Ie_eff (codec and loss) is G.107's Ie + (95 - Ie) * Ppl / (Ppl + Bpl) for random loss,
  with Ie/Bpl from ITU-T G.113 Appendix I where it lists the codec. baresip instead takes
  2.5 R-points per lost packet whatever the codec; G.107 lets a codec's loss concealment count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CODEC_IMPAIRMENTS",
    "CallQuality",
    "CodecImpairment",
    "estimate_mos",
    "mos_from_r",
    "r_factor",
]

R_DEFAULT = 93.2  # G.107 Ro - Is with every other parameter at its default


@dataclass(frozen=True)
class CodecImpairment:
    """E-model figures for a codec: equipment impairment Ie and loss robustness Bpl."""

    ie: float
    bpl: float


# Keys are lower-case codec names as pjsua reports them before the first '/'.
CODEC_IMPAIRMENTS: dict[str, CodecImpairment] = {
    "pcmu": CodecImpairment(ie=0.0, bpl=25.1),  # G.113 I: G.711 with PLC (pjmedia conceals loss)
    "pcma": CodecImpairment(ie=0.0, bpl=25.1),  # same as PCMU
    # A narrowband model cannot credit wideband audio, so G.722 scores as G.711 (G.113 gives it
    # Ie=0 on the narrowband scale).
    "g722": CodecImpairment(ie=0.0, bpl=25.1),
    "gsm": CodecImpairment(ie=20.0, bpl=10.0),  # G.113 I: RPE-LTP 13 kbit/s Ie=20; Bpl as GSM-EFR
    # Not in G.113: figures published in VoIP quality studies, used as estimates.
    "ilbc": CodecImpairment(ie=11.0, bpl=32.0),  # 13.33/15.2 kbit/s, loss-robust by design
    "speex": CodecImpairment(ie=11.0, bpl=20.0),  # narrowband ~15 kbit/s (pjsua's default quality)
    "l16": CodecImpairment(ie=0.0, bpl=4.3),  # linear PCM, G.113 figure for G.711 without PLC
}
_UNKNOWN_CODEC = CODEC_IMPAIRMENTS["pcmu"]  # an unknown codec scores as G.711: an upper bound


def _codec(codec: str) -> CodecImpairment:
    return CODEC_IMPAIRMENTS.get(codec.split("/", 1)[0].strip().lower(), _UNKNOWN_CODEC)


def _check(name: str, value: float, upper: float = math.inf) -> float:
    if math.isnan(value) or not 0.0 <= value <= upper:
        raise ValueError(f"{name} must be between 0 and {upper}, not {value!r}")
    return float(value)


def r_factor(rtt_ms: float, jitter_ms: float, loss_pct: float, codec: str = "PCMU") -> float:
    """The E-model transmission rating R (0..100) for a call's RTT, jitter, loss and codec."""
    rtt = _check("rtt_ms", rtt_ms)
    jitter = _check("jitter_ms", jitter_ms)
    loss = _check("loss_pct", loss_pct, 100.0)
    latency = rtt + 2.0 * jitter + 10.0
    delay_impairment = latency / 40.0 if latency < 160.0 else (latency - 120.0) / 10.0
    impairment = _codec(codec)
    loss_impairment = impairment.ie + (95.0 - impairment.ie) * loss / (loss + impairment.bpl)
    return min(100.0, max(0.0, R_DEFAULT - delay_impairment - loss_impairment))


def mos_from_r(r: float) -> float:
    """G.107's conversion from R to MOS, unclamped (it dips below 1 for R under about 6.5)."""
    return 1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)


def estimate_mos(rtt_ms: float, jitter_ms: float, loss_pct: float, codec: str = "PCMU") -> float:
    """Estimated MOS (1.0..4.5) for a call; more delay, jitter or loss never raises it."""
    r = r_factor(rtt_ms, jitter_ms, loss_pct, codec)
    return min(4.5, max(1.0, mos_from_r(r)))


@dataclass(frozen=True)
class CallQuality:
    """The quality numbers of one call, as the call screen and `--json` show them."""

    codec: str
    rx_packets: int
    rx_lost: int
    rx_loss_pct: float
    jitter_ms: float
    tx_packets: int
    rtt_ms: float
    mos: float

    @classmethod
    def measure(
        cls,
        codec: str,
        *,
        rx_packets: int,
        rx_lost: int,
        jitter_ms: float,
        tx_packets: int,
        rtt_ms: float,
    ) -> CallQuality:
        """Build the record from raw counters: loss share and MOS are worked out here."""
        expected = rx_packets + rx_lost
        loss_pct = 100.0 * rx_lost / expected if expected else 0.0
        mos = estimate_mos(rtt_ms, jitter_ms, loss_pct, codec)
        return cls(codec, rx_packets, rx_lost, loss_pct, jitter_ms, tx_packets, rtt_ms, mos)

    def to_json(self) -> dict[str, Any]:
        """The SPEC §6 shape: codec, rx {packets, lost, jitter_ms}, tx {packets}, rtt_ms, mos."""
        return {
            "codec": self.codec,
            "rx": {
                "packets": self.rx_packets,
                "lost": self.rx_lost,
                "jitter_ms": round(self.jitter_ms, 1),
            },
            "tx": {"packets": self.tx_packets},
            "rtt_ms": round(self.rtt_ms, 1),
            "mos": round(self.mos, 2),
        }
