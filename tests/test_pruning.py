"""The pruning demo's science: a trained digits CNN, pruned by saliency to 90%+ sparsity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ssnr_core import aggregation, pruning


@pytest.fixture(scope="module")
def curve() -> pd.DataFrame:
    return pruning.prune_curve("synflow", "global", final_sparsity=0.95, steps=12, seed=0)


def test_the_trained_net_is_accurate_and_pruning_reaches_high_sparsity(curve: pd.DataFrame):
    assert curve["test_accuracy"].iloc[0] > 0.9
    assert curve["fraction_pruned"].iloc[0] == 0
    assert curve["fraction_pruned"].iloc[-1] == pytest.approx(0.95, abs=1e-3)
    assert (np.diff(curve["fraction_pruned"]) > 0).all()
    assert (np.diff(curve["remaining"]) < 0).all()
    assert curve["test_accuracy"].iloc[-1] < curve["test_accuracy"].iloc[0]


def test_the_sum_drops_long_before_accuracy_does(curve: pd.DataFrame):
    s = curve["sum"].to_numpy()
    assert (np.diff(s) <= 0.02 * s[:-1]).all()  # monotone, up to 2% wiggle
    assert s[-1] < 0.2 * s[0]
    # Where the sum has lost a quarter, accuracy is still within two points of the start.
    quarter = int(np.argmax(s < 0.75 * s[0]))
    acc = curve["test_accuracy"].to_numpy()
    assert quarter > 0 and acc[quarter] >= acc[0] - 0.02
    assert curve[list(aggregation.AGGREGATIONS)].notna().all().all()


def test_per_layer_pruning_keeps_each_layers_share():
    scores = [torch.arange(10.0), torch.arange(30.0).reshape(3, 10), torch.ones(60)]
    masks = [torch.ones_like(s, dtype=torch.bool) for s in scores]
    layer = pruning._threshold_masks(scores, masks, keep=50, scope="layer")
    assert [int(m.sum()) for m in layer] == [5, 15, 30]
    assert layer[0].tolist() == [False] * 5 + [True] * 5  # the highest scores survive
    glob = pruning._threshold_masks(scores, masks, keep=50, scope="global")
    assert sum(int(m.sum()) for m in glob) == 50
    again = pruning._threshold_masks(scores, glob, keep=20, scope="global")
    assert not (again[2] & ~glob[2]).any()  # pruned weights stay pruned


def test_snip_per_layer_runs_and_is_seeded():
    a = pruning.prune_curve("snip", "layer", final_sparsity=0.9, steps=3, seed=1, epochs=3)
    b = pruning.prune_curve("snip", "layer", final_sparsity=0.9, steps=3, seed=1, epochs=3)
    cols = ["fraction_pruned", "test_accuracy", "sum", "ssnr", "layerwise_ssnr"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    assert a["fraction_pruned"].iloc[-1] == pytest.approx(0.9, abs=1e-3)
    rel = pruning.relative(a)
    assert (rel.iloc[0, 1:] == 1).all()


@pytest.mark.parametrize(
    "kwargs", [{"saliency_name": "grasp"}, {"scope": "row"}, {"final_sparsity": 1.0}, {"steps": 0}]
)
def test_bad_settings_raise(kwargs: dict):
    with pytest.raises(ValueError):
        pruning.prune_curve(**kwargs)
