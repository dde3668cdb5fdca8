"""Download the public benchmark files (and, on request, CIFAR-10) into the data directory.

Each file is pinned to a public URL, its SHA-256 and its exact size. A download
goes to `<name>.part` (resumed with an HTTP Range request when a partial file is
there, and retried with Range when the connection drops mid-body), is checked,
and only then renamed into place: a file is either absent, partial under its
`.part` name, or complete and verified. A body longer than the known size (plus
a small margin) is cut off and discarded, so a hostile or broken server cannot
fill the disk; a `.part` longer than the file is dropped rather than making
every later fetch fail with HTTP 416. Folders are created only once bytes
arrive, and removed again when nothing was saved. When files cannot be fetched,
one message names each URL, where it belongs and how to put it there by hand.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

_NASLIB = "https://raw.githubusercontent.com/automl/NASLib/{commit}/naslib/data/{name}"
_ZC_COMMIT = "6639fd1579010457885c641553c55b0c153045aa"  # NB101, NB201 and NB301 files
_TNB_COMMIT = "e5a821c2dadf608042e4e046e386006cf6bd0564"  # TransNAS-Bench-101 micro, macro

MARGIN = 64 * 1024  # bytes a body may exceed the known size by before it is cut off
RETRIES = 5  # attempts per file when the connection drops mid-body
TIMEOUT = 60  # seconds without data before a connection counts as dropped


@dataclass(frozen=True)
class RemoteFile:
    path: str  # relative to the data directory
    url: str
    sha256: str
    size: int  # exact size in bytes: caps the download

    @property
    def cap(self) -> int:
        return self.size + MARGIN


class FetchError(ValueError):
    """Files could not be fetched; the message says which, where to and what to do."""


FILES = (
    RemoteFile(
        "nasbench201/nats_bench_tss_200ep.csv",
        "https://raw.githubusercontent.com/v-tao/nats-bench-landscape/main/nats_bench.csv",
        "cb5d777ec3368be83c8f9b3aa4d520696051cb0eb8d94b8f85b519f9ea4afa3e",
        3024008,
    ),
    RemoteFile(
        "naslib_zc/zc_nasbench201.json",
        _NASLIB.format(commit=_ZC_COMMIT, name="zc_nasbench201.json"),
        "5dcbbcd56812a9f62164a376bc7df4082ab3af612082b6d26a845930e6eb8641",
        1963032,
    ),
    RemoteFile(
        "naslib_zc/zc_nasbench301.json",
        _NASLIB.format(commit=_ZC_COMMIT, name="zc_nasbench301.json"),
        "537e9abd6f0b14fdffdfcb3c07b18a037647b5c80808b3b2cf9a51b1b491aba1",
        820765,
    ),
    RemoteFile(
        "naslib_zc/zc_transbench101_micro.json",
        _NASLIB.format(commit=_TNB_COMMIT, name="zc_transbench101_micro.json"),
        "f9f2c5d6d9b9a73964f1bffb2869f218e1110755d84ddd4a46a8cf482f799cd1",
        4121429,
    ),
    RemoteFile(
        "naslib_zc/zc_nasbench101.json",
        _NASLIB.format(commit=_ZC_COMMIT, name="zc_nasbench101.json"),
        "c34840bc9af68b6ebaa7f052e42c1749a9a737d7243078be2a5548052bc5a0c2",
        259564,
    ),
    RemoteFile(
        "naslib_zc/zc_transbench101_macro.json",
        _NASLIB.format(commit=_TNB_COMMIT, name="zc_transbench101_macro.json"),
        "f1d393373855bd7ba29bc81b33adb947ef2518d82aa0e6c003809ce6a4d94212",
        4107092,
    ),
)

# The official CIFAR-10 "binary version" (raw bytes, no pickles). Size and SHA-256 as
# pinned by tensorflow/datasets, tensorflow_datasets/url_checksums/cifar10.txt
# (commit 333639b37af6c6fedf3610a4a2d42f1c6ef6f7d5); the same SHA-256 is pinned by
# JuliaML's MLDatasets and gomlx, and 170,052,171 bytes is what TensorFlow's CIFAR-10
# tutorial reports.
CIFAR10 = RemoteFile(
    "cifar10/cifar-10-binary.tar.gz",
    "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
    170052171,
)
CIFAR10_BATCH = "cifar10/batch64_seed0.npz"  # what `fetch cifar10` keeps (batches reads it)
_CIFAR10_TEST = "cifar-10-batches-bin/test_batch.bin"
_RECORD = 1 + 3 * 32 * 32  # one label byte, then 1024 red, 1024 green, 1024 blue bytes
_TEST_IMAGES = 10000

# A dropped connection: keep the .part and resume. (URLError means never connected.)
# (http.client.RemoteDisconnected is a ConnectionResetError.)
_DROPPED = (http.client.IncompleteRead, ConnectionError, TimeoutError)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def missing(data_dir: Path) -> list[RemoteFile]:
    """Files not yet in the data directory."""
    return [f for f in FILES if not (data_dir / f.path).is_file()]


@contextmanager
def _made_dirs(folder: Path) -> Iterator[list[Path]]:
    """Collects the folders created on the way to `folder` (filled in by `_mkdir`) and
    removes those that are still empty afterwards: a failed fetch leaves no trace."""
    made: list[Path] = []
    try:
        yield made
    finally:
        for d in reversed(made):
            try:
                d.rmdir()  # only succeeds when empty
            except OSError:
                break


def _mkdir(folder: Path, made: list[Path]) -> None:
    todo = []
    while not folder.exists():
        todo.append(folder)
        folder = folder.parent
    for d in reversed(todo):
        d.mkdir()
        made.append(d)


def fetch_file(
    remote: RemoteFile, dest: Path, url: str | None = None, progress: bool = False
) -> Path:
    """Download one file to `dest` (size-capped, resuming, verified, atomic); no-op when
    already there. Raises ValueError (bad or oversized body) or OSError (network)."""
    if dest.is_file() and sha256(dest) == remote.sha256:
        return dest
    part = dest.with_name(dest.name + ".part")
    # A .part as long as the file is complete (verified below) or corrupt; a longer one is
    # stale: drop both, as a Range request beyond the end fails with HTTP 416 every time.
    if (
        part.is_file()
        and part.stat().st_size >= remote.size
        and (part.stat().st_size > remote.size or sha256(part) != remote.sha256)
    ):
        part.unlink()
    with _made_dirs(dest.parent) as made:
        if not (part.is_file() and part.stat().st_size == remote.size):
            _download(remote, part, url or remote.url, progress, made)
        got = sha256(part)
        if got != remote.sha256:
            part.unlink()
            raise ValueError(f"{remote.path}: checksum mismatch (got {got[:12]}...); not saved")
        os.replace(part, dest)
    return dest


def _download(remote: RemoteFile, part: Path, url: str, progress: bool, made: list[Path]) -> None:
    """Fill `part` from `url`, resuming after dropped connections (a few times)."""
    for attempt in range(RETRIES):
        before = part.stat().st_size if part.is_file() else 0
        try:
            _attempt(remote, part, url, progress, made)
            return
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and part.is_file():  # our range is beyond what it has
                part.unlink()
                continue
            raise
        except _DROPPED as exc:
            now = part.stat().st_size if part.is_file() else 0
            if attempt == RETRIES - 1:
                raise ConnectionError(
                    f"connection dropped {RETRIES} times ({type(exc).__name__}); "
                    f"{now} of {remote.size} bytes kept in {part.name}, rerun to resume"
                ) from None
            if now <= before:
                time.sleep(0.5 * (attempt + 1))  # no progress: back off a little
        except http.client.HTTPException as exc:  # a malformed response, not a drop
            raise ValueError(f"{remote.path}: bad HTTP response ({type(exc).__name__})") from None
    raise ValueError(f"{remote.path}: the server keeps refusing the resumed range; not saved")


def _attempt(remote: RemoteFile, part: Path, url: str, progress: bool, made: list[Path]) -> None:
    """One request that completes the body, or raises (dropped, oversized, empty)."""
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url)
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as resp:
        if offset and resp.status != 206:  # server ignored the range: start over
            offset = 0
        length = resp.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        if expected is not None and offset + expected > remote.cap:
            raise ValueError(
                f"{remote.path}: server announces {offset + expected} bytes, more than the "
                f"{remote.size} expected; not saved"
            )
        received = 0
        out = None
        try:
            with tqdm(
                total=remote.size,
                initial=offset,
                unit="B",
                unit_scale=True,
                desc=remote.path,
                disable=not progress,
            ) as bar:
                for block in iter(lambda: resp.read(1 << 16), b""):
                    if out is None:  # first bytes: only now create folders and file
                        _mkdir(part.parent, made)
                        out = part.open("ab" if offset else "wb")
                    if offset + received + len(block) > remote.cap:
                        out.close()
                        part.unlink()
                        raise ValueError(
                            f"{remote.path}: body longer than the {remote.size} bytes "
                            "expected; cut off and discarded"
                        )
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
        finally:
            if out is not None and not out.closed:
                out.close()
        if expected is not None and received < expected:
            raise http.client.IncompleteRead(b"", expected - received)
        if not part.is_file():
            raise ValueError(f"{remote.path}: the server sent an empty body; not saved")


def _manual(failures: list[tuple[str, Path, str]]) -> str:
    items = "; ".join(f"{url} -> {dest} ({why})" for url, dest, why in failures)
    return (
        f"could not fetch {len(failures)} file(s): {items}. Download each by hand into "
        "that folder (then rerun), or set SSNR_DATA_DIR to a folder that has the files"
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return f"offline or unreachable: {exc.reason}"
    return str(exc) or type(exc).__name__


def fetch_all(
    data_dir: Path,
    base_url: str | None = None,
    only: list[str] | None = None,
    progress: bool = False,
    files: tuple[RemoteFile, ...] = FILES,
) -> list[Path]:
    """Fetch every pinned file (or those in `only`); `base_url` serves the same relative
    paths from a mirror instead of the public URLs. Raises FetchError naming every file
    that failed; the others are saved. Unreachable once, the rest is not tried."""
    root = data_dir
    chosen = [f for f in files if only is None or f.path in only]
    if only and len(chosen) != len(only):
        raise ValueError(f"unknown file(s) {sorted(set(only) - {f.path for f in files})}")
    paths, failures = [], []
    offline = False
    for f in chosen:
        url = f"{base_url.rstrip('/')}/{f.path}" if base_url else f.url
        dest = root / f.path
        if offline:
            failures.append((url, dest.parent, "not tried: offline"))
            continue
        try:
            paths.append(fetch_file(f, dest, url, progress))
        except (OSError, ValueError, http.client.HTTPException) as exc:
            offline = isinstance(exc, urllib.error.URLError) and not isinstance(
                exc, urllib.error.HTTPError
            )
            failures.append((url, dest.parent, _reason(exc)))
    if failures:
        raise FetchError(_manual(failures))
    return paths


def fetch_cifar10(
    data_dir: Path,
    url: str | None = None,
    keep_archive: bool = False,
    progress: bool = False,
    remote: RemoteFile | None = None,
    seed: int = 0,
    size: int = 64,
) -> Path:
    """Download the official CIFAR-10 binary archive (pinned, capped, resumable) and keep a
    fixed, class-balanced, seeded batch of its test images as a small `.npz`, the batch
    data-dependent saliencies then use. The 170 MB archive is deleted afterwards unless
    `keep_archive`; a valid batch already there makes this a no-op."""
    root = data_dir
    remote = remote or CIFAR10
    out = root / CIFAR10_BATCH
    if out.is_file():
        try:
            load_cifar10_batch(out)
            return out
        except ValueError:
            pass  # rebuild a broken batch file
    archive = root / remote.path
    try:
        fetch_file(remote, archive, url, progress)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise FetchError(_manual([(url or remote.url, archive.parent, _reason(exc))])) from None
    images, labels, index = _balanced(_read_test_batch(archive), seed, size)
    tmp = out.with_name(out.name + ".part")
    with tmp.open("wb") as fh:  # a file object: np.savez adds no suffix
        np.savez(
            fh,
            images=images,
            labels=labels,
            index=index,
            seed=np.int64(seed),
            archive_sha256=np.array(remote.sha256),
        )
    os.replace(tmp, out)
    if not keep_archive:
        archive.unlink()
    return out


def _read_test_batch(archive: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels uint8 (N,)) of test_batch.bin, read from the
    archive in memory: nothing is extracted to disk, nothing unpickled."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.getmember(_CIFAR10_TEST)
            if not member.isfile() or member.size % _RECORD or member.size > _TEST_IMAGES * _RECORD:
                raise ValueError(f"{_CIFAR10_TEST} has an unexpected size {member.size}")
            fh = tar.extractfile(member)
            raw = fh.read() if fh else b""
    except KeyError:
        raise ValueError(f"{archive}: no {_CIFAR10_TEST}; not CIFAR-10's binary archive") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ValueError(f"{archive}: unreadable archive ({exc})") from None
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _RECORD)
    return records[:, 1:].reshape(-1, 3, 32, 32).copy(), records[:, 0].copy()


def _balanced(
    data: tuple[np.ndarray, np.ndarray], seed: int, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`size` images, as even across the classes as possible (64 of 10 classes: 7 of four
    seeded classes, 6 of the others), each class's images and the order seeded."""
    images, labels = data
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    base, extra = divmod(size, len(classes))
    bonus = set(rng.permutation(classes)[:extra].tolist())
    picked = []
    for c in classes:
        pool = np.flatnonzero(labels == c)
        k = min(len(pool), base + (int(c) in bonus))
        picked.append(rng.choice(pool, size=k, replace=False))
    index = rng.permutation(np.concatenate(picked)).astype(np.int64)
    return images[index], labels[index], index


def load_cifar10_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels (N,)) of a kept batch; ValueError when broken."""
    try:
        with np.load(path, allow_pickle=False) as z:
            images, labels = z["images"], z["labels"]
    except (OSError, KeyError, ValueError, EOFError) as exc:
        raise ValueError(f"{path}: not a CIFAR-10 batch ({exc}); rerun `fetch cifar10`") from None
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (3, 32, 32):
        raise ValueError(f"{path}: images are not uint8 (N, 3, 32, 32); rerun `fetch cifar10`")
    if labels.shape != (len(images),) or len(images) == 0 or int(labels.max()) > 9:
        raise ValueError(f"{path}: labels do not match the images; rerun `fetch cifar10`")
    return images, labels.astype(np.int64)
