"""Command line: `python -m ssnr_core {score,evaluate,reproduce,pack,fetch,import-nb201,list}`.

The one CLI: the app's background jobs run `score` too, with the setup passed whole
(`--setup JSON`) and the architectures in a file (`--archs FILE`). Unknown names, a
missing or damaged data file, a broken cache and other bad input print one line on
stderr and exit 2; nothing already cached is lost.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import math
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import replace
from pathlib import Path
from typing import NoReturn, TextIO

from tqdm import tqdm

from ssnr_core import benchmarks
from ssnr_core.benchmarks import user_truth
from ssnr_core.proxies import batches, saliency, zero_cost
from ssnr_core.proxies.setup import INITS, MAX_SEED, Setup
from ssnr_core.runs import scoring
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.ray_backend import ChunksFailed, RayBackend
from ssnr_core.runs.settings import Settings, max_workers, usable_cores
from ssnr_core.runs.threads import set_threads
from ssnr_core.spaces import get_space, names
from ssnr_core.studies import caveats, compare, ensemble, evaluation, export

MAX_BOOT = 100_000  # resamples: beyond this the interval does not move, memory does


class _BestEffort(io.TextIOBase):
    """Progress and messages on a stream that may fail (`2>/dev/full`, `2>&1 | head`):
    writing them is best effort, so a full or closed stderr never stops a run. After the
    first failed write the stream's descriptor points at /dev/null, so that the
    interpreter's own flush at exit succeeds too."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.dropped = False

    def write(self, text: str) -> int:
        if not self.dropped:
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):
                self._drop()
        return len(text)

    def flush(self) -> None:
        if not self.dropped:
            try:
                self.stream.flush()
            except (OSError, ValueError):
                self._drop()

    def fileno(self) -> int:  # tqdm asks a terminal for its width
        return self.stream.fileno()

    def isatty(self) -> bool:
        try:
            return self.stream.isatty()
        except (OSError, ValueError):
            return False

    def _drop(self) -> None:
        self.dropped = True
        with suppress(OSError, ValueError, io.UnsupportedOperation):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self.stream.fileno())
            os.close(null)
            self.stream.flush()  # what the failed write left in the buffer goes there


class _Bar:
    """A tqdm bar fed by scoring's (done, total[, label]) callbacks. A new bar starts for
    each run or column (`label`), with what was cached counted as done but not in the
    rate, so the time estimate stays honest when a heavy space follows a cheap one; so
    are architectures other runs store while this one waits for them (`waiting`): the
    rate and ETA count only what this run scored."""

    def __init__(self, desc: str) -> None:
        self.desc = desc
        self.bar: tqdm | None = None
        self.current: tuple[str | None, int] | None = None
        self.note: str | None = None

    def __call__(self, done: int, total: int, label: str | None = None) -> None:
        if self.current != (label, total) or self.bar is None:
            self.close()
            self.current = (label, total)
            self.bar = tqdm(
                desc=label or self.desc,
                total=total,
                initial=done,
                unit="arch",
                file=sys.stderr,
                dynamic_ncols=True,
                smoothing=0.05,
            )
        elif self.note is not None:  # stored by other runs: done, but not our rate
            self.bar.initial += done - self.bar.n
            self.bar.n = self.bar.last_print_n = done
            self.bar.refresh()
        else:
            self.bar.update(done - self.bar.n)

    def waiting(self, note: str | None) -> None:
        """What the run waits for (None: it computes again), shown beside the bar."""
        self.note = note
        if self.bar is not None:
            self.bar.set_postfix_str(note or "", refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@contextmanager
def _bar(desc: str) -> Iterator[_Bar]:
    bar = _Bar(desc)
    try:
        yield bar
    finally:
        bar.close()


def _int_in(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: an integer in [lo, hi] (argparse names the flag in its error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be in {lo}..{hi:,}, got {value:,}")
        return value

    return parse


def _add_setup_args(p: argparse.ArgumentParser, settings: Settings) -> None:
    p.add_argument("--benchmark", default="nb201", help=", ".join(names()))
    p.add_argument("--task", default=None, help="default: the benchmark's first task")
    p.add_argument("--saliency", default="synflow", help=", ".join(saliency.REGISTRY))
    p.add_argument("--sample", type=_int_in(1, 10**7), default=None, help="archs (default: all)")
    p.add_argument("--seed", type=_int_in(0, MAX_SEED), default=0, help="init, batch, sampling")
    p.add_argument(
        "--batch",
        default="auto",
        help="auto (cifar10 once `fetch cifar10` ran, else synthetic), synthetic, cifar10 "
        "or images:<dir>",
    )
    p.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="",
        help="the networks' dtype (default: float32 for NB201 synflow, else the saliency's)",
    )
    p.add_argument(
        "--truth",
        default=None,
        help="test200 (NB201), naslib, official:<split>_<N>ep after import-nb201, or "
        "file:PATH, a CSV of architectures and values (as the app's upload)",
    )
    p.add_argument(
        "--truth-columns",
        default=None,
        help="with --truth file:PATH: ARCH,VALUE column names (default: the first two)",
    )
    _add_init_arg(p)
    _add_run_args(p, settings)


def _add_init_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--init",
        default="slot",
        choices=INITS,
        help="slot: modules seeded per (seed, slot in the space), shared across archs "
        "(default); fresh: a new network per (seed, arch), as NASLib does",
    )


def _seed_list(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated seeds, e.g. 0,1,2."""
    parse = _int_in(0, MAX_SEED)
    seeds = tuple(dict.fromkeys(parse(t.strip()) for t in text.split(",") if t.strip()))
    if not seeds:
        raise argparse.ArgumentTypeError(f"expected seeds like 0,1,2, got {text!r}")
    return seeds


def _combine(text: str) -> tuple[str, ...]:
    try:
        return evaluation.parse_combine(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_study_args(p: argparse.ArgumentParser) -> None:
    """Several initialisations and combined scores (evaluate, reproduce)."""
    p.add_argument(
        "--seeds",
        type=_seed_list,
        default=None,
        help="init seeds, e.g. 0,1,2: each seed's correlations, their mean and sd, and those "
        "of the seed-averaged score (mean of per-seed ranks); the sample is drawn with --seed",
    )
    p.add_argument(
        "--combine",
        type=_combine,
        action="append",
        default=[],
        help="a mean-of-ranks combination scored like the others, e.g. layerwise_ssnr,params "
        "(repeatable)",
    )


def _add_run_args(p: argparse.ArgumentParser, settings: Settings) -> None:
    """How fast, not what: these never change a number."""
    cores = usable_cores()
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument(
        "--workers",
        type=_int_in(1, max_workers()),
        default=settings.workers,
        help=f"worker processes (default: usable cores, {settings.workers})",
    )
    p.add_argument("--threads", type=_int_in(1, cores), default=1, help="torch threads per process")
    p.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local: worker processes here; ray: Ray tasks on the cluster at --ray-address "
        "(default $RAY_ADDRESS), or on a local Ray instance with --workers CPUs",
    )
    p.add_argument("--ray-address", default=None, help="e.g. head-node:6379 (--backend ray)")
    p.add_argument(
        "--take-over",
        action="store_true",
        help="score here what a stopped run (Ctrl-Z) of the same setup has claimed",
    )
    p.add_argument("--chunk", type=_int_in(1, 10_000), default=32, help="archs per Ray task")
    p.add_argument(
        "--gpus-per-task",
        type=float,
        default=0.25,
        help="GPU fraction each Ray task asks for with --device cuda (several share one GPU)",
    )


def _backend(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> RayBackend | None:
    """The Ray backend `--backend ray` asks for (None: the local pool). The address is
    read from the environment here, at the edge; the core only takes it as a value."""
    if args.backend == "local":
        return None
    if importlib.util.find_spec("ray") is None:
        raise ValueError("--backend ray needs Ray on every node: pip install 'ray>=2.60,<3'")
    return RayBackend(
        address=args.ray_address or env.get("RAY_ADDRESS") or None,
        chunk=args.chunk,
        gpus_per_task=args.gpus_per_task,
        local_cpus=args.workers,
    )


def _run_settings(args: argparse.Namespace, settings: Settings) -> Settings:
    """The settings of this run: the environment's, with the flags' workers, device and
    backend; built once here and passed down."""
    _check_device(args.device, args.backend)
    return replace(
        settings,
        workers=args.workers,
        device=args.device,
        ray=_backend(args),
        take_over=args.take_over,
    )


def _connected(settings: Settings) -> AbstractContextManager[None]:
    """One Ray connection for the whole command (reproduce scores several columns)."""
    return settings.ray.connected() if settings.ray else nullcontext()


def _check_device(device: str, backend: str = "local") -> str:
    """With --backend ray the GPUs are the cluster's, checked when the run connects."""
    if device.startswith("cuda") and backend == "local":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("--device cuda asked for, but no CUDA device is available")
    elif not device.startswith("cuda") and device != "cpu":
        raise ValueError(f"unknown device {device!r}; use cpu or cuda")
    return device


def _setup(args: argparse.Namespace, settings: Settings) -> Setup:
    spec = benchmarks.get_task(args.benchmark, args.task)
    known = benchmarks.sources(spec.space, spec.task, settings.data_dir)
    if args.truth is not None and not _is_file_truth(args) and args.truth not in known:
        raise ValueError(f"{spec.space}/{spec.task} has ground truth {', '.join(known)}")
    _check_device(args.device, args.backend)
    return Setup.resolved(
        spec.space,
        spec.task,
        args.saliency,
        args.seed,
        args.batch,
        settings.data_dir,
        args.dtype,
        args.init,
    )


FILE_TRUTH = "file:"  # --truth file:PATH, a CSV in the format of the app's upload


def _is_file_truth(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "truth", None)) and args.truth.startswith(FILE_TRUTH)


def _truth_file(args: argparse.Namespace, setup: Setup) -> user_truth.TruthFile:
    """The ground truth of `--truth file:PATH` (columns: --truth-columns, default the
    header's first two), its skipped rows reported on stderr."""
    cols = [c.strip() for c in (args.truth_columns or "").split(",") if c.strip()]
    if args.truth_columns and len(cols) != 2:
        raise ValueError(f"--truth-columns takes ARCH,VALUE, got {args.truth_columns!r}")
    path = args.truth.removeprefix(FILE_TRUTH)
    if not path:
        raise ValueError("--truth file:PATH needs a path, e.g. file:my_accuracies.csv")
    arch_col, value_col = cols if cols else (None, None)
    found = user_truth.read_file(path, arch_col, value_col, space=setup.space)
    got = found.truth
    print(f"truth: {found.label}: {len(got.values):,} archs of {got.rows:,} rows", file=sys.stderr)
    for line in got.errors[:10]:
        print(f"  skipped {line}", file=sys.stderr)
    if len(got.errors) > 10:
        print(f"  ... {got.skipped:,} rows skipped in all", file=sys.stderr)
    return found


def _sample(args: argparse.Namespace, setup: Setup, settings: Settings) -> list[str]:
    if _is_file_truth(args):
        archs = list(_truth_file(args, setup).truth.values.index)
    else:
        archs = evaluation.sample(
            setup.space, setup.task, None, setup.seed, args.truth, settings.data_dir
        )
    if args.sample is not None and args.sample > len(archs):
        print(f"--sample {args.sample:,}: only {len(archs):,} archs; using all", file=sys.stderr)
    return evaluation.draw(archs, args.sample, setup.seed)


def cmd_score(args: argparse.Namespace, settings: Settings) -> int:
    if args.setup:
        setup = Setup.from_json(args.setup)
        benchmarks.get_task(setup.space, setup.task)
        batches.resolve(setup.batch, saliency.get(setup.saliency).needs_data, settings.data_dir)
        _check_device(args.device, args.backend)
    else:
        setup = _setup(args, settings)
    if args.archs:
        space = get_space(setup.space)
        lines = [a.strip() for a in args.archs.read_text().splitlines() if a.strip()]
        archs = list(dict.fromkeys(space.canonical(a) for a in lines))
    else:
        archs = _sample(args, setup, settings)
    cache = Cache(settings.cache_file)
    run = _run_settings(args, settings)
    with _connected(run), _bar(f"{setup.space}/{setup.task} {setup.saliency}") as bar:
        stats = scoring.score(setup, archs, cache, settings=run, progress=bar)
    print(f"{len(stats)} architectures scored and cached in {cache.path}", file=sys.stderr)
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


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    setup = _setup(args, settings)
    n = len(_sample(args, setup, settings)) if args.sample and not _is_file_truth(args) else None
    run = _run_settings(args, settings)
    study = evaluation.Study(
        seeds=tuple(args.seeds or ()),
        combine=tuple(args.combine),
        n_boot=args.n_boot,
        count_baselines={"auto": None, "yes": True, "no": False}[args.baselines],
    )
    truth_file = _truth_file(args, setup) if _is_file_truth(args) else None
    with _connected(run), _bar(f"{setup.space}/{setup.task} {setup.saliency}") as bar:
        if truth_file is not None:
            archs = evaluation.draw(list(truth_file.truth.values.index), args.sample, setup.seed)
            result = evaluation.run(
                setup,
                Cache(settings.cache_file),
                archs,
                truth_file.truth.values,
                truth_label=truth_file.label,
                settings=run,
                study=study,
                progress=bar,
            )
        else:
            result = evaluation.evaluate(
                setup,
                Cache(settings.cache_file),
                settings=run,
                study=study,
                n=n,
                source=args.truth,
                progress=bar,
            )
    uncounted = "params" in result.summaries and result.summaries["params"].n == 0
    if uncounted and result.n:
        why = (
            "--baselines no"
            if args.baselines == "no"
            else f"more than {evaluation.AUTO_BASELINES:,} missing"
        )
        print(
            f"note: params/FLOPs not counted for these archs ({why}); --baselines yes counts them",
            file=sys.stderr,
        )
    found = _ensemble(args, setup, settings, run, truth_file) if args.ensemble else None
    if args.json:
        out = result.to_json()
        if found is not None:
            out["ensemble"] = {"saliency": found.saliency.saliency, "rows": found.rows()}
        archs = (
            evaluation.draw(list(truth_file.truth.values.index), args.sample, setup.seed)
            if truth_file
            else _sample(args, setup, settings)
        )
        truth = (
            truth_file.truth.values
            if truth_file
            else benchmarks.truth(setup.space, setup.task, args.truth, settings.data_dir)
        )
        out["per_arch"] = export.from_cache(setup, Cache(settings.cache_file), archs, truth)
        if truth_file is not None:
            out["truth_file"] = {
                "path": truth_file.path,
                "sha256": truth_file.sha256,
                "column": truth_file.truth.values.name,
                "rows": truth_file.truth.rows,
                "skipped": truth_file.truth.skipped,
            }
        out["caveats"] = [c.text() for c in caveats.for_saliency(setup.saliency)]
        print(json.dumps(_clean(out)))
        return 0
    print(_evaluation_text(result))
    for caveat in caveats.for_saliency(setup.saliency):
        print(f"caveat: {caveat.text()}")
    if found is not None:
        print(_ensemble_text(found))
    return 0


def _ensemble(
    args: argparse.Namespace,
    setup: Setup,
    settings: Settings,
    run: Settings,
    truth_file: user_truth.TruthFile | None,
) -> ensemble.Ensemble:
    """The evaluation's archs and truth, the measure with `--ensemble`'s layer-wise SSNR."""
    saliency.get(args.ensemble)  # ValueError for an unknown name
    if truth_file is not None:
        truth = truth_file.truth.values
        archs = evaluation.draw(list(truth.index), args.sample, setup.seed)
    else:
        truth = benchmarks.truth(setup.space, setup.task, args.truth, settings.data_dir)
        archs = [a for a in _sample(args, setup, settings) if a in truth.index]
    with _connected(run), _bar(f"{setup.space}/{setup.task} {args.ensemble}") as bar:
        return ensemble.ensemble(
            setup,
            Cache(settings.cache_file),
            archs,
            truth,
            settings=run,
            saliency=args.ensemble,
            n_boot=args.n_boot,
            progress=bar,
        )


def _ensemble_text(found: ensemble.Ensemble) -> str:
    name = found.measure.saliency
    lines = [f"{name} with {found.saliency.saliency} layer-wise SSNR as one more rank term:"]
    for row in found.rows():
        d = row.get("delta_kendall")
        delta = f"  Δτ vs {name} {d[0]:+.4f} [{d[1]:+.4f}, {d[2]:+.4f}]" if d else ""
        lo, hi = row["kendall_ci95"]
        lines.append(
            f"  {row['score']:34s} n={row['n']}  spearman {row['spearman']:.4f}  "
            f"kendall {row['kendall']:.4f} [{lo:.4f}, {hi:.4f}]{delta}"
        )
    return "\n".join(lines)


def _evaluation_text(result: evaluation.Evaluation) -> str:
    """The plain-text report of `evaluate`: what it was computed on, then one line per score."""
    setup, seeds = result.setup, result.seeds or (result.setup.seed,)
    lines = [
        f"{setup.space}/{setup.task} {setup.saliency}: n={result.n}, truth: {result.truth}; "
        f"batch: {result.batch}; init seeds {','.join(map(str, seeds))} ({setup.init} init"
        + (f", scores averaged as the {evaluation.SEED_AVERAGE}" if len(seeds) > 1 else "")
        + f"); sample seed {result.sample_seed}",
        "  params: Conv/Linear/BN parameters; flops: Conv/Linear MACs of one input"
        + (f"\n  {note}" if (note := zero_cost.note(setup.saliency)) else ""),
    ]
    for name, row in result.table().iterrows():
        over = ""
        if len(seeds) > 1:
            over = (
                f"  per seed: rho {row.spearman_seed_mean:.4f}±{row.spearman_seed_sd:.4f}, "
                f"tau {row.kendall_seed_mean:.4f}±{row.kendall_seed_sd:.4f}"
            )
        lines.append(
            f"  {name:22s} spearman {row.spearman:.4f} [{row.spearman_lo:.4f}, "
            f"{row.spearman_hi:.4f}]  kendall {row.kendall:.4f} [{row.kendall_lo:.4f}, "
            f"{row.kendall_hi:.4f}]  pearson {row.pearson:.4f}  "
            f"P@10% {row['top10%_precision']:.3f}{over}"
        )
    lines += ["paired bootstrap (Kendall):", *(f"  {v}" for v in result.verdicts().values())]
    if result.naslib:
        best = evaluation.naslib.best(result.naslib)
        found = result.naslib[best] if best else None
        lines.append(
            f"NASLib's stored proxies on these archs: best {best} (kendall {found.kendall:.4f}, "
            f"n={found.n})"
            if found
            else "NASLib's stored proxies: none on these archs"
        )
        for agg, (rho, n) in result.agreement.items():
            lines.append(f"  ours {agg} vs NASLib {setup.saliency}: spearman {rho:.4f} (n={n})")
    return "\n".join(lines)


def cmd_fetch(args: argparse.Namespace, settings: Settings) -> int:
    from ssnr_core.data import fetch

    if args.what == "cifar10":
        url = f"{args.base_url.rstrip('/')}/{fetch.CIFAR10.path}" if args.base_url else None
        path = fetch.fetch_cifar10(
            settings.data_dir, url=url, keep_archive=args.keep_archive, progress=True
        )
        print(f"CIFAR-10 batch (64 test images, seed 0) kept in {path}", file=sys.stderr)
        return 0
    paths = fetch.fetch_all(settings.data_dir, args.base_url, args.only, progress=True)
    print(f"{len(paths)} files verified in {settings.data_dir}", file=sys.stderr)
    return 0


def cmd_import_nb201(args: argparse.Namespace, settings: Settings) -> int:
    from ssnr_core.data import nb201_import

    out = (args.out or settings.data_dir / Path(nb201_import.TABLE).parent) / Path(
        nb201_import.TABLE
    ).name
    path = nb201_import.import_benchmark(args.path, out, progress=True)
    table = nb201_import.load_table(path)
    filled = [c for c in nb201_import.COLUMNS if table[c].notna().any()]
    print(f"{len(table)} architectures, {len(filled)} accuracy columns: {path}", file=sys.stderr)
    return 0


def cmd_reproduce(args: argparse.Namespace, settings: Settings) -> int:
    from ssnr_core.studies import reproduce

    saliency.get(args.saliency)
    columns = tuple(args.columns) if args.columns else None
    reproduce.chosen(columns)
    cache = Cache(settings.cache_file)
    run = _run_settings(args, settings)
    # the protocol of every column; its own benchmark and task are replaced per column
    protocol = Setup("nb201", "cifar10", args.saliency, args.seed, "synthetic", init=args.init)
    study = evaluation.Study(
        seeds=tuple(args.seeds or ()), combine=tuple(args.combine), n_boot=args.n_boot
    )
    with _connected(run), _bar("reproduce") as progress:
        table = reproduce.reproduce(
            cache,
            protocol,
            settings=run,
            sample=args.sample,
            columns=columns,
            study=study,
            progress=progress,
        )
    csv_path, md_path = reproduce.write(table, args.saliency, args.out or settings.cache_dir)
    if args.json:
        print(json.dumps(_clean(table.to_dict(orient="records"))))
    else:
        print(reproduce.to_markdown(table, args.saliency))
    print(f"written: {csv_path}, {md_path}", file=sys.stderr)
    return 0


def cmd_pack(args: argparse.Namespace, settings: Settings) -> int:
    from ssnr_core.studies import pack

    if args.check:
        found = pack.read(args.out or pack.PATH)
        cache = Cache(settings.cache_dir / pack.WORK_CACHE / "check.sqlite")
        bad = [
            line
            for task in found.setups
            for line in pack.check(
                found, settings, cache, task=task, batches=args.check, seed=args.seed
            )
        ]
        for line in bad[:20]:
            print(line, file=sys.stderr)
        print(
            f"pack check: {len(bad):,} values differ in {args.check} batch(es) per task",
            file=sys.stderr,
        )
        return 1 if bad else 0
    run = _run_settings(args, settings)
    with _connected(run), _bar("pack") as bar:
        path = pack.make(run, out=args.out or pack.PATH, tasks=args.tasks, progress=bar)
    size = path.stat().st_size
    print(f"pack written: {path} ({size / 1024:,.0f} KiB)", file=sys.stderr)
    return 0


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    """The Compare grid from the cache alone (as the app's Compare page shows it); with
    `--field`, every proxy against the field's tasks with the published figures."""
    for sal in args.saliencies or ():
        saliency.get(sal)
    cache = Cache(settings.cache_file)
    if args.field:
        if args.benchmarks or args.saliencies:
            raise ValueError("--field shows every proxy and task; drop --benchmarks/--saliencies")
        long, problems = compare.field(
            cache, settings=settings, seed=args.seed, protocol=args.protocol
        )
    else:
        spaces = args.benchmarks or names()
        long, problems = compare.grid(
            cache,
            settings=settings,
            columns=[(s, t) for s in spaces for t in benchmarks.tasks_of(s)],
            saliencies=args.saliencies or list(saliency.REGISTRY),
            seed=args.seed,
            protocol=args.protocol,
        )
        long = compare.with_references(long, args.protocol)
    for column, problem in problems.items():
        print(f"{column}: {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps(_clean(long.to_dict(orient="records"))))
    else:
        print(
            f"{args.metric} with 95% interval and n, on every cached architecture; truth: "
            f"{compare.PROTOCOLS[args.protocol]}; ★ the best proxy of each column"
        )
        print(compare.to_text(long, args.metric, args.protocol))
        for caveat in caveats.for_saliencies(long["saliency"].unique() if len(long) else []):
            print(f"caveat: {caveat.text()}")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    for (space, task), spec in benchmarks.TASKS.items():
        print(f"{space:7s} {task:16s} {spec.metric}  [truth: {', '.join(spec.sources)}]")
    print("saliencies:", ", ".join(saliency.REGISTRY))
    print(
        "batch for data-dependent saliencies:",
        batches.describe(batches.default_source(settings.data_dir)),
    )
    for setup, n in Cache(settings.cache_file).setups():
        print(f"cached: {setup} -> {n} archs")
    return 0


def cmd_model(args: argparse.Namespace, settings: Settings) -> int:
    """Score one PyTorch model: the per-layer table and the three scores."""
    from ssnr_core.proxies import models

    model, shape, note = models.load(args.model, seed=args.seed)
    shape = _shape(args.input) if args.input else shape
    batch, label = None, None
    if saliency.get(args.saliency).needs_data:
        key = batches.resolve(
            "synthetic" if args.batch == "auto" else args.batch, True, settings.data_dir
        )
        classes = models.num_outputs(model, shape)
        batch = batches.make_batch(
            key, shape, classes, args.seed, args.batch_size, settings.data_dir
        )
        label = batches.describe(key, args.seed).replace(
            str(batches.BATCH_SIZE), str(len(batch[0])), 1
        )
    print(f"model: {args.model} ({note})", file=sys.stderr)
    found = models.score_model(
        model,
        shape,
        saliency=args.saliency,
        batch=batch,
        seed=args.seed,
        name=args.model,
        batch_label=label,
    )
    if args.json:
        print(json.dumps(_clean(found.to_json())))
    else:
        print(_model_text(found))
    return 0


def _shape(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.replace("x", ",").split(",") if t.strip())
    except ValueError:
        raise ValueError(f"--input takes sizes like 3,224,224, got {text!r}") from None


def _model_text(found: object) -> str:
    """The per-layer table, then the three scores, labelled as everywhere else."""
    from ssnr_core.proxies import aggregation, models

    assert isinstance(found, models.ModelScore)
    table = found.table().rename(
        columns={"count": "weights", "sum": "S_n^l", "sigma": "sigma^l", "snr": "S_n^l/sigma^l"}
    )
    shape = "x".join(map(str, found.input_shape))
    lines = [
        f"{found.name}: {found.saliency} per layer ({len(table)} Conv2d/Linear layers, input "
        f"{shape}, {found.dtype}; batch: {found.batch})",
        table.to_string(float_format=lambda v: f"{v:.6g}"),
        "",
    ]
    lines += [f"{aggregation.LABELS[k]:>16s}: {v:.7g}" for k, v in found.scores.items()]
    dead = found.dead_layers()
    if len(dead) == len(table):
        lines.append(
            f"note: {found.saliency} is zero in every layer: something blocks every path "
            "(a zero-initialised layer, e.g. a ViT head, or saturated activations)"
        )
    elif dead:
        lines.append(
            f"note: {len(dead)} of {len(table)} layers have zero {found.saliency} "
            "(nothing flows through them, e.g. saturated ReLU6/hard-sigmoid): "
            + ", ".join(dead[:4])
            + (" ..." if len(dead) > 4 else "")
        )
    return "\n".join(lines)


def _add_model_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:
    m = sub.add_parser(
        "model",
        help="score any PyTorch model: per-layer saliency and sum / overall SSNR / layer-wise SSNR",
    )
    m.add_argument(
        "model",
        help="torchvision:NAME (vgg16, resnet18, ...), zoo:NAME or package.module:function",
    )
    m.add_argument("--input", default=None, help="one sample's shape, e.g. 3,224,224 (default)")
    m.add_argument("--saliency", default="synflow", help=", ".join(saliency.REGISTRY))
    m.add_argument("--seed", type=_int_in(0, MAX_SEED), default=0, help="init and batch")
    m.add_argument(
        "--batch",
        default="auto",
        help="data-dependent saliencies: synthetic (auto), cifar10 or images:<dir>",
    )
    m.add_argument("--batch-size", type=_int_in(1, 1024), default=batches.BATCH_SIZE)
    cores = usable_cores()
    m.add_argument("--threads", type=_int_in(1, cores), default=cores, help="torch threads")
    m.add_argument("--json", action="store_true", help="print one JSON object")
    m.set_defaults(func=cmd_model)


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Score (what is missing) and write per-arch scores in NASLib's zero-cost JSON shape."""
    tasks = benchmarks.tasks_of(args.benchmark)
    wanted = tasks if args.task == "all" else (args.task or tasks[0]).split(",")
    out: dict[str, dict] = {}
    run = _run_settings(args, settings)
    cache = Cache(settings.cache_file)
    for task in wanted:
        one = argparse.Namespace(**{**vars(args), "task": task.strip()})
        setup = _setup(one, settings)
        if _is_file_truth(one):
            truth = _truth_file(one, setup).truth.values
            archs = evaluation.draw(list(truth.index), one.sample, setup.seed)
        else:
            truth = benchmarks.truth(setup.space, setup.task, one.truth, settings.data_dir)
            archs = _sample(one, setup, settings)
        with _connected(run), _bar(f"{setup.space}/{setup.task} {setup.saliency}") as bar:
            scoring.score(setup, archs, cache, settings=run, progress=bar)
        export.merge(out, export.from_cache(setup, cache, archs, truth))
        print(
            f"{setup.space}/{setup.task}: {len(out[setup.task]):,} archs, {setup.saliency} "
            f"(seed {setup.seed}, {setup.init} init; batch: "
            f"{batches.describe(setup.batch, setup.seed)})",
            file=sys.stderr,
        )
    text = json.dumps(out)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"written: {args.out} (NASLib zero-cost JSON shape)", file=sys.stderr)
    else:
        print(text)
    return 0


def _add_export_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:
    x = sub.add_parser(
        "export",
        help="per-arch scores in NASLib's zero-cost JSON shape {task: {arch: {proxy: "
        "{score, time}, val_accuracy}}}; --task a,b or all",
    )
    _add_setup_args(x, settings)
    x.add_argument("--out", type=Path, default=None, help="JSON file (default: stdout)")
    x.set_defaults(func=cmd_export)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not the usage block: the flag and what is wrong with it."""
        self.exit(2, f"error: {message} (see --help)\n")


def parser(settings: Settings) -> argparse.ArgumentParser:
    p = _Parser(prog="python -m ssnr_core", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("score", help="compute and cache per-layer saliency statistics")
    _add_setup_args(s, settings)
    s.add_argument("--setup", default=None, help="the whole setup as JSON (overrides the above)")
    s.add_argument("--archs", type=Path, default=None, help="file: one architecture per line")
    s.set_defaults(func=cmd_score)
    e = sub.add_parser("evaluate", help="correlate every aggregation with ground truth")
    _add_setup_args(e, settings)
    e.add_argument(
        "--baselines",
        choices=("auto", "yes", "no"),
        default="auto",
        help="count params/FLOPs of uncounted archs: auto = when at most "
        f"{evaluation.AUTO_BASELINES:,} are missing (FLOPs take a forward pass each)",
    )
    e.add_argument("--n-boot", type=_int_in(0, MAX_BOOT), default=1000, help="resamples")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument(
        "--ensemble",
        default=None,
        metavar="SALIENCY",
        help="with a rank-aggregated measure (az_nas): also its aggregation with SALIENCY's "
        "layer-wise SSNR added (and replacing each component), paired against it alone",
    )
    _add_study_args(e)
    e.set_defaults(func=cmd_evaluate)
    f = sub.add_parser("fetch", help="download the public benchmark files to the data folder")
    f.add_argument("--base-url", default=None, help="mirror serving the same relative paths")
    f.add_argument("--only", nargs="*", default=None, help="relative paths to fetch")
    f.add_argument(
        "what",
        nargs="?",
        default="benchmarks",
        choices=("benchmarks", "cifar10"),
        help="benchmarks (default): the ground-truth files; cifar10: the official archive, "
        "kept as a 64-image batch for data-dependent saliencies",
    )
    f.add_argument("--keep-archive", action="store_true", help="cifar10: keep the 170 MB archive")
    f.set_defaults(func=cmd_fetch)
    r = sub.add_parser("reproduce", help="the cross-benchmark Kendall table vs the reference")
    r.add_argument("--saliency", default="synflow")
    r.add_argument("--sample", type=_int_in(1, 10**7), default=None, help="archs per column")
    r.add_argument("--seed", type=_int_in(0, MAX_SEED), default=0)
    r.add_argument("--n-boot", type=_int_in(0, MAX_BOOT), default=1000)
    _add_init_arg(r)
    _add_study_args(r)
    _add_run_args(r, settings)
    r.add_argument("--columns", nargs="*", help='e.g. "NB301 CIFAR-10" (default: all)')
    r.add_argument("--out", type=Path, default=None, help="folder for the CSV and Markdown")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_reproduce)
    c = sub.add_parser("compare", help="every saliency and aggregation against every task, cached")
    c.add_argument("--benchmarks", nargs="*", default=None, help=f"default: {' '.join(names())}")
    c.add_argument("--saliencies", nargs="*", default=None, help="default: every one")
    c.add_argument("--seed", type=_int_in(0, MAX_SEED), default=0)
    c.add_argument("--metric", choices=("kendall", "spearman"), default="kendall")
    c.add_argument("--protocol", choices=tuple(compare.PROTOCOLS), default="default")
    c.add_argument(
        "--field",
        action="store_true",
        help="the field's table: every proxy on NB201's three tasks, NB301 and TNB101, "
        "with the published figures",
    )
    c.add_argument("--json", action="store_true", help="the long table as JSON records")
    c.set_defaults(func=cmd_compare)
    sub.add_parser("list", help="benchmarks, tasks, saliencies, cache").set_defaults(func=cmd_list)
    k = sub.add_parser(
        "pack",
        help="score all NB201 cells with synflow (three tasks) and write the bundled pack",
    )
    k.add_argument(
        "--tasks", nargs="*", default=["cifar10", "cifar100", "ImageNet16-120"], help="tasks"
    )
    k.add_argument("--out", type=Path, default=None, help="default: the bundled pack file")
    k.add_argument(
        "--check",
        type=_int_in(0, 1000),
        default=0,
        help="recompute this many seeded engine batches per task and compare digit for digit",
    )
    k.add_argument(
        "--seed", type=_int_in(0, MAX_SEED), default=0, help="which batches --check takes"
    )
    _add_run_args(k, settings)
    k.set_defaults(func=cmd_pack)
    i = sub.add_parser(
        "import-nb201",
        help="one-time import of an official NAS-Bench-201 / NATS-Bench file into a gzip "
        "CSV (read as plain data: nothing in the file runs)",
    )
    i.add_argument("path", type=Path, help="NAS-Bench-201-v1_*.pth, NATS-tss-*-simple/ or .pbz2")
    i.add_argument("--out", type=Path, default=None, help="folder (default: <data>/nasbench201)")
    i.set_defaults(func=cmd_import_nb201)
    _add_model_parser(sub, settings)
    _add_export_parser(sub, settings)
    return p


INTERRUPTED = "interrupted: finished architectures are cached; rerun to resume"


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    """Run one command; its progress and messages go to stderr best effort (a full or
    closed stderr never stops it), and Ctrl-C at any point is one line, exit 130."""
    stderr = sys.stderr
    sys.stderr = _BestEffort(stderr)
    try:
        return _main(argv, settings)
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    finally:
        sys.stderr = stderr


def _main(argv: Sequence[str] | None, settings: Settings | None) -> int:
    try:
        settings = settings or Settings.from_env()
    except ValueError as exc:  # a setting the environment gives that cannot be used
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        args = parser(settings).parse_args(argv)
    except SystemExit as exit_:  # --help, or a bad flag (already explained in one line)
        return int(exit_.code or 0)
    set_threads(getattr(args, "threads", 1))
    try:
        return args.func(args, settings)
    except (
        ValueError,
        OSError,
        scoring.ClaimsHeld,
    ) as exc:  # DataError: a ValueError, CacheError: an OSError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except sqlite3.Error as exc:  # a backstop: `Cache` turns these into CacheError
        print(f"error: cache {settings.cache_file}: {exc}", file=sys.stderr)
        return 2
    except ChunksFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
