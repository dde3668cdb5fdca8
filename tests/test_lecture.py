"""The lecture's numbers (`studies.lecture`): on hand-made tables where the answer is
known, and a brute-force reference for the pair search."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from ssnr_core.studies import correlation, lecture


def table_of(sums, ssnr=None, lw=None) -> pd.DataFrame:
    n = len(sums)
    index = pd.Index([f"a{i}" for i in range(n)], name="arch")
    return pd.DataFrame(
        {
            "sum": sums,
            "ssnr": ssnr if ssnr is not None else np.arange(n, dtype=float),
            "layerwise_ssnr": lw if lw is not None else np.arange(n, dtype=float),
        },
        index=index,
    )


def test_the_widest_band_is_found_and_described():
    # 30 archs at S_n ~ 1e6 with accuracies 50..79, 30 at ~1e9 within 70..72.
    sums = np.r_[np.full(30, 1.1e6), np.full(30, 1.5e9)]
    acc = np.r_[np.linspace(50, 79, 30), np.linspace(70, 72, 30)]
    t = table_of(sums)
    band = lecture.widest_band(t, pd.Series(acc, index=t.index), width=0.1, min_n=20)
    assert (band.lo, band.n, band.acc_min, band.acc_max) == (pytest.approx(6.0), 30, 50, 79)
    assert band.hi == pytest.approx(6.1)
    with pytest.raises(ValueError, match="no band"):
        lecture.widest_band(t, pd.Series(acc, index=t.index), min_n=31)


def test_zero_sums_and_missing_accuracy_are_left_out():
    t = table_of([0.0, 1e6, 1e6, 1e6])
    truth = pd.Series([99.0, 10.0, np.nan, 20.0], index=t.index)
    band = lecture.widest_band(t, truth, min_n=2)
    assert band.n == 2 and (band.acc_min, band.acc_max) == (10.0, 20.0)


def test_the_contrast_pair_is_the_brute_force_one():
    rng = np.random.default_rng(3)
    sums = 10 ** rng.uniform(3, 5, 300)
    t = table_of(sums)
    truth = pd.Series(rng.uniform(40, 95, 300), index=t.index)
    pair = lecture.contrast_pair(t, truth, tolerance=0.01)
    best, count = 0.0, 0
    for a, b in combinations(t.index, 2):
        hi, lo = max(t.loc[a, "sum"], t.loc[b, "sum"]), min(t.loc[a, "sum"], t.loc[b, "sum"])
        if lo >= 0.99 * hi:
            count += 1
            best = max(best, abs(truth[a] - truth[b]))
    assert truth[pair.better] - truth[pair.worse] == pytest.approx(best)
    assert truth[pair.better] > truth[pair.worse]
    assert f"of the {count:,} pairs" in pair.rule
    with pytest.raises(ValueError, match="no two architectures"):
        lecture.contrast_pair(table_of([1.0, 10.0]), pd.Series([1.0, 2.0], index=["a0", "a1"]))


def test_within_bands_is_spearman_inside_each_decade():
    rng = np.random.default_rng(0)
    sums = 10 ** np.r_[rng.uniform(4, 5, 150), rng.uniform(7, 8, 120), rng.uniform(9, 10, 5)]
    t = table_of(sums, ssnr=rng.normal(size=275), lw=rng.normal(size=275))
    truth = pd.Series(rng.uniform(50, 90, 275), index=t.index)
    bands = lecture.within_bands(t, truth, width=1.0, min_n=100)
    assert list(bands["lo"]) == [4.0, 7.0] and list(bands["n"]) == [150, 120]  # 5: too few
    first = t.iloc[:150]
    y = truth.iloc[:150].to_numpy()
    for agg in ("sum", "ssnr", "layerwise_ssnr"):
        assert bands.loc[0, agg] == pytest.approx(correlation.spearman(first[agg].to_numpy(), y))
    assert bands.loc[0, "spread"] == pytest.approx(y.max() - y.min())


def test_standing_ranks_one_highest_and_ties_share():
    t = table_of([5.0, 5.0, 1.0], ssnr=[3.0, 2.0, 1.0], lw=[1.0, 2.0, 3.0])
    truth = pd.Series([60.0, 70.0, 80.0], index=t.index)
    ranks = lecture.standing(t, truth, ["a0", "a2"])
    assert ranks.loc["a0"].to_dict() == {"sum": 1, "ssnr": 1, "layerwise_ssnr": 3, "accuracy": 3}
    assert ranks.loc["a2"].to_dict() == {"sum": 3, "ssnr": 3, "layerwise_ssnr": 1, "accuracy": 1}


def test_per_weight_drops_dead_layers_and_size_rho_reads_it():
    layers = pd.DataFrame(
        {"layer": ["s", "c1", "dead", "c2"], "count": [10, 100, 50, 1000], "sum": [8, 8, 0, 8]}
    )
    table = lecture.per_weight(layers)
    assert list(table["layer"]) == ["s", "c1", "c2"]
    np.testing.assert_allclose(table["per_weight"], [0.8, 0.08, 0.008])
    assert lecture.size_rho(table) == pytest.approx(-1.0)


def test_still_accurate_is_the_last_step_within_the_drop():
    curve = pd.DataFrame(
        {
            "fraction_pruned": [0.0, 0.2, 0.4, 0.6],
            "test_accuracy": [0.98, 0.979, 0.975, 0.90],
            "sum": [10.0, 8.0, 5.0, 2.0],
            "ssnr": [4.0, 4.0, 3.8, 2.0],
            "layerwise_ssnr": [2.0, 1.9, 1.5, 1.0],
        }
    )
    found = lecture.still_accurate(curve, drop=1.0)
    assert (found.fraction, found.start) == (0.4, 98.0)
    assert found.accuracy == pytest.approx(97.5)
    assert found.relative == {
        "sum": 0.5,
        "ssnr": pytest.approx(0.95),
        "layerwise_ssnr": 0.75,
    }
