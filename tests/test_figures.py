"""ssnr_core.studies.figures: ranks, op mixes and per-group layer-wise SSNR across architectures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SETUP

from ssnr_core import spaces
from ssnr_core.proxies import aggregation, network
from ssnr_core.studies import correlation, evaluation, figures


def test_ranks_give_spearman_and_skip_non_finite():
    scores = pd.Series([3.0, 1.0, np.nan, 2.0, 2.0], index=list("abcde"))
    truth = pd.Series({"a": 90.0, "b": 70.0, "c": 80.0, "d": 60.0, "e": 85.0})
    r = figures.ranks(scores, truth)
    assert list(r.index) == ["a", "b", "d", "e"]
    assert r.loc["a", "score_rank"] == 1 and r.loc["b", "score_rank"] == 4
    assert r.loc["d", "score_rank"] == r.loc["e", "score_rank"] == 2.5  # a tie
    assert list(r["true_rank"]) == [1, 3, 4, 2]
    rho = np.corrcoef(r["score_rank"], r["true_rank"])[0, 1]
    assert rho == pytest.approx(correlation.spearman(scores, truth.reindex(scores.index)))


def test_op_mix_counts_every_edge():
    archs = evaluation.sample("nb201", "cifar10", 5, 0)
    mix = figures.op_mix("nb201", archs)
    assert list(mix.index) == archs
    assert (mix.sum(axis=1) == 6).all()  # six edges per NB201 cell
    assert set(mix.columns) <= set(spaces.get_space("nb201").op_names())
    assert "nor_conv_3x3" in spaces.get_space("nb201").op_names()


def test_group_table_rows_sum_to_layerwise_ssnr():
    archs = evaluation.sample(SETUP.space, SETUP.task, 3, SETUP.seed)
    stats = {a: network.network_stats(SETUP, a) for a in archs}
    table = figures.group_table(SETUP, stats)
    assert list(table.index) == archs
    assert table.columns[0] == "stem" and table.columns[-1] == "classifier"
    expected = aggregation.aggregate_all(list(stats.values()))["layerwise_ssnr"]
    np.testing.assert_allclose(table.sum(axis=1), expected, rtol=1e-6)  # 7 significant digits
    with pytest.raises(ValueError, match="cached layers"):
        figures.group_table(SETUP, {archs[0]: stats[archs[0]][:-1]})
