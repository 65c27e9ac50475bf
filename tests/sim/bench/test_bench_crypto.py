"""`lgsp-sim bench crypto` runs end to end and its figures hang together (no timing asserted)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sim.bench.crypto import ENVELOPE_BAR, PADES_BAR, RATES
from sim.cli import app

pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")


@pytest.fixture(scope="module")
def figures() -> dict[str, float | int | bool]:
    result = CliRunner().invoke(app, ["bench", "crypto", "--seconds", "0.05", "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, float | int | bool] = json.loads(result.stdout)
    return out


def test_every_rate_is_measured_and_consistent(figures: dict[str, float | int | bool]) -> None:
    for name in RATES:
        per_s, ms = float(figures[f"{name}_per_s"]), float(figures[f"{name}_ms"])
        assert per_s > 0 and ms > 0, name
        assert per_s * ms == pytest.approx(1000, rel=0.01), name


def test_ratios_and_bars_follow_from_the_rates(figures: dict[str, float | int | bool]) -> None:
    def ratio(a: str, b: str) -> float:
        return float(figures[f"{a}_ms"]) / float(figures[f"{b}_ms"])

    assert figures["envelope_verify_vs_raw"] == pytest.approx(
        ratio("envelope_verify", "raw_verify"), abs=0.01
    )
    assert figures["envelope_verify_parsed_vs_raw"] == pytest.approx(
        ratio("envelope_verify_parsed", "raw_verify"), abs=0.01
    )
    assert figures["large_envelope_verify_vs_raw"] == pytest.approx(
        ratio("large_envelope_verify", "large_raw_verify"), abs=0.01
    )
    speedup = ratio("pades_plain_default_sign", "pades_sign")
    assert figures["pades_speedup_vs_plain_default"] == pytest.approx(speedup, abs=0.01)
    assert figures["pades_bar_met"] is (speedup >= PADES_BAR)
    assert isinstance(figures["envelope_bar_met"], bool)
    assert ENVELOPE_BAR == 3.0


def test_the_large_package_is_the_size_of_the_public_sample(
    figures: dict[str, float | int | bool],
) -> None:
    assert int(figures["package_bytes"]) < 64 * 1024
    assert 300 * 1024 < int(figures["large_package_bytes"]) < 500 * 1024
