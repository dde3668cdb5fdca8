"""Ground truth: benchmark tasks and their accuracies, keyed by canonical architecture.

Sources (the pinned files of `data.pinned`; ssnr_core/data/README.md says where each
comes from):
- `test200`: NAS-Bench-201's mean 200-epoch test accuracy of all 15,625 cells;
- `naslib`: the `val_accuracy` of NASLib's NAS-Bench-Suite-Zero samples (~725 archs
  per task), which also carry NASLib's own zero-cost scores.

A user who imported an official NAS-Bench-201 / NATS-Bench file (`import-nb201`)
also gets its accuracies as sources `official:<split>_<epochs>ep` (e.g.
`official:valid_200ep`), mean over the trained seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ssnr_core.data import nb201_import, pinned
from ssnr_core.spaces import canonical


@dataclass(frozen=True)
class Task:
    space: str
    task: str
    metric: str  # what the ground-truth number is, for labels
    sources: tuple[str, ...]  # ground-truth sources, default first
    classification: bool = True  # outputs are class logits (data-dependent saliencies need it)


_NB201_COLS = {
    "cifar10": "CIFAR10TestAccuracy200Epochs",
    "cifar100": "CIFAR100TestAccuracy200Epochs",
    "ImageNet16-120": "ImageNetTestAccuracy200Epochs",
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
TASKS["nb101", "cifar10"] = Task("nb101", "cifar10", "validation accuracy (%)", ("naslib",))
for _t, _m in _TNB_METRICS.items():
    TASKS["tnb101_macro", _t] = Task("tnb101_macro", _t, _m, ("naslib",), "accuracy" in _m)

SOURCE_LABELS = {
    "test200": "NB201 mean 200-epoch test accuracy (NATS-Bench, mean over seeds)",
    "naslib": "NASLib NAS-Bench-Suite-Zero sample, val_accuracy",
}


OFFICIAL = "official:"  # prefix of the sources an imported official table provides


def sources(space: str, task: str, data_dir: Path | None = None) -> list[str]:
    """Every ground truth of a task, default first: the bundled ones, then those of an
    imported official table in the data folder (columns with at least one value)."""
    spec = get_task(space, task)
    table = _official(data_dir) if space == "nb201" else None
    if table is None:
        return list(spec.sources)
    prefix = f"{task}_"
    found = [
        c.removeprefix(prefix)
        for c in nb201_import.COLUMNS
        if c.startswith(prefix) and table[c].notna().any()
    ]
    return [*spec.sources, *(OFFICIAL + c for c in found)]


def source_label(space: str, task: str, source: str) -> str:
    """What a ground-truth source is, for every table, card and plot."""
    if source.startswith(OFFICIAL):
        return "official file: " + nb201_import.COLUMNS[f"{task}_{source.removeprefix(OFFICIAL)}"]
    return SOURCE_LABELS[source]


def _official(data_dir: Path | None) -> pd.DataFrame | None:
    """The imported official table, when the data folder has one."""
    if data_dir is None or not (data_dir / nb201_import.TABLE).is_file():
        return None
    return _official_table(data_dir / nb201_import.TABLE)


@lru_cache(maxsize=2)
def _official_table(path: Path) -> pd.DataFrame:
    try:
        return nb201_import.load_table(path)
    except ValueError as exc:
        raise pinned.DataError(str(exc)) from None


def tasks_of(space: str) -> list[str]:
    """The tasks of a search space, default first."""
    tasks = [t for s, t in TASKS if s == space]
    if not tasks:
        known = sorted({s for s, _ in TASKS})
        raise ValueError(f"unknown benchmark {space!r}; choose from {', '.join(known)}")
    return tasks


def get_task(space: str, task: str | None = None) -> Task:
    """A task's description; `task=None` is the space's default (first) task."""
    tasks = tasks_of(space)
    task = task or tasks[0]
    if task not in tasks:
        raise ValueError(f"unknown task {task!r} for {space}; choose from {', '.join(tasks)}")
    return TASKS[space, task]


def naslib_entries(space: str, task: str, data_dir: Path | None = None) -> dict[str, dict]:
    """NASLib's records for a task, keyed by canonical architecture string."""
    get_task(space, task)
    data = pinned.naslib_json(space, data_dir)
    return {canonical(space, key): rec for key, rec in data[task].items()}


def truth(
    space: str, task: str, source: str | None = None, data_dir: Path | None = None
) -> pd.Series:
    """Ground truth (float Series indexed by canonical arch string, name = metric)."""
    spec = get_task(space, task)
    source = source or spec.sources[0]
    known = sources(space, task, data_dir)
    if source not in known:
        raise ValueError(f"{space}/{task} has ground truth {', '.join(known)}")
    if source.startswith(OFFICIAL):
        table = _official(data_dir)
        assert table is not None  # `sources` listed it
        values = table[f"{task}_{source.removeprefix(OFFICIAL)}"]
        kept = values.notna().to_numpy()
        values = values.to_numpy(dtype=float)[kept]
        index = [canonical("nb201", s) for s in table["arch"][kept]]
    elif source == "test200":
        df = pinned.nb201_table(data_dir)
        values = df[_NB201_COLS[task]].to_numpy(dtype=float)
        index = [canonical("nb201", s) for s in df["ArchitectureString"]]
    else:
        entries = naslib_entries(space, task, data_dir)
        index = list(entries)
        values = [float(rec["val_accuracy"]) for rec in entries.values()]
    return pd.Series(values, index=pd.Index(index, name="arch"), name=spec.metric, dtype=float)


def naslib_scores(space: str, task: str, proxy: str, data_dir: Path | None = None) -> pd.Series:
    """NASLib's own stored zero-cost score `proxy` for its sample (a rank reference)."""
    entries = naslib_entries(space, task, data_dir)
    return pd.Series(
        {k: float(r[proxy]["score"]) for k, r in entries.items() if proxy in r}, dtype=float
    )
