import numpy as np
import pytest

from ssnr_core.proxies import aggregation as agg

LAYERS = [np.array([1.0, 2.0, 3.0, 6.0]), np.array([10.0, 10.0, 40.0]), np.array([0.5])]


def test_stats_match_numpy():
    stats = agg.layer_stats(LAYERS)
    for row, layer in zip(stats, LAYERS, strict=True):
        assert row[agg.COUNT] == layer.size
        assert row[agg.SUM] == pytest.approx(layer.sum())
        assert row[agg.M2] == pytest.approx(((layer - layer.mean()) ** 2).sum())


def test_aggregations_by_hand():
    stats = agg.layer_stats(LAYERS)
    everything = np.concatenate(LAYERS)
    assert agg.total(stats) == pytest.approx(72.5)
    assert agg.ssnr(stats) == pytest.approx(72.5 / everything.std())  # population std
    # layer 1: 12 / std([1,2,3,6]); layer 2: 60 / std([10,10,40]); layer 3: sigma 0 -> 0
    expected = 12 / np.std(LAYERS[0]) + 60 / np.std(LAYERS[1]) + 0.0
    assert agg.layerwise_ssnr(stats) == pytest.approx(expected)
    assert agg.aggregate(stats, "layerwise_ssnr") == agg.layerwise_ssnr(stats)


def test_merge_equals_stats_of_all_values():
    rng = np.random.default_rng(0)
    layers = [rng.lognormal(30, 5, size=n) for n in (10, 1000, 3)]  # sums near 1e30
    merged = agg.merge_all([agg.layer_stats(layers)])[0]
    whole = agg.layer_stats([np.concatenate(layers)])[0]
    np.testing.assert_allclose(merged, whole, rtol=1e-9)


def test_documented_values_for_degenerate_input():
    dead = agg.layer_stats([np.zeros(9), np.zeros(4)])
    assert agg.total(dead) == 0 and agg.ssnr(dead) == 0 and agg.layerwise_ssnr(dead) == 0
    empty = agg.layer_stats([np.array([]), np.array([1.0, 3.0])])
    assert agg.layerwise_ssnr(empty) == pytest.approx(4.0 / 1.0)
    for bad in (np.nan, np.inf, -np.inf):
        stats = agg.layer_stats([np.array([1.0, bad]), np.array([1.0, 2.0])])
        assert all(np.isnan(fn(stats)) for fn in agg.AGGREGATIONS.values())


def test_unknown_aggregation():
    with pytest.raises(ValueError, match="unknown aggregation"):
        agg.aggregate(agg.layer_stats(LAYERS), "median")


def test_vectorised_aggregation_equals_one_network_at_a_time():
    rng = np.random.default_rng(3)
    nets = [
        agg.layer_stats([rng.lognormal(10, 4, size=rng.integers(1, 50)) for _ in range(k)])
        for k in rng.integers(1, 12, size=40)
    ]
    nets[5][0, agg.SUM] = np.nan
    nets[7][1:, :] = 0.0  # dead layers
    together = agg.aggregate_all(nets)
    for name, fn in agg.AGGREGATIONS.items():
        alone = np.array([fn(s) for s in nets])
        np.testing.assert_allclose(together[name], alone, rtol=1e-12)
    assert np.isnan(together["sum"][5]) and np.isfinite(together["sum"][7])
    with pytest.raises(ValueError, match="no weight layers"):
        agg.aggregate_all([np.zeros((0, 3))])


def test_no_networks_give_empty_scores():
    out = agg.aggregate_all([])
    assert all(len(v) == 0 for v in out.values()) and set(out) == set(agg.AGGREGATIONS)
