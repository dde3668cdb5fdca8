"""NB301: NASLib compact keys, DARTS genotypes, and the network NASLib scored."""

from collections import namedtuple

import pytest
import torch
from conftest import n_params, naslib_json, stored_params
from torch import nn

from ssnr_core.spaces import canonical, nb301
from ssnr_core.spaces.modules import SeededModules

KEY = (
    "[[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], "
    "[(1, 0), (0, 2), (1, 3), (0, 3), (3, 0), (0, 1), (2, 0), (3, 6)]]"
)
# The same arch written by hand in DARTS's form (op names from NASLib's index order).
NORMAL = [
    ("max_pool_3x3", 0), ("dil_conv_3x3", 1), ("avg_pool_3x3", 1), ("avg_pool_3x3", 0),
    ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("skip_connect", 3),
]  # fmt: skip
REDUCE = [
    ("max_pool_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0),
    ("max_pool_3x3", 3), ("avg_pool_3x3", 0), ("max_pool_3x3", 2), ("dil_conv_5x5", 3),
]  # fmt: skip
GENOTYPE = (
    f"Genotype(normal={NORMAL!r}, normal_concat=[2, 3, 4, 5], "
    f"reduce={REDUCE!r}, reduce_concat=range(2, 6))"
)
Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")


@pytest.fixture(scope="module")
def entries() -> dict[str, dict[str, dict]]:
    return naslib_json("zc_nasbench301.json")


def bank() -> SeededModules:
    """Modules shared by slot across archs: builds are cheap once every slot is made."""
    return SeededModules(0)


def test_param_counts_match_naslib_for_every_entry(entries):
    make, checked = bank(), 0
    for task, records in entries.items():
        for key, record in records.items():
            assert n_params(nb301.build(key, task, make=make)) == stored_params(record), key
            checked += 1
    assert checked == 725


def test_fresh_builds_match_naslib(entries):
    """The default (unshared) build path gives the same counts."""
    for key, record in list(entries["cifar10"].items())[::60]:
        assert n_params(nb301.build(key)) == stored_params(record), key


def test_keys_round_trip_and_forms_agree(entries):
    for key in entries["cifar10"]:
        arch = nb301.parse(key)
        assert nb301.to_str(arch) == key
        assert nb301.parse(arch) == arch
        assert nb301.parse(nb301.to_genotype_str(arch)) == arch
    arch = nb301.parse(KEY)
    as_lists = [[list(pair) for pair in cell] for cell in arch]
    assert nb301.parse(as_lists) == arch
    assert canonical("nb301", as_lists) == KEY
    assert hash(arch) == hash(nb301.parse(" " + KEY + "\n"))


def test_darts_genotype_forms_parse_to_the_compact_arch():
    arch = nb301.parse(KEY)
    assert nb301.parse(GENOTYPE) == arch
    assert nb301.parse(GENOTYPE.replace("range(2, 6)", "[2, 3, 4, 5]")) == arch
    assert nb301.parse(Genotype(NORMAL, [2, 3, 4, 5], REDUCE, range(2, 6))) == arch
    # DARTS_V2 from the DARTS repo (quark0/darts, cnn/genotypes.py)
    darts_v2 = (
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
        "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
        "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
        "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
        "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
        "reduce_concat=[2, 3, 4, 5])"
    )
    assert nb301.to_str(nb301.parse(darts_v2)) == (
        "[[(0, 3), (1, 3), (0, 3), (1, 3), (1, 3), (0, 2), (0, 2), (2, 5)], "
        "[(0, 0), (1, 0), (2, 2), (1, 0), (0, 0), (2, 2), (2, 2), (1, 0)]]"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "garbage",
        "__import__('os').system('true')",
        "[[(0, 0)], [(1, 0)]]",  # too few pairs
        KEY.replace("(3, 6)]]", "(3, 6), (0, 1)]]"),  # nine pairs
        KEY.replace("(1, 5)", "(1, 7)", 1),  # op index out of range
        KEY.replace("(1, 5)", "(1, -1)", 1),
        KEY.replace("[[(0, 0)", "[[(2, 0)", 1),  # node 0 cannot read node 0
        KEY.replace("(3, 2)]", "(5, 2)]", 1),  # no node 3 yet
        KEY.replace("(1, 5)", "(0, 5)", 1),  # node 0 reads input 0 twice
        KEY.replace("(1, 5)", "(1.0, 5)", 1),
        KEY.replace("(1, 5)", "(True, 5)", 1),
        KEY.replace("(1, 5)", "(1, 5, 0)", 1),
        "[" + KEY + "]",
        "[" * 5000,
        GENOTYPE.replace("dil_conv_3x3", "conv_7x7"),
        GENOTYPE.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[4, 5]"),
        GENOTYPE.replace("('skip_connect', 3)]", "('skip_connect', 5)]", 1),  # no node 3 yet
        GENOTYPE.replace("normal=[", "normal=__import__('os') or [", 1),
        GENOTYPE.replace("Genotype(", "NotAGenotype(", 1),
        "Genotype(normal=[('max_pool_3x3', 0)] * 8)",
        "Genotype(",
        None,
        42,
        ((0, 0),) * 8,
    ],
)
def test_malformed_archs_raise_clear_value_errors(bad):
    with pytest.raises(ValueError, match=r"NB301|Genotype|cell"):
        nb301.parse(bad)


def test_unknown_task():
    with pytest.raises(ValueError, match="unknown NB301 task"):
        nb301.build(KEY, "cifar100")
    with pytest.raises(ValueError, match="unknown NB301 task"):
        nb301.input_shape("imagenet")


def test_forward_shape_and_gradients():
    assert nb301.input_shape("cifar10") == (3, 32, 32)
    torch.manual_seed(0)
    model = nb301.build(KEY)
    logits = model(torch.randn(2, *nb301.input_shape("cifar10")))
    assert logits.shape == (2, nb301.TASKS["cifar10"])
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_only_plain_batchnorm_and_no_auxiliary_head():
    model = nb301.build(KEY)
    norms = [m for m in model.modules() if "Norm" in type(m).__name__]
    assert norms and all(type(m) is nn.BatchNorm2d for m in norms)
    assert not any("aux" in name for name, _ in model.named_modules())


def test_shared_bank_equals_fresh_seeded_build(entries):
    keys = list(entries["cifar10"])[:3]
    shared = bank()
    for key in keys:  # later archs reuse earlier archs' slots
        built = nb301.build(key, make=shared).state_dict()
        alone = nb301.build(key, make=SeededModules(0, share=False)).state_dict()
        assert built.keys() == alone.keys()
        assert all(torch.equal(built[k], alone[k]) for k in built)
