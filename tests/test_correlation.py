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
