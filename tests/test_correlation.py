import numpy as np
import pytest
from scipy import stats

from ssnr_core.studies import correlation as corr


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


def test_pearson_and_top_k_metrics_on_hand_computed_arrays():
    y = np.arange(10.0)  # truth: arch 9 is the best
    x = np.array([0, 1, 2, 3, 4, 5, 6, 9, 8, 7], dtype=float)  # top 3 by score: 7, 8, 9
    assert corr.pearson(y, 2 * y + 1) == pytest.approx(1.0)
    assert corr.pearson(x, y) == pytest.approx(stats.pearsonr(x, y).statistic)
    assert corr.top_k_precision(x, y, 0.3) == 1.0  # same set {7, 8, 9}
    assert corr.top_k_precision(x, y, 0.1) == 0.0  # score's best is 7, truth's is 9
    # within the truly best 3 (archs 7, 8, 9) the score orders 9 > 8 > 7 backwards
    assert corr.top_k_kendall(x, y, 0.3) == pytest.approx(-1.0)
    assert corr.top_k_kendall(x, y, 0.5) == pytest.approx(0.4)  # 10 pairs: 7 agree, 3 not
    assert corr.best_true_rank(x, y, 0.1) == 3.0  # the score's pick (arch 7) is third best
    assert corr.best_true_rank(x, y, 0.2) == 2.0
    assert corr.best_true_rank(x, y, 0.3) == 1.0
    m = corr.more_metrics(x, y)
    assert m["top50%_kendall"] == pytest.approx(0.4) and m["top1%_best_rank"] == 3.0
    assert corr.summary(x, y, n_boot=5).row()["top10%_best_rank"] == 3.0


def _brute_force_paired(a, b, y, stat, n_boot, seed, level=0.95):
    """The definition, one resample at a time."""
    idx = np.random.default_rng(seed).integers(0, len(y), size=(n_boot, len(y)))
    diffs = [stat(a[i], y[i]) - stat(b[i], y[i]) for i in idx]
    lo, hi = np.nanquantile(diffs, [(1 - level) / 2, (1 + level) / 2])
    return stat(a, y) - stat(b, y), lo, hi


@pytest.mark.parametrize("stat", [corr.spearman, corr.kendall])
def test_paired_bootstrap_equals_brute_force_loop(stat):
    rng = np.random.default_rng(3)
    y = rng.normal(size=40)
    a, b = y + rng.normal(size=40), y + 2 * rng.normal(size=40)
    fast = corr.paired_bootstrap(a, b, y, stat, n_boot=300, seed=7)
    slow = _brute_force_paired(a, b, y, lambda u, v: stat(u, v), 300, 7)
    assert fast == pytest.approx(slow)
    # paired: far narrower than the two separate intervals, and for a clearly better
    # score the interval excludes zero
    assert fast[1] > 0
    many = corr.paired_bootstraps(
        {"a": a, "b": b, "y": y}, y, [("a", "b"), ("y", "b")], stat, 300, 7
    )
    assert many["a", "b"] == pytest.approx(fast)
    assert many["y", "b"][0] == pytest.approx(1 - stat(b, y))


def test_paired_bootstrap_drops_non_finite_rows_of_either_score():
    rng = np.random.default_rng(0)
    y = rng.normal(size=30)
    a, b = y + rng.normal(size=30), y + rng.normal(size=30)
    a2, b2 = a.copy(), b.copy()
    a2[0], b2[1] = np.nan, np.inf
    got = corr.paired_bootstrap(a2, b2, y, corr.spearman, 100, 1)
    assert got == pytest.approx(corr.paired_bootstrap(a[2:], b[2:], y[2:], corr.spearman, 100, 1))


def test_verdict_wording():
    better = corr.verdict("layer-wise SSNR", "sum", 0.035, 0.021, 0.049)
    assert better == "layer-wise SSNR tracks accuracy better than sum: Δτ = 0.035 [0.021, 0.049]"
    assert corr.verdict("a", "b", -0.03, -0.05, -0.01).startswith("a tracks accuracy worse than b")
    assert corr.verdict("a", "b", 0.01, -0.01, 0.03).startswith("no significant difference")


def test_rank_mean():
    a = np.array([1.0, 2.0, 3.0, np.nan])
    b = np.array([30.0, 10.0, 20.0, 5.0])
    got = corr.rank_mean([a, b])
    assert got[:3] == pytest.approx([2.0, 1.5, 2.5]) and np.isnan(got[3])
