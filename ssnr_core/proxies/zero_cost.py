"""Zero-cost proxies that give one number, or a few, per network: AZ-NAS, Zen-NAS, NASWOT, MeCo.

The saliencies (`saliency`) score every weight, so their statistics are per layer and
the sum / overall SSNR / layer-wise SSNR aggregations apply. These proxies score a
whole network; each is registered in the same registry (`saliency.REGISTRY`, with
`components` set), so the CLI, the cache and the app list them beside the saliencies,
and its statistics array has one row per component: (count 1, value, M2 0). The
aggregations do not apply to them; `scores` gives what does (AZ-NAS: its rank
aggregation over the scored population, and each component's term of it).

Each proxy runs under its authors' protocol, a `Protocol` whose key is part of the
cache key (`Setup.batch` is "<input>@<protocol key>"): the input (`synthetic`, a
seeded N(0, 1) batch, for the data-free ones; the run's data batch otherwise), its
size, the weight initialisation, the BatchNorm mode. Weights are slot-seeded as for
the saliencies (`Setup.init`), drawn from the protocol's distribution.

Edge values (documented, as the authors' code has them): a NaN component (an all-zero
feature map has no eigenvalue distribution) becomes -inf, the lowest rank; an
identity cell makes AZ-NAS trainability -inf. Network dtype float32 (the authors');
the small linear algebra (covariances, eigenvalues, entropies, SVDs, log-determinants)
in float64: in float32 the covariance of pool/skip-only cells goes slightly negative
and the entropy NaN for cells that are not dead.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats as st
from torch import nn

from ssnr_core.spaces import nb201
from ssnr_core.spaces.layers import ReLUConvBN
from ssnr_core.spaces.modules import Factory, derive_seed

Fn = Callable[[nn.Module, torch.Tensor, torch.Tensor], list[torch.Tensor]]
INITS = ("kaiming_normal_fan_in", "normal", "default")
# BatchNorm in training mode: batch statistics (Zen-NAS reads the running variances that
# its two passes leave, emulated per network: shared modules' buffers are never read)
BN_MODES = ("train",)


@dataclass(frozen=True)
class Protocol:
    """How a proxy sees a network: what the authors' code does, as settings. With
    `batches` > 1 the proxy gets batches * batch_size images of the same seeded source,
    stacked (Zen-NAS: the input and its mixup noise)."""

    data: bool = False  # False: `synthetic`, a seeded N(0, 1) batch; True: the run's batch
    batch_size: int = 64
    init: str = "kaiming_normal_fan_in"  # weights; BatchNorm always weight 1, bias 0
    bn: str = "train"
    batches: int = 1
    # bumped when this measure's code changes its numbers, so its old rows stop matching
    # while every other measure keeps its own (`CODE_VERSION` would drop them all)
    revision: int = 0

    def __post_init__(self) -> None:
        if self.init not in INITS or self.bn not in BN_MODES:
            raise ValueError(f"unknown protocol {self}")
        if self.batch_size < 2 or self.batches < 1:
            raise ValueError(f"a protocol needs a batch of >= 2 and >= 1 batch: {self}")

    def key(self) -> str:
        """The protocol part of the cache key, e.g. "b64x1,kaiming_normal_fan_in,bn=train"."""
        key = f"b{self.batch_size}x{self.batches},{self.init},bn={self.bn}"
        return key + (f",r{self.revision}" if self.revision else "")

    def describe(self) -> str:
        inputs = "the run's data batch" if self.data else "Gaussian N(0, 1) inputs"
        return (
            f"{inputs}, batch {self.batch_size}"
            + (f" x {self.batches} batches" if self.batches > 1 else "")
            + f", {self.init.replace('_', ' ')} init, BatchNorm in {self.bn} mode"
        )


@dataclass(frozen=True)
class Measure:
    name: str
    fn: Fn  # (model, x, y) -> one one-element float64 tensor per component
    components: tuple[str, ...]  # one stored value each, in row order
    protocol: Protocol
    combine: str  # "rank_log_sum" (AZ-NAS) or "value" (the one component is the score)
    # True: every component but `complexity` depends only on the edges on input-to-output
    # paths (the measure never runs the others), so archs alike there share them
    live_only: bool
    # True: reads neither the classifier nor the labels, so tasks that differ only there
    # (`Space.same_body`) share its numbers, computed once (`Setup.stored`)
    head_free: bool
    reference: str  # the authors' figure this protocol should reproduce, where one is given
    doc: str
    # the search spaces whose networks it runs on; elsewhere it "does not apply"
    spaces: tuple[str, ...] = ("nb201",)


MEASURES: dict[str, Measure] = {}


def register(
    name: str,
    components: tuple[str, ...],
    protocol: Protocol,
    *,
    combine: str = "value",
    reference: str = "",
    live_only: bool = False,
    head_free: bool = False,
    spaces: tuple[str, ...] = ("nb201",),
) -> Callable[[Fn], Fn]:
    """Register a per-network measure with its protocol (`saliency` lists every one of
    them in its registry too, so the CLI and the app offer them beside the saliencies)."""

    def wrap(fn: Fn) -> Fn:
        doc = (fn.__doc__ or "").strip()
        MEASURES[name] = Measure(
            name, fn, components, protocol, combine, live_only, head_free, reference, doc, spaces
        )
        return fn

    return wrap


def get(name: str) -> Measure | None:
    """The measure `name`, or None for a per-parameter saliency."""
    return MEASURES.get(name)


def supports(name: str, space: str) -> bool:
    """Whether `name` runs on `space`'s networks: every per-parameter saliency does, a
    measure on the spaces it names."""
    measure = MEASURES.get(name)
    return measure is None or space in measure.spaces


# ---- initialisation ---------------------------------------------------------------


def initialise(module: nn.Module, init: str) -> nn.Module:
    """Re-draw `module`'s Conv/Linear weights from the protocol's distribution (biases 0)
    and set BatchNorm to weight 1, bias 0, as the authors' `init_model` does."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if init == "kaiming_normal_fan_in":
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            elif init == "normal":
                nn.init.normal_(m.weight)
            if m.bias is not None and init != "default":
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return module


def drawn(make: Factory, init: str) -> Factory:
    """`make` with each new module's weights re-drawn by `initialise` inside its
    construction (so from the slot's seeded generator, once per shared module)."""

    def wrapped(key: str, constructor: Callable[[], nn.Module]) -> nn.Module:
        return make(key, lambda: initialise(constructor(), init))

    return wrapped


# ---- shared helpers ---------------------------------------------------------------


def _nb201(model: nn.Module, name: str) -> nb201.Network:
    if not isinstance(model, nb201.Network):
        raise ValueError(f"{name} is implemented for NAS-Bench-201 networks (nb201) only")
    return model


def _values(*values: float) -> list[torch.Tensor]:
    """Components as the one-element float64 tensors the statistics are made of; NaN -> -inf."""
    return [torch.tensor([-math.inf if math.isnan(v) else v], dtype=torch.float64) for v in values]


def _pixels(t: torch.Tensor, channels: int) -> torch.Tensor:
    """(B, C, H, W) -> (B*H*W, C), pixels as rows: a view for channels-last tensors."""
    return t.permute(0, 2, 3, 1).reshape(-1, channels)


def entropy(feature: torch.Tensor) -> float:
    """Shannon entropy of the normalised eigenvalues of the channel covariance of a
    (B, C, H, W) feature map, pixels as samples (AZ-NAS expressivity), in float64; NaN
    when the covariance is zero. The authors' 1e-8 inside the log is kept."""
    c = feature.shape[1]
    f = _pixels(feature.detach().to(torch.float64), c)
    f = f - f.mean(dim=0, keepdim=True)
    sigma = f.T @ f / f.shape[0]
    s = torch.linalg.eigvalsh(sigma)
    p = s / s.sum()
    return float((-p * torch.log(p + 1e-8)).sum())


def spectral_term(g_in: torch.Tensor, g_out: torch.Tensor) -> float:
    """AZ-NAS trainability of one block: with M = E[g_in g_out^T] over pixels (g_in
    pixel-unshuffled to g_out's resolution), -s - 1/(s + 1e-6) + 2 for s the largest
    singular value of M; 0 at s = 1, the best. -inf for an exact identity block."""
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return -math.inf
    if g_in.shape[2:] != g_out.shape[2:]:
        g_in = F.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
    a = _pixels(g_in.to(torch.float64), g_in.shape[1])
    b = _pixels(g_out.to(torch.float64), g_out.shape[1])
    s = float(torch.linalg.matrix_norm(a.T @ b / len(a), ord=2))
    return -s - 1 / (s + 1e-6) + 2


def conv_macs(block: nn.Module, out_hw: tuple[int, int]) -> float:
    """Multiply-adds of every Conv2d/Linear in `block` for one input, with every conv
    producing `out_hw` (true of NB201's stem, cells and reduction blocks), whether or not
    it runs: the benchmark's FLOPs count ops on all-zero inputs and dead edges too."""
    total = 0.0
    for m in block.modules():
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            per_pixel = kh * kw * m.in_channels * m.out_channels // m.groups
            total += (per_pixel + (m.out_channels if m.bias is not None else 0)) * math.prod(out_hw)
        elif isinstance(m, nn.Linear):
            total += m.in_features * m.out_features + (m.out_features if m.bias is not None else 0)
    return total


def benchmark_flops(model: nn.Module, input_hw: tuple[int, int]) -> float:
    """NAS-Bench-201's FLOPs of a network in millions: the Conv/Linear multiply-adds of
    every op (dead edges included; BatchNorm, pooling and sums not counted), as the
    NATS-Bench API reports them ("FLOP=153.27 M" for the best CIFAR-10 cell)."""
    net = _nb201(model, "benchmark_flops")
    h, w = input_hw
    total = conv_macs(net.stem, (h, w)) + conv_macs(net.classifier, (1, 1))
    for block in net.cells:
        if isinstance(block, nb201.ResBlock):
            h, w = h // 2, w // 2
        total += conv_macs(block, (h, w))
    return total / 1e6


def _live(cell: nb201.Cell) -> list[bool]:
    """Per kept edge of `cell`, whether it lies on an input-to-output path (see
    `nb201.live_edges`); the others cannot change the cell's output."""
    reached, reaches = {0}, {3}
    for to, frm in cell.edges:
        if frm in reached:
            reached.add(to)
    for to, frm in reversed(cell.edges):
        if to in reaches:
            reaches.add(frm)
    return [frm in reached and to in reaches for to, frm in cell.edges]


def cell_forward(cell: nb201.Cell, x: torch.Tensor) -> torch.Tensor:
    """`cell(x)` computing only the edges on an input-to-output path: the same output
    (the others add nothing to it) for less work."""
    nodes: list[torch.Tensor | None] = [x, None, None, None]
    for (to, frm), op, live in zip(cell.edges, cell.ops, _live(cell)):
        src = nodes[frm]
        if live and src is not None:
            y = op(src)
            nodes[to] = y if nodes[to] is None else nodes[to] + y
    return nodes[3] if nodes[3] is not None else x * 0.0


def blocks(net: nb201.Network) -> list[tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor]]]:
    """The stem, then every cell and reduction block, each with how to run it."""
    out: list[tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor]]] = [(net.stem, net.stem)]
    for block in net.cells:
        if isinstance(block, nb201.Cell):
            out.append((block, functools.partial(cell_forward, block)))
        else:
            out.append((block, block))
    return out


@functools.lru_cache(maxsize=64)
def random_signs(shape: tuple[int, ...], seed: int, index: int) -> torch.Tensor:
    """The ±1 (Rademacher) backward seed of block `index`: one seeded draw per run and
    block, the same for every architecture (drawn once per process)."""
    gen = torch.Generator().manual_seed(derive_seed(seed, f"az_nas.signs.{index}"))
    signs = torch.randint(0, 2, tuple(shape), generator=gen).to(torch.float32) * 2 - 1
    return signs.contiguous(memory_format=torch.channels_last) if signs.dim() == 4 else signs


# ---- AZ-NAS -----------------------------------------------------------------------

AZ_NAS = Protocol()


@register(
    "az_nas",
    ("expressivity", "progressivity", "trainability", "complexity"),
    AZ_NAS,
    combine="rank_log_sum",
    reference="NB201 CIFAR-10, all 15,625 cells: Kendall 0.7409, Spearman 0.9127",
    live_only=True,
)
def az_nas(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """AZ-NAS (Lee & Ham, CVPR 2024), from one forward and one backward pass over the
    outputs f_0..f_17 of the stem and of every cell and reduction block: expressivity
    Σ_i H(f_i), H the entropy of the normalised eigenvalues of f_i's channel covariance;
    progressivity min_i H(f_i) - H(f_{i-1}); trainability the mean over blocks of
    -s - 1/s + 2, s the spectral norm of E[∂f_i/∂f_{i-1}] estimated with ±1 vectors;
    complexity the benchmark's FLOPs (all ops, dead edges included). Combined over a
    population by Σ_k log(rank_k / N) (`scores`). `y` holds the seed of the ±1 draws."""
    net = _nb201(model, "az_nas")
    seed = int(y.reshape(-1)[0])
    h, w = x.shape[2:]
    entropies, terms = [], []
    feature = x.contiguous(memory_format=torch.channels_last)  # ~1.8x faster convs and pools
    for i, (_, run) in enumerate(blocks(net)):
        if i == 0:
            with torch.no_grad():
                feature = run(feature)
            entropies.append(entropy(feature))
            continue
        f_in = feature.detach().requires_grad_(True)
        f_out = run(f_in)
        g_out = random_signs(tuple(f_out.shape), seed, i).to(f_out)
        if f_out.requires_grad:
            (g_in,) = torch.autograd.grad(f_out, f_in, g_out)
        else:  # no path from input to output (x * 0.0 keeps the graph; this is a guard)
            g_in = torch.zeros_like(f_in)
        terms.append(spectral_term(g_in, g_out))
        feature = f_out.detach()
        entropies.append(entropy(feature))
    e = np.array(entropies)
    with np.errstate(invalid="ignore"):
        expressivity = float(e.sum())
        progressivity = float(np.min(np.diff(e)))
        trainability = float(np.mean(terms))
    return _values(expressivity, progressivity, trainability, benchmark_flops(net, (h, w)))


# ---- Zen-NAS and NASWOT: hooks over the whole network ---------------------------


def _cell_inputs(net: nb201.Network) -> tuple[dict[nn.Module, torch.Size], list]:
    """Forward hooks recording each cell's input shape (to size the ops it skips)."""
    shapes: dict[nn.Module, torch.Size] = {}

    def keep(module: nn.Module, inp: tuple, _out: torch.Tensor) -> None:
        shapes[module] = inp[0].shape

    cells = [b for b in net.cells if isinstance(b, nb201.Cell)]
    return shapes, [c.register_forward_hook(keep) for c in cells]


def channel_variance(t: torch.Tensor) -> torch.Tensor:
    """Unbiased per-channel variance of a (B, C, H, W) batch, in float64, from the sums of
    values and squares (a matrix-vector product and a norm: several times faster than
    `Tensor.var` over dims (0, 2, 3) on channels-last tensors; relative error ~1e-13)."""
    p = _pixels(t.detach().to(torch.float64), t.shape[1])
    ones = torch.ones(1, len(p), dtype=torch.float64, device=p.device)
    s1, s2 = (ones @ p)[0], torch.linalg.vector_norm(p, dim=0) ** 2
    return (s2 - s1 * s1 / len(p)) / (len(p) - 1)


ZEN = Protocol(init="normal", batches=2, revision=1)  # 1: `channel_variance`'s sums


@register("zen", ("zen",), ZEN, head_free=True)
def zen(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """Zen-score (Lin et al., ICCV 2021) as AZ-NAS's NB201 code runs it: N(0, 1) weights,
    log E_b Σ|f(x) - f(x + 0.01 ε)| of the pre-pooling features (after the head's
    BN-ReLU), plus Σ over BatchNorms of log sqrt(mean running variance) after those two
    forwards in training mode (momentum 0.1 from 1: 0.81 + 0.09 v1 + 0.1 v2, v the
    unbiased batch variance). BatchNorms of ops on all-zero nodes, which the authors'
    network runs on zeros (v = 0), add log sqrt(0.81) each. x holds the input and the
    mixup noise, one batch each."""
    net = _nb201(model, "zen")
    x1, x2 = x.contiguous(memory_format=torch.channels_last).chunk(2)
    seen: dict[nn.Module, list[torch.Tensor]] = {}

    def keep(module: nn.Module, inp: tuple, _out: torch.Tensor) -> None:
        seen.setdefault(module, []).append(channel_variance(inp[0]))

    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    hooks = [m.register_forward_hook(keep) for m in norms]
    try:
        with torch.no_grad():
            out = [net.head(net.cells(net.stem(v))) for v in (x1, x1 + 1e-2 * x2)]
    finally:
        for h in hooks:
            h.remove()
    diff = (out[0].double() - out[1].double()).abs().sum(dim=(1, 2, 3)).mean()
    log_bn = 0.0
    for m in norms:
        v = seen.get(m)
        if v is None:  # not run: an op on an all-zero node (zeros in, v = 0)
            log_bn += 0.5 * math.log(0.81)
        else:
            log_bn += 0.5 * math.log(float((0.81 + 0.09 * v[0] + 0.1 * v[1]).mean()))
    return _values((math.log(float(diff)) if diff > 0 else -math.inf) + log_bn)


NASWOT = Protocol()


def naswot_kernel(net: nb201.Network, x: torch.Tensor) -> np.ndarray:
    """K = Σ over ReLUs of c cᵀ + (1-c)(1-c)ᵀ, c the binary code (input > 0) of each
    sample: the Hamming-similarity kernel of activation patterns (Mellor et al. 2021).
    ReLUs our cells skip (ops on all-zero nodes) see zeros in the authors' network:
    code 0, so each adds its input size D to every entry."""
    k = torch.zeros(len(x), len(x), dtype=torch.float64)
    ran: set[nn.Module] = set()

    def keep(module: nn.Module, inp: tuple, _out: torch.Tensor) -> None:
        # c cᵀ + (1-c)(1-c)ᵀ = 2 c cᵀ - n_i - n_j + D (n: ones per sample): one matmul,
        # in float32, exact for these integer counts (below 2^24)
        code = (inp[0] > 0).reshape(len(x), -1).to(torch.float32)
        ones = code.sum(dim=1, dtype=torch.float64)
        both = (code @ code.T).double()
        k.add_(2 * both - ones[:, None] - ones[None, :] + code.shape[1])
        ran.add(module)

    shapes, cell_hooks = _cell_inputs(net)
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    hooks = [m.register_forward_hook(keep) for m in relus] + cell_hooks
    try:
        with torch.no_grad():
            net(x.contiguous(memory_format=torch.channels_last))
    finally:
        for h in hooks:
            h.remove()
    for cell in net.cells:
        if isinstance(cell, nb201.Cell) and cell in shapes:
            size = math.prod(shapes[cell][1:])
            idle = [m for op in cell.ops for m in op.modules() if isinstance(m, nn.ReLU)]
            k += size * sum(m not in ran for m in idle)
    return k.numpy()


@register("naswot", ("naswot",), NASWOT, head_free=True)
def naswot(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """NASWOT (Mellor et al., ICML 2021) as AZ-NAS's NB201 code runs it: Kaiming-normal
    fan-in weights, Gaussian inputs, log|det K| of the activation-pattern kernel
    (`naswot_kernel`), in float64."""
    net = _nb201(model, "naswot")
    _sign, logdet = np.linalg.slogdet(naswot_kernel(net, x))
    return _values(float(logdet))


@register("naswot_data", ("naswot_data",), replace(NASWOT, data=True), head_free=True)
def naswot_data(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """NASWOT on the run's data batch (the original paper's protocol: real images),
    otherwise as `naswot`."""
    return naswot(model, x, y)


# ---- MeCo ---------------------------------------------------------------------------

MECO = Protocol(init="default")


def min_eig_corr(rows: torch.Tensor) -> float:
    """Smallest eigenvalue of the correlation matrix of `rows` (one variable per row;
    NaN and inf entries set to 0, as MeCo's code does), in float64."""
    f = rows.reshape(rows.shape[0], -1).to(torch.float64)
    corr = torch.nan_to_num(torch.corrcoef(f), nan=0.0, posinf=0.0, neginf=0.0)
    return float(torch.linalg.eigvalsh(corr.reshape(len(f), len(f))).min())


def _meco_weight(module: nn.Module, parent: nn.Module | None, net: nb201.Network) -> int:
    """How often the authors' NB201 network (xautodl's TinyNetwork) calls a module that
    produces this output: its ReLU-conv-BN and pooling ops wrap an inner `op`, so each
    counts twice; the cells' container is a ModuleList there (never called)."""
    if module is net.cells or module is net:
        return 0
    if isinstance(module, ReLUConvBN):
        return 2
    if isinstance(module, nn.AvgPool2d) and isinstance(parent, nn.ModuleList):
        return 2  # a cell's pooling op, not the reduction block's shortcut pool
    return 1


@register(
    "meco",
    ("meco",),
    MECO,
    head_free=True,
    reference="NB201 CIFAR-10, NATS-Bench TSS, as reported: Spearman ~0.89",
)
def meco(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """MeCo (Jiang et al., NeurIPS 2023), random-input variant: Σ over module outputs of
    the smallest eigenvalue of the channel correlation matrix of the first sample's
    feature map, plus, for the network itself, of the samples' pooled features; PyTorch
    default weights, Gaussian inputs, training mode. Modules are counted as the authors'
    network calls them (`_meco_weight`); outputs with one value per channel (pooling,
    the classifier) and all-zero ones contribute 0 there and are left out here."""
    net = _nb201(model, "meco")
    parents = {c: p for p in net.modules() for c in p.children()}
    total = [0.0]

    def keep(module: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        weight = _meco_weight(module, parents.get(module), net)
        if weight and out.dim() == 4:
            term = min_eig_corr(out[0])
            total[0] += weight * (0.0 if math.isnan(term) else term)

    hooks = [m.register_forward_hook(keep) for m in net.modules()]
    try:
        with torch.no_grad():
            features = net.head(
                net.cells(net.stem(x.contiguous(memory_format=torch.channels_last)))
            )
    finally:
        for h in hooks:
            h.remove()
    root = min_eig_corr(features.mean(dim=(2, 3)))  # the network's own (pooled) output
    return _values(total[0] + (0.0 if math.isnan(root) else root))


# ---- scores over a population -----------------------------------------------------


def rank_terms(values: np.ndarray) -> np.ndarray:
    """log(rank / N) of each value (average ranks for ties, -inf and NaN lowest), the
    term a component adds to AZ-NAS's non-linear rank aggregation."""
    v = np.where(np.isnan(values), -np.inf, np.asarray(values, dtype=np.float64))
    return np.log(st.rankdata(v) / len(v)) if len(v) else np.zeros(0)


def scores(name: str, stats: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """The scores of a population of networks of measure `name` from their stored
    statistics: the measure's own score under its name, and each component (AZ-NAS: the
    component's log-rank term, which orders as the component does, -inf lowest)."""
    measure = MEASURES[name]
    k = len(measure.components)
    table = np.array([np.asarray(s, dtype=np.float64).reshape(-1, 3)[:, 1] for s in stats])
    table = table.reshape(len(stats), k)
    if measure.combine == "rank_log_sum":
        terms = {c: rank_terms(table[:, i]) for i, c in enumerate(measure.components)}
        return {name: sum(terms.values(), np.zeros(len(stats))), **terms}
    return {c: table[:, i] for i, c in enumerate(measure.components)}


def score_names(name: str) -> tuple[str, ...]:
    """The columns `scores` gives for measure `name`; () for a per-parameter saliency."""
    measure = MEASURES.get(name)
    if measure is None:
        return ()
    if measure.combine == "rank_log_sum":
        return (name, *measure.components)
    return measure.components


COMPLEXITY_NOTE = (
    "complexity: NAS-Bench-201's FLOPs (Conv/Linear multiply-adds of every op, dead edges "
    "included, as the benchmark API reports them), not the `flops` baseline (ops that run only)"
)


def note(name: str) -> str:
    """What a report says of a per-network measure instead of offering aggregations; ""
    for a per-parameter saliency."""
    measure = MEASURES.get(name)
    if measure is None:
        return ""
    parts = [
        f"{name} is one number per network (components: {', '.join(measure.components)}); "
        "the sum / overall SSNR / layer-wise SSNR aggregations do not apply",
        f"protocol: {measure.protocol.describe()}",
    ]
    if measure.combine == "rank_log_sum":
        parts.append(
            f"{name} = Σ log(rank / N) over its components within these N archs; each "
            "component's column is its log-rank term"
        )
    if "complexity" in measure.components:
        parts.append(COMPLEXITY_NOTE)
    if measure.head_free:
        parts.append(
            f"{name} reads neither the classifier nor the labels: tasks whose networks differ "
            "only there (NB201 CIFAR-10 and CIFAR-100) share its numbers, computed once"
        )
    if measure.reference:
        parts.append(f"published: {measure.reference}")
    return "; ".join(parts)
