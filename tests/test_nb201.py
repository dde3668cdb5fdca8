import ast

import numpy as np
import pytest
import torch
from conftest import naslib_json

from ssnr_core import benchmarks
from ssnr_core.data import pinned
from ssnr_core.spaces import canonical, get_space, nb201
from ssnr_core.spaces.modules import SeededModules

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_param_counts_match_naslib_for_every_entry():
    data = naslib_json("zc_nasbench201.json")
    bank = SeededModules(0)  # reuse built modules: assembling a network is then cheap
    checked = 0
    for task, entries in data.items():
        for key, rec in entries.items():
            model = nb201.build(nb201.parse(key), task, make=bank)
            params = sum(p.numel() for p in model.parameters()) / 1e6
            assert params == pytest.approx(rec["params"]["score"], abs=1e-6), (task, key)
            checked += 1
    assert checked == sum(len(v) for v in data.values()) > 2000


def test_naslib_decoding_matches_benchmark_accuracies():
    """Decoded NASLib keys must find their archs in the CSV with near-equal accuracy."""
    val = benchmarks.truth("nb201", "cifar100", "naslib")
    test = benchmarks.truth("nb201", "cifar100", "test200")
    assert np.corrcoef(val.to_numpy(), test.reindex(val.index).to_numpy())[0, 1] > 0.99


def test_parse_round_trips_and_forms_agree():
    arch = nb201.parse(BEST)
    assert nb201.to_str(arch) == BEST
    assert nb201.parse(nb201.to_naslib(arch)) == arch
    assert nb201.parse(nb201.to_naslib(arch)) == nb201.parse(
        ast.literal_eval(nb201.to_naslib(arch))
    )
    index = pinned.nb201_cell_strings().index(BEST)
    assert nb201.parse(index) == nb201.parse(str(index)) == arch
    assert canonical("nb201", "(4, 3, 3, 3, 2, 3)") == (
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "|nor_conv_3x3~0|",
        BEST.replace("nor_conv_3x3", "conv_5x5", 1),
        BEST.replace("~1|", "~2|", 1),
        "(1, 2, 3)",
        "(0, 1, 2, 3, 4, 5)",
        "(0, 1, 2, 3, 4, 'a')",
        "import os",
        "99999",
        (0, 1, 2),
    ],
)
def test_malformed_architectures_raise_clear_errors(bad):
    with pytest.raises(ValueError, match=r"NAS-Bench-201|NASLib|index"):
        nb201.parse(bad)


def test_unknown_task_and_space():
    with pytest.raises(ValueError, match="unknown NAS-Bench-201 task"):
        nb201.build(nb201.parse(BEST), "mnist")
    with pytest.raises(ValueError, match="unknown benchmark"):
        get_space("nb999")


@pytest.mark.parametrize("task,shape", [("cifar10", (2, 10)), ("ImageNet16-120", (2, 120))])
def test_forward_shapes(task, shape):
    model = nb201.build(nb201.parse(BEST), task)
    assert model(torch.randn(2, *nb201.input_shape(task))).shape == shape


def test_shared_modules_give_the_same_weights_as_a_fresh_build():
    a, b = nb201.parse(BEST), nb201.parse("(4, 3, 3, 3, 2, 3)")
    bank = SeededModules(7)
    nb201.build(b, make=bank)  # build another arch first: order must not matter
    shared = nb201.build(a, make=bank).state_dict()
    fresh = nb201.build(a, make=SeededModules(7, share=False)).state_dict()
    other_seed = nb201.build(a, make=SeededModules(8, share=False)).state_dict()
    assert shared.keys() == fresh.keys()
    assert all(torch.equal(shared[k], fresh[k]) for k in shared)
    assert not all(torch.equal(shared[k], other_seed[k]) for k in shared)
