"""Per-network measures (AZ-NAS, ...) against small references written from the papers'
formulas: numpy float64, explicit pixel unshuffling, each block's own forward; nothing shared
with the measure's code but the network and the ±1 draws it is given."""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch
from conftest import LOCAL
from scipy import stats as st

from ssnr_core.proxies import aggregation, batches, network, saliency, zero_cost
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs import scoring
from ssnr_core.runs.cache import Cache
from ssnr_core.spaces import nb201, nb301, tnb101, tnb101_macro
from ssnr_core.spaces.modules import SeededModules, derive_seed
from ssnr_core.studies import compare, ensemble, evaluation, naslib

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
AZ_BEST = "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|"
POOLS = "|avg_pool_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|skip_connect~0|avg_pool_3x3~1|avg_pool_3x3~2|"
IDENTITY = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
EMPTY = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
DEAD_EDGE = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
)


def tiny(arch: str, seed: int = 0, c: int = 4) -> nb201.Network:
    """A NAS-Bench-201 network of width 4, Kaiming-normal fan-in weights, train mode."""
    make = zero_cost.drawn(SeededModules(seed, share=False), "kaiming_normal_fan_in")
    return nb201.Network(nb201.parse(arch), 10, make, c=c).train()


def ref_entropy(f: np.ndarray) -> float:
    """Entropy of the normalised eigenvalues of the channel covariance (pixels as samples)."""
    rows = np.moveaxis(f, 1, -1).reshape(-1, f.shape[1]).astype(np.float64)
    s = np.linalg.eigvalsh(np.cov(rows, rowvar=False, bias=True))
    p = s / s.sum()
    return float(-(p * np.log(p + 1e-8)).sum())


def ref_unshuffle(g: np.ndarray, r: int) -> np.ndarray:
    """(B, C, H, W) -> (B, C r², H/r, W/r): channel c*r*r + i*r + j holds pixel (h r+i, w r+j)."""
    b, c, h, w = g.shape
    out = np.zeros((b, c * r * r, h // r, w // r))
    for ch in range(c):
        for i in range(r):
            for j in range(r):
                out[:, ch * r * r + i * r + j] = g[:, ch, i::r, j::r]
    return out


def ref_az_nas(net: nb201.Network, x: torch.Tensor, seed: int) -> tuple[float, float, float]:
    """Expressivity, progressivity, trainability from the paper's formulas: every block run
    by its own forward (dead edges too, NCHW), numpy float64 algebra."""
    blocks = [net.stem, *net.cells]
    feats = [x]
    for block in blocks:
        with torch.no_grad():
            feats.append(block(feats[-1]))
    h = [ref_entropy(f.numpy()) for f in feats[1:]]
    terms = []
    for i in range(1, len(blocks)):
        f_in, f_out = feats[i], feats[i + 1]
        g_out = zero_cost.random_signs(tuple(f_out.shape), seed, i)
        leaf = f_in.clone().requires_grad_(True)  # the block's own forward, NCHW
        (g_in_t,) = torch.autograd.grad(blocks[i](leaf), leaf, g_out.contiguous())
        g_in = g_in_t.double().numpy()
        g_out = g_out.double().numpy()
        if g_in.shape == g_out.shape and np.array_equal(g_in, g_out):
            terms.append(-math.inf)
            continue
        if g_in.shape[2] != g_out.shape[2]:
            g_in = ref_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
        b, _, ho, wo = g_out.shape
        mat = np.einsum("bihw,bohw->io", g_in, g_out) / (b * ho * wo)
        s = np.linalg.svd(mat, compute_uv=False).max()
        terms.append(-s - 1 / (s + 1e-6) + 2)
    e = np.array(h)
    return float(e.sum()), float(np.min(np.diff(e))), float(np.mean(terms))


def ref_flops(arch: str, task: str) -> float:
    """NAS-Bench-201's FLOPs (millions) in closed form: per image, every conv edge costs
    k² C² H W, the same in all three stages (C doubles as H W quarters)."""
    ops = nb201.parse(arch)
    hw = 16 * 16 if task == "ImageNet16-120" else 32 * 32
    classes = nb201.TASKS[task]
    edge = {"nor_conv_3x3": 9 * 16 * 16 * hw, "nor_conv_1x1": 16 * 16 * hw}
    cells = 15 * sum(edge.get(op, 0) for op in ops)
    stem = 27 * 16 * hw
    reduce = 2 * (9 * 16 * 32 + 9 * 32 * 32 + 16 * 32) * hw // 4
    return (stem + cells + reduce + 64 * classes + classes) / 1e6


@pytest.mark.parametrize("arch", [BEST, POOLS, IDENTITY, DEAD_EDGE])
def test_az_nas_matches_the_formulas_on_a_tiny_network(arch):
    torch.manual_seed(1)
    x = torch.randn(4, 3, 8, 8)
    net = tiny(arch)
    got = [float(t) for t in zero_cost.az_nas(net, x, torch.tensor([7]))]
    want = ref_az_nas(net, x, 7)
    assert got[:2] == pytest.approx(want[:2], rel=1e-5, abs=1e-6)
    if math.isinf(want[2]):
        assert got[2] == want[2] == -math.inf  # an identity cell: trainability -inf
    else:
        assert got[2] == pytest.approx(want[2], rel=1e-4, abs=1e-5)


def test_all_zero_cells_are_lowest_and_pool_cells_are_not():
    x = torch.randn(4, 3, 8, 8)
    empty = [float(t) for t in zero_cost.az_nas(tiny(EMPTY), x, torch.tensor([0]))]
    pools = [float(t) for t in zero_cost.az_nas(tiny(POOLS), x, torch.tensor([0]))]
    assert empty[0] == empty[1] == -math.inf  # no eigenvalue distribution: NaN -> -inf
    assert all(math.isfinite(v) for v in pools)  # float64 covariance: no spurious NaN


@pytest.mark.parametrize(
    ("arch", "task", "published"),
    [  # the NATS-Bench API's "FLOP=... M", as the AZ-NAS notebook prints it
        (BEST, "cifar10", 153.27),
        (BEST, "cifar100", 153.28),
        (BEST, "ImageNet16-120", 38.33),
        (AZ_BEST, "cifar10", 121.82),
        (AZ_BEST, "ImageNet16-120", 30.46),
    ],
)
def test_complexity_is_the_benchmarks_flops(arch, task, published):
    setup = Setup("nb201", task, "az_nas")
    hw = (16, 16) if task == "ImageNet16-120" else (32, 32)
    complexity = zero_cost.benchmark_flops(network.build_network(setup, arch, share=True), hw)
    assert complexity == pytest.approx(ref_flops(arch, task), rel=1e-9)
    assert round(complexity, 2) == published


def test_dead_edges_count_in_complexity_only():
    setup = Setup("nb201", "cifar10", "az_nas")
    without = DEAD_EDGE.replace("nor_conv_1x1~1|+", "none~1|+")  # edge 2<-1 is dead
    a, b = network.many_stats(setup, [DEAD_EDGE, without])
    assert np.array_equal(a[:3], b[:3])  # the live cell decides the first three
    assert a[3, 1] - b[3, 1] == pytest.approx(15 * 16 * 16 * 1024 / 1e6)
    one = aggregation.layer_stats(network.saliencies(setup, DEAD_EDGE, True)[1])
    assert np.array_equal(one, a)  # shared per live cell = computed alone


def test_rank_aggregation_is_the_sum_of_log_ranks():
    rng = np.random.default_rng(0)
    table = rng.normal(size=(40, 4))
    table[3, 2] = table[9, 2] = -math.inf
    table[5, 0] = math.nan
    stats = [np.column_stack([np.ones(4), row, np.zeros(4)]) for row in table]
    got = zero_cost.scores("az_nas", stats)
    v = np.where(np.isnan(table), -np.inf, table)
    want = sum(np.log(st.rankdata(v[:, k]) / 40) for k in range(4))
    np.testing.assert_allclose(got["az_nas"], want)
    assert got["trainability"][3] == got["trainability"][9] == np.log(1.5 / 40)  # tied lowest
    assert list(got) == list(zero_cost.score_names("az_nas"))


def test_the_protocol_is_in_the_cache_key(monkeypatch):
    setup = Setup("nb201", "cifar10", "az_nas")
    assert setup.batch == "synthetic@b64x1,kaiming_normal_fan_in,bn=train"
    assert Setup.from_json(setup.to_json()) == setup
    assert "Gaussian" in batches.describe(setup.batch, 0)
    base = zero_cost.MEASURES["az_nas"]
    variant = replace(base, name="az_nas_b32", protocol=replace(base.protocol, batch_size=32))
    monkeypatch.setitem(zero_cost.MEASURES, variant.name, variant)
    known = saliency.REGISTRY["az_nas"]
    entry = replace(known, name=variant.name, protocol=variant.protocol.key())
    monkeypatch.setitem(saliency.REGISTRY, variant.name, entry)
    other = Setup("nb201", "cifar10", "az_nas_b32")
    assert other.batch != setup.batch and "b32x1" in other.batch
    assert network.inputs(other)[0].shape[0] == 32
    assert asdict(replace(setup, saliency="x")) != asdict(replace(other, saliency="x"))
    with pytest.raises(ValueError, match="protocol"):
        zero_cost.Protocol(init="uniform")


def test_registered_beside_the_saliencies():
    entry = saliency.get("az_nas")
    assert entry.per_network and entry.components == zero_cost.MEASURES["az_nas"].components
    assert not saliency.get("synflow").per_network
    assert evaluation.score_names("synflow") == tuple(aggregation.AGGREGATIONS)
    assert evaluation.score_names("az_nas")[0] == "az_nas"


def test_evaluate_from_the_cli(settings):
    out = subprocess.run(
        [
            *(sys.executable, "-m", "ssnr_core", "evaluate", "--saliency", "az_nas"),
            *("--sample", "8", "--baselines", "no", "--json", "--n-boot", "50"),
            *("--ensemble", "synflow"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["n"] == 8 and result["batch"].startswith("synthetic@b64x1")
    assert set(result["spearman"]) >= {"az_nas", "expressivity", "complexity"}
    assert "layerwise_ssnr" not in result["spearman"]
    assert "do not apply" in result["per_network"]
    rows = {r["score"]: r for r in result["ensemble"]["rows"]}
    assert rows["az_nas"]["kendall"] == pytest.approx(result["kendall"]["az_nas"])
    assert len(rows["az_nas+layerwise_ssnr"]["delta_kendall"]) == 3


def test_ensemble_variants_add_or_replace_one_rank_term():
    terms = {"az_nas": np.zeros(3), "a": np.log([1 / 3, 2 / 3, 1]), "b": np.log([1, 1 / 3, 2 / 3])}
    table = ensemble.variants(terms, "az_nas", np.array([0.5, 0.1, 0.9]))
    extra = np.log([2 / 3, 1 / 3, 1])
    np.testing.assert_allclose(table["az_nas"], terms["a"] + terms["b"])
    np.testing.assert_allclose(table["az_nas+layerwise_ssnr"], terms["a"] + terms["b"] + extra)
    np.testing.assert_allclose(table["az_nas-a+layerwise_ssnr"], terms["b"] + extra)
    assert list(table.columns) == [
        "az_nas",
        "az_nas+layerwise_ssnr",
        "az_nas-a+layerwise_ssnr",
        "az_nas-b+layerwise_ssnr",
    ]


def all_ops_forward(net: nb201.Network, x: torch.Tensor) -> torch.Tensor:
    """The pre-pooling features as the authors' network computes them: every op of every
    cell runs, also on an all-zero node (zeros in), `none` edges add nothing."""
    f = net.stem(x)
    for block in net.cells:
        if isinstance(block, nb201.Cell):
            nodes = [f, *(torch.zeros_like(f) for _ in range(3))]
            for (to, frm), op in zip(block.edges, block.ops):
                nodes[to] = nodes[to] + op(nodes[frm])
            f = nodes[3]
        else:
            f = block(f)
    return net.head(f)


def fresh_norms(net: nb201.Network) -> None:
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()  # running var 1, mean 0, momentum 0.1 as built


@pytest.mark.parametrize(
    "arch", [BEST, POOLS, EMPTY.replace("none~0|+|none~0", "none~0|+|nor_conv_1x1~0")]
)
def test_naswot_matches_the_kernel_of_every_relu(arch):
    """The arch with an op on an all-zero node (2<-1 after a `none` 1<-0) is the trap."""
    torch.manual_seed(2)
    x = torch.randn(6, 3, 8, 8)
    net = tiny(arch.replace("none~1|+", "nor_conv_3x3~1|+"))
    codes = []
    hooks = [
        m.register_forward_hook(lambda _m, i, _o: codes.append((i[0] > 0).reshape(6, -1).numpy()))
        for m in net.modules()
        if isinstance(m, torch.nn.ReLU)
    ]
    with torch.no_grad():
        all_ops_forward(net, x)
    for h in hooks:
        h.remove()
    k = sum(c.astype(float) @ c.T.astype(float) + (1 - c.astype(float)) @ (1 - c.T) for c in codes)
    want = np.linalg.slogdet(k)[1]
    got = float(zero_cost.naswot(net, x, torch.tensor([0]))[0])
    assert got == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize(
    "arch",
    [
        BEST,
        POOLS,
        "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|",
    ],
)
def test_zen_matches_the_running_variances_of_every_norm(arch):
    torch.manual_seed(3)
    x = torch.randn(12, 3, 8, 8)
    make = zero_cost.drawn(SeededModules(0, share=False), "normal")
    net = nb201.Network(nb201.parse(arch), 10, make, c=4).train()
    fresh_norms(net)
    x1, x2 = x.chunk(2)
    with torch.no_grad():
        a = all_ops_forward(net, x1)
        b = all_ops_forward(net, x1 + 0.01 * x2)
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    log_bn = sum(0.5 * math.log(m.running_var.double().mean().item()) for m in norms)
    want = math.log((a - b).abs().sum(dim=(1, 2, 3)).mean().item()) + log_bn
    got = float(zero_cost.zen(net, x, torch.tensor([0]))[0])
    assert got == pytest.approx(want, rel=1e-5)


def test_the_measures_are_listed_with_their_protocols():
    assert {"az_nas", "zen", "naswot", "naswot_data"} <= set(saliency.REGISTRY)
    assert Setup("nb201", "cifar10", "zen").batch == "synthetic@b64x2,normal,bn=train,r1"
    data = Setup.resolved("nb201", "cifar10", "naswot_data", batch="synthetic")
    assert data.batch.startswith("synthetic@") and saliency.get("naswot_data").needs_data
    assert Setup("nb201", "cifar10", "naswot").batch != Setup("nb201", "cifar10", "zen").batch


def ref_min_eig(rows: np.ndarray) -> float:
    f = rows.reshape(rows.shape[0], -1).astype(np.float64)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # one observation per variable
        corr = np.atleast_2d(np.corrcoef(f))
    corr[~np.isfinite(corr)] = 0
    return float(np.linalg.eigvalsh(corr).min())


def xautodl_outputs(net: nb201.Network, x: torch.Tensor) -> list[torch.Tensor]:
    """Every module output of the authors' NB201 network (xautodl's TinyNetwork), once
    per call: ReLU-conv-BN and pooling ops wrap an inner `op`, `none` is a Zero module,
    ops on all-zero nodes run, then global pooling and the classifier."""
    out: list[torch.Tensor] = []

    def relu_conv_bn(m: torch.nn.Sequential, t: torch.Tensor) -> torch.Tensor:
        a = m[0](t)
        b = m[1](a)
        c = m[2](b)
        out.extend([a, b, c, c, c])  # ReLU, Conv, BN, the inner op, the op
        return c

    def op(m: torch.nn.Module, t: torch.Tensor) -> torch.Tensor:
        if isinstance(m, torch.nn.Sequential):
            return relu_conv_bn(m, t)
        r = m(t)
        out.extend([r, r] if isinstance(m, torch.nn.AvgPool2d) else [r])
        return r

    f = net.stem[0](x)
    out.append(f)
    f = net.stem[1](f)
    out.extend([f, f])
    for block in net.cells:
        if isinstance(block, nb201.Cell):
            nodes = [f, *(torch.zeros_like(f) for _ in range(3))]
            ops = dict(zip(block.edges, block.ops))
            for edge in nb201.EDGES:
                to, frm = edge
                r = op(ops[edge], nodes[frm]) if edge in ops else nodes[frm] * 0
                out.extend([] if edge in ops else [r])  # the Zero module
                nodes[to] = nodes[to] + r
            f = nodes[3]
        else:
            a = relu_conv_bn(block.conv_a, f)
            b = relu_conv_bn(block.conv_b, a)
            p = block.downsample[0](f)
            d = block.downsample[1](p)
            out.extend([p, d, d])
            f = b + d
        out.append(f)
    h = net.head[0](f)
    r = net.head[1](h)
    out.extend([h, r, r])
    return out


@pytest.mark.parametrize(
    "arch",
    [
        BEST,
        POOLS,
        "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|",
    ],
)
def test_meco_matches_every_module_output_of_the_authors_network(arch):
    torch.manual_seed(4)
    x = torch.randn(6, 3, 8, 8)
    net = nb201.Network(nb201.parse(arch), 10, SeededModules(0, share=False), c=4).train()
    with torch.no_grad():
        outs = xautodl_outputs(net, x)
        pooled = outs[-1].mean(dim=(2, 3))
    want = sum(ref_min_eig(o[0].numpy()) for o in outs)
    want += ref_min_eig(pooled[0, :, None].numpy()) + ref_min_eig(np.zeros((10, 1)))
    want += ref_min_eig(pooled.numpy())  # global pooling, classifier, the network itself
    got = float(zero_cost.meco(net, x, torch.tensor([0]))[0])
    assert got == pytest.approx(want, rel=1e-6, abs=1e-9)


def test_the_compare_grid_shows_a_measure_by_its_own_scores(tmp_path):
    cache = Cache(tmp_path / "stats.sqlite")
    setup = compare.cell_setup("nb201", "cifar10", "az_nas", 0, LOCAL)
    archs = evaluation.sample("nb201", "cifar10", 6, 0)
    scoring.score(setup, archs, cache, settings=LOCAL)
    rows, problems = compare.grid(
        cache, settings=LOCAL, columns=[("nb201", "cifar10")], saliencies=["az_nas"]
    )
    mine = rows[rows["saliency"] == "az_nas"].set_index("aggregation")
    assert not problems and list(mine.index) == list(zero_cost.score_names("az_nas"))
    assert (mine["n"] == 6).all() and (mine["status"] == "ok").all()


# ---- NB201 values as main's code computed them --------------------------------------

# float.hex of network.many_stats(Setup("nb201", "cifar10", m), [BEST, POOLS, DEAD_NODE]) by
# main's code (zen: protocol revision 1)
MAIN_VALUES = {
    "az_nas": [
        [
            "0x1.beddc5c017cc5p+5",
            "-0x1.05008225b3700p-4",
            "-0x1.2c0eb4c9c6378p-4",
            "0x1.328bc2b94d940p+7",
        ],
        [
            "0x1.9757e33330630p+4",
            "-0x1.9b9f84750f060p-2",
            "-0x1.901c13d88c8dcp-3",
            "0x1.f21d7dbf487fdp+2",
        ],
        [
            "0x1.73f2697fbe519p+5",
            "-0x1.75fd46ab5d320p-2",
            "-0x1.01a0c7a0c1338p+2",
            "0x1.78d652bd3c361p+5",
        ],
    ],
    "zen": [["0x1.5e12cda0dc992p+7"], ["0x1.74bc93560c302p+5"], ["0x1.3afb3cd2e0764p+2"]],
    "naswot": [["0x1.9ba7c5181c737p+9"], ["0x1.3a8f077349e96p+9"], ["0x1.3df5892b9c340p+9"]],
    "meco": [["0x1.58f71b07a0f76p+6"], ["0x1.3040fc8223e14p+0"], ["0x1.478f989a20967p+0"]],
}


@pytest.mark.parametrize("name", list(MAIN_VALUES))
def test_nb201_values_are_mains(name):
    """Computed by the main branch's code before these measures learnt other spaces
    (same torch, one thread), so full-space runs of that code share the cache with this
    one. To float32 noise only: the last bits of a float32 network's convolutions depend
    on the thread count and the CPU (trainability, a spectral norm of sums, by ~1e-4)."""
    got = network.many_stats(Setup("nb201", "cifar10", name), [BEST, POOLS, DEAD_NODE])
    want = [[float.fromhex(v) for v in row] for row in MAIN_VALUES[name]]
    assert [list(s[:, 1]) for s in got] == [pytest.approx(row, rel=1e-3) for row in want]


# ---- ZiCo ---------------------------------------------------------------------------


def ref_zico(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batches: int) -> float:
    """ZiCo from the paper's formula: per batch, backward of the cross-entropy into the
    weights' .grad (zeroed in between); per layer log Σ mean|g| / std g over weights whose
    std is not 0, numpy float64; layers whose sum is 0 left out."""
    layers = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    grads: list[list[np.ndarray]] = [[] for _ in layers]
    for xb, yb in zip(x.chunk(batches), y.chunk(batches)):
        net.zero_grad(set_to_none=False)
        torch.nn.functional.cross_entropy(net(xb), yb).backward()
        for keep, m in zip(grads, layers):
            g = m.weight.grad  # None: no gradient reached the layer
            keep.append(
                np.zeros(m.weight.numel()) if g is None else g.double().numpy().ravel().copy()
            )
    total = 0.0
    for g in grads:
        a = np.array(g)
        std, mean = a.std(axis=0), np.abs(a).mean(axis=0)
        s = (mean[std != 0] / std[std != 0]).sum()
        total += math.log(s) if s != 0 else 0.0
    return total


def tiny_jigsaw(init: str = "default") -> tnb101.Jigsaw:
    """TNB101's jigsaw network on a 4-channel encoder (the space's is 64)."""
    make = SeededModules(0, share=False)
    make = make if init == "default" else zero_cost.drawn(make, init)
    net = tnb101.Jigsaw(tnb101.parse("(3, 1, 0, 2, 3, 1)"), 10, make)
    net.encoder = tnb101.Encoder(tnb101.parse("(3, 1, 0, 2, 3, 1)"), make, base=4)
    net.fc = torch.nn.Linear(net.encoder.out_channels * tnb101.JIGSAW_TILES, 10)
    return zero_cost.initialise(net, init).train() if init != "default" else net.train()


def tiny301(seed: int = 0, init: str = "default") -> torch.nn.Module:
    make = SeededModules(seed, share=False)
    make = make if init == "default" else zero_cost.drawn(make, init)
    return nb301.Network(nb301.parse(nb301.SPACE.examples[0]), 10, make, c=4).train()


@pytest.mark.parametrize("space", ["nb201", "nb301"])
def test_zico_matches_the_formula(space):
    torch.manual_seed(5)
    x, y = torch.randn(8, 3, 8, 8), torch.randint(0, 10, (8,))
    if space == "nb201":  # a dead edge and an op on an all-zero node: layers with no grad
        net = nb201.Network(nb201.parse(DEAD_EDGE), 10, SeededModules(0, share=False), c=4)
    else:
        net = tiny301()
    got = float(zero_cost.zico(net.train(), x, y)[0])
    assert got == pytest.approx(ref_zico(net, x, y, 2), rel=1e-9)
    assert math.isfinite(got)


# ---- SWAP ---------------------------------------------------------------------------


def ref_swap(net: torch.nn.Module, x: torch.Tensor, forward=None) -> int:
    """SWAP from the paper: the (neurons x samples) matrix of ReLU output signs over all
    ReLUs with a feature-map input, its distinct rows counted with numpy."""
    outs: list[np.ndarray] = []
    hooks = [
        m.register_forward_hook(
            lambda _m, i, o: (
                outs.append(np.sign(o.detach().numpy()).reshape(len(x), -1))
                if i[0].dim() == 4
                else None
            )
        )
        for m in net.modules()
        if isinstance(m, torch.nn.ReLU)
    ]
    with torch.no_grad():
        (forward or net)(x)
    for h in hooks:
        h.remove()
    return len(np.unique(np.concatenate(outs, axis=1).T, axis=0))


@pytest.mark.parametrize(
    "arch", [BEST, EMPTY.replace("none~0|+|none~0", "none~0|+|nor_conv_1x1~0")]
)
def test_swap_counts_the_distinct_patterns_of_every_relu(arch):
    """The second arch has an op on an all-zero node: all-zero patterns in the authors'
    network, which runs it."""
    torch.manual_seed(6)
    x = torch.randn(12, 3, 8, 8)  # 4,096 patterns possible: more than neurons
    make = zero_cost.drawn(SeededModules(0, share=False), "normal")
    net = nb201.Network(nb201.parse(arch.replace("none~1|+", "nor_conv_3x3~1|+")), 10, make, c=2)
    want = ref_swap(net, x, functools.partial(all_ops_forward, net))
    assert zero_cost.swap_patterns(net, x) == want < 2 ** len(x)
    net301 = tiny301(init="normal")
    assert zero_cost.swap_patterns(net301, x) == ref_swap(net301, x)


def test_swap_is_the_mean_over_its_weight_draws(monkeypatch):
    setup = Setup.resolved("nb201", "cifar10", "swap", batch="synthetic")
    assert network.inputs(setup)[0].shape[0] == 16
    assert setup.batch == "synthetic@b16x1,normal,bn=train,d32"
    base = zero_cost.MEASURES["swap"]  # the same with 3 draws, to keep the test short
    variant = replace(base, name="swap_r3", protocol=replace(base.protocol, repeats=3))
    monkeypatch.setitem(zero_cost.MEASURES, variant.name, variant)
    entry = replace(saliency.REGISTRY["swap"], name=variant.name, protocol=variant.protocol.key())
    monkeypatch.setitem(saliency.REGISTRY, variant.name, entry)
    setup = Setup.resolved("nb201", "cifar10", "swap_r3", batch="synthetic")
    x, _ = network.inputs(setup)
    got = float(network.saliencies(setup, POOLS)[1][0])
    net = network.build_network(setup, POOLS, share=False)
    counts = []
    for r in range(3):  # each draw: N(0, 1) weights, from the draw's own seeds
        zero_cost.redraw(net, "normal", derive_seed(0, f"swap_r3.draw{r}"))
        counts.append(ref_swap(net, x))
    # float32 convs in another memory layout: a value next to 0 may flip a pattern or two
    assert got == pytest.approx(np.mean(counts), rel=1e-3) and len(set(counts)) > 1
    w = torch.cat(
        [m.weight.detach().reshape(-1) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    )
    assert abs(float(w.mean())) < 0.01 and abs(float(w.std()) - 1) < 0.01  # N(0, 1)


def test_a_redraw_depends_on_the_module_not_the_rest_of_the_network():
    """So a measure that never reads the classifier gets the same weights on CIFAR-10 and
    CIFAR-100 (a classifier of another width draws nothing else anew)."""
    a = nb201.Network(nb201.parse(BEST), 10, SeededModules(0, share=False))
    b = nb201.Network(nb201.parse(BEST), 100, SeededModules(1, share=False))
    for net in (a, b):
        zero_cost.redraw(net, "kaiming_normal_fan_in", 3)
    convs = [(n, m.weight) for n, m in a.named_modules() if isinstance(m, torch.nn.Conv2d)]
    others = dict(b.named_modules())
    assert all(torch.equal(w, others[n].weight) for n, w in convs)
    first = convs[1][1]
    assert float(first.std()) == pytest.approx(math.sqrt(2 / first[0].numel()), rel=0.1)


# ---- protocols and batches -----------------------------------------------------------


def test_the_new_protocols_are_in_the_cache_key():
    assert zero_cost.Protocol().key() == "b64x1,kaiming_normal_fan_in,bn=train"  # as before
    assert zero_cost.Protocol(init="normal", repeats=32).key().endswith(",d32")
    assert zero_cost.Protocol(init="normal", repeats=32, revision=2).key().endswith(",d32,r2")
    zico = Setup.resolved("nb201", "cifar10", "zico", batch="synthetic")
    assert zico.batch == "synthetic@b32x2,default,bn=train"
    swap = Setup.resolved("nb201", "cifar10", "swap", batch="synthetic")
    assert len({zico.batch, swap.batch, Setup("nb201", "cifar10", "naswot_data").batch}) == 3
    with pytest.raises(ValueError, match="draw"):
        zero_cost.Protocol(repeats=2, init="default")
    assert "32 weight draws" in zero_cost.note("swap") and "2 batches" in zero_cost.note("zico")


def image_folder(root, n: int):
    from PIL import Image

    for i in range(n):
        folder = root / f"class{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (i * 7 % 256, i * 13 % 256, 90)).save(folder / f"{i}.png")
    return root


def test_real_data_measures_name_their_batch(tmp_path):
    folder = image_folder(tmp_path / "imgs", 20)
    swap = Setup.resolved("nb201", "cifar10", "swap", batch=f"images:{folder}")
    assert swap.batch.startswith(f"images:{folder.resolve()}#") and swap.batch.endswith(",d32")
    label = batches.describe(swap.batch, 0)
    assert f"images from {folder.resolve()}" in label and "protocol b16x1" in label
    assert network.inputs(swap)[0].shape[0] == 16
    zico = Setup.resolved("nb201", "cifar10", "zico", batch=f"images:{folder}")
    with pytest.raises(ValueError, match=r"zico needs 64 images .* has 20"):
        network.inputs(zico)  # two batches of 32: never fewer, silently


# ---- other spaces ----------------------------------------------------------------------


OTHERS = {  # a tiny network of another space and an input for it
    "nb301": lambda init: (tiny301(init=init), torch.randn(6, 3, 8, 8)),
    "tnb101_jigsaw": lambda init: (tiny_jigsaw(init), torch.randn(6, 27, 32, 32)),
}


@pytest.mark.parametrize("space", list(OTHERS))
def test_naswot_on_other_spaces_is_the_kernel_of_every_relu_call(space):
    torch.manual_seed(7)
    net, x = OTHERS[space]("kaiming_normal_fan_in")
    codes = []

    def keep(_m, i, _o):
        codes.append((i[0] > 0).reshape(len(x), -1).numpy())

    hooks = [m.register_forward_hook(keep) for m in net.modules() if isinstance(m, torch.nn.ReLU)]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    c = np.concatenate(codes, axis=1).astype(float)
    want = np.linalg.slogdet(c @ c.T + (1 - c) @ (1 - c).T)[1]
    # float32 activations near 0 may code differently with another thread count
    assert float(zero_cost.naswot(net, x, torch.tensor([0]))[0]) == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("space", list(OTHERS))
def test_zen_on_other_spaces_reads_the_real_running_variances(space):
    """The reference runs the network twice in training mode and reads what PyTorch's
    BatchNorms keep (jigsaw's encoder runs nine times per forward)."""
    torch.manual_seed(8)
    net, x = OTHERS[space]("normal")
    fresh_norms(net)
    x1, x2 = x.chunk(2)
    pooled = next(m for m in net.modules() if isinstance(m, torch.nn.AdaptiveAvgPool2d))
    feats = []
    hook = pooled.register_forward_hook(lambda _m, i, _o: feats.append(i[0].double()))
    with torch.no_grad():
        net(x1), net(x1 + 0.01 * x2)
    hook.remove()
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    log_bn = sum(0.5 * math.log(m.running_var.double().mean().item()) for m in norms)
    want = math.log((feats[0] - feats[1]).abs().sum(dim=(1, 2, 3)).mean().item()) + log_bn
    fresh_norms(net)
    assert float(zero_cost.zen(net, x, torch.tensor([0]))[0]) == pytest.approx(want, rel=1e-5)


def test_meco_on_other_spaces_counts_every_module_call():
    torch.manual_seed(9)
    net, x = tiny301(), torch.randn(4, 3, 8, 8)
    terms = []

    def keep(m, _i, o):
        if m is not net and o.dim() == 4:
            terms.append(ref_min_eig(o[0].numpy()))

    hooks = [m.register_forward_hook(keep) for m in net.modules()]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    got = float(zero_cost.meco(net, x, torch.tensor([0]))[0])
    assert got == pytest.approx(sum(terms), rel=1e-6, abs=1e-9) and len(terms) > 100


def ref_chain(blocks: list, x: torch.Tensor, seed: int) -> tuple[float, float, float]:
    """AZ-NAS expressivity, progressivity, trainability over a chain of blocks, numpy."""
    feats = [x]
    for block in blocks:
        with torch.no_grad():
            feats.append(block(feats[-1]))
    h = np.array([ref_entropy(f.numpy()) for f in feats[1:]])
    terms = []
    for i in range(1, len(blocks)):
        g_out = zero_cost.random_signs(tuple(feats[i + 1].shape), seed, i)
        leaf = feats[i].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(blocks[i](leaf), leaf, g_out.contiguous())
        g_in, g_o = g.double().numpy(), g_out.double().numpy()
        if g_in.shape[2] != g_o.shape[2]:
            g_in = ref_unshuffle(g_in, g_in.shape[2] // g_o.shape[2])
        b, _, ho, wo = g_o.shape
        s = np.linalg.svd(np.einsum("bihw,bohw->io", g_in, g_o) / (b * ho * wo), compute_uv=False)
        terms.append(-s.max() - 1 / (s.max() + 1e-6) + 2)
    return float(h.sum()), float(np.min(np.diff(h))), float(np.mean(terms))


def test_az_nas_on_tnb101_is_the_chain_of_stem_and_cells():
    torch.manual_seed(10)
    net = tiny_jigsaw("kaiming_normal_fan_in")
    x = torch.randn(2, 27, 64, 64)
    got = [float(t) for t in zero_cost.az_nas(net, x, torch.tensor([4]))]
    tiles = x.reshape(18, 3, 64, 64)  # nine tiles per image, as samples
    want = ref_chain([net.encoder.stem, *net.encoder.cells], tiles, 4)
    assert got[:2] == pytest.approx(want[:2], rel=1e-5, abs=1e-6)
    assert got[2] == pytest.approx(want[2], rel=1e-4, abs=1e-5)
    assert got[3] == pytest.approx(zero_cost.network_flops(net, x), rel=1e-12)


def test_az_nas_on_nb301_holds_the_farther_input_fixed():
    torch.manual_seed(11)
    net, x = tiny301(init="kaiming_normal_fan_in"), torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        outs = [net.stem(x)]
        for cell in net.cells:
            outs.append(cell(outs[max(len(outs) - 2, 0)], outs[-1]))
    blocks = [net.stem] + [
        functools.partial(lambda c, far, t: c(far, t), cell, outs[max(i - 1, 0)])
        for i, cell in enumerate(net.cells)
    ]
    want = ref_chain(blocks, x, 2)
    got = [float(t) for t in zero_cost.az_nas(net, x, torch.tensor([2]))]
    assert got[:2] == pytest.approx(want[:2], rel=1e-5, abs=1e-6)
    assert got[2] == pytest.approx(want[2], rel=1e-4, abs=1e-5)


def test_network_flops_count_every_conv_and_rank_as_naslibs():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1, groups=1),  # 8*8 outputs * 8 ch * (27 + 1 bias)
        torch.nn.ConvTranspose2d(8, 4, 2, stride=2, bias=False),  # 64 inputs * 8 ch * 4*4
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 16 * 16, 5),
    )
    want = 64 * 8 * 28 + 64 * 8 * 4 * 4 + 1024 * 5 + 5
    assert zero_cost.network_flops(model, torch.zeros(2, 3, 8, 8)) == want / 1e6
    stored = naslib.proxies("nb301", "cifar10")["flops"].iloc[:3]  # 153.5, 126.3, 156.2 M
    ours = [
        zero_cost.network_flops(nb301.build(a), torch.zeros(2, 3, 32, 32)) for a in stored.index
    ]
    assert list(np.argsort(ours)) == list(np.argsort(stored.to_numpy()))
    assert np.allclose(ours, stored, rtol=0.1)  # ours: 144.6, 118.3, 148.7 M


@pytest.mark.parametrize("name", ["az_nas", "zen", "naswot", "meco", "zico", "swap"])
def test_measures_make_their_tensors_on_the_networks_device(name):
    """With the default device set elsewhere ("meta": no data), a measure that makes a
    tensor without naming the network's device fails; so it would on a GPU."""
    measure = zero_cost.MEASURES[name]
    make = SeededModules(0, share=False)
    make = (
        make if measure.protocol.init == "default" else zero_cost.drawn(make, measure.protocol.init)
    )
    for net in (nb201.Network(nb201.parse(DEAD_EDGE), 10, make, c=4).train(), tiny301()):
        x, y = (
            torch.randn(4, 3, 8, 8),
            (torch.arange(4) if measure.protocol.data else torch.tensor([1])),
        )
        want = [float(t) for t in measure.fn(net, x, y)]
        with torch.device("meta"):
            got = [float(t) for t in measure.fn(net, x, y)]
        assert got == pytest.approx(want, rel=1e-9) and all(math.isfinite(v) for v in got)


HEAD_FREE = [m.name for m in zero_cost.MEASURES.values() if m.head_free]
DEAD_NODE = "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|"


def same_body_numbers(name: str, x: torch.Tensor, build: Callable, heads: Sequence) -> list:
    """Measure `name` on the network `build(head, make)` of each head, each from a fresh
    bank of the same slot-seeded modules."""
    measure, got = zero_cost.MEASURES[name], []
    for head in heads:
        bank = SeededModules(0, share=True)
        make = bank if measure.protocol.init == "default" else zero_cost.drawn(bank, "normal")
        got.append([float(v) for v in measure.fn(build(head, make).train(), x, torch.tensor([0]))])
    return got


@pytest.mark.parametrize("name", HEAD_FREE)
def test_head_free_measures_give_same_body_tasks_the_same_numbers(name):
    x, _ = batches.make_batch("synthetic", (3, 8, 8), 10, 0, size=24)
    assert torch.equal(x, batches.make_batch("synthetic", (3, 8, 8), 100, 0, size=24)[0])
    for arch in (BEST, DEAD_NODE):  # each task's own network: only the classifier differs
        parsed = nb201.parse(arch)
        got = same_body_numbers(
            name, x, lambda n, make, a=parsed: nb201.Network(a, n, make, c=4), (10, 100)
        )
        assert got[0] == got[1]
    assert Setup("nb201", "cifar100", name).stored == Setup("nb201", "cifar10", name)


@pytest.mark.parametrize("name", HEAD_FREE)
@pytest.mark.parametrize(
    "space, arch", [(tnb101, "(3, 2, 1, 3, 0, 2)"), (tnb101_macro, "(1, 2, 4, 2, 0, 0)")]
)
def test_head_free_measures_give_tnb101_classifier_tasks_the_same_numbers(name, space, arch):
    x = torch.randn(6, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    got = same_body_numbers(  # a Linear of 100, 63 or 9 outputs
        name, x, lambda task, make: space.build(arch, task, make=make), space.CLASSIFIERS
    )
    assert got[0] == got[1] == got[2] and all(math.isfinite(v) for v in got[0])
    first = Setup(space.NAME, "class_object", name)
    assert Setup(space.NAME, "room_layout", name).stored == first
    assert Setup(space.NAME, "jigsaw", name).stored.task == "jigsaw"  # nine tiles: another body


def test_same_body_tasks_build_the_same_body():
    ten, hundred = Setup("nb201", "cifar10", "meco"), Setup("nb201", "cifar100", "meco")
    a = network.build_network(ten, BEST, share=True).state_dict()
    b = network.build_network(hundred, BEST, share=True).state_dict()
    assert {k for k in a if not torch.equal(a[k], b.get(k, torch.zeros(0)))} == {
        "classifier.weight",
        "classifier.bias",
    }


def test_only_head_free_slot_seeded_measures_share_rows(tmp_path):
    cache = Cache(tmp_path / "stats.sqlite")
    ten, hundred = Setup("nb201", "cifar10", "meco"), Setup("nb201", "cifar100", "meco")
    cache.put(ten, [(BEST, np.array([[1.0, 2.0, 0.0]]))])
    assert cache.get(hundred)[BEST].tolist() == [[1.0, 2.0, 0.0]]
    assert cache.claim(hundred, [BEST, POOLS]) == [POOLS]  # one claim key for both
    assert cache.claimed(ten) == {POOLS: os.getpid()}
    for other in (
        Setup("nb201", "ImageNet16-120", "meco"),  # other inputs
        Setup("nb201", "cifar100", "az_nas"),  # complexity counts the classifier
        Setup("nb201", "cifar100", "meco", init="fresh"),
        Setup("nb201", "cifar100", "synflow"),
    ):
        assert other.stored == other and not cache.get(other)
    assert "share its numbers" in zero_cost.note("meco")


def test_channel_variance_is_the_unbiased_variance_per_channel():
    x = (torch.randn(8, 5, 6, 6, dtype=torch.float64) * 3 + 7).to(torch.float32)
    want = x.double().var(dim=(0, 2, 3), unbiased=True)
    got = zero_cost.channel_variance(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(got, want, rtol=1e-12, atol=0)


def test_rows_of_an_older_protocol_are_not_listed_as_todays(tmp_path, monkeypatch):
    cache = Cache(tmp_path / "stats.sqlite")
    old = Setup("nb201", "cifar10", "zen")
    cache.put(old, [(BEST, np.array([[1.0, 2.0, 0.0]]))])
    assert cache.setups() == [(old, 1)]
    known = saliency.REGISTRY["zen"]
    monkeypatch.setitem(saliency.REGISTRY, "zen", replace(known, protocol=known.protocol + "9"))
    assert cache.setups() == [] and not cache.get(Setup("nb201", "cifar10", "zen"))


def test_every_measure_applies_to_every_column_of_the_field_table():
    for space, _task in compare.FIELD_COLUMNS:
        assert all(zero_cost.supports(m, space) for m in zero_cost.MEASURES), space
    assert not zero_cost.supports("zen", "nb101") and zero_cost.supports("zico", "nb101")
