"""TransNAS-Bench-101 macro: stage codes, every stored parameter count of every task, and
the dense tasks' output shapes, which the counts cannot check."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import n_params, naslib_json, stored_params

from ssnr_core import benchmarks
from ssnr_core.proxies.network import many_stats
from ssnr_core.proxies.setup import Setup
from ssnr_core.spaces import canonical, get_space, tnb101, tnb101_macro
from ssnr_core.spaces.modules import SeededModules

# What each dense task must output for one 3x256x256 image (TNB101's targets)
DENSE = {
    "autoencoder": (1, 3, 256, 256),
    "normal": (1, 3, 256, 256),
    "segmentsemantic": (1, 17, 256, 256),
}
HEADS = {
    "class_object": (1, 100),
    "class_scene": (1, 63),
    "jigsaw": (1, 1000),
    "room_layout": (1, 9),
}
# one arch per number of halvings (1..4), and the widths each leaves the encoder with
BY_HALVINGS = {
    1: ("(1, 1, 1, 2, 4, 0)", 256, 28),
    2: ("(1, 2, 4, 3, 0, 0)", 256, 14),
    3: ("(4, 3, 4, 1, 0, 0)", 256, 7),
    4: ("(4, 4, 3, 4, 0, 0)", 512, 3),
}


@pytest.fixture(scope="module")
def entries() -> dict[str, dict[str, dict]]:
    return naslib_json("zc_transbench101_macro.json")


def test_param_counts_match_naslib_for_every_entry_and_task(entries):
    assert set(entries) == set(tnb101_macro.TASKS)
    checked = 0
    for task, records in entries.items():
        make = SeededModules(0)
        with torch.device("meta"):  # shapes only: the dense decoders have ~50M weights
            for k, record in records.items():
                model = tnb101_macro.build(k, task, make=make)
                assert n_params(model) == stored_params(record), (task, k)
                checked += 1
    assert checked == 2 * 662 + 5 * 725


@pytest.mark.parametrize("task", list(DENSE))
@pytest.mark.parametrize("halvings", list(BY_HALVINGS))
def test_dense_tasks_output_the_targets_shape_for_every_encoder_depth(task, halvings):
    k, channels, width = BY_HALVINGS[halvings]
    arch = tnb101_macro.parse(k)
    assert sum(c > 2 for c in arch) == halvings
    assert tnb101_macro.encoder_shape(arch) == (channels, width)
    model = tnb101_macro.build(arch, task).eval()
    with torch.no_grad():
        y = model(torch.zeros(1, *tnb101_macro.input_shape(task)))
    assert tuple(y.shape) == DENSE[task]


@pytest.mark.parametrize("halvings", [1, 2, 4])
def test_a_decoder_sized_for_the_micro_width_fails_the_shape_not_the_count(halvings):
    """Why the shape test exists: conv and deconv layers have equal parameter counts."""
    k, channels, width = BY_HALVINGS[halvings]
    right = tnb101.segmentation_decoder(channels, 17, in_width=width)
    micro = tnb101.segmentation_decoder(channels, 17)  # sized for 7x7 features
    assert n_params(right) == n_params(micro)
    encoder = tnb101_macro.Encoder(tnb101_macro.parse(k)).eval()
    with torch.no_grad():
        features = encoder(torch.zeros(1, 3, 256, 256))
        assert tuple(right.eval()(features).shape) == (1, 17, 256, 256)
        assert tuple(micro.eval()(features).shape) != (1, 17, 256, 256)


@pytest.mark.parametrize("task", list(HEADS))
def test_heads_output_their_sizes(task):
    model = tnb101_macro.build("64-1242-basic", task).eval()
    with torch.no_grad():
        y = model(torch.zeros(1, *tnb101_macro.input_shape(task)))
    assert tuple(y.shape) == HEADS[task]


def test_the_space_has_its_3256_archs_and_every_naslib_key(entries):
    every = tnb101_macro.all_archs()
    assert len(every) == len(set(every)) == 3256 == get_space("tnb101_macro").size
    keys = {tnb101_macro.to_str(a) for a in every}
    for records in entries.values():
        assert set(records) <= keys
    for k in entries["jigsaw"]:
        arch = tnb101_macro.parse(k)
        assert tnb101_macro.to_str(arch) == k
        assert tnb101_macro.parse(tnb101_macro.to_tnb101_str(arch)) == arch
    assert canonical("tnb101_macro", "64-1242-basic") == "(1, 2, 4, 2, 0, 0)"
    assert tnb101_macro.parse([1, 2, 4, 2]) == tnb101_macro.parse(np.array([1, 2, 4, 2, 0, 0]))


@pytest.mark.parametrize(
    "bad, message",
    [
        ("", "code tuple"),
        ("__import__('os')", "code tuple"),
        ("(1, 2, 4)", "4 to 6 stages"),
        ("(1, 2, 4, 2, 1, 1, 1)", "up to six"),
        ("(1, 1, 1, 1, 0, 0)", "halve the resolution 1 to 4"),
        ("(3, 3, 3, 3, 3, 0)", "halve the resolution 1 to 4"),
        ("(3, 3, 3, 1, 0, 0)", "double the width 1 to 3"),
        ("(4, 4, 4, 4, 0, 0)", "double the width 1 to 3"),
        ("(1, 2, 4, 5, 0, 0)", "0..4"),
        ("(1, 2, 4, True, 0, 0)", "0..4"),
        ("64-1242-micro", "64-<4-6 codes>-basic"),
        ("9" * 200, "too long"),
    ],
)
def test_bad_archs_are_one_value_error(bad, message):
    with pytest.raises(ValueError, match=message):
        tnb101_macro.parse(bad)


def test_ground_truth_and_synflow_for_the_classification_tasks(single_thread):
    for task, n in (("class_scene", 662), ("jigsaw", 725)):
        truth = benchmarks.truth("tnb101_macro", task)
        assert len(truth) == n and truth.index.is_unique
    setup = Setup("tnb101_macro", "jigsaw", "synflow")
    archs = benchmarks.truth("tnb101_macro", "jigsaw").index[:2].tolist()
    for stats in many_stats(setup, archs):
        assert np.isfinite(stats).all() and (stats[:, 1] > 0).all()
