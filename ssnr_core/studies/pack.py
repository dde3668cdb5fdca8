"""The bundled pack: synflow scores of every NAS-Bench-201 cell, so that a fresh clone
shows the whole space with no computation.

One xz-compressed CSV, `ssnr_core/data/packs/nb201_synflow.csv.xz`, made by
`python -m ssnr_core pack`: per cell and task, the three aggregations (sum, overall
SSNR, layer-wise SSNR) at the 7 significant digits every score carries
(`aggregation.SIGNIFICANT`), and the number of weights scored. Line 1 names the format,
line 2 is a JSON header with the exact `Setup` of each task (code and torch version
included); the CSV follows. The pack stands in for the cache of a setup only when that
setup equals a stored one, so numbers of other code never mix in.

The float32 engine's last bits depend on which architectures share a batch (about
1e-7), so the pack is scored in the engine's own batches of the whole space, into a
cache of its own (never the user's cache, which may hold other batchings), and `check`
recomputes whole batches of it: the printed digits must then be equal, not close.
"""

from __future__ import annotations

import io
import json
import lzma
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ssnr_core import benchmarks
from ssnr_core.proxies import aggregation, network
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs import scoring
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.settings import Settings
from ssnr_core.studies import correlation, evaluation

FORMAT = "ssnr-pack 1"  # line 1; the number moves when the layout changes
SPACE, SALIENCY = "nb201", "synflow"
TASKS = ("cifar10", "cifar100", "ImageNet16-120")
COLUMNS = (*aggregation.AGGREGATIONS, evaluation.WEIGHTS)  # per task, in this order
PATH = Path(__file__).resolve().parents[1] / "data" / "packs" / "nb201_synflow.csv.xz"
COMMAND = "python -m ssnr_core pack"
WORK_CACHE = "pack"  # the pack's own cache: a folder of the cache folder
SUMMARY_BOOT, SUMMARY_SEED = 100, 0  # the stored correlations' bootstrap (the app's for n)
Progress = Callable[[int, int, str], None]  # (done, total, task)


class PackError(ValueError):
    """The pack file is missing, damaged or of another format (one line says which)."""


def setups(seed: int = 0) -> dict[str, Setup]:
    """The setup the pack holds per task: the CLI's and the app's default for NB201
    synflow (float32 engine, slot-seeded init, this code and torch release)."""
    return {t: Setup(SPACE, t, SALIENCY, seed) for t in TASKS}


def work_cache(settings: Settings) -> Cache:
    """The cache the pack is scored into (resumable, and only ever in whole batches)."""
    return Cache(settings.cache_dir / WORK_CACHE / "stats.sqlite")


def scores(stats: dict[str, np.ndarray]) -> pd.DataFrame:
    """The pack's columns of cached statistics: the aggregations (7 significant digits,
    as everywhere) and each network's number of scored weights."""
    return evaluation.score_table(stats, weights=True)[list(COLUMNS)]


def digits(values: np.ndarray) -> list[str]:
    """Values as the pack prints them: '%.7g', so a value read back prints the same."""
    return [f"{v:.{aggregation.SIGNIFICANT}g}" for v in np.asarray(values, float)]


@dataclass(frozen=True)
class Pack:
    """The pack as read: per task a table indexed by arch (columns `COLUMNS`, float), the
    setup it was computed with, and the header."""

    tables: dict[str, pd.DataFrame]
    setups: dict[str, Setup]
    header: dict

    def covers(self, setup: Setup) -> bool:
        """Whether the pack holds exactly this setup's numbers."""
        return self.setups.get(setup.task) == setup

    def summaries(self, task: str, n_boot: int, seed: int) -> dict[str, correlation.Summary] | None:
        """The stored correlations of all cells of `task` with its default ground truth
        (`evaluation.correlate`), if they were made with this bootstrap; else None."""
        found = self.header.get("summaries", {}).get(task)
        if not found or (found["n_boot"], found["seed"]) != (n_boot, seed):
            return None
        return {
            agg: correlation.Summary(
                **{
                    **fields,
                    "spearman_ci95": tuple(fields["spearman_ci95"]),
                    "kendall_ci95": tuple(fields["kendall_ci95"]),
                }
            )
            for agg, fields in found["scores"].items()
        }

    @property
    def n(self) -> int:
        return int(self.header["n"])


def make(
    settings: Settings,
    *,
    out: Path = PATH,
    tasks: Sequence[str] = TASKS,
    progress: Progress | None = None,
) -> Path:
    """Score every cell of each task (what the pack's cache lacks; an interrupted run
    resumes) and write the pack to `out`."""
    chosen = setups()
    unknown = [t for t in tasks if t not in chosen]
    if unknown:
        raise ValueError(f"the pack holds tasks {', '.join(TASKS)}; got {', '.join(unknown)}")
    cache = work_cache(settings)
    archs = benchmarks.truth(SPACE, tasks[0], None, settings.data_dir).index.tolist()
    tables = {}
    for task in tasks:

        def report(done: int, total: int, task: str = task) -> None:
            if progress:
                progress(done, total, task)

        found = scoring.score(chosen[task], archs, cache, settings=settings, progress=report)
        tables[task] = scores(found)
    return write(tables, {t: chosen[t] for t in tasks}, out, correlate(tables, settings))


def correlate(tables: dict[str, pd.DataFrame], settings: Settings) -> dict[str, dict]:
    """Per task, `evaluation.correlate` of the aggregations with the task's default truth
    as the pack stores it: the app's first view then shows them with no computation."""
    out = {}
    for task, table in tables.items():
        truth = benchmarks.truth(SPACE, task, None, settings.data_dir)
        found = evaluation.correlate(
            table[list(aggregation.AGGREGATIONS)], truth, SUMMARY_BOOT, SUMMARY_SEED
        )
        out[task] = {
            "truth": benchmarks.get_task(SPACE, task).sources[0],
            "n_boot": SUMMARY_BOOT,
            "seed": SUMMARY_SEED,
            "scores": {agg: asdict(summary) for agg, summary in found.items()},
        }
    return out


def write(
    tables: dict[str, pd.DataFrame],
    made_with: dict[str, Setup],
    out: Path,
    summaries: dict[str, dict] | None = None,
) -> Path:
    """Write per-task score tables (same archs, columns `COLUMNS`) and their stored
    correlations (`correlate`) as a pack, xz-compressed, replacing `out` only once the
    file is complete."""
    index = next(iter(tables.values())).index
    frames = [
        pd.DataFrame(
            {f"{t}:{c}": digits(table.loc[index, c].to_numpy()) for c in COLUMNS}, index=index
        )
        for t, table in tables.items()
    ]
    header = {
        "format": FORMAT,
        "space": SPACE,
        "saliency": SALIENCY,
        "n": len(index),
        "digits": aggregation.SIGNIFICANT,
        "command": COMMAND,
        "setups": {t: asdict(s) for t, s in made_with.items()},
        "summaries": summaries or {},
    }
    body = pd.concat(frames, axis=1).to_csv(index_label="arch")
    text = f"{FORMAT}\n{json.dumps(header, sort_keys=True)}\n{body}"
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    part.write_bytes(lzma.compress(text.encode(), preset=9 | lzma.PRESET_EXTREME))
    part.replace(out)
    return out


def read(path: Path = PATH) -> Pack:
    """The pack at `path`; PackError naming the file when it is missing, damaged (xz
    checks every byte) or not a pack."""
    try:
        text = lzma.decompress(path.read_bytes()).decode()
    except (OSError, lzma.LZMAError, UnicodeDecodeError) as exc:
        raise PackError(f"{path}: no readable pack ({exc}); make one with `{COMMAND}`") from None
    first, header_line, body = [*text.split("\n", 2), "", ""][:3]
    if first != FORMAT:
        raise PackError(f"{path}: not a {FORMAT} file (line 1: {first[:40]!r})")
    try:
        header = json.loads(header_line)
        table = pd.read_csv(io.StringIO(body), index_col="arch")
        found = {t: Setup(**fields) for t, fields in header["setups"].items()}
        tables = {
            t: table[[f"{t}:{c}" for c in COLUMNS]].set_axis(list(COLUMNS), axis=1).astype(float)
            for t in found
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise PackError(f"{path}: damaged pack ({exc}); remake it with `{COMMAND}`") from None
    if len(table) != header["n"]:
        raise PackError(f"{path}: truncated, {len(table):,} of {header['n']:,} rows")
    return Pack(tables, found, header)


def check_batches(pack: Pack, task: str, n: int, seed: int) -> list[list[str]]:
    """`n` of the engine's batches of the whole space, drawn by `seed`: what `check`
    recomputes (the same batches as the pack, so the same bits)."""
    setup = pack.setups[task]
    batches = network.chunks(setup, pack.tables[task].index.tolist())
    chosen = np.random.default_rng(seed).choice(len(batches), size=min(n, len(batches)))
    return [batches[i] for i in sorted(set(chosen.tolist()))]


def check(
    pack: Pack, settings: Settings, cache: Cache, *, task: str, batches: int = 2, seed: int = 0
) -> list[str]:
    """Recompute seeded whole batches of `task` into `cache` and compare them with the
    pack digit for digit: one line per differing value (empty when the pack is right)."""
    setup, stored = pack.setups[task], pack.tables[task]
    bad = []
    for batch in check_batches(pack, task, batches, seed):
        fresh = scores(scoring.score(setup, batch, cache, settings=settings))
        for c in COLUMNS:
            got, want = digits(fresh[c].to_numpy()), digits(stored.loc[batch, c].to_numpy())
            bad += [
                f"{a} {c}: stored {w}, computed {g}" for a, g, w in zip(batch, got, want) if g != w
            ]
    return bad
