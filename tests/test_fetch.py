"""`fetch` against a loopback HTTP server that serves ../shared/data."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from ssnr_core import cli, fetch


@pytest.fixture
def mirror(data_dir: Path):
    handler = functools.partial(RangeHandler, directory=str(data_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus `Range: bytes=N-`, enough to test resuming."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        spec = self.headers.get("Range", "")
        path = Path(self.translate_path(self.path))
        if not spec.startswith("bytes=") or not path.is_file():
            return super().do_GET()
        start = int(spec.removeprefix("bytes=").split("-")[0])
        body = path.read_bytes()[start:]
        self.send_response(206)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_fetch_all_files_verified(mirror, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SSNR_DATA_DIR", str(tmp_path))
    assert len(fetch.missing()) == len(fetch.FILES)
    assert cli.main(["fetch", "--base-url", mirror]) == 0
    assert fetch.missing() == []
    for f in fetch.FILES:
        assert fetch.sha256(tmp_path / f.path) == f.sha256
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
