"""Synflow on NAS-Bench-201: our engine against a straightforward reference loop.

Prints ms per architecture (median over a fixed sample of 200), archs/s, peak RSS
and the projected time for all 15,625 cells, for
- reference: one network at a time, rebuilt and initialised each time, float64,
  BatchNorm bypassed (as NASLib and foresight do);
- engine, 1 process: `scoring.network_stats` (modules shared across archs);
- engine, K processes: `scoring.compute(..., workers=K)` as `score --workers K` runs it.
Usage: python benchmarks/bench_synflow.py [--n 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch
from torch import nn

from ssnr_core import aggregation, evaluation, saliency, scoring
from ssnr_core.setup import Setup
from ssnr_core.spaces import nb201

SETUP = Setup("nb201", "cifar10", "synflow", seed=0)


def reference(arch: str, seed: int) -> None:
    torch.manual_seed(seed)
    model = nb201.build(arch, "cifar10").double()
    for m in list(model.modules()):
        for name, child in m.named_children():
            if isinstance(child, nn.BatchNorm2d):
                setattr(m, name, nn.Identity())
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    model(torch.ones(1, 3, 32, 32, dtype=torch.float64)).sum().backward()
    layers = [m for _, m in saliency.weight_layers(model)]
    sal = [
        (m.weight * m.weight.grad).abs() if m.weight.grad is not None else m.weight * 0
        for m in layers
    ]
    aggregation.layer_stats(sal)


def per_arch_ms(fn, archs: list[str]) -> list[float]:
    times = []
    for i, arch in enumerate(archs):
        t = time.perf_counter()
        fn(arch, i)
        times.append((time.perf_counter() - t) * 1000)
    return times


def report(name: str, times_ms: list[float], wall_s: float, n: int) -> float:
    rate = n / wall_s
    median = statistics.median(times_ms) if times_ms else float("nan")
    print(
        f"{name:24s} median {median:7.1f} ms/arch"
        f"  {rate:6.1f} archs/s  full space {15625 / rate / 60:5.1f} min"
    )
    return rate


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(1)
    archs = evaluation.sample("nb201", "cifar10", args.n, seed=0)
    print(
        f"NB201 CIFAR-10 synflow, {len(archs)} archs, torch {torch.__version__}, 1 thread/process"
    )

    t = time.perf_counter()
    ref = per_arch_ms(reference, archs)
    ref_rate = report("reference loop", ref, time.perf_counter() - t, len(archs))

    t = time.perf_counter()
    eng = per_arch_ms(lambda a, _: scoring.network_stats(SETUP, a), archs)
    eng_rate = report("engine, 1 process", eng, time.perf_counter() - t, len(archs))

    t = time.perf_counter()
    stamps = [time.perf_counter() for _ in scoring.compute(SETUP, archs, workers=args.workers)]
    report(f"engine, {args.workers} proc, w/ start", [], stamps[-1] - t, len(stamps))
    steady = stamps[-1] - stamps[0]  # without the workers' start-up (importing torch)
    par_rate = report(f"engine, {args.workers} proc, steady", [], steady, len(stamps) - 1)

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"speed-up vs reference: 1 process {eng_rate / ref_rate:.2f}x, "
        f"{args.workers} processes (steady) {par_rate / ref_rate:.2f}x"
    )
    print(
        f"peak RSS: main {rss:.0f} MB, largest worker {child:.0f} MB, "
        f"total at most {rss + args.workers * child:.0f} MB"
    )


if __name__ == "__main__":
    main()
