"""The batched NB201 synflow engine against an independent float64 reference loop."""

import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import LOCAL, reference_synflow
from scipy.stats import spearmanr

from ssnr_core.proxies import aggregation, engine, network
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs import scoring
from ssnr_core.runs.cache import Cache
from ssnr_core.spaces import nb201

SEED = 3
DEGENERATE = {
    "all none": "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "all skip": "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
    "avg_pool only": "|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|",
    "all conv3x3 (R ~ 1e48)": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "output cut off": "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|none~0|none~1|none~2|",
    "node 2 feeds nothing": "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|",
    "node 1 unreached": "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|",
    "same live cell as above": "|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|",
}


pytestmark = pytest.mark.usefixtures("single_thread")


def _random_archs(n: int, seed: int) -> list[nb201.Arch]:
    every = list(itertools.product(nb201.OPS, repeat=6))
    return [every[i] for i in np.random.default_rng(seed).choice(len(every), n, replace=False)]


SAMPLE = [nb201.parse(a) for a in DEGENERATE.values()] + _random_archs(6, seed=1)


def _reference(arch: nb201.Arch) -> np.ndarray:
    """Synflow as NASLib/foresight write it (conftest's oracle), weights seeded per slot."""
    setup = Setup("nb201", "cifar10", "synflow", SEED, dtype="float64")
    model = network.build_network(setup, nb201.to_str(arch), share=False)
    return aggregation.layer_stats(reference_synflow(model, (3, 32, 32)))


@pytest.fixture(scope="module")
def reference() -> list[np.ndarray]:
    return [_reference(a) for a in SAMPLE]


@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_engine_equals_the_reference_loop_layer_by_layer(reference, dtype, rtol):
    """One batch holding degenerate and random cells; counts, layer order and the exact
    zeros of dead layers as the reference, sums and M2 within rtol."""
    got = engine.synflow_stats(SAMPLE, "cifar10", SEED, dtype=dtype)
    for arch, ours, ref in zip(SAMPLE, got, reference, strict=True):
        assert ours.shape == ref.shape, arch
        assert np.array_equal(ours[:, 0], ref[:, 0]), arch
        assert np.array_equal(ours[:, 1:] == 0, ref[:, 1:] == 0), arch
        np.testing.assert_allclose(ours, ref, rtol=rtol, atol=0, err_msg=str(arch))
    cut_off = got[list(DEGENERATE).index("output cut off")]
    assert (cut_off[:, 1:] == 0).all() and (cut_off[:, 0] > 0).all()


def test_float32_keeps_the_float64_ranking():
    archs = _random_archs(200, seed=2)
    f32 = engine.synflow_stats(archs, "cifar10", SEED, dtype=torch.float32)
    f64 = engine.synflow_stats(archs, "cifar10", SEED, dtype=torch.float64)
    a32, a64 = aggregation.aggregate_all(f32), aggregation.aggregate_all(f64)
    for name in a64:
        assert np.array_equal(np.isnan(a32[name]), np.isnan(a64[name])), name
        assert np.array_equal(a32[name] == 0, a64[name] == 0), name
        # scores carry 7 significant digits (aggregation.SIGNIFICANT): exact-arithmetic
        # ties (isomorphic cells, dead-edge variants) tie in both precisions
        assert spearmanr(a32[name], a64[name]).statistic >= 0.99999, name
    for s32, s64 in zip(f32, f64, strict=True):
        np.testing.assert_allclose(s32, s64, rtol=1e-5, atol=0)


def test_an_arch_scores_the_same_alone_and_in_any_batch():
    arch = nb201.parse(DEGENERATE["node 2 feeds nothing"])
    alone = engine.synflow_stats([arch], "cifar10", SEED)[0]
    others = _random_archs(12, seed=4)
    for batch in ([*others[:5], arch, *others[5:]], [arch, *others[::-1]]):
        got = engine.synflow_stats(batch, "cifar10", SEED)[batch.index(arch)]
        np.testing.assert_allclose(got, alone, rtol=1e-6, atol=0)
    small = engine.synflow_stats(others, "cifar10", SEED, batch=5)
    large = engine.synflow_stats(others[::-1], "cifar10", SEED)[::-1]
    for a, b in zip(small, large, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=0)


def test_live_edges():
    parse = nb201.parse
    assert nb201.live_edges(parse(DEGENERATE["all none"])) == (False,) * 6
    assert nb201.live_edges(parse(DEGENERATE["output cut off"])) == (False,) * 6
    assert nb201.live_edges(parse(DEGENERATE["node 2 feeds nothing"])) == (
        True,
        False,
        False,
        True,
        True,
        False,
    )
    assert nb201.live_edges(parse(DEGENERATE["node 1 unreached"])) == (
        False,
        True,
        False,
        False,
        False,
        True,
    )


def test_every_tensor_is_made_on_the_requested_device():
    """Under a `meta` default device, a tensor created without the engine's `device`
    would be a meta tensor and fail on first use: this is what keeps `--device cuda`
    working on a machine without a GPU to test it."""
    engine.slot_weights(SEED, "cifar10", "cpu", torch.float32)  # built outside: cached
    expected = engine.synflow_stats(SAMPLE[:4], "cifar10", SEED, device="cpu")
    with torch.device("meta"):
        got = engine.synflow_stats(SAMPLE[:4], "cifar10", SEED, device="cpu")
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_score_passes_device_and_dtype_and_commits_each_batch(tmp_path, monkeypatch):
    archs = [nb201.to_str(a) for a in _random_archs(2 * engine.BATCH + 3, seed=5)]
    setup = Setup("nb201", "cifar10", "synflow", SEED)
    assert setup.dtype == "float32"  # synflow's default: the key says what is computed
    real, calls = engine.synflow_stats, []

    def spy(archs, task, seed, device, dtype, **kw):
        calls.append((len(archs), device, dtype))
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed while the second batch is in flight
        return real(archs, task, seed, "cpu", dtype, **kw)

    monkeypatch.setattr(engine, "synflow_stats", spy)
    cache = Cache(tmp_path / "stats.sqlite")
    with pytest.raises(KeyboardInterrupt):
        scoring.score(setup, archs, cache, settings=replace(LOCAL, device="cuda:1"))
    assert [c[1:] for c in calls] == [("cuda:1", torch.float32)] * 2
    assert 1 < calls[0][0] < len(archs)  # batched, in several batches
    assert cache.count(setup) == calls[0][0]  # the first batch, committed arch by arch
    monkeypatch.setattr(engine, "synflow_stats", real)
    resumed = scoring.score(setup, archs, cache, settings=LOCAL)
    assert cache.count(setup) == len(archs)
    fresh = engine.synflow_stats([nb201.parse(a) for a in archs], "cifar10", SEED)
    for arch, stats in zip(archs, fresh, strict=True):
        np.testing.assert_allclose(resumed[arch], stats, rtol=1e-6, atol=0)
    f64 = network.network_stats(
        Setup("nb201", "cifar10", "synflow", SEED, dtype="float64"), archs[0]
    )
    assert not np.array_equal(f64, resumed[archs[0]])  # float64 on request, a separate key
    np.testing.assert_allclose(f64, resumed[archs[0]], rtol=1e-5, atol=0)
