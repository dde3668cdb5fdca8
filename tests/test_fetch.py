"""`fetch` against loopback HTTP servers: one that serves the public files, and hostile ones
(offline, endless or oversized bodies, dropped connections, stale partial files)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import socket
import tarfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from ssnr_core import cli
from ssnr_core.data import fetch, pinned
from ssnr_core.proxies import batches

PAYLOAD = np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes()


def _remote(payload: bytes = PAYLOAD, path: str = "sub/dir/blob.bin") -> fetch.RemoteFile:
    return fetch.RemoteFile(path, "unused", hashlib.sha256(payload).hexdigest(), len(payload))


@contextmanager
def _serve(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The public files as their sources serve them: the bundled copies, decompressed."""
    root = tmp_path_factory.mktemp("public")
    for remote in fetch.FILES:
        (root / remote.path).parent.mkdir(parents=True, exist_ok=True)
        (root / remote.path).write_bytes(pinned.read_bytes(_pinned(remote.path)))
    return root


def _pinned(path: str) -> pinned.DataFile:
    return next(f for f in pinned.FILES if f.path == path)


@pytest.fixture
def mirror(data_dir: Path) -> Iterator[str]:
    with _serve(functools.partial(RangeHandler, directory=str(data_dir))) as url:
        yield url


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus `Range: bytes=N-` (416 beyond the end), enough to
    test resuming."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        spec = self.headers.get("Range", "")
        path = Path(self.translate_path(self.path))
        if not spec.startswith("bytes=") or not path.is_file():
            return super().do_GET()
        start = int(spec.removeprefix("bytes=").split("-")[0])
        data = path.read_bytes()
        if start >= len(data):
            self.send_response(416)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        body = data[start:]
        self.send_response(206)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None


class ScriptedHandler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD, misbehaving as `plan` says, one entry per request (then "ok"):
    "endless" (no length, bytes forever), "liar" (announces 10x the size), "drop"
    (announces the whole body, sends a third, closes). Records each Range header."""

    plan: ClassVar[list[str]] = []
    ranges: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        mode = self.plan.pop(0) if self.plan else "ok"
        spec = self.headers.get("Range", "")
        self.ranges.append(spec)
        start = int(spec.removeprefix("bytes=").split("-")[0]) if spec else 0
        body = PAYLOAD[start:]
        self.send_response(206 if spec else 200)
        if mode == "endless":
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"x" * 65536)
            except OSError:
                return
        self.send_header("Content-Length", str(len(body) * (10 if mode == "liar" else 1)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 3] if mode == "drop" else body)
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def scripted() -> Iterator[tuple[str, type[ScriptedHandler]]]:
    handler = type("Scripted", (ScriptedHandler,), {"plan": [], "ranges": []})
    with _serve(handler) as url:
        yield url, handler


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_fetch_all_files_verified(mirror, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SSNR_DATA_DIR", str(tmp_path))
    assert len(fetch.missing(tmp_path)) == len(fetch.FILES)
    assert cli.main(["fetch", "--base-url", mirror]) == 0
    assert fetch.missing(tmp_path) == []
    for f in fetch.FILES:
        assert fetch.sha256(tmp_path / f.path) == f.sha256
        assert (tmp_path / f.path).stat().st_size == f.size
        assert not (tmp_path / (f.path + ".part")).exists()


def test_fetch_resumes_a_partial_download(mirror, data_dir, tmp_path):
    remote = fetch.FILES[0]
    whole = (data_dir / remote.path).read_bytes()
    dest = tmp_path / remote.path
    dest.parent.mkdir(parents=True)
    dest.with_name(dest.name + ".part").write_bytes(whole[: len(whole) // 2])
    fetch.fetch_file(remote, dest, f"{mirror}/{remote.path}")
    assert dest.read_bytes() == whole


def test_corrupt_download_is_rejected_and_not_saved(mirror, data_dir, tmp_path):
    remote = fetch.FILES[0]
    dest = tmp_path / remote.path
    dest.parent.mkdir(parents=True)
    dest.with_name(dest.name + ".part").write_bytes(b"garbage that is not the file")
    with pytest.raises(ValueError, match="checksum mismatch"):
        fetch.fetch_file(remote, dest, f"{mirror}/{remote.path}")
    assert not dest.exists() and not dest.with_name(dest.name + ".part").exists()


def test_unknown_file_name(tmp_path):
    with pytest.raises(ValueError, match="unknown file"):
        fetch.fetch_all(only=["nope.csv"], data_dir=tmp_path)


def test_offline_names_every_url_destination_and_manual_route(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    monkeypatch.setenv("SSNR_DATA_DIR", str(data))
    base = _closed_port_url()
    assert cli.main(["fetch", "--base-url", base]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"error: could not fetch {len(fetch.FILES)} file(s)"
    )
    for f in fetch.FILES:
        assert f"{base}/{f.path}" in err and str((data / f.path).parent) in err
    assert "by hand" in err and "SSNR_DATA_DIR" in err
    assert not data.exists()  # no empty folders left behind


def test_http_error_leaves_no_folders(mirror, tmp_path):
    with pytest.raises(fetch.FetchError, match="HTTP 404"):
        fetch.fetch_all(tmp_path / "data", mirror + "/nowhere")
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("mode", ["endless", "liar"])
def test_oversized_body_is_cut_off_and_discarded(scripted, tmp_path, mode):
    url, handler = scripted
    handler.plan[:] = [mode]
    remote = _remote()
    dest = tmp_path / "data" / remote.path
    with pytest.raises(ValueError, match="expected"):
        fetch.fetch_file(remote, dest, f"{url}/blob")
    assert not (tmp_path / "data").exists()


def test_stale_oversized_part_is_dropped_not_416_forever(mirror, data_dir, tmp_path):
    remote = fetch.FILES[0]
    dest = tmp_path / remote.path
    dest.parent.mkdir(parents=True)
    part = dest.with_name(dest.name + ".part")
    part.write_bytes(b"\0" * (remote.size + 10))
    fetch.fetch_file(remote, dest, f"{mirror}/{remote.path}")
    assert fetch.sha256(dest) == remote.sha256 and not part.exists()


def test_416_for_a_part_the_server_cannot_continue_restarts(scripted, tmp_path, monkeypatch):
    url, _ = scripted
    remote = _remote()
    dest = tmp_path / remote.path
    dest.parent.mkdir(parents=True)
    dest.with_name(dest.name + ".part").write_bytes(PAYLOAD[:1000])
    calls = []

    def fake_attempt(remote, part, url, progress, made):
        calls.append(part.is_file())
        if len(calls) == 1:
            import urllib.error

            raise urllib.error.HTTPError(url, 416, "Range Not Satisfiable", {}, None)
        return original(remote, part, url, progress, made)

    original = fetch._attempt
    monkeypatch.setattr(fetch, "_attempt", fake_attempt)
    fetch.fetch_file(remote, dest, f"{url}/blob")
    assert calls == [True, False] and dest.read_bytes() == PAYLOAD


def test_dropped_connection_keeps_the_part_and_resumes(scripted, tmp_path):
    url, handler = scripted
    handler.plan[:] = ["drop", "drop"]
    remote = _remote()
    dest = tmp_path / "data" / remote.path
    fetch.fetch_file(remote, dest, f"{url}/blob")
    assert dest.read_bytes() == PAYLOAD
    assert handler.ranges[0] == "" and all(r.startswith("bytes=") for r in handler.ranges[1:])
    assert len(handler.ranges) == 3


def test_connection_dropping_every_time_keeps_the_part(scripted, tmp_path, monkeypatch):
    url, handler = scripted
    handler.plan[:] = ["drop"] * 10
    monkeypatch.setattr(fetch, "RETRIES", 2)
    remote = _remote()
    dest = tmp_path / remote.path
    with pytest.raises(ConnectionError, match="rerun to resume"):
        fetch.fetch_file(remote, dest, f"{url}/blob")
    part = dest.with_name(dest.name + ".part")
    assert 0 < part.stat().st_size < len(PAYLOAD)
    assert PAYLOAD.startswith(part.read_bytes())


# ---- CIFAR-10: a tiny archive in the official binary format -------------------------


def _tiny_cifar(per_class: int = 7) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A .tar.gz holding cifar-10-batches-bin/test_batch.bin with `per_class` images of
    each of the 10 classes (label byte, then 3072 pixel bytes, per image)."""
    rng = np.random.default_rng(1)
    labels = rng.permutation(np.repeat(np.arange(10, dtype=np.uint8), per_class))
    images = rng.integers(0, 256, (len(labels), 3, 32, 32), dtype=np.uint8)
    raw = b"".join(bytes([lab]) + img.tobytes() for lab, img in zip(labels, images))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-bin/test_batch.bin")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue(), images, labels


@pytest.fixture
def cifar_mirror(tmp_path) -> Iterator[tuple[str, fetch.RemoteFile, np.ndarray, np.ndarray]]:
    archive, images, labels = _tiny_cifar()
    root = tmp_path / "mirror"
    (root / "cifar10").mkdir(parents=True)
    (root / fetch.CIFAR10.path).write_bytes(archive)
    remote = fetch.RemoteFile(
        fetch.CIFAR10.path, "unused", hashlib.sha256(archive).hexdigest(), len(archive)
    )
    with _serve(functools.partial(RangeHandler, directory=str(root))) as url:
        yield url, remote, images, labels


def test_fetch_cifar10_keeps_a_balanced_seeded_batch(cifar_mirror, tmp_path, monkeypatch, capsys):
    url, remote, images, labels = cifar_mirror
    data = tmp_path / "data"
    monkeypatch.setenv("SSNR_DATA_DIR", str(data))
    monkeypatch.setattr(fetch, "CIFAR10", remote)  # the test's pin
    assert batches.default_source(data) == "synthetic"
    assert cli.main(["fetch", "cifar10", "--base-url", url]) == 0
    out = data / fetch.CIFAR10_BATCH
    with np.load(out, allow_pickle=False) as z:
        got, got_labels, index = z["images"], z["labels"], z["index"]
        assert str(z["archive_sha256"]) == remote.sha256 and int(z["seed"]) == 0
    assert got.shape == (64, 3, 32, 32) and got.dtype == np.uint8
    assert np.array_equal(got, images[index]) and np.array_equal(got_labels, labels[index])
    assert sorted(np.bincount(got_labels, minlength=10)) == [6] * 6 + [7] * 4
    assert len(set(index.tolist())) == 64
    assert not (data / remote.path).exists()  # the archive is deleted once the batch is kept
    assert batches.default_source(data) == "cifar10"
    first = out.read_bytes()
    assert cli.main(["fetch", "cifar10", "--base-url", url]) == 0  # no-op, same batch
    assert out.read_bytes() == first
    # the same seed from a fresh folder gives the same images
    again = fetch.fetch_cifar10(tmp_path / "again", f"{url}/{remote.path}", remote=remote)
    with np.load(again, allow_pickle=False) as z:
        assert np.array_equal(z["index"], index)


def test_fetch_cifar10_rejects_an_archive_off_its_pin(cifar_mirror, tmp_path, monkeypatch, capsys):
    url, remote, _, _ = cifar_mirror
    data = tmp_path / "data"
    monkeypatch.setenv("SSNR_DATA_DIR", str(data))
    wrong = fetch.RemoteFile(remote.path, remote.url, "0" * 64, remote.size)
    monkeypatch.setattr(fetch, "CIFAR10", wrong)
    assert cli.main(["fetch", "cifar10", "--base-url", url]) == 2
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and f"{url}/{remote.path}" in err and "by hand" in err
    assert not data.exists()


def test_fetch_cifar10_keep_archive(cifar_mirror, tmp_path):
    url, remote, _, _ = cifar_mirror
    fetch.fetch_cifar10(tmp_path, f"{url}/{remote.path}", keep_archive=True, remote=remote)
    assert fetch.sha256(tmp_path / remote.path) == remote.sha256
