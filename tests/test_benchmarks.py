import numpy as np
import pytest

from ssnr_core import benchmarks, correlation, evaluation, scoring
from ssnr_core.setup import Setup

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
    stats = scoring.score(setup, list(theirs.index), empty_cache, workers=2)
    ours = np.array([scoring.scores(stats, "sum")[a] for a in theirs.index])
    rho = correlation.spearman(ours, theirs.to_numpy())
    print(f"spearman(ours, NASLib synflow) over {len(theirs)} archs = {rho:.4f}")
    assert rho > 0.9
