"""Ground truth: benchmark accuracies keyed by canonical architecture string.

Sources (files under `config.data_dir()`, see `fetch.FILES`):
- `test200`: NAS-Bench-201's mean 200-epoch test accuracy of all 15,625 cells
  (nasbench201/nats_bench_tss_200ep.csv);
- `naslib`: the `val_accuracy` of NASLib's NAS-Bench-Suite-Zero samples
  (naslib_zc/zc_*.json, ~725 archs per task), also carrying NASLib's own scores.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ssnr_core import config
from ssnr_core.spaces import canonical


class DataError(ValueError):
    """A benchmark file is missing or unreadable; the message says what to do."""


@dataclass(frozen=True)
class Task:
    benchmark: str
    task: str
    metric: str  # what the ground-truth number is, for labels
    sources: tuple[str, ...]  # ground-truth sources, default first
    classification: bool = True  # outputs are class logits (data-dependent saliencies need it)


_NB201_CSV = "nasbench201/nats_bench_tss_200ep.csv"
_NB201_COLS = {
    "cifar10": "CIFAR10TestAccuracy200Epochs",
    "cifar100": "CIFAR100TestAccuracy200Epochs",
    "ImageNet16-120": "ImageNetTestAccuracy200Epochs",
}
NASLIB_FILES = {
    "nb201": "naslib_zc/zc_nasbench201.json",
    "nb301": "naslib_zc/zc_nasbench301.json",
    "tnb101": "naslib_zc/zc_transbench101_micro.json",
}
_TNB_METRICS = {
    "class_scene": "validation top-1 accuracy (%)",
    "class_object": "validation top-1 accuracy (%)",
    "jigsaw": "validation top-1 accuracy (%)",
    "autoencoder": "validation SSIM-like score (higher is better)",
    "normal": "validation SSIM-like score (higher is better)",
    "room_layout": "negated validation L2 loss (higher is better)",
    "segmentsemantic": "validation mIoU-like score (higher is better)",
}

TASKS: dict[tuple[str, str], Task] = {}
for _t in _NB201_COLS:
    TASKS["nb201", _t] = Task("nb201", _t, "accuracy (%)", ("test200", "naslib"))
TASKS["nb301", "cifar10"] = Task(
    "nb301", "cifar10", "surrogate-predicted validation accuracy (%)", ("naslib",)
)
for _t, _m in _TNB_METRICS.items():
    TASKS["tnb101", _t] = Task("tnb101", _t, _m, ("naslib",), "accuracy" in _m)

SOURCE_LABELS = {
    "test200": "NB201 mean 200-epoch test accuracy, all 15,625 cells",
    "naslib": "NASLib NAS-Bench-Suite-Zero sample, val_accuracy",
}


def get_task(benchmark: str, task: str) -> Task:
    if (benchmark, task) not in TASKS:
        known = sorted({b for b, _ in TASKS})
        if benchmark not in known:
            raise ValueError(f"unknown benchmark {benchmark!r}; choose from {', '.join(known)}")
        tasks = [t for b, t in TASKS if b == benchmark]
        raise ValueError(f"unknown task {task!r} for {benchmark}; choose from {', '.join(tasks)}")
    return TASKS[benchmark, task]


def _path(rel: str) -> Path:
    path = config.data_dir() / rel
    if not path.is_file():
        raise DataError(
            f"missing benchmark file {path}; run `python -m ssnr_core fetch` "
            "or set SSNR_DATA_DIR to a folder that has it"
        )
    return path


@lru_cache(maxsize=4)
def _nb201_table(data_dir: Path) -> pd.DataFrame:
    path = _path(_NB201_CSV)
    try:
        df = pd.read_csv(path)
        missing = {"ArchitectureString", *_NB201_COLS.values()} - set(df.columns)
        if missing or len(df) == 0:
            raise DataError(f"{path} lacks columns {sorted(missing)} or rows; re-fetch it")
        df[list(_NB201_COLS.values())] = df[list(_NB201_COLS.values())].astype(float)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"cannot read {path} ({exc}); re-fetch it") from None
    return df


def nb201_cell_strings() -> list[str]:
    """All NB201 cell strings in benchmark index order."""
    return _nb201_table(config.data_dir())["ArchitectureString"].tolist()


@lru_cache(maxsize=4)
def _naslib(data_dir: Path, benchmark: str) -> dict:
    path = _path(NASLIB_FILES[benchmark])
    try:
        with path.open() as fh:
            data = json.load(fh)
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise DataError(f"{path} is not a NASLib zero-cost file; re-fetch it")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} ({exc}); re-fetch it") from None
    return data


def naslib_entries(benchmark: str, task: str) -> dict[str, dict]:
    """NASLib's records for a task, keyed by canonical architecture string."""
    get_task(benchmark, task)
    data = _naslib(config.data_dir(), benchmark)
    if task not in data:
        raise DataError(f"{NASLIB_FILES[benchmark]} has no task {task!r}")
    return {canonical(benchmark, key): rec for key, rec in data[task].items()}


def truth(benchmark: str, task: str, source: str | None = None) -> pd.Series:
    """Ground truth (float Series indexed by canonical arch string, name = metric)."""
    spec = get_task(benchmark, task)
    source = source or spec.sources[0]
    if source not in spec.sources:
        raise ValueError(f"{benchmark}/{task} has ground truth {', '.join(spec.sources)}")
    if source == "test200":
        df = _nb201_table(config.data_dir())
        values = df[_NB201_COLS[task]].to_numpy()
        index = [canonical("nb201", s) for s in df["ArchitectureString"]]
    else:
        entries = naslib_entries(benchmark, task)
        index = list(entries)
        values = [float(rec["val_accuracy"]) for rec in entries.values()]
    return pd.Series(values, index=pd.Index(index, name="arch"), name=spec.metric, dtype=float)


def naslib_scores(benchmark: str, task: str, proxy: str) -> pd.Series:
    """NASLib's own stored zero-cost score `proxy` for its sample (a rank reference)."""
    entries = naslib_entries(benchmark, task)
    return pd.Series(
        {k: float(r[proxy]["score"]) for k, r in entries.items() if proxy in r}, dtype=float
    )
