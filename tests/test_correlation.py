import numpy as np
import pytest
from scipy import stats

from ssnr_core import correlation as corr


@pytest.fixture
def xy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=300)
    return x, x + rng.normal(size=300)


def test_point_estimates_agree_with_scipy(xy):
    x, y = xy
    assert corr.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    ties = np.round(x)
    assert corr.kendall(ties, y) == pytest.approx(stats.kendalltau(ties, y).statistic)


def test_non_finite_pairs_are_dropped(xy):
    x, y = xy
    x2 = x.copy()
    x2[:10] = [np.nan, np.inf, -np.inf] * 3 + [np.nan]
    assert corr.spearman(x2, y) == pytest.approx(corr.spearman(x[10:], y[10:]))
    s = corr.summary(x2, y, n_boot=50)
    assert s.n == 290 and s.dropped == 10


def test_vectorised_spearman_bootstrap_equals_the_plain_loop(xy):
    x, y = xy
    fast = corr.bootstrap_ci(x, y, corr.spearman, n_boot=200, seed=5)
    slow = corr.bootstrap_ci(x, y, lambda a, b: corr.spearman(a, b), n_boot=200, seed=5)
    assert fast == pytest.approx(slow)
    assert fast[0] < corr.spearman(x, y) < fast[1]


def test_top_k_precision():
    x = np.arange(100.0)
    assert corr.top_k_precision(x, x, 0.1) == 1.0
    assert corr.top_k_precision(-x, x, 0.1) == 0.0
    assert corr.top_k_precision(x, np.r_[x[:95], x[95:][::-1] - 50], 0.1) == pytest.approx(0.5)


def test_too_few_points_give_nan():
    assert np.isnan(corr.spearman([1.0, 2.0], [1.0, 2.0]))
    assert corr.bootstrap_ci([1.0], [1.0], corr.kendall) != corr.bootstrap_ci(
        [1.0], [1.0], corr.kendall
    )


def test_top_k_curve_by_hand():
    x = np.array([0.9, 0.8, 0.7, 0.6, 0.5, np.nan])  # scores; the NaN pair is dropped
    y = np.array([3.0, 5.0, 1.0, 4.0, 2.0, 9.0])  # true ranks: 3, 1, 5, 2, 4
    curve = corr.top_k_curve(x, y, np.array([0.2, 0.4, 0.6, 1.0]))
    assert curve["k"].tolist() == [1, 2, 3, 5]
    # top-1 by score has true rank 3; top-2 holds ranks {3, 1}: one of them in the true top 2
    assert curve["precision"].tolist() == [0.0, 0.5, pytest.approx(2 / 3), 1.0]
    assert curve["best_true_rank"].tolist() == [3, 1, 1, 1]
    perfect = corr.top_k_curve(y, y)
    assert (perfect["precision"] == 1.0).all() and (perfect["best_true_rank"] == 1).all()
