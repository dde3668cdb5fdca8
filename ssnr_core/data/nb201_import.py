"""One-time import of an official NAS-Bench-201 / NATS-Bench (topology) benchmark file into
the project's own ground-truth table, a gzip CSV nothing needs to unpickle again.

The official files are pickles (NAS-Bench-201 `.pth` via torch.load; NATS-Bench
`.pickle.pbz2` via bz2 + pickle), and unpickling runs code from the file. So this
module is the only place in the project that unpickles, it runs only when the user
asks (`python -m ssnr_core import-nb201 PATH`, for a file they downloaded and trust),
and the rest of the project reads the CSV it writes (`load_table`).

Read per architecture with the benchmark's own classes (`nas_201_api.ArchResults`,
`nats_bench.ArchResults`; install with `pip install --no-deps nas-bench-201 nats_bench`),
asking explicitly for what we want: the mean over all trained seeds (`is_random=False`),
the 200-epoch (`hp="200"`) and 12-epoch (`hp="12"`) schedules, the last epoch. (The
NATS API's `get_more_info` default is one random seed's 12-epoch result.)

Accepted inputs:
- `NAS-Bench-201-v1_0-e61699.pth`, `NAS-Bench-201-v1_1-096897.pth` (`meta_archs`,
  `arch2infos[i] = {"less": 12-epoch, "full": 200-epoch ArchResults state}`);
- NATS-Bench's `NATS-tss-v1_0-3ffb9-simple/` folder (`meta.pickle.pbz2` and one
  `NNNNNN.pickle.pbz2` of `{hp: ArchResults state}` per architecture) or the single
  `NATS-tss-v1_0-3ffb9.pickle.pbz2` file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from ssnr_core.data.paths import user_path

TABLE = "nasbench201/official_nb201.csv.gz"  # relative to the data directory
TASKS = ("cifar10", "cifar100", "ImageNet16-120")
SPLITS = ("train", "valid", "test")
EPOCHS = ("200", "12")
_TASK_LABEL = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "ImageNet16-120": "ImageNet16-120"}

# (task, split) -> (the API's dataset, its set name), as NAS-Bench-201 defines them:
# CIFAR-10 is trained twice: on train+valid ("cifar10", tested on the official test
# set) and on train only ("cifar10-valid", validated on the held-out valid set).
_SOURCE = {
    ("cifar10", "train"): ("cifar10", "train"),
    ("cifar10", "valid"): ("cifar10-valid", "x-valid"),
    ("cifar10", "test"): ("cifar10", "ori-test"),
    **{(t, "train"): (t, "train") for t in TASKS[1:]},
    **{(t, "valid"): (t, "x-valid") for t in TASKS[1:]},
    **{(t, "test"): (t, "x-test") for t in TASKS[1:]},
}
_WHAT = {
    ("cifar10", "train"): "training accuracy on train+valid",
    ("cifar10", "valid"): "validation accuracy (the run trained on train only, 'cifar10-valid')",
    ("cifar10", "test"): "test accuracy (trained on train+valid)",
}


def column(task: str, split: str, epochs: str, seed: int | None = None) -> str:
    """e.g. `cifar10_test_200ep`, or `cifar10_test_200ep_seed777` for one seed."""
    name = f"{task}_{split}_{epochs}ep"
    return name if seed is None else f"{name}_seed{seed}"


# Every mean column the table has (NaN where the file lacks it, e.g. v1_0's 12-epoch
# runs other than CIFAR-10 valid), with what it is. Per-seed columns add `_seed<S>`.
COLUMNS: dict[str, str] = {
    column(t, s, e): (
        f"{_TASK_LABEL[t]} {_WHAT.get((t, s), f'{s} accuracy')} (%) after {e} epochs, "
        "mean over the trained seeds"
    )
    for t in TASKS
    for e in EPOCHS
    for s in SPLITS
}
KEYS = ("index", "arch")  # architecture index in the official API, official cell string


def _classes(kind: str) -> tuple[type, Callable[[Path], object]]:
    """The benchmark package's ArchResults class and its loader for this file kind."""
    try:
        if kind == "nb201":
            import torch
            from nas_201_api import ArchResults

            def load(path: Path) -> object:
                return torch.load(path, map_location="cpu", weights_only=False)

            return ArchResults, load
        from nats_bench import ArchResults, pickle_load

        return ArchResults, pickle_load
    except ImportError as exc:
        raise ValueError(
            f"reading this file needs the benchmark's package ({exc.name}): "
            "pip install --no-deps nas-bench-201 nats_bench"
        ) from None


def _records(path: Path) -> tuple[int, Iterator[tuple[int, str, dict[str, object]]]]:
    """(number of archs, iterator of (index, cell string, {hp: ArchResults}))."""
    if path.is_dir():
        archres, load = _classes("nats")
        meta = _load(load, path / "meta.pickle.pbz2")
        archs = _meta_archs(meta, path)

        def per_file() -> Iterator[tuple[int, str, dict[str, object]]]:
            for i, arch in enumerate(archs):
                f = path / f"{i:06d}.pickle.pbz2"
                f = f if f.is_file() else path / f"{i}.pickle.pbz2"
                if not f.is_file():
                    continue  # not evaluated: no row
                yield i, arch, _build(archres, _load(load, f), f)

        return len(archs), per_file()
    kind = "nb201" if path.suffix == ".pth" else "nats"
    archres, load = _classes(kind)
    data = _load(load, path)
    archs = _meta_archs(data, path)
    infos = data.get("arch2infos")
    if not isinstance(infos, dict):
        raise ValueError(f"{path}: no 'arch2infos'; not a NAS-Bench-201 / NATS-Bench file")

    def in_memory() -> Iterator[tuple[int, str, dict[str, object]]]:
        for i in sorted(infos):
            info = infos.pop(i)  # free memory as we go: these files are gigabytes
            if kind == "nb201":  # v1_0 / v1_1: 'less' is the 12-epoch, 'full' the 200
                info = {"12": info.get("less"), "200": info.get("full")}
            yield int(i), archs[int(i)], _build(archres, info, path)

    return len(infos), in_memory()


def _load(load: Callable[[Path], object], path: Path) -> dict:
    try:
        data = load(path)
    except Exception as exc:  # anything a foreign pickle raises: one clear message
        raise ValueError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: holds a {type(data).__name__}, not a benchmark dict")
    return data


def _meta_archs(data: dict, path: Path) -> list[str]:
    archs = data.get("meta_archs")
    if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
        raise ValueError(f"{path}: no 'meta_archs' list; not a NAS-Bench-201 / NATS-Bench file")
    return archs


def _build(archres: Any, info: object, path: Path) -> dict[str, Any]:
    if not isinstance(info, dict):
        raise ValueError(f"{path}: an architecture's record is not a dict")
    try:
        return {
            hp: archres.create_from_state_dict(state)
            for hp, state in info.items()
            if hp in EPOCHS and state
        }
    except Exception as exc:
        raise ValueError(f"{path}: unexpected record layout ({exc})") from None


def _accuracy(result: Any, dataset: str, setname: str, seed: int | bool) -> float:
    """The last epoch's accuracy; mean over seeds with seed=False; NaN when absent."""
    try:
        value = result.get_metrics(dataset, setname, iepoch=None, is_random=seed)["accuracy"]
        return float(value) if value is not None else math.nan
    except (KeyError, ValueError, AssertionError, IndexError, TypeError):
        return math.nan


def _row(index: int, arch: str, hps: dict[str, Any]) -> dict[str, object]:
    row: dict[str, object] = {"index": index, "arch": arch}
    for (task, split), (dataset, setname) in _SOURCE.items():
        for hp in EPOCHS:
            result = hps.get(hp)
            row[column(task, split, hp)] = (
                _accuracy(result, dataset, setname, False) if result is not None else math.nan
            )
            seeds = result.dataset_seed.get(dataset, []) if result is not None else []
            for seed in seeds:
                value = _accuracy(result, dataset, setname, int(seed))
                if not math.isnan(value):
                    row[column(task, split, hp, int(seed))] = value
    return row


def import_benchmark(path: Path, out: Path, progress: bool = False) -> Path:
    """Read an official benchmark file (unpickling it: trusted files only) and write the
    table to `out` (default `<data_dir>/nasbench201/official_nb201.csv.gz`), atomically."""
    path = user_path(path, "import-nb201")
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    out = Path(out)
    total, records = _records(path)
    rows = [
        _row(i, arch, hps)
        for i, arch, hps in tqdm(records, total=total, unit="arch", disable=not progress)
    ]
    if not rows:
        raise ValueError(f"{path}: no evaluated architectures")
    table = pd.DataFrame(rows)
    seeded = sorted(c for c in table.columns if c not in COLUMNS and c not in KEYS)
    table = table.reindex(columns=[*KEYS, *COLUMNS, *seeded])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    table.to_csv(tmp, index=False, compression="gzip", float_format="%.6g")
    os.replace(tmp, out)
    return out


def load_table(path: Path) -> pd.DataFrame:
    """The imported table (index, arch, every COLUMNS entry, per-seed columns), checked;
    ValueError saying what to do when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"no imported NAS-Bench-201 table at {path}; run "
            "`python -m ssnr_core import-nb201 NAS-Bench-201-v1_1-096897.pth` first"
        )
    try:
        table = pd.read_csv(path, compression="gzip")
    except (OSError, EOFError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise ValueError(f"cannot read {path} ({exc}); import it again") from None
    missing = [c for c in (*KEYS, *COLUMNS) if c not in table.columns]
    if missing or table.empty:
        raise ValueError(f"{path} lacks columns {missing} or rows; import it again")
    try:
        acc = [c for c in table.columns if c not in KEYS]
        table[acc] = table[acc].astype(float)
        table["index"] = table["index"].astype(int)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: non-numeric values ({exc}); import it again") from None
    if table["index"].duplicated().any() or table["arch"].isna().any():
        raise ValueError(f"{path}: duplicate indexes or missing cell strings; import it again")
    return table
