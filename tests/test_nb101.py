"""NAS-Bench-101: NASLib's keys, NB101's pruning and channel splitting, and the network
NASLib scored, checked against the stored parameter count of every entry."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import n_params, naslib_json, stored_params

from ssnr_core import benchmarks
from ssnr_core.data import pinned
from ssnr_core.proxies import aggregation
from ssnr_core.proxies.network import many_stats
from ssnr_core.proxies.setup import Setup
from ssnr_core.spaces import canonical, get_space, names, nb101
from ssnr_core.spaces.modules import SeededModules
from ssnr_core.studies import correlation, evaluation


def key(matrix: list[list[int]], ops: list[int]) -> str:
    return nb101.to_str((*[b for row in matrix for b in row], *ops))


def padded(matrix: list[list[int]]) -> list[list[int]]:
    n = len(matrix)
    return [row + [0] * (7 - n) for row in matrix] + [[0] * 7 for _ in range(7 - n)]


@pytest.fixture(scope="module")
def entries() -> dict[str, dict]:
    return naslib_json("zc_nasbench101.json")["cifar10"]


def test_param_counts_match_naslib_for_every_entry(entries):
    make = SeededModules(0)  # modules shared by slot: all 500 builds in seconds
    assert len(entries) == 500
    for k, record in entries.items():
        assert n_params(nb101.build(k, make=make)) == stored_params(record), k


def test_fresh_builds_match_too(entries):
    for k, record in list(entries.items())[::50]:
        with torch.device("meta"):
            assert n_params(nb101.build(k)) == stored_params(record), k


def test_channel_splitting_and_projections_by_hand():
    # input -> 1 (conv3x3) -> 3 (output); input -> 2 (conv1x1) -> 3; input -> output.
    # Vertices 1 and 2 feed the output: 128 channels split 64 / 64 (odd widths: 43/43/42).
    matrix = [[0, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert nb101.vertex_channels(128, 128, matrix) == [128, 64, 64, 128]
    three = [[0, 1, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0] * 5]
    assert nb101.vertex_channels(128, 128, three) == [128, 43, 43, 42, 128]
    # a vertex that only feeds others takes the widest of them: 1 -> 2, 1 -> 3, both output
    chain = [[0, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0] * 5]
    assert nb101.vertex_channels(256, 256, chain) == [256, 128, 128, 128, 256]
    cell = nb101.Cell(matrix, [0, 4, 3, 1], 128, 256, nb101.fresh, "c")
    # projections from the cell input: to each vertex's width, and a full-width one to
    # the output, added to the concatenation
    shapes = {k: tuple(v[0].weight.shape) for k, v in cell.projections.items()}
    assert shapes == {"1": (128, 128, 1, 1), "2": (128, 128, 1, 1), "3": (256, 128, 1, 1)}
    y = cell(torch.randn(2, 128, 8, 8))
    assert y.shape == (2, 256, 8, 8)


def test_a_narrower_vertex_takes_the_first_channels_of_a_wider_one():
    # 1 -> 2, 1 -> output, 2 -> output: 1 and 2 split 129 as 65 / 64, and 2 reads 64 of 1's
    matrix = [[0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert nb101.vertex_channels(64, 129, matrix) == [64, 65, 64, 129]
    cell = nb101.Cell(matrix, [0, 2, 4, 1], 64, 129, nb101.fresh, "c")
    assert cell(torch.randn(1, 64, 4, 4)).shape == (1, 129, 4, 4)


def test_pruning_drops_vertices_off_every_input_output_path():
    # vertex 5 reaches nothing, vertex 4 is reached from nowhere but feeds the output
    matrix = [
        [0, 1, 0, 0, 0, 1, 0],
        [0, 0, 1, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0],
    ]
    arch = nb101.parse(key(matrix, [0, 4, 3, 2, 2, 4, 1]))
    pruned = nb101.pruned(arch)
    assert pruned is not None
    assert pruned[0] == [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert pruned[1] == [0, 4, 3, 1]
    assert nb101.ops(arch) == ("conv3x3-bn-relu", "conv1x1-bn-relu")


def test_keys_round_trip_and_the_spec_form_agrees(entries):
    for k in entries:
        assert nb101.to_str(nb101.parse(k)) == k
        assert get_space("nb101").naslib_key(k) == k
    k = next(iter(entries))
    matrix, ops = nb101.matrix_ops(nb101.parse(k))
    spec = json.dumps({"matrix": matrix, "ops": [nb101.NASLIB_OPS[o] for o in ops]})
    assert canonical("nb101", spec) == k
    assert canonical("nb101", json.dumps({"matrix": matrix, "ops": ops})) == k
    assert nb101.parse(np.array(nb101.parse(k))) == nb101.parse(k)


@pytest.mark.parametrize(
    "bad, message",
    [
        ("", "not a NB101"),
        ("__import__('os')", "not a NB101"),
        ("(0, 1)", "56 ints"),
        ("[" + ", ".join(["0"] * 56) + "]", "start with input"),
        (key(padded([[0, 1], [0, 0]]), [0, 1, 4, 4, 4, 4, 4]), "start with input"),
        (key(padded([[0, 1], [1, 0]]), [0, 4, 4, 4, 4, 4, 1]), "upper triangular"),
        (key(padded([[0, 2], [0, 0]]), [0, 4, 4, 4, 4, 4, 1]), "0/1"),
        (key(padded([[0, 0], [0, 0]]), [0, 4, 4, 4, 4, 4, 1]), "no path"),
        (key(padded([[0, 1], [0, 0]]), [0, 5, 4, 4, 4, 4, 1]), "interior ops"),
        (key(padded([[0, 1], [0, 0]]), [0, True, 4, 4, 4, 4, 1]), "must be an int"),
        ('{"matrix": [[0, 1]], "ops": ["input", "output"]}', "7x7"),
        ("x" * 2000, "too long"),
    ],
)
def test_bad_archs_are_one_value_error(bad, message):
    with pytest.raises(ValueError, match=message):
        nb101.parse(bad)


def test_more_than_nine_edges_after_pruning_is_outside_the_space():
    full = [[1 if j > i else 0 for j in range(7)] for i in range(7)]  # 21 edges, none pruned
    with pytest.raises(ValueError, match="at most 9 edges once pruned"):
        nb101.parse(key(full, [0, 4, 4, 4, 4, 4, 1]))


def test_network_output_and_synflow_on_naslib_archs(single_thread):
    setup = Setup("nb101", "cifar10", "synflow")
    archs = benchmarks.truth("nb101", "cifar10").index[:3].tolist()
    model = nb101.build(archs[0])
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    for stats in many_stats(setup, archs):
        assert np.isfinite(stats).all()
        assert all(np.isfinite(list(aggregation.aggregate_all([stats]).values())))


def test_registered_with_ground_truth_from_naslibs_file(entries):
    assert names()[-2:] == ["nb101", "tnb101_macro"]
    truth = benchmarks.truth("nb101", "cifar10")
    assert len(truth) == 500 and truth.index.is_unique
    k = next(iter(entries))
    assert truth[k] == entries[k]["val_accuracy"]
    stored = benchmarks.naslib_scores("nb101", "cifar10", "synflow")
    assert stored[k] == entries[k]["synflow"]["score"]


def test_our_synflow_ranks_like_naslibs_stored_synflow(single_thread):
    """An outside check of the builder beyond counts: over all 500 archs the Spearman of
    our synflow sum with NASLib's stored synflow is 0.998 (README); here 30 of them."""
    setup = Setup("nb101", "cifar10", "synflow")
    archs = evaluation.sample("nb101", "cifar10", 30, 0)
    ours = [aggregation.total(s) for s in many_stats(setup, archs)]
    theirs = benchmarks.naslib_scores("nb101", "cifar10", "synflow")[archs]
    assert correlation.spearman(np.array(ours), theirs.to_numpy()) > 0.95


def test_a_shortened_copy_in_the_data_folder_is_named_with_its_rows(tmp_path):
    raw = json.loads(pinned.read_bytes(pinned.NASLIB_FILES["nb101"]))
    assert list(raw) == ["nasbench101"]  # NASLib nests this file's one task
    raw["nasbench101"]["cifar10"].popitem()
    path = tmp_path / pinned.NASLIB_FILES["nb101"].path
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(raw))
    with pytest.raises(pinned.DataError, match="truncated, cifar10: 499 of 500 rows"):
        pinned.read_bytes(pinned.NASLIB_FILES["nb101"], tmp_path)
