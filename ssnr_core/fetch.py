"""Download the public benchmark files into the data directory.

Each file is pinned to a public URL and its SHA-256. A download goes to
`<name>.part` (resumed with an HTTP Range request when a partial file is
there), is checked, and only then renamed into place: a file is either absent,
partial under its `.part` name, or complete and verified.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

_NASLIB = "https://raw.githubusercontent.com/automl/NASLib/{commit}/naslib/data/{name}"
_ZC_COMMIT = "6639fd1579010457885c641553c55b0c153045aa"  # NB201 and NB301 files
_TNB_COMMIT = "e5a821c2dadf608042e4e046e386006cf6bd0564"  # TransNAS-Bench-101 micro file


@dataclass(frozen=True)
class RemoteFile:
    path: str  # relative to the data directory
    url: str
    sha256: str


FILES = (
    RemoteFile(
        "nasbench201/nats_bench_tss_200ep.csv",
        "https://raw.githubusercontent.com/v-tao/nats-bench-landscape/main/nats_bench.csv",
        "cb5d777ec3368be83c8f9b3aa4d520696051cb0eb8d94b8f85b519f9ea4afa3e",
    ),
    RemoteFile(
        "naslib_zc/zc_nasbench201.json",
        _NASLIB.format(commit=_ZC_COMMIT, name="zc_nasbench201.json"),
        "5dcbbcd56812a9f62164a376bc7df4082ab3af612082b6d26a845930e6eb8641",
    ),
    RemoteFile(
        "naslib_zc/zc_nasbench301.json",
        _NASLIB.format(commit=_ZC_COMMIT, name="zc_nasbench301.json"),
        "537e9abd6f0b14fdffdfcb3c07b18a037647b5c80808b3b2cf9a51b1b491aba1",
    ),
    RemoteFile(
        "naslib_zc/zc_transbench101_micro.json",
        _NASLIB.format(commit=_TNB_COMMIT, name="zc_transbench101_micro.json"),
        "f9f2c5d6d9b9a73964f1bffb2869f218e1110755d84ddd4a46a8cf482f799cd1",
    ),
)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def missing(data_dir: Path) -> list[RemoteFile]:
    """Files not yet in the data directory."""
    return [f for f in FILES if not (data_dir / f.path).is_file()]


def fetch_file(
    remote: RemoteFile, dest: Path, url: str | None = None, progress: bool = False
) -> Path:
    """Download one file to `dest` (resuming, verified, atomic); no-op when already there."""
    if dest.is_file() and sha256(dest) == remote.sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url or remote.url)
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    with urllib.request.urlopen(request, timeout=60) as resp:
        if offset and resp.status != 206:  # server ignored the range: start over
            offset = 0
        total = int(resp.headers.get("Content-Length") or 0) + offset
        with (
            part.open("ab" if offset else "wb") as out,
            tqdm(
                total=total or None,
                initial=offset,
                unit="B",
                unit_scale=True,
                desc=remote.path,
                disable=not progress,
            ) as bar,
        ):
            for block in iter(lambda: resp.read(1 << 16), b""):
                out.write(block)
                bar.update(len(block))
    got = sha256(part)
    if got != remote.sha256:
        part.unlink()
        raise ValueError(f"{remote.path}: checksum mismatch (got {got[:12]}...); not saved")
    os.replace(part, dest)
    return dest


def fetch_all(
    base_url: str | None,
    only: list[str] | None,
    data_dir: Path,
    progress: bool = False,
) -> list[Path]:
    """Fetch every pinned file (or those in `only`); `base_url` serves the same relative
    paths from a mirror instead of the public URLs."""
    root = data_dir
    chosen = [f for f in FILES if only is None or f.path in only]
    if only and len(chosen) != len(only):
        raise ValueError(f"unknown file(s) {sorted(set(only) - {f.path for f in FILES})}")
    return [
        fetch_file(
            f, root / f.path, f"{base_url.rstrip('/')}/{f.path}" if base_url else None, progress
        )
        for f in chosen
    ]
