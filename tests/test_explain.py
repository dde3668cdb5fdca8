"""The Explain view's numbers: the three scores from one network's layers, and synflow's
conservation law on the two cuts every path crosses."""

from __future__ import annotations

import numpy as np
import pytest

from ssnr_core import spaces
from ssnr_core.proxies import aggregation
from ssnr_core.proxies.setup import Setup
from ssnr_core.studies import explain


@pytest.mark.parametrize("space,task", [("nb201", "cifar10"), ("nb301", "cifar10")])
def test_first_and_last_layer_carry_r_minus_bias(space, task):
    arch = spaces.get_space(space).examples[0]
    shown = explain.explain(Setup(space, task, "synflow", dtype="float64"), arch)
    law = shown.conservation
    assert law["first_layer_sum"] == pytest.approx(law["R_minus_bias"], rel=1e-9)
    assert law["last_layer_sum"] == pytest.approx(law["R_minus_bias"], rel=1e-9)


def test_layer_table_adds_up_to_the_three_scores():
    setup = Setup("nb201", "cifar10", "synflow", dtype="float64")
    shown = explain.explain(setup, spaces.get_space("nb201").examples[1])
    table = shown.layers
    assert table["sum"].sum() == pytest.approx(
        shown.scores["sum"], rel=1e-6
    )  # scores carry 7 significant digits
    assert table["snr"].sum() == pytest.approx(
        shown.scores["layerwise_ssnr"], rel=1e-6
    )  # scores carry 7 significant digits
    assert table["share_of_layerwise"].sum() == pytest.approx(1.0)
    every = np.concatenate(shown.saliency)
    assert shown.scores["sigma"] == pytest.approx(every.std(), rel=1e-9)
    assert shown.scores["ssnr"] == pytest.approx(every.sum() / every.std(), rel=1e-6)
    stats = aggregation.layer_stats(shown.saliency)
    groups = explain.group_contributions(table["layer"], stats)
    assert groups.sum() == pytest.approx(
        shown.scores["layerwise_ssnr"], rel=1e-6
    )  # scores carry 7 significant digits
    assert list(groups.index[:2]) == ["stem", "cell 0"] and groups.index[-1] == "classifier"


def test_a_dead_cell_has_zero_saliency_and_says_so_in_its_scores():
    dead = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    shown = explain.explain(Setup("nb201", "cifar10", "synflow", dtype="float64"), dead)
    assert shown.scores["sum"] == 0.0 and shown.scores["layerwise_ssnr"] == 0.0
    assert shown.conservation["R_minus_bias"] == pytest.approx(0.0, abs=1e-9)


def test_group_labels_are_space_independent():
    assert explain.group_of("stem.0") == "stem"
    assert explain.group_of("cells.12.ops.3.1") == "cell 12"
    assert explain.group_of("encoder.cells.4.ops.0.convs.1") == "cell 4"
    assert explain.group_of("classifier") == "classifier"
