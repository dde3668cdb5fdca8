"""Zero-cost proxies that give one number, or a few, per network: AZ-NAS, Zen-NAS, NASWOT,
MeCo, ZiCo, SWAP.

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
size, the weight initialisation, the BatchNorm mode, the number of weight draws
averaged (SWAP). Weights are slot-seeded as for the saliencies (`Setup.init`), drawn
from the protocol's distribution; a measure of several draws draws each again in place
(`repeated`) on a network of its own.

Spaces: every measure is written for NB201 as its authors' NB201 code runs it; the ones
defined by hooks over a network (NASWOT, MeCo, Zen-NAS, ZiCo, SWAP) run on any space's
network, and AZ-NAS on NB301 and TNB101 (micro and macro), whose blocks
`az_nas_blocks` defines, with complexity the network's multiply-adds (`network_flops`).

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
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats as st
from torch import nn

from ssnr_core.spaces import REGISTRY as SPACES
from ssnr_core.spaces import nb201, nb301, tnb101, tnb101_macro
from ssnr_core.spaces.layers import ReLUConvBN
from ssnr_core.spaces.modules import Factory, derive_seed

Fn = Callable[[nn.Module, torch.Tensor, torch.Tensor], list[torch.Tensor]]
INITS = ("kaiming_normal_fan_in", "normal", "default")
REDRAWN = ("kaiming_normal_fan_in", "normal")  # the inits `redraw` can draw again
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
    # > 1: the measure is the mean over this many weight draws of the same network on the
    # same batch (SWAP's 32 re-initialisations); see `repeated`
    repeats: int = 1
    # bumped when this measure's code changes its numbers, so its old rows stop matching
    # while every other measure keeps its own (`CODE_VERSION` would drop them all)
    revision: int = 0

    def __post_init__(self) -> None:
        if self.init not in INITS or self.bn not in BN_MODES:
            raise ValueError(f"unknown protocol {self}")
        if self.batch_size < 2 or self.batches < 1 or self.repeats < 1:
            raise ValueError(f"a protocol needs a batch of >= 2, >= 1 batch and draw: {self}")
        if self.repeats > 1 and self.init not in REDRAWN:
            raise ValueError(f"repeated draws need an init of {', '.join(REDRAWN)}: {self}")

    def key(self) -> str:
        """The protocol part of the cache key, e.g. "b64x1,kaiming_normal_fan_in,bn=train"
        (",d32" appended for 32 weight draws, ",r1" for revision 1; neither for the
        default, so older keys hold)."""
        key = f"b{self.batch_size}x{self.batches},{self.init},bn={self.bn}"
        key += f",d{self.repeats}" if self.repeats > 1 else ""
        return key + (f",r{self.revision}" if self.revision else "")

    def describe(self) -> str:
        inputs = "the run's data batch" if self.data else "Gaussian N(0, 1) inputs"
        return (
            f"{inputs}, batch {self.batch_size}"
            + (f" x {self.batches} batches" if self.batches > 1 else "")
            + f", {self.init.replace('_', ' ')} init, BatchNorm in {self.bn} mode"
            + (f", mean over {self.repeats} weight draws" if self.repeats > 1 else "")
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
# Hooks over any network: NASWOT, MeCo, ZiCo, SWAP run on every space's networks. Zen-NAS
# reads a global pooling's input and AZ-NAS a block structure (`az_nas_blocks`): NB101's
# networks have neither defined here.
HOOKED = ("nb201", "nb301", "tnb101", "tnb101_macro", "nb101")
BLOCKED = ("nb201", "nb301", "tnb101", "tnb101_macro")


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


def space_problem(name: str, space: str) -> str | None:
    """One sentence when `name` does not run on `space`'s networks, naming where it does."""
    if supports(name, space):
        return None
    runs_on = ", ".join(MEASURES[name].spaces)
    return f"{name} does not run on {space} networks; it runs on {runs_on}."


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


def redraw(model: nn.Module, init: str, seed: int) -> nn.Module:
    """Draw `model`'s Conv/Linear weights again, in place, from `init` (N(0, 1), or
    Kaiming-normal fan-in), each from its own generator seeded by (seed, the module's
    name): the same module gets the same draw whatever else the network holds (a
    classifier of another width draws nothing else anew). Biases 0; BatchNorm untouched
    (weight 1, bias 0 as built). Drawn on the CPU and copied, so every device gets the
    same weights."""
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                gen = torch.Generator().manual_seed(derive_seed(seed, name))
                w = torch.randn(m.weight.shape, generator=gen, device="cpu")
                if init == "kaiming_normal_fan_in":
                    w *= math.sqrt(2.0 / (m.weight[0].numel()))
                m.weight.copy_(w)
                if m.bias is not None:
                    m.bias.zero_()
    return model


def repeated(
    measure: Measure, model: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int
) -> list[torch.Tensor]:
    """A measure whose protocol has `repeats` > 1: the mean of each component over that
    many weight draws (`redraw`, draw r seeded by (seed, measure, r)) of one network on
    one batch, as SWAP's authors average 32 re-initialisations. `model` is changed in
    place: give it a network of its own, not one of shared modules."""
    draws = []
    for r in range(measure.protocol.repeats):
        redraw(model, measure.protocol.init, derive_seed(seed, f"{measure.name}.draw{r}"))
        draws.append(torch.cat([t.reshape(1) for t in measure.fn(model, x, y)]))
    return list(torch.stack(draws).mean(dim=0).reshape(-1, 1))


# ---- shared helpers ---------------------------------------------------------------


Hook = Callable[[nn.Module, tuple, torch.Tensor], None]


@contextmanager
def hooked(modules: Iterable[nn.Module], hook: Hook) -> Iterator[None]:
    """`hook` as a forward hook of every module in `modules` while inside, removed on
    the way out, whatever happens."""
    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _nb201(model: nn.Module, name: str) -> nb201.Network:
    if not isinstance(model, nb201.Network):
        raise ValueError(f"{name} is implemented for NAS-Bench-201 networks (nb201) only")
    return model


def _values(*values: float) -> list[torch.Tensor]:
    """Components as the one-element float64 tensors the statistics are made of; NaN -> -inf."""
    return [
        torch.tensor([-math.inf if math.isnan(v) else v], dtype=torch.float64, device="cpu")
        for v in values
    ]


def _pixels(t: torch.Tensor, channels: int) -> torch.Tensor:
    """(B, C, H, W) -> (B*H*W, C), pixels as rows: a view for channels-last tensors."""
    return t.permute(0, 2, 3, 1).reshape(-1, channels)


def entropy(feature: torch.Tensor) -> float:
    """Shannon entropy of the normalised eigenvalues of the channel covariance of a
    (B, C, H, W) feature map, pixels as samples (AZ-NAS expressivity), in float64; NaN
    when the covariance is zero. The authors' 1e-8 inside the log is kept. The mean is
    taken off the Gram matrix rather than off every pixel (one float64 copy fewer; the
    two differ by ~1e-13 relative: float64 has room for the cancellation, float32 has not)."""
    c = feature.shape[1]
    f = _pixels(feature.detach().to(torch.float64), c)
    mean = f.sum(dim=0) / len(f)
    sigma = f.T @ f / len(f) - torch.outer(mean, mean)
    s = torch.linalg.eigvalsh(sigma)
    p = s / s.sum()
    return float((-p * torch.log(p + 1e-8)).sum())


def spectral_term(g_in: torch.Tensor, g_out: torch.Tensor) -> float:
    """AZ-NAS trainability of one block: with M = E[g_in g_out^T] over pixels (g_in
    pixel-unshuffled to g_out's resolution), -s - 1/(s + 1e-6) + 2 for s the largest
    singular value of M; 0 at s = 1, the best. -inf for an exact identity block. M is
    summed in the gradients' own precision and its norm taken in float64: the largest
    singular value is well conditioned (float32 moves it by under 1e-6 relative, less than
    the network's own float32 noise between thread counts), unlike `entropy`'s small
    eigenvalues."""
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return -math.inf
    if g_in.shape[2:] != g_out.shape[2:]:
        g_in = F.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
    a = _pixels(g_in, g_in.shape[1])
    b = _pixels(g_out.to(g_in.dtype), g_out.shape[1])
    s = float(torch.linalg.matrix_norm((a.T @ b).to(torch.float64) / len(a), ord=2))
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
    signs = torch.randint(0, 2, tuple(shape), generator=gen, device="cpu").float() * 2 - 1
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
    spaces=BLOCKED,
)
def az_nas(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """AZ-NAS (Lee & Ham, CVPR 2024), from one forward and one backward pass over the
    outputs f_0..f_17 of the stem and of every cell and reduction block: expressivity
    Σ_i H(f_i), H the entropy of the normalised eigenvalues of f_i's channel covariance;
    progressivity min_i H(f_i) - H(f_{i-1}); trainability the mean over blocks of
    -s - 1/s + 2, s the spectral norm of E[∂f_i/∂f_{i-1}] estimated with ±1 vectors;
    complexity the benchmark's FLOPs (all ops, dead edges included). Combined over a
    population by Σ_k log(rank_k / N) (`scores`). `y` holds the seed of the ±1 draws.
    Other spaces: see `az_nas_blocks` for what a block is there, and `network_flops`
    for their complexity."""
    seed = int(y.reshape(-1)[0])
    if not isinstance(model, nb201.Network):
        return _az_nas_other(model, x, seed)
    feature = x.contiguous(memory_format=torch.channels_last)  # ~1.8x faster convs and pools
    steps = [run for _, run in blocks(model)]
    h, w = x.shape[2:]
    return _values(*_chain_terms(feature, steps, seed), benchmark_flops(model, (h, w)))


def _chain_terms(
    feature: torch.Tensor, steps: Sequence[Callable[[torch.Tensor], torch.Tensor]], seed: int
) -> tuple[float, float, float]:
    """Expressivity, progressivity and trainability (`az_nas`) over a chain of blocks:
    the first (the stem) run without gradient, each next one from the previous one's
    output, its input gradient for the block's ±1 vectors."""
    entropies, terms = [], []
    with torch.no_grad():
        feature = steps[0](feature)
    entropies.append(entropy(feature))
    for i, run in enumerate(steps[1:], start=1):
        f_in = feature.detach().requires_grad_(True)
        f_out = run(f_in)
        g_out = random_signs(tuple(f_out.shape), seed, i).to(f_out)
        if f_out.requires_grad:
            (g_in,) = torch.autograd.grad(f_out, f_in, g_out, allow_unused=True)
            g_in = torch.zeros_like(f_in) if g_in is None else g_in
        else:  # the block ignores its input (all `none`): no gradient reaches it
            g_in = torch.zeros_like(f_in)
        terms.append(spectral_term(g_in, g_out))
        feature = f_out.detach()
        entropies.append(entropy(feature))
    e = np.array(entropies)
    with np.errstate(invalid="ignore"):
        return float(e.sum()), float(np.min(np.diff(e))), float(np.mean(terms))


Step = Callable[[torch.Tensor], torch.Tensor]


def az_nas_blocks(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[Step]]:
    """The input and the blocks of AZ-NAS outside NB201, each block a map from the
    previous block's output to its own. TNB101 (micro and macro encoders alike): the
    encoder's stem, then each cell, a chain as NB201's; jigsaw's nine tiles go through
    the shared encoder as nine samples each. NB301: the stem, then each cell as a map of
    its nearer input (the previous cell's output) with the farther one (the cell before)
    held fixed, so trainability is the partial Jacobian through the nearer input. The
    heads (pooling, classifier, decoders) are not blocks, as in NB201. TNB101 macro: its
    residual blocks. ValueError otherwise (NB101: not defined here)."""
    encoder = getattr(model, "encoder", None)
    if isinstance(encoder, (tnb101.Encoder, tnb101_macro.Encoder)):
        if isinstance(model, (tnb101.Jigsaw, tnb101_macro.Jigsaw)):
            x = x.reshape(len(x) * tnb101.JIGSAW_TILES, -1, *x.shape[-2:])
        body = encoder.cells if isinstance(encoder, tnb101.Encoder) else encoder.blocks
        return x, [encoder.stem, *body]
    if isinstance(model, nb301.Network):
        outputs: list[torch.Tensor] = []

        def stem(t: torch.Tensor) -> torch.Tensor:
            outputs.append(model.stem(t).detach())
            return outputs[-1]

        def cell(i: int, t: torch.Tensor) -> torch.Tensor:
            farther = outputs[max(len(outputs) - 2, 0)]  # s0; the stem for the first cell
            out = model.cells[i](farther, t)
            outputs.append(out.detach())
            return out

        return x, [stem, *(functools.partial(cell, i) for i in range(len(model.cells)))]
    raise ValueError(f"az_nas has no block structure for {type(model).__name__} networks")


def _az_nas_other(model: nn.Module, x: torch.Tensor, seed: int) -> list[torch.Tensor]:
    """AZ-NAS outside NB201: `az_nas`'s formulas over `az_nas_blocks`, complexity the
    network's Conv/Linear multiply-adds (`network_flops`)."""
    feature, steps = az_nas_blocks(model, x.contiguous(memory_format=torch.channels_last))
    return _values(*_chain_terms(feature, steps, seed), network_flops(model, x))


def network_flops(model: nn.Module, x: torch.Tensor) -> float:
    """A network's FLOPs in millions as the spaces other than NB201 define none: the
    multiply-adds of every Conv2d, ConvTranspose2d and Linear call (biases included)
    for one input, counted by hooks over a forward of `x[:2]` (two samples: BatchNorm in
    training mode needs more than one value per channel). Every op runs in these
    spaces' networks, so this counts all of them; BatchNorm, pooling and sums are not
    counted (NASLib's stored `flops` count a little more: NB301 and TNB101 rank alike)."""
    total = [0.0]

    def conv(m: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        assert isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
        kh, kw = m.kernel_size
        bias = out[0].numel() if m.bias is not None else 0
        if isinstance(m, nn.Conv2d):  # each output value: a k x k x c_in / g dot product
            total[0] += out[0].numel() * (kh * kw * m.in_channels // m.groups) + bias
        else:  # transposed: each input value spreads to k x k x c_out / g outputs
            total[0] += inp[0][0].numel() * (kh * kw * m.out_channels // m.groups) + bias

    def linear(m: nn.Module, _inp: tuple, _out: torch.Tensor) -> None:
        assert isinstance(m, nn.Linear)
        total[0] += (m.in_features + (1 if m.bias is not None else 0)) * m.out_features

    def count(m: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        (linear if isinstance(m, nn.Linear) else conv)(m, inp, out)

    kinds = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
    layers = (m for m in model.modules() if isinstance(m, kinds))
    with hooked(layers, count), torch.no_grad():
        model(x[:2])
    return total[0] / 1e6  # the hooks count one sample (out[0]) per call


# ---- Zen-NAS and NASWOT: hooks over the whole network ---------------------------


def _pooled_input(net: nn.Module, x: torch.Tensor, name: str) -> torch.Tensor:
    """The features a network's one global pooling sees (its pre-pooling features), from
    a forward of `x`; ValueError for a network without exactly one (a dense task)."""
    pools = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    if len(pools) != 1:
        raise ValueError(f"{name} reads the pre-pooling features of a classification network")
    seen: list[torch.Tensor] = []
    with hooked(pools, lambda _m, inp, _o: seen.append(inp[0])):
        net(x)
    return seen[-1]


def channel_variance(t: torch.Tensor) -> torch.Tensor:
    """Unbiased per-channel variance of a (B, C, H, W) batch, in float64, from the sums of
    values and squares (column sums of the pixel rows: several times faster than
    `Tensor.var` over dims (0, 2, 3) on channels-last tensors; relative error ~1e-13)."""
    p = _pixels(t.detach().to(torch.float64), t.shape[1])
    s1, s2 = p.sum(dim=0), (p * p).sum(dim=0)
    return (s2 - s1 * s1 / len(p)) / (len(p) - 1)


ZEN = Protocol(init="normal", batches=2, revision=1)  # 1: `channel_variance`'s sums


@register("zen", ("zen",), ZEN, head_free=True, spaces=BLOCKED)
def zen(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """Zen-score (Lin et al., ICCV 2021) as AZ-NAS's NB201 code runs it: N(0, 1) weights,
    log E_b Σ|f(x) - f(x + 0.01 ε)| of the pre-pooling features (after the head's
    BN-ReLU), plus Σ over BatchNorms of log sqrt(mean running variance) after those two
    forwards in training mode (momentum 0.1 from 1: 0.81 + 0.09 v1 + 0.1 v2, v the
    unbiased batch variance). BatchNorms of ops on all-zero nodes, which the authors'
    network runs on zeros (v = 0), add log sqrt(0.81) each. x holds the input and the
    mixup noise, one batch each. Other spaces: the features the global pooling sees
    (NB301: the last cell's; TNB101: the encoder's, the nine tiles' side by side for
    jigsaw), every BatchNorm's running variance folded over all its calls (jigsaw's
    encoder runs once per tile)."""
    nb = isinstance(model, nb201.Network)

    def features(v: torch.Tensor) -> torch.Tensor:
        if isinstance(model, nb201.Network):
            return model.head(model.cells(model.stem(v)))
        return _pooled_input(model, v, "zen")

    log_diff, seen = _zen_passes(model, x, features)
    log_bn = 0.0
    for m in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        calls = seen.get(m, [])
        if nb and not calls:  # not run: an op on an all-zero node (zeros in, v = 0)
            log_bn += 0.5 * math.log(0.81)
        elif nb:
            log_bn += 0.5 * math.log(float((0.81 + 0.09 * calls[0] + 0.1 * calls[1]).mean()))
        else:  # every call folded in, from 1 (a norm never run keeps 1)
            running = torch.ones(m.num_features, dtype=torch.float64, device=x.device)
            for v in calls:
                running = (1 - 0.1) * running + 0.1 * v
            log_bn += 0.5 * math.log(float(running.mean()))
    return _values(log_diff + log_bn)


def _zen_passes(
    net: nn.Module, x: torch.Tensor, features: Callable[[torch.Tensor], torch.Tensor]
) -> tuple[float, dict[nn.Module, list[torch.Tensor]]]:
    """Zen-NAS's two forwards: log E_b Σ|f(x1) - f(x1 + 0.01 x2)| of `features` (-inf for
    no difference), and each BatchNorm's per-channel input variances, one per call."""
    x1, x2 = x.contiguous(memory_format=torch.channels_last).chunk(2)
    seen: dict[nn.Module, list[torch.Tensor]] = {}

    def keep(module: nn.Module, inp: tuple, _out: torch.Tensor) -> None:
        seen.setdefault(module, []).append(channel_variance(inp[0]))

    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    with hooked(norms, keep), torch.no_grad():
        out = [features(v) for v in (x1, x1 + 1e-2 * x2)]
    diff = (out[0].double() - out[1].double()).abs().sum(dim=(1, 2, 3)).mean()
    return (math.log(float(diff)) if diff > 0 else -math.inf), seen


NASWOT = Protocol()


def naswot_kernel(net: nn.Module, x: torch.Tensor) -> np.ndarray:
    """K = Σ over ReLUs of c cᵀ + (1-c)(1-c)ᵀ, c the binary code (input > 0) of each
    sample: the Hamming-similarity kernel of activation patterns (Mellor et al. 2021).
    ReLUs our cells skip (ops on all-zero nodes) see zeros in the authors' network:
    code 0, so each adds its input size D to every entry. The other spaces' cells run
    every op: there every ReLU call counts as it comes (jigsaw's encoder: once per tile)."""
    k = torch.zeros(len(x), len(x), dtype=torch.float64, device=x.device)
    ran: set[nn.Module] = set()

    def keep(module: nn.Module, inp: tuple, _out: torch.Tensor) -> None:
        # c cᵀ + (1-c)(1-c)ᵀ = 2 c cᵀ - n_i - n_j + D (n: ones per sample): one matmul,
        # in float32, exact for these integer counts (below 2^24)
        code = (inp[0] > 0).reshape(len(x), -1).to(torch.float32)
        ones = code.sum(dim=1, dtype=torch.float64)
        both = (code @ code.T).double()
        k.add_(2 * both - ones[:, None] - ones[None, :] + code.shape[1])
        ran.add(module)

    shapes: dict[nn.Module, torch.Size] = {}  # each NB201 cell's input, to size the ops it skips

    def shape(module: nn.Module, inp: tuple, _out: torch.Tensor) -> None:
        shapes[module] = inp[0].shape

    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    cells = [m for m in net.modules() if isinstance(m, nb201.Cell)]  # none elsewhere
    with hooked(relus, keep), hooked(cells, shape), torch.no_grad():
        net(x.contiguous(memory_format=torch.channels_last))
    for cell in net.modules():
        if isinstance(cell, nb201.Cell) and cell in shapes:
            size = math.prod(shapes[cell][1:])
            idle = [m for op in cell.ops for m in op.modules() if isinstance(m, nn.ReLU)]
            k += size * sum(m not in ran for m in idle)
    return k.cpu().numpy()


@register("naswot", ("naswot",), NASWOT, head_free=True, spaces=HOOKED)
def naswot(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """NASWOT (Mellor et al., ICML 2021) as AZ-NAS's NB201 code runs it: Kaiming-normal
    fan-in weights, Gaussian inputs, log|det K| of the activation-pattern kernel
    (`naswot_kernel`), in float64. Any space: hooks over the network's ReLUs."""
    _sign, logdet = np.linalg.slogdet(naswot_kernel(model, x))
    return _values(float(logdet))


@register(
    "naswot_data", ("naswot_data",), replace(NASWOT, data=True), head_free=True, spaces=HOOKED
)
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
    with warnings.catch_warnings():  # one pixel (a 1x1 map): no correlation, NaN -> 0
        warnings.simplefilter("ignore", UserWarning)
        corr = torch.nan_to_num(torch.corrcoef(f), nan=0.0, posinf=0.0, neginf=0.0)
    return float(torch.linalg.eigvalsh(corr.reshape(len(f), len(f))).min())


def _meco_weight(module: nn.Module, parent: nn.Module | None, net: nn.Module) -> int:
    """How often the authors' NB201 network (xautodl's TinyNetwork) calls a module that
    produces this output: its ReLU-conv-BN and pooling ops wrap an inner `op`, so each
    counts twice; the cells' container is a ModuleList there (never called). Other
    spaces: once per call of each of our modules (containers included, as MeCo hooks
    every module), the network itself left out (its output is the logits)."""
    if not isinstance(net, nb201.Network):
        return 0 if module is net else 1
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
    spaces=HOOKED,
)
def meco(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """MeCo (Jiang et al., NeurIPS 2023), random-input variant: Σ over module outputs of
    the smallest eigenvalue of the channel correlation matrix of the first sample's
    feature map, plus, for the network itself, of the samples' pooled features; PyTorch
    default weights, Gaussian inputs, training mode. Modules are counted as the authors'
    network calls them (`_meco_weight`); outputs with one value per channel (pooling,
    the classifier) and all-zero ones contribute 0 there and are left out here. Other
    spaces: every module call of our network with a feature-map output (`_meco_weight`),
    no pooled term (their networks return logits)."""
    net = model
    parents = {c: p for p in net.modules() for c in p.children()}
    total = [0.0]

    def keep(module: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        weight = _meco_weight(module, parents.get(module), net)
        if weight and out.dim() == 4:
            term = min_eig_corr(out[0])
            total[0] += weight * (0.0 if math.isnan(term) else term)

    with hooked(net.modules(), keep), torch.no_grad():
        if not isinstance(net, nb201.Network):
            net(x.contiguous(memory_format=torch.channels_last))
            return _values(total[0])
        features = net.head(net.cells(net.stem(x.contiguous(memory_format=torch.channels_last))))
    root = min_eig_corr(features.mean(dim=(2, 3)))  # the network's own (pooled) output
    return _values(total[0] + (0.0 if math.isnan(root) else root))


# ---- ZiCo and SWAP ------------------------------------------------------------------

# two batches of 32: the fetched CIFAR-10 batch holds 64 images, so both come from it
ZICO = Protocol(data=True, batch_size=32, init="default", batches=2)


def _weight_layers(model: nn.Module) -> list[nn.Conv2d | nn.Linear]:
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def zico_terms(grads: Sequence[torch.Tensor]) -> float:
    """One layer's ZiCo term from its weight gradients on each batch (stacked along the
    first axis): log Σ_θ mean_b |g_θ| / std_b g_θ (population std) over the weights whose
    std is not 0; NaN where that sum is 0 (no weight varies: a layer no gradient reaches),
    which `zico` leaves out, as the authors' code does."""
    g = torch.stack([t.reshape(-1).to(torch.float64) for t in grads])
    std = g.std(dim=0, unbiased=False)
    varies = std != 0
    total = float((g.abs().mean(dim=0)[varies] / std[varies]).sum())
    return math.log(total) if total != 0 else math.nan


@register("zico", ("zico",), ZICO, spaces=HOOKED)
def zico(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """ZiCo (Li et al., ICLR 2023; SLDGroup/ZiCo `compute_zico.py`): Σ over Conv/Linear
    layers of log(Σ_θ mean|∂L/∂θ| / std ∂L/∂θ), the inverse coefficient of variation of
    each weight's gradient across batches (natural log; std over batches, not unbiased;
    weights of std 0 left out; a layer whose sum is 0 adds nothing), L the cross-entropy
    on the run's data batch split into `batches` batches, PyTorch default weights,
    training mode. Each batch's gradient on its own (the authors' released loop does not
    zero gradients between batches; their formula, and their later code, does).
    One number per network although the terms are per layer: ZiCo is Σ_l log S_l of
    per-layer sums S_l, which none of the sum / SSNR aggregations gives, and with two
    batches a weight's ratio (|g1| + |g2|) / |g1 - g2| is unbounded, so its per-weight
    SSNR would mean nothing."""
    layers = _weight_layers(model)
    weights = [m.weight for m in layers]
    per_batch: list[list[torch.Tensor]] = [[] for _ in layers]
    for xb, yb in zip(x.chunk(ZICO.batches), y.chunk(ZICO.batches)):
        loss = F.cross_entropy(model(xb), yb)
        grads = torch.autograd.grad(loss, weights, allow_unused=True)
        for keep, w, g in zip(per_batch, weights, grads):
            keep.append(torch.zeros_like(w) if g is None else g.detach())
    terms = [zico_terms(g) for g in per_batch]
    return _values(float(sum(t for t in terms if not math.isnan(t))))


SWAP = Protocol(data=True, batch_size=16, init="normal", repeats=32)


def swap_patterns(net: nn.Module, x: torch.Tensor) -> int:
    """The number of distinct sample-wise activation patterns of a forward of `x`: each
    ReLU output value of a feature map (4-D input) is a neuron, its pattern the signs of
    its values over the B samples; patterns are counted over all neurons of all ReLU
    calls. A ReLU our NB201 cells skip (an op on an all-zero node) gives all-zero
    patterns in the authors' network: one pattern, counted if no neuron already has it.
    Patterns are packed into integers (B <= 62)."""
    if len(x) > 62:
        raise ValueError(f"SWAP packs a pattern of B signs into an int64: B <= 62, got {len(x)}")
    bits = (2 ** torch.arange(len(x), dtype=torch.int64, device=x.device))[:, None]
    codes: list[torch.Tensor] = []
    ran: set[nn.Module] = set()

    def keep(module: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        if inp[0].dim() == 4:
            on = (out > 0).reshape(len(x), -1).to(torch.int64)
            codes.append(torch.unique((on * bits).sum(dim=0)))  # no integer matmul on CUDA
            ran.add(module)

    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    with hooked(relus, keep), torch.no_grad():
        net(x.contiguous(memory_format=torch.channels_last))
    none = torch.zeros(0, dtype=torch.int64, device=x.device)
    found = torch.unique(torch.cat(codes)) if codes else none
    idle = any(
        m not in ran
        for cell in net.modules()
        if isinstance(cell, nb201.Cell)
        for op in cell.ops
        for m in op.modules()
        if isinstance(m, nn.ReLU)
    )
    return len(found) + int(idle and not bool((found == 0).any()))


@register("swap", ("swap",), SWAP, head_free=True, spaces=HOOKED)
def swap(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """SWAP (Peng et al., ICLR 2024; pym1024/SWAP `src/metrics/swap.py`): the number of
    distinct sample-wise activation patterns over every ReLU (`swap_patterns`), on 16
    images of the run's data batch, N(0, 1) weights (BatchNorm weight 1, bias 0),
    training mode, the mean over 32 weight draws (`repeated`), as the authors'
    `correlation.py`. Their regularisation exp(-(params - μ)² / σ) is off there, and no
    μ, σ for NB201 come with the code: it is off here too. Their DARTS experiment scores
    a one-cell, 3-channel network; we score each space's own network. One number per
    network: the count is over the union of all layers' patterns (a pattern two layers
    share counts once), so it has no per-layer decomposition."""
    return _values(float(swap_patterns(model, x)))


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
    "included, as the benchmark API reports them), not the `flops` baseline (ops that run only); "
    "in other spaces the network's Conv/Linear multiply-adds per input, counted over one forward"
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
        groups = "; ".join(
            f"{space.name} {', '.join(group)}"
            for space in SPACES.values()
            for group in space.same_body
        )
        parts.append(
            f"{name} reads neither the classifier nor the labels: tasks whose networks differ "
            f"only there ({groups}) share its numbers, computed once"
        )
    if measure.reference:
        parts.append(f"published: {measure.reference}")
    return "; ".join(parts)
