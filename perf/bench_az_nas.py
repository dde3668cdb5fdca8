"""AZ-NAS on NAS-Bench-201 CIFAR-10: the authors' per-architecture loop, the product, a floor.

Three timings of the same seeded sample of cells, one torch thread, in one run:

- loop: what the authors' notebook does per architecture: build a new network,
  initialise it (Kaiming-normal fan-in, from the same slot seeds), run every op (also
  on all-zero nodes, as their network does), keep all 18 feature maps, one backward
  per block pair, NCHW;
- product: `network.many_stats` on the `az_nas` setup (slot-seeded shared modules,
  channels-last, only the edges on input-to-output paths, each live cell once);
- floor: the multiply-adds of the product's convolutions (forward, and the backward to
  each block's input) divided by this machine's measured conv throughput (a 3x3 conv of
  the network's first stage, channels-last): a lower bound that leaves out BatchNorm,
  pooling and the float64 eigen/SVD work.

Both paths use the same float64 linear algebra, so only the network work differs; the
loop's components equal the product's to float32 rounding (checked on the sample).

    python perf/bench_az_nas.py --n 500
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from ssnr_core.proxies import network, zero_cost
from ssnr_core.proxies.setup import Setup
from ssnr_core.spaces import nb201
from ssnr_core.spaces.modules import SeededModules
from ssnr_core.studies import evaluation

SETUP = Setup("nb201", "cifar10", "az_nas")


def all_ops(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A block as the authors' network runs it: every op of a cell, zeros included."""
    if not isinstance(block, nb201.Cell):
        return block(x)
    nodes = [x, *(torch.zeros_like(x) for _ in range(3))]
    for (to, frm), op in zip(block.edges, block.ops):
        nodes[to] = nodes[to] + op(nodes[frm])
    return nodes[3]


def loop_one(arch: str, x: torch.Tensor, seed: int) -> list[float]:
    """The authors' per-architecture procedure (see the module docstring)."""
    # built and initialised anew, from the same slot seeds as the product's modules
    make = zero_cost.drawn(SeededModules(SETUP.seed, share=False), "kaiming_normal_fan_in")
    net = nb201.build(arch, "cifar10", make=make).train()
    feats = [net.stem(x)]
    for block in net.cells:
        feats.append(all_ops(block, feats[-1]))
    for f in feats:
        if f.requires_grad:
            f.retain_grad()
    entropies = [zero_cost.entropy(f) for f in feats]
    terms = []
    for i in reversed(range(1, len(feats))):
        g_out = zero_cost.random_signs(tuple(feats[i].shape), seed, i)
        g_out = g_out.contiguous()  # NCHW, as the authors' tensors
        if feats[i].requires_grad:
            (g_in,) = torch.autograd.grad(
                feats[i], feats[i - 1], g_out, retain_graph=True, allow_unused=True
            )
        else:
            g_in = None
        if g_in is None:  # the authors' zero op (x * 0) gives a zero gradient
            g_in = torch.zeros_like(feats[i - 1])
        terms.append(zero_cost.spectral_term(g_in, g_out))
    e = np.array(entropies)
    flops = zero_cost.benchmark_flops(net, (32, 32))
    found = [float(e.sum()), float(np.min(np.diff(e))), float(np.mean(terms)), flops]
    return [-np.inf if np.isnan(v) else v for v in found]  # the authors' NaN -> -inf


def live_macs(arch: str) -> float:
    """Conv multiply-adds per image that the product runs: forward everywhere, plus the
    backward to each block's input (not the stem's: its input needs no gradient)."""
    ops = nb201.parse(arch)
    live = [op for op, on in zip(ops, nb201.live_edges(ops)) if on]
    per_cell = sum({"nor_conv_3x3": 9, "nor_conv_1x1": 1}.get(op, 0) for op in live)
    cells = 15 * per_cell * 16 * 16 * 1024
    reduce = 2 * (9 * 16 * 32 + 9 * 32 * 32 + 16 * 32) * 256
    if all(op == "none" for op in live) or not live:
        cells = 0
    return 27 * 16 * 1024 + 2 * (cells + reduce)


def conv_throughput(repeat: int = 30) -> float:
    """Measured multiply-adds per second of a 64x16x32x32 3x3 conv, channels-last."""
    x = torch.randn(64, 16, 32, 32).contiguous(memory_format=torch.channels_last)
    w = torch.randn(16, 16, 3, 3).contiguous(memory_format=torch.channels_last)
    torch.nn.functional.conv2d(x, w, padding=1)
    start = time.perf_counter()
    for _ in range(repeat):
        torch.nn.functional.conv2d(x, w, padding=1)
    seconds = (time.perf_counter() - start) / repeat
    return 64 * 9 * 16 * 16 * 1024 / seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=500, help="cells (seed-0 sample)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    archs = evaluation.sample("nb201", "cifar10", args.n, args.seed)
    x, y = network.inputs(SETUP)
    seed = int(y[0])

    start = time.perf_counter()
    loop = [loop_one(a, x, seed) for a in archs]
    t_loop = time.perf_counter() - start

    start = time.perf_counter()
    product = network.many_stats(SETUP, archs)
    t_product = time.perf_counter() - start

    rate = conv_throughput()
    t_floor = sum(64 * live_macs(a) for a in archs) / rate

    ours = np.array([s[:, 1] for s in product])
    theirs = np.array(loop)
    finite = np.isfinite(theirs) & np.isfinite(ours)
    close = np.allclose(ours[finite], theirs[finite], rtol=1e-3, atol=1e-4)
    same_inf = np.array_equal(np.isfinite(theirs), np.isfinite(ours))
    n = len(archs)
    print(f"AZ-NAS, NB201 CIFAR-10, {n} cells (seed {args.seed} sample), batch 64, 1 thread")
    print(f"  conv throughput: {rate / 1e9:.1f} GMAC/s (3x3, 16 ch, 32x32, channels-last)")
    print(f"  {'':28s} {'total s':>9s} {'s/arch':>8s} {'vs loop':>8s}")
    for label, t in (
        ("per-arch loop (authors')", t_loop),
        ("product (many_stats)", t_product),
        ("floor (conv MACs / rate)", t_floor),
    ):
        print(f"  {label:28s} {t:9.1f} {t / n:8.3f} {t_loop / t:7.2f}x")
    print(f"  product / floor: {t_product / t_floor:.2f}x")
    print(f"  components agree (rtol 1e-3): {close}; same -inf pattern: {same_inf}")
    full = 15_625 * t_product / n
    print(f"  full space at this rate: {full / 3600:.1f} h on one core")


if __name__ == "__main__":
    main()
