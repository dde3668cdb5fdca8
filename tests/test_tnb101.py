"""TNB101 micro: NASLib keys, TNB101 arch strings, and the per-task networks NASLib scored."""

import numpy as np
import pytest
import torch
from conftest import n_params, naslib_json, stored_params
from torch import nn

from ssnr_core.spaces import canonical, tnb101
from ssnr_core.spaces.modules import SeededModules

KEY = "(1, 0, 0, 2, 1, 0)"
# conv3x3 on 1<-0, a strided skip (factorized reduce) on 2<-0, none with a channel change
# on 3<-0 and a conv1x1 on 2<-1: every op kind, and every way an edge can change shape.
MIXED = (3, 1, 2, 0, 1, 3)
OUTPUT_SHAPES = {
    "class_object": (1, 100),
    "class_scene": (1, 63),
    "jigsaw": (1, 1000),
    "room_layout": (1, 9),
    "autoencoder": (1, 3, 256, 256),
    "normal": (1, 3, 256, 256),
    "segmentsemantic": (1, 17, 256, 256),
}


@pytest.fixture(scope="module")
def entries() -> dict[str, dict[str, dict]]:
    return naslib_json("zc_transbench101_micro.json")


def test_param_counts_match_naslib_for_every_entry_and_task(entries):
    # One bank of modules shared by slot: after the first few archs a build only assembles
    # existing modules, so checking all 711 x 7 entries stays fast.
    make, checked = SeededModules(0), 0
    assert set(entries) == set(tnb101.TASKS)
    for task, records in entries.items():
        for key, record in records.items():
            assert n_params(tnb101.build(key, task, make=make)) == stored_params(record), (
                task,
                key,
            )
            checked += 1
    assert checked == 7 * 711


def test_fresh_builds_match_naslib(entries):
    """The default (unshared) build path gives the same counts."""
    for task, records in entries.items():
        for key, record in list(records.items())[::300]:
            with torch.device("meta"):  # shapes only: skips initialising ~24M weights
                model = tnb101.build(key, task)
            assert n_params(model) == stored_params(record), (task, key)


def test_keys_round_trip_and_forms_agree(entries):
    for key in entries["class_scene"]:
        arch = tnb101.parse(key)
        assert tnb101.to_str(arch) == key
        assert tnb101.parse(arch) == arch
        assert tnb101.parse(tnb101.to_tnb101_str(arch)) == arch
    arch = tnb101.parse(KEY)
    assert arch == (1, 0, 0, 2, 1, 0)
    assert tnb101.parse([1, 0, 0, 2, 1, 0]) == tnb101.parse(np.array(arch)) == arch
    assert tnb101.to_tnb101_str(arch) == "64-41414-1_00_210"  # NASLib's own formatting
    assert canonical("tnb101", "64-41414-1_00_210") == KEY


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "garbage",
        "__import__('os')",
        "(1, 0, 0)",
        "(1, 0, 0, 2, 1, 0, 0)",
        "(1, 0, 0, 2, 1, 4)",
        "(1, 0, 0, 2, 1, -1)",
        "(1, 0, 0, 2, 1, 1.0)",
        "(1, 0, 0, 2, 1, True)",
        "(1, 0, 0, 2, 1, 'a')",
        "(" + "1, " * 100 + ")",
        "64-41414-1_00_21",
        "64-41414-1_00_214",
        "64-4141-1_00_210",
        "64-41414-basic",
        None,
        42,
        (1, 0, 0, 2, 1),
    ],
)
def test_malformed_archs_raise_clear_value_errors(bad):
    with pytest.raises(ValueError, match="TNB101"):
        tnb101.parse(bad)


def test_unknown_task():
    with pytest.raises(ValueError, match="unknown TNB101 task"):
        tnb101.build(KEY, "cifar10")
    with pytest.raises(ValueError, match="unknown TNB101 task"):
        tnb101.input_shape("segment")


def test_input_shapes():
    assert tnb101.input_shape("jigsaw") == (27, 64, 64)  # nine 3x64x64 tiles on channels
    for task in set(tnb101.TASKS) - {"jigsaw"}:
        assert tnb101.input_shape(task) == (3, 256, 256)


@pytest.mark.parametrize("task", list(OUTPUT_SHAPES))
def test_forward_output_shapes(task):
    assert set(OUTPUT_SHAPES) == set(tnb101.TASKS)
    torch.manual_seed(0)
    model = tnb101.build(MIXED, task).eval()
    with torch.no_grad():
        out = model(torch.randn(1, *tnb101.input_shape(task)))
    assert out.shape == OUTPUT_SHAPES[task]
    assert torch.isfinite(out).all()


def test_jigsaw_takes_stacked_or_separate_tiles():
    model = tnb101.build((2, 0, 0, 0, 0, 0), "jigsaw").eval()
    tiles = torch.randn(1, 9, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(tiles), model(tiles.reshape(1, 27, 64, 64)))


def test_all_none_cell_gives_zero_features_but_a_valid_forward():
    model = tnb101.build((0,) * 6, "class_scene")
    out = model(torch.randn(1, *tnb101.input_shape("class_scene")))
    assert out.shape == (1, 63)
    assert torch.equal(out, model.fc.bias.expand_as(out))  # features are all zero


def test_only_plain_batchnorm():
    model = tnb101.build(MIXED, "segmentsemantic")
    norms = [m for m in model.modules() if "Norm" in type(m).__name__]
    assert norms and all(type(m) is nn.BatchNorm2d for m in norms)


def test_shared_bank_equals_fresh_seeded_build():
    shared = SeededModules(0)
    for arch in [(3, 3, 3, 3, 3, 3), MIXED, (1, 2, 3, 0, 1, 2)]:
        built = tnb101.build(arch, "class_scene", make=shared).state_dict()
        alone = tnb101.build(arch, "class_scene", make=SeededModules(0, share=False)).state_dict()
        assert built.keys() == alone.keys()
        assert all(torch.equal(built[k], alone[k]) for k in built)
