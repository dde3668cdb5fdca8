"""Command line: `python -m ssnr_core {score,evaluate,fetch,list} ...`.

Unknown benchmark, task or saliency names, a missing data file and other bad
input print one line on stderr and exit 2; nothing already cached is lost.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from ssnr_core import batches, benchmarks, config, evaluation, saliency, scoring
from ssnr_core.cache import Cache, Setup


@contextmanager
def _bar(desc: str) -> Iterator[Callable[..., None]]:
    """A tqdm bar fed by scoring's (done, total[, label]) callbacks. It restarts for each
    new run or column, counting what was cached as done but not in the rate, so the
    time estimate stays honest when a heavy space follows a cheap one."""
    bar = tqdm(desc=desc, unit="arch", file=sys.stderr, dynamic_ncols=True, smoothing=0.05)
    current: list[tuple[str | None, int]] = []

    def update(done: int, total: int, label: str | None = None) -> None:
        if current != [(label, total)]:
            current[:] = [(label, total)]
            if label:
                bar.set_description(label)
            bar.reset(total)
            bar.update(done)
            bar.start_t = bar._time()
            bar.last_print_n = done
        else:
            bar.update(done - bar.n)

    try:
        yield update
    finally:
        bar.close()


def _add_setup_args(p: argparse.ArgumentParser, sample_default: int | None) -> None:
    p.add_argument("--benchmark", default="nb201", help="nb201, nb301 or tnb101")
    p.add_argument("--task", default=None, help="default: the benchmark's first task")
    p.add_argument("--saliency", default="synflow", help=", ".join(saliency.REGISTRY))
    p.add_argument("--sample", type=int, default=sample_default, help="archs (default: all)")
    p.add_argument("--seed", type=int, default=0, help="init, batch and sampling seed")
    p.add_argument("--batch", default="synthetic", help="'synthetic' or 'images:<dir>'")
    p.add_argument("--truth", default=None, help="ground truth: test200 (NB201) or naslib")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument(
        "--workers",
        type=int,
        default=scoring.usable_cores(),
        help="worker processes (default: cores)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")


def _setup(args: argparse.Namespace) -> Setup:
    tasks = [t for b, t in benchmarks.TASKS if b == args.benchmark]
    benchmarks.get_task(args.benchmark, args.task or (tasks[0] if tasks else ""))
    task = args.task or tasks[0]
    sources = benchmarks.get_task(args.benchmark, task).sources
    if args.truth is not None and args.truth not in sources:
        raise ValueError(f"{args.benchmark}/{task} has ground truth {', '.join(sources)}")
    saliency.get(args.saliency)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError("--device cuda asked for, but no CUDA device is available")
    elif args.device != "cpu":
        raise ValueError(f"unknown device {args.device!r}; use cpu or cuda")
    return Setup(args.benchmark, task, args.saliency, args.seed, args.batch)


def cmd_score(args: argparse.Namespace) -> int:
    setup = _setup(args)
    archs = evaluation.sample(setup.space, setup.task, args.sample, setup.seed, args.truth)
    with _bar(f"{setup.space}/{setup.task} {setup.saliency}") as bar:
        stats = scoring.score(setup, archs, Cache(), args.workers, args.device, bar)
    print(f"{len(stats)} architectures scored and cached in {Cache().path}", file=sys.stderr)
    return 0


def _clean(obj: object) -> object:
    """JSON has no NaN: write null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def cmd_evaluate(args: argparse.Namespace) -> int:
    setup = _setup(args)
    with _bar(f"{setup.space}/{setup.task} {setup.saliency}") as bar:
        result = evaluation.evaluate(
            setup, args.sample, args.truth, args.n_boot, Cache(), args.workers, args.device, bar
        )
    if args.json:
        print(json.dumps(_clean(result)))
        return 0
    print(
        f"{result['benchmark']}/{result['task']} {result['saliency']}: n={result['n']}, "
        f"truth: {result['truth']}; batch: {batches.describe(setup.batch)}"
    )
    for agg in result["spearman"]:
        ci = result["ci95"][agg]
        rho, tau = result["spearman"][agg], result["kendall"][agg]
        print(
            f"  {agg:15s} spearman {rho:.4f} [{ci['spearman'][0]:.4f}, {ci['spearman'][1]:.4f}]"
            f"  kendall {tau:.4f} [{ci['kendall'][0]:.4f}, {ci['kendall'][1]:.4f}]"
        )
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from ssnr_core import fetch

    paths = fetch.fetch_all(args.base_url, args.only, progress=True)
    print(f"{len(paths)} files verified in {config.data_dir()}", file=sys.stderr)
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from ssnr_core import reproduce

    saliency.get(args.saliency)
    with _bar("reproduce") as progress:
        table = reproduce.reproduce(
            args.saliency,
            args.sample,
            args.seed,
            args.n_boot,
            Cache(),
            args.workers,
            args.device,
            progress,
            tuple(args.columns) if args.columns else None,
        )
    csv_path, md_path = reproduce.write(table, args.saliency, args.out or Cache().path.parent)
    if args.json:
        print(json.dumps(_clean(table.to_dict(orient="records"))))
    else:
        print(reproduce.to_markdown(table, args.saliency))
    print(f"written: {csv_path}, {md_path}", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    for (bench, task), spec in benchmarks.TASKS.items():
        print(f"{bench:7s} {task:16s} {spec.metric}  [truth: {', '.join(spec.sources)}]")
    print("saliencies:", ", ".join(saliency.REGISTRY))
    for setup, n in Cache().setups():
        print(f"cached: {setup} -> {n} archs")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ssnr_core", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("score", help="compute and cache per-layer saliency statistics")
    _add_setup_args(s, None)
    s.set_defaults(func=cmd_score)
    e = sub.add_parser("evaluate", help="correlate every aggregation with ground truth")
    _add_setup_args(e, None)
    e.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=cmd_evaluate)
    f = sub.add_parser("fetch", help="download the public benchmark files to the data directory")
    f.add_argument("--base-url", default=None, help="mirror serving the same relative paths")
    f.add_argument("--only", nargs="*", default=None, help="relative paths to fetch")
    f.set_defaults(func=cmd_fetch)
    r = sub.add_parser("reproduce", help="the cross-benchmark Kendall table vs the reference")
    r.add_argument("--saliency", default="synflow")
    r.add_argument("--sample", type=int, default=None, help="archs per column (default: all)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--n-boot", type=int, default=1000)
    r.add_argument("--workers", type=int, default=scoring.usable_cores())
    r.add_argument("--threads", type=int, default=1, help="torch threads per process")
    r.add_argument("--device", default="cpu")
    r.add_argument("--columns", nargs="*", help='e.g. "NB301 CIFAR-10" (default: all)')
    r.add_argument("--out", type=Path, default=None, help="folder for the CSV and Markdown")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_reproduce)
    sub.add_parser("list", help="benchmarks, tasks, saliencies, cache").set_defaults(func=cmd_list)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "threads", None):
        import torch

        # Small networks gain nothing from a second thread, and oversubscribed cores
        # (workers, other jobs) make OpenMP threads spin: one thread is the safe default.
        torch.set_num_threads(max(1, args.threads))
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted: finished architectures are cached; rerun to resume", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:  # DataError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
