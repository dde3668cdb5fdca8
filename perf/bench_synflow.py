"""Synflow on NAS-Bench-201: the engine against a straightforward reference loop, in one run.

Whole processes, start-up included, over the same N architectures (`--sample N --seed S`):
- reference: `python perf/bench_synflow.py --reference-loop`, one float64 network
  at a time, rebuilt for every arch, BatchNorm bypassed, one torch thread (as NASLib and
  foresight do it; weights seeded per slot as ours, so its numbers are comparable);
- engine: `python -m ssnr_core score --benchmark nb201 --task cifar10 --saliency synflow
  --sample N --seed S` with default flags and an empty cache.
Then in-process figures (one process, one thread, no start-up) and the agreement of the
engine's (float32) results with the reference's float64 ones: Spearman of every
aggregation, raw and with exact ties merged (archs whose float64 values agree to 1e-9
relative, e.g. cells that differ only in edges that cannot reach the output, are ranked
by last-bit noise in either precision), and the largest per-layer relative error.
Usage: python perf/bench_synflow.py [--n 2000] [--seed 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from ssnr_core.proxies import aggregation, engine, saliency
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs.cache import Cache
from ssnr_core.spaces import nb201
from ssnr_core.spaces.modules import SeededModules
from ssnr_core.studies import evaluation

TASK = "cifar10"
FULL_SPACE = 15625


def reference(arch: str, seed: int) -> np.ndarray:
    """Synflow statistics of one network, rebuilt from scratch, in float64."""
    model = nb201.build(arch, TASK, make=SeededModules(seed, share=False)).double()
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
    return aggregation.layer_stats(sal)


def reference_loop(n: int, seed: int, out: Path) -> None:
    torch.set_num_threads(1)
    archs = evaluation.sample("nb201", TASK, n, seed)
    np.savez(out, *[reference(a, seed) for a in archs])


def whole_process(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env={**os.environ, **env}, check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def line(name: str, seconds: float, n: int, ratio: float | None = None) -> None:
    per = seconds / n * 1000
    extra = f"  {ratio:5.2f}x less time per arch" if ratio else ""
    print(f"  {name:44s} {per:7.2f} ms/arch {n / seconds:7.1f} archs/s{extra}")


def tie_merged(v64: np.ndarray, v32: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both vectors with each group of float64-tied archs (1e-9 relative) at its mean."""
    order = np.argsort(v64, kind="stable")
    a, b = v64.copy(), v32.copy()
    start = 0
    for k in range(1, len(order) + 1):
        prev = v64[order[k - 1]]
        if k == len(order) or abs(v64[order[k]] - prev) > 1e-9 * abs(prev):
            group = order[start:k]
            a[group], b[group] = a[group].mean(), b[group].mean()
            start = k
    return a, b


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=2000, help="architectures")
    p.add_argument("--seed", type=int, default=3, help="sample and init seed")
    p.add_argument("--reference-loop", type=Path, help=argparse.SUPPRESS)  # the subprocess
    args = p.parse_args()
    if args.reference_loop:
        reference_loop(args.n, args.seed, args.reference_loop)
        return
    archs = evaluation.sample("nb201", TASK, args.n, args.seed)
    n = len(archs)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"NB201 {TASK} synflow, {n} archs (seed {args.seed}), torch {torch.__version__}, "
        f"{cores} usable cores, load average {os.getloadavg()[0]:.2f} at start"
    )
    with tempfile.TemporaryDirectory() as tmp:
        ref_file, cache_dir = Path(tmp) / "reference.npz", Path(tmp) / "cache"
        here = [sys.executable, __file__, "--n", str(n), "--seed", str(args.seed)]
        ref_s = whole_process([*here, "--reference-loop", str(ref_file)], {})
        cli = [sys.executable, "-m", "ssnr_core", "score", "--benchmark", "nb201"]
        cli += ["--task", TASK, "--saliency", "synflow", "--sample", str(n)]
        engine_s = whole_process(
            [*cli, "--seed", str(args.seed)], {"SSNR_CACHE_DIR": str(cache_dir)}
        )
        with np.load(ref_file) as saved:
            ref = [saved[f"arr_{i}"] for i in range(n)]
        setup = Setup("nb201", TASK, "synflow", args.seed)
        got = Cache(cache_dir / "stats.sqlite").get(setup, archs)
        ours = [got[a] for a in archs]
    print(f"whole processes, start-up included (load average {os.getloadavg()[0]:.2f} after):")
    line("reference loop (float64, rebuilt, 1 process)", ref_s, n)
    line(f"engine: python -m ssnr_core score ({setup.dtype})", engine_s, n, ref_s / engine_s)

    print("in-process (one process, one thread, no start-up):")
    torch.set_num_threads(1)
    few = archs[: min(n, 100)]
    start = time.perf_counter()
    for a in few:
        reference(a, args.seed)
    ref_in = time.perf_counter() - start
    line(f"reference loop ({len(few)} archs)", ref_in, len(few))
    parsed = [nb201.parse(a) for a in archs[: min(n, 500)]]
    for dtype in (torch.float32, torch.float64):
        engine.slot_weights(args.seed, TASK, "cpu", dtype)  # built once per process
        start = time.perf_counter()
        engine.synflow_stats(parsed, TASK, args.seed, dtype=dtype)
        line(f"engine, {dtype} ({len(parsed)} archs)", time.perf_counter() - start, len(parsed))

    print(f"engine ({setup.dtype}) against the float64 reference loop, {n} archs:")
    a_ours, a_ref = aggregation.aggregate_all(ours), aggregation.aggregate_all(ref)
    for name in a_ref:
        same = np.array_equal(np.isnan(a_ours[name]), np.isnan(a_ref[name])) and np.array_equal(
            a_ours[name] == 0, a_ref[name] == 0
        )
        raw = spearmanr(a_ours[name], a_ref[name]).statistic
        merged = spearmanr(*tie_merged(a_ref[name], a_ours[name])).statistic
        print(
            f"  {name:15s} Spearman {raw:.7f}, ties merged {merged:.8f}; "
            f"NaN/zero pattern {'identical' if same else 'DIFFERENT'}"
        )
    errors = [np.abs(o - r)[r != 0] / np.abs(r[r != 0]) for o, r in zip(ours, ref)]
    worst = max(e.max() for e in errors if e.size)
    zeros = all(np.array_equal(o == 0, r == 0) for o, r in zip(ours, ref))
    print(
        f"  per-layer (count, sum, M2): max relative error {worst:.2e}, same exact zeros: {zeros}"
    )
    print(f"  full space at the engine's rate: {FULL_SPACE * engine_s / n / 60:.1f} min")


if __name__ == "__main__":
    main()
