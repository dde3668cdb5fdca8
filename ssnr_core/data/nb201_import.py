"""One-time import of an official NAS-Bench-201 / NATS-Bench (topology) benchmark file into
the project's own ground-truth table, a gzip CSV nothing needs to unpickle again.

The official files are pickles (NAS-Bench-201 `.pth` via torch.save; NATS-Bench
`.pickle.pbz2` via bz2 + pickle) of plain data: dicts, lists, strings and numbers.
Unpickling an arbitrary file runs code from it, so nothing here unpickles freely: a
`.pth` is read with `torch.load(weights_only=True)` and a `.pbz2` with an unpickler
that refuses every class and function a file names; a file that needs more is refused
with a message naming the official files. The records are then rebuilt with the
benchmark's own `ArchResults.create_from_state_dict` (plain data in), the structure is
checked before anything is written, and the rest of the project reads the CSV this
writes (`load_table`).

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

import bz2
import math
import os
import pickle
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import torch
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


class _PlainUnpickler(pickle.Unpickler):
    """Builds plain data only (dicts, lists, tuples, strings, numbers): every class or
    function a pickle names is refused, so nothing in the file can run."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        raise pickle.UnpicklingError(f"it names {module}.{name}, which is not plain data")


def _plain_pickle(path: Path) -> object:
    """A NATS-Bench `.pickle.pbz2` (bz2-compressed pickle), read as plain data."""
    with bz2.open(path, "rb") as fh:
        return _PlainUnpickler(fh).load()


def _plain_torch(path: Path) -> object:
    """A NAS-Bench-201 `.pth`, read with torch's weights-only loader (plain data and
    tensors; anything else is refused before it can run)."""
    with warnings.catch_warnings():  # a plain pickle's protocol note: it is refused anyway
        warnings.simplefilter("ignore", UserWarning)
        return torch.load(path, map_location="cpu", weights_only=True)


def _archresults(kind: str) -> type:
    """The benchmark package's ArchResults class (it rebuilds a record from plain data)."""
    try:
        if kind == "nb201":
            from nas_201_api import ArchResults
        else:
            from nats_bench import ArchResults
    except ImportError as exc:
        raise ValueError(
            f"reading this file needs the benchmark's package ({exc.name}): "
            "pip install --no-deps nas-bench-201 nats_bench"
        ) from None
    return ArchResults


def _records(path: Path) -> tuple[int, Iterator[tuple[int, str, dict[str, object]]]]:
    """(number of archs, iterator of (index, cell string, {hp: ArchResults})). The file's
    structure is checked as it is read; nothing is written before all of it is."""
    if path.is_dir():
        meta_file = path / "meta.pickle.pbz2"
        if not meta_file.is_file():
            raise ValueError(
                f"{path}: not a NATS-Bench folder (no meta.pickle.pbz2 in it); give the "
                "NATS-tss-v1_0-3ffb9-simple folder, a NATS-tss-*.pickle.pbz2 file or a "
                "NAS-Bench-201-v1_*.pth file"
            )
        archres = _archresults("nats")
        archs = _meta_archs(_load(_plain_pickle, meta_file), meta_file)

        def per_file() -> Iterator[tuple[int, str, dict[str, object]]]:
            for i, arch in enumerate(archs):
                f = path / f"{i:06d}.pickle.pbz2"
                f = f if f.is_file() else path / f"{i}.pickle.pbz2"
                if not f.is_file():
                    continue  # not evaluated: no row
                yield i, arch, _build(archres, _load(_plain_pickle, f), f)

        return len(archs), per_file()
    if not path.is_file():
        raise ValueError(f"{path}: not a file or folder")
    kind = "nb201" if path.suffix == ".pth" else "nats"
    archres = _archresults(kind)
    data = _load(_plain_torch if kind == "nb201" else _plain_pickle, path)
    archs = _meta_archs(data, path)
    infos = data.get("arch2infos")
    if not isinstance(infos, dict) or not infos:
        raise ValueError(f"{path}: no 'arch2infos' records; not a NAS-Bench-201 / NATS-Bench file")
    bad = [i for i in infos if not isinstance(i, int) or not 0 <= i < len(archs)]
    if bad:
        raise ValueError(
            f"{path}: record index {bad[0]!r} is not one of the {len(archs):,} architectures"
        )

    def in_memory() -> Iterator[tuple[int, str, dict[str, object]]]:
        for i in sorted(infos):
            info = infos.pop(i)  # free memory as we go: these files are gigabytes
            if kind == "nb201" and isinstance(info, dict):  # 'less': 12 epochs, 'full': 200
                info = {"12": info.get("less"), "200": info.get("full")}
            yield i, archs[i], _build(archres, info, path)

    return len(infos), in_memory()


def _load(load: Callable[[Path], object], path: Path) -> dict:
    try:
        data = load(path)
    except pickle.UnpicklingError as exc:  # torch's weights-only loader raises this too
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"{path}: refused: not plain data ({detail[:200]}); import-nb201 never runs code "
            "from a file. Use the official files as downloaded: NAS-Bench-201-v1_0-e61699.pth"
            " or NAS-Bench-201-v1_1-096897.pth (torch, plain data), or the "
            "NATS-tss-v1_0-3ffb9-simple folder"
        ) from None
    except Exception as exc:  # anything else a damaged or foreign file raises: one message
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
    if not isinstance(info, dict) or not all(
        isinstance(v, (dict, type(None))) for v in info.values()
    ):
        raise ValueError(
            f"{path}: an architecture's record is a {type(info).__name__} of "
            "non-records, not a dict of ArchResults states; not a NAS-Bench-201 / NATS-Bench file"
        )
    try:
        return {
            hp: archres.create_from_state_dict(state)
            for hp, state in info.items()
            if hp in EPOCHS and state
        }
    except Exception as exc:
        raise ValueError(
            f"{path}: unexpected record layout ({type(exc).__name__}: {exc})"
        ) from None


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
    """Read an official benchmark file as plain data (nothing in it runs), check all of
    it, then write the table to `out` (default
    `<data_dir>/nasbench201/official_nb201.csv.gz`) atomically. A table already at `out`
    is replaced only by one at least as complete (as many architectures and filled
    columns): an empty or partial import never overwrites a good table."""
    path = user_path(path, "import-nb201")
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    out = Path(out)
    total, records = _records(path)
    try:
        rows = [
            _row(i, arch, hps)
            for i, arch, hps in tqdm(records, total=total, unit="arch", disable=not progress)
        ]
    except (AttributeError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(
            f"{path}: unexpected record layout ({type(exc).__name__}: {exc})"
        ) from None
    if not rows:
        raise ValueError(f"{path}: no evaluated architectures; nothing was written")
    table = pd.DataFrame(rows)
    seeded = sorted(c for c in table.columns if c not in COLUMNS and c not in KEYS)
    table = table.reindex(columns=[*KEYS, *COLUMNS, *seeded])
    filled = _filled(table)
    if not filled:
        raise ValueError(
            f"{path}: no accuracy records in {len(table):,} architectures; nothing was written"
        )
    _keep_better(out, len(table), filled)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    table.to_csv(tmp, index=False, compression="gzip", float_format="%.6g")
    os.replace(tmp, out)
    return out


def _filled(table: pd.DataFrame) -> list[str]:
    """The mean-accuracy columns that hold at least one value."""
    return [c for c in COLUMNS if table[c].notna().any()]


def _keep_better(out: Path, rows: int, filled: list[str]) -> None:
    """ValueError when `out` holds a readable table with more architectures or filled
    columns than the new one (a damaged or missing table may be replaced)."""
    if not out.is_file():
        return
    try:
        old = load_table(out)
    except ValueError:
        return
    old_filled = _filled(old)
    if len(old) > rows or not set(old_filled) <= set(filled):
        raise ValueError(
            f"{out} holds {len(old):,} architectures with {len(old_filled)} accuracy columns; "
            f"this import has {rows:,} with {len(filled)}: kept the existing table (move it "
            "away, or give --out another folder, to write this one)"
        )


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
