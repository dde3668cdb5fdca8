"""Seconds per architecture for every space and saliency, on this machine.

One process, one torch thread, modules shared across archs (as `score` runs);
the first `--warmup` archs of each setup are not counted. Prints a Markdown table.
Usage: python benchmarks/bench_spaces.py [--n 3] [--warmup 1] [--tasks tnb101/jigsaw ...]
"""

from __future__ import annotations

import argparse
import statistics
import time

from ssnr_core import benchmarks
from ssnr_core.proxies import network, saliency
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs.threads import set_threads
from ssnr_core.studies import evaluation

TASKS = (
    ("nb201", "cifar10"),
    ("nb201", "ImageNet16-120"),
    ("nb301", "cifar10"),
    ("tnb101", "class_object"),
    ("tnb101", "class_scene"),
    ("tnb101", "jigsaw"),
)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=3, help="timed archs per cell")
    p.add_argument("--warmup", type=int, default=1, help="untimed archs first")
    p.add_argument("--saliencies", nargs="*", default=list(saliency.REGISTRY))
    p.add_argument("--tasks", nargs="*", default=None, help='e.g. "tnb101/jigsaw"')
    args = p.parse_args()
    set_threads(1)
    print(f"seconds per architecture (median of {args.n}), 1 process, 1 thread, CPU")
    print(f"({args.warmup} untimed warm-up archs per setup)")
    print("| space / task | " + " | ".join(args.saliencies) + " |")
    print("|---|" + "---:|" * len(args.saliencies))
    for bench, task in TASKS:
        if args.tasks and f"{bench}/{task}" not in args.tasks:
            continue
        archs = evaluation.sample(bench, task, args.n + args.warmup, seed=0, source="naslib")
        cells = []
        for name in args.saliencies:
            setup = Setup(bench, task, name)
            if (
                saliency.get(name).needs_data
                and not benchmarks.get_task(bench, task).classification
            ):
                cells.append("n/a")
                continue
            times = []
            for arch in archs:
                t = time.perf_counter()
                network.network_stats(setup, arch)
                times.append(time.perf_counter() - t)
            cells.append(f"{statistics.median(times[args.warmup :]):.3f}")
        print(f"| {bench} {task} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
