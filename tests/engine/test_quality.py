"""Call quality: E-model R and MOS against baresip's published vectors and G.107 by hand."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuiphone.engine.quality import CallQuality, estimate_mos, mos_from_r, r_factor

# baresip test/mos.c: (rtt, jitter, packets lost) -> (R, MOS), checked there to 0.001.
# The loss-free rows hold for us exactly; baresip's loss rows use its flat 2.5 per lost
# packet, which G.107's codec-aware Ie_eff replaces (see the hand-computed rows below).
BARESIP_NO_LOSS = [
    (0.0, 0.0, 92.95, 4.404),
    (500.0, 0.0, 54.20, 2.796),
    (1000.0, 0.0, 4.20, 0.990),
    (0.0, 100.0, 84.20, 4.172),
    (0.0, 200.0, 64.20, 3.315),
]


@pytest.mark.parametrize(("rtt", "jitter", "r", "mos"), BARESIP_NO_LOSS)
def test_r_and_mos_match_baresip_vectors(rtt: float, jitter: float, r: float, mos: float) -> None:
    assert r_factor(rtt, jitter, 0.0) == pytest.approx(r, abs=0.001)
    assert mos_from_r(r_factor(rtt, jitter, 0.0)) == pytest.approx(mos, abs=0.001)


def test_mos_is_clamped_to_one_where_the_curve_dips_below() -> None:
    assert mos_from_r(4.2) < 1.0
    assert estimate_mos(1000.0, 0.0, 0.0) == 1.0
    assert estimate_mos(0.0, 0.0, 0.0) == pytest.approx(4.404, abs=0.001)


# Worked by hand from G.107 (Ie_eff = Ie + (95 - Ie) * Ppl / (Ppl + Bpl)) and G.113 Ie/Bpl:
#   PCMU 1 %: Id = 10/40 = 0.25, Ie_eff = 95/26.1 = 3.6398, R = 89.3102, MOS = 4.3217
#   PCMU 10 %: Ie_eff = 950/35.1 = 27.0655, R = 65.8845, MOS = 3.3985
#   GSM 0 %: Ie = 20, R = 72.95, MOS = 1 + 2.55325 + 7e-6 * 72.95 * 12.95 * 27.05 = 3.7321
#   GSM 1 %: Ie_eff = 20 + 75/11 = 26.8182, R = 66.1318
@pytest.mark.parametrize(
    ("loss", "codec", "r", "mos"),
    [
        (1.0, "PCMU", 89.3102, 4.3217),
        (10.0, "PCMA", 65.8845, 3.3985),
        (0.0, "GSM", 72.95, 3.7321),
        (1.0, "GSM", 66.1318, None),
    ],
)
def test_loss_and_codec_follow_g107_by_hand(loss: float, codec: str, r: float, mos: float | None) -> None:
    assert r_factor(0.0, 0.0, loss, codec) == pytest.approx(r, abs=0.001)
    if mos is not None:
        assert estimate_mos(0.0, 0.0, loss, codec) == pytest.approx(mos, abs=0.001)


def test_codec_named_as_pjsua_reports_it() -> None:
    assert r_factor(20, 5, 2, "GSM/8000/1") == r_factor(20, 5, 2, "gsm")
    assert r_factor(20, 5, 2, "speex/16000/1") < r_factor(20, 5, 2, "PCMU/8000/1")
    assert r_factor(20, 5, 2, "iLBC") < r_factor(20, 5, 0, "iLBC")
    # A codec with no E-model figures scores as G.711, the best case.
    assert r_factor(20, 5, 2, "opus/48000/2") == r_factor(20, 5, 2, "PCMU")


@pytest.mark.parametrize("bad", [(-1.0, 0.0, 0.0), (0.0, math.nan, 0.0), (0.0, 0.0, 101.0)])
def test_impossible_measurements_are_refused(bad: tuple[float, float, float]) -> None:
    with pytest.raises(ValueError):
        estimate_mos(*bad)


_MS = st.floats(0.0, 3000.0)
_LOSS = st.floats(0.0, 100.0)


@given(_MS, _MS, _LOSS, _MS, _MS, _LOSS, st.sampled_from(["PCMU", "G722", "GSM", "iLBC", "speex"]))
def test_more_delay_jitter_or_loss_never_raises_mos(rtt, jitter, loss, more_rtt, more_jitter, more_loss, codec):
    base = estimate_mos(rtt, jitter, loss, codec)
    worse = estimate_mos(rtt + more_rtt, jitter + more_jitter, min(100.0, loss + more_loss), codec)
    assert 1.0 <= worse <= base <= 4.5


def test_call_quality_reports_in_the_cli_json_shape() -> None:
    quality = CallQuality.measure("PCMU", rx_packets=990, rx_lost=10, jitter_ms=3.25, tx_packets=1000, rtt_ms=40.0)
    assert quality.rx_loss_pct == pytest.approx(1.0)
    assert quality.mos == pytest.approx(estimate_mos(40.0, 3.25, 1.0, "PCMU"))
    report = quality.to_json()
    assert report == {
        "codec": "PCMU",
        "rx": {"packets": 990, "lost": 10, "jitter_ms": 3.2},
        "tx": {"packets": 1000},
        "rtt_ms": 40.0,
        "mos": round(quality.mos, 2),
    }
    assert json.loads(json.dumps(report)) == report
    with pytest.raises(dataclasses.FrozenInstanceError):
        quality.mos = 4.5  # type: ignore[misc]
