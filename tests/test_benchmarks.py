from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from conftest import LOCAL, stored_params

from ssnr_core import benchmarks
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs import scoring
from ssnr_core.studies import baselines, correlation, evaluation, naslib

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_nb201_ground_truth_sanity_figures():
    acc = benchmarks.truth("nb201", "cifar10")
    assert len(acc) == 15625 and acc.index.is_unique
    assert acc.max() == pytest.approx(94.37, abs=0.01)
    assert acc.median() == pytest.approx(90.75, abs=0.01)
    assert BEST in acc.nlargest(3).index  # the README's best cell; two others tie at 94.37
    for task in ("cifar100", "ImageNet16-120"):
        assert len(benchmarks.truth("nb201", task)) == 15625


def test_naslib_samples_load():
    assert len(benchmarks.truth("nb201", "cifar10", "naslib")) == 725
    assert len(benchmarks.truth("nb201", "ImageNet16-120", "naslib")) == 724


def test_sample_is_seeded_and_nested():
    small = evaluation.sample("nb201", "cifar10", 50, seed=4)
    large = evaluation.sample("nb201", "cifar10", 500, seed=4)
    assert small == evaluation.sample("nb201", "cifar10", 50, seed=4)
    assert set(small) <= set(large) and len(set(large)) == 500
    assert small != evaluation.sample("nb201", "cifar10", 50, seed=5)


def test_our_synflow_ranks_like_naslibs_stored_synflow(empty_cache):
    """Spearman of our synflow sum vs NASLib's stored synflow scores over NASLib's NB201
    CIFAR-10 sample (different random inits, so not 1, but it must be high)."""
    setup = Setup("nb201", "cifar10", "synflow")
    theirs = benchmarks.naslib_scores("nb201", "cifar10", "synflow")
    stats = scoring.score(
        setup, list(theirs.index), empty_cache, settings=replace(LOCAL, workers=2)
    )
    ours = evaluation.score_table(stats)["sum"].reindex(theirs.index).to_numpy()
    rho = correlation.spearman(ours, theirs.to_numpy())
    print(f"spearman(ours, NASLib synflow) over {len(theirs)} archs = {rho:.4f}")
    assert rho > 0.9


def test_params_baseline_equals_naslibs_stored_params_for_every_nb201_entry():
    for task in ("cifar10", "cifar100", "ImageNet16-120"):
        for arch, rec in benchmarks.naslib_entries("nb201", task).items():
            params, _ = baselines.count("nb201", task, arch, flops=False)
            assert round(params * 1e6) == stored_params(rec), (task, arch)


ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"


def test_flops_are_conv_and_linear_macs_counted_by_hand():
    # all-skip cells: only the stem, the two reduction blocks and the classifier compute
    stem = 32 * 32 * 16 * 3 * 9
    reduce1 = 16 * 16 * 32 * (16 * 9 + 32 * 9 + 16)  # conv_a, conv_b, 1x1 shortcut
    reduce2 = 8 * 8 * 64 * (32 * 9 + 64 * 9 + 32)
    _, flops = baselines.count("nb201", "cifar10", ALL_SKIP)
    assert flops * 1e6 == pytest.approx(stem + reduce1 + reduce2 + 64 * 10)
    # a 3x3 conv on edge 1<-0 adds H*W*C*C*9 MACs per cell: the same 2,359,296 in all
    # 15 cells (32x32 at C=16, 16x16 at C=32, 8x8 at C=64)
    conv = ALL_SKIP.replace("skip_connect~0|+", "nor_conv_3x3~0|+", 1)
    added = baselines.count("nb201", "cifar10", conv)[1] - flops
    assert added * 1e6 == pytest.approx(15 * 32 * 32 * 16 * 16 * 9)


def test_flops_rank_like_naslibs_stored_flops_and_are_cached(tmp_path):
    archs = evaluation.sample("nb201", "cifar10", 40, 0, "naslib")
    cache = baselines.BaselineCache(tmp_path / "baselines.sqlite")
    table = baselines.table("nb201", "cifar10", archs, cache)
    theirs = benchmarks.naslib_scores("nb201", "cifar10", "flops").reindex(archs)
    assert correlation.spearman(table["flops"].to_numpy(), theirs.to_numpy()) > 0.9
    assert len(cache.get("nb201", "cifar10")) == 40
    again = baselines.table("nb201", "cifar10", archs, cache, progress=_no_compute)
    pd.testing.assert_frame_equal(again, table)


def _no_compute(done: int, total: int) -> None:
    raise AssertionError("a cached baseline was counted again")


def test_naslib_proxies_table_and_agreement():
    found = naslib.summaries("nb201", "cifar10")
    assert set(found) == set(naslib.PROXIES) and "zen" not in found
    truth = benchmarks.truth("nb201", "cifar10", "naslib")
    stored = benchmarks.naslib_scores("nb201", "cifar10", "nwot").reindex(truth.index)
    assert found["nwot"].kendall == pytest.approx(
        correlation.kendall(stored.to_numpy(), truth.to_numpy())
    )
    assert "synflow" not in naslib.proxies("tnb101", "jigsaw").columns  # not in TNB101's file
    rho, n = naslib.agreement(stored * 2 + 1, "nb201", "cifar10", "nwot")
    assert rho == pytest.approx(1.0) and n == np.isfinite(stored).sum() == len(truth) - 1
