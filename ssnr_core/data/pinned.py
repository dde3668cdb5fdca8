"""The pinned public files: where each is read from, and a check that it is the pinned one.

Every file is read from the user's data folder when it is there, else from the
compressed copy bundled in this package (`BUNDLED`), and checked before use: its
SHA-256 must be the pinned one (a truncated or altered file is an error naming it,
never a smaller table), so both places give the same numbers. Sources, checksums and
licences: ssnr_core/data/README.md.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ssnr_core.data import fetch

BUNDLED = Path(__file__).resolve().parent


class DataError(ValueError):
    """A benchmark file is missing, unreadable or not the pinned one; the message says which."""


@dataclass(frozen=True)
class DataFile:
    remote: fetch.RemoteFile  # path, public URL, SHA-256 and size of the original
    rows: dict[str, int] = field(hash=False)  # expected records (per task): for messages

    @property
    def path(self) -> str:  # relative to a data folder; the bundled copy is `path + ".xz"`
        return self.remote.path

    @property
    def sha256(self) -> str:
        return self.remote.sha256


def _pinned(path: str, rows: dict[str, int]) -> DataFile:
    return DataFile(next(f for f in fetch.FILES if f.path == path), rows)


NB201_CSV = _pinned("nasbench201/nats_bench_tss_200ep.csv", {"all": 15_625})
_TNB_TASKS = ("class_scene", "class_object", "autoencoder", "normal", "jigsaw")
NASLIB_FILES = {
    "nb201": _pinned(
        "naslib_zc/zc_nasbench201.json", {"cifar10": 725, "cifar100": 725, "ImageNet16-120": 724}
    ),
    "nb301": _pinned("naslib_zc/zc_nasbench301.json", {"cifar10": 725}),
    "tnb101": _pinned(
        "naslib_zc/zc_transbench101_micro.json",
        dict.fromkeys((*_TNB_TASKS, "room_layout", "segmentsemantic"), 711),
    ),
    "nb101": _pinned("naslib_zc/zc_nasbench101.json", {"cifar10": 500}),
    "tnb101_macro": _pinned(
        "naslib_zc/zc_transbench101_macro.json",
        {
            "class_scene": 662,
            "class_object": 662,
            **dict.fromkeys(("autoencoder", "normal", "jigsaw", "room_layout"), 725),
            "segmentsemantic": 725,
        },
    ),
}
FILES = (NB201_CSV, *NASLIB_FILES.values())


def where(file: DataFile, data_dir: Path | None = None) -> Path:
    """The copy of `file` that is read: the data folder's, else the bundled one."""
    if data_dir is not None and (data_dir / file.path).is_file():
        return data_dir / file.path
    return BUNDLED / f"{file.path}.xz"


@lru_cache(maxsize=12)
def read_bytes(file: DataFile, data_dir: Path | None = None) -> bytes:
    """The verified content of a pinned file (decompressed when bundled)."""
    path = where(file, data_dir)
    try:
        raw = path.read_bytes()
        data = lzma.decompress(raw) if path.suffix == ".xz" else raw
    except FileNotFoundError:
        raise DataError(
            f"missing benchmark file {path}; reinstall the package, or run "
            "`python -m ssnr_core fetch` / set SSNR_DATA_DIR to a folder that has it"
        ) from None
    except (OSError, lzma.LZMAError) as exc:
        raise DataError(f"cannot read {path} ({exc}); replace or delete it") from None
    if hashlib.sha256(data).hexdigest() != file.sha256:
        raise DataError(f"{path} is not the pinned file ({_damage(file, data)}); replace it")
    return data


def _damage(file: DataFile, data: bytes) -> str:
    """Say how a file that failed its checksum differs: truncated, or altered."""
    if file.path.endswith(".csv"):
        found = {"all": max(0, data.count(b"\n") - 1)}
    else:
        try:
            found = {k: len(v) for k, v in naslib_tasks(json.loads(data)).items()}
        except (ValueError, AttributeError):
            return "not valid JSON: truncated or altered"
    short = [
        f"{k}: {found.get(k, 0):,} of {n:,} rows"
        for k, n in file.rows.items()
        if found.get(k, 0) < n
    ]
    return "truncated, " + "; ".join(short) if short else "altered content, checksum differs"


@lru_cache(maxsize=4)
def nb201_table(data_dir: Path | None) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(read_bytes(NB201_CSV, data_dir)))


def nb201_cell_strings(data_dir: Path | None = None) -> list[str]:
    """All NB201 cell strings in benchmark index order."""
    return nb201_table(data_dir)["ArchitectureString"].tolist()


@lru_cache(maxsize=8)
def naslib_json(space: str, data_dir: Path | None) -> dict:
    """`{task: {arch key: record}}` of a NASLib file (`naslib_tasks`)."""
    return naslib_tasks(json.loads(read_bytes(NASLIB_FILES[space], data_dir)))


_NOT_PROXIES = ("idx", "arch", "val_accuracy")


def naslib_tasks(data: object) -> dict[str, dict]:
    """NASLib's files in one shape, `{task: {arch key: {proxy: {"score", "time"}, ...,
    "val_accuracy"}}}`: the NB101 file nests its one task under "nasbench101" and stores
    each proxy as a bare number (its time then None). Anything else that is not a dict of
    dicts is dropped."""
    if not isinstance(data, dict):
        return {}
    if set(data) == {"nasbench101"} and isinstance(data["nasbench101"], dict):
        data = data["nasbench101"]
    out: dict[str, dict] = {}
    for task, recs in data.items():
        if not isinstance(recs, dict):
            continue
        out[task] = {
            key: {
                name: {"score": v, "time": None}
                if name not in _NOT_PROXIES and not isinstance(v, dict)
                else v
                for name, v in rec.items()
            }
            if isinstance(rec, dict)
            else rec
            for key, rec in recs.items()
        }
    return out
