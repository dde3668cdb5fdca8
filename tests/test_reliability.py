"""Broken caches, shared work, odd architecture text, altered data files, stale keys:
each a clear error or the right answer, never a traceback or a silent loss."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ssnr_core import benchmarks, cli
from ssnr_core.data import pinned
from ssnr_core.proxies.setup import CODE_VERSION, Setup, default_version
from ssnr_core.runs.cache import COLUMNS, Cache, CacheError
from ssnr_core.runs.processes import process_alive, process_start
from ssnr_core.spaces import get_space

SETUP = Setup("nb201", "cifar10", "synflow")
WORKTREE = Path(__file__).resolve().parent.parent


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line (a progress bar may precede it), and no traceback."""
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def run_cli(*args: str, preexec=None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The CLI in a child process, on this worktree's code (the settings come from the
    `settings` fixture's environment)."""
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    return subprocess.run(
        [sys.executable, "-m", "ssnr_core", *args],
        env=env,
        cwd=WORKTREE,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=preexec,
    )


# ---------------------------------------------------------------- broken caches


@pytest.mark.parametrize("keep", [0.5, 10 / 4096], ids=["half", "header"])
def test_a_truncated_cache_is_one_clear_error_and_stays_as_it_was(cache_dir, capsys, keep):
    file = cache_dir / "stats.sqlite"
    data = file.read_bytes()
    file.write_bytes(data[: max(10, int(len(data) * keep))])
    before = file.read_bytes()
    for args in (["list"], ["evaluate", "--sample", "3", "--n-boot", "10"]):
        assert cli.main(args) == 2
        err = one_error_line(capsys)
        assert f"cache file {file} is not a SQLite database" in err and "move it away" in err
    assert file.read_bytes() == before
    with pytest.raises(CacheError, match="not a SQLite database"):
        Cache(file).get(SETUP)


def test_an_old_schema_is_detected_and_left_alone(settings, capsys):
    settings.cache_dir.mkdir(parents=True)
    with sqlite3.connect(settings.cache_file) as con:  # before `dtype` and `batch` existed
        con.execute(
            "CREATE TABLE stats (space TEXT, task TEXT, saliency TEXT, seed INTEGER, "
            "version TEXT, arch TEXT, layers BLOB)"
        )
        con.execute("INSERT INTO stats VALUES ('nb201', 'cifar10', 'synflow', 0, '1', 'a', x'')")
    con.close()
    before = settings.cache_file.read_bytes()
    assert cli.main(["list"]) == 2
    err = one_error_line(capsys)
    assert "written by another version" in err and "move it away" in err
    assert settings.cache_file.read_bytes() == before
    assert set(COLUMNS) == {f for f in Setup.__dataclass_fields__} | {"arch", "layers"}


def _drop_file_permission_override() -> None:
    """In the child: root without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH obeys file modes,
    as every other user does (`prctl(PR_CAPBSET_DROP)`, then exec)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_a_read_only_cache_still_serves_what_it_holds(cache_dir, settings):
    file = cache_dir / "stats.sqlite"
    assert not file.with_name("stats.sqlite-shm").exists()  # a cleanly closed WAL cache
    preexec = _drop_file_permission_override if os.geteuid() == 0 else None
    file.chmod(0o444)
    cache_dir.chmod(0o555)
    try:
        listed = run_cli("list", preexec=preexec)
        assert listed.returncode == 0, listed.stderr
        assert "-> 24 archs" in listed.stdout
        cached = run_cli("evaluate", "--sample", "24", "--n-boot", "10", "--json", preexec=preexec)
        assert cached.returncode == 0, cached.stderr
        assert json.loads(cached.stdout)["n"] == 24
        more = run_cli("evaluate", "--sample", "25", "--n-boot", "10", preexec=preexec)
        assert more.returncode == 2
        (line,) = more.stderr.strip().splitlines()[-1:]
        assert "read-only" in line and "SSNR_CACHE_DIR" in line and "Traceback" not in more.stderr
    finally:
        cache_dir.chmod(0o755)
        file.chmod(0o644)
    assert Cache(file).count(SETUP) == 24


def test_a_cache_that_may_not_be_written_is_opened_read_only(cache_dir, monkeypatch):
    """The same in-process (os.access says no): reads work, writes are refused clearly."""
    file = cache_dir / "stats.sqlite"
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: False if mode & os.W_OK else real(p, mode)
    )
    cache = Cache(file)
    assert cache.readonly and cache.count(SETUP) == 24 and cache.setups()[0][1] == 24
    assert cache.put(SETUP, iter([])) == 0  # nothing to store: fine
    with pytest.raises(CacheError, match="read-only"):
        cache.put(SETUP, [("x", np.ones((2, 3)))])
    assert cache.claim(SETUP, ["x", *cache.get(SETUP)]) == ["x"]  # nothing recorded
    empty = cache_dir / "sub" / "stats.sqlite"
    empty.parent.mkdir()
    with pytest.raises(CacheError, match="read-only and holds no cache yet"):
        Cache(empty)


_FILL_DISK = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from ssnr_core.runs.cache import Cache, CacheError
    from ssnr_core.proxies.setup import Setup
    cache = Cache(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
    asked = 0
    def results():
        global asked
        for i in range(10_000):
            asked += 1  # asked for row i: row i - 1 is committed
            yield f"arch{i}", np.full((100, 3), float(i))
    try:
        cache.put(Setup("nb201", "cifar10", "synflow"), results())
    except CacheError as exc:
        print(asked - 1)
        print(exc)
    """
)


def test_a_full_disk_keeps_every_row_committed_before(tmp_path):
    file = tmp_path / "stats.sqlite"
    Cache(file)
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    out = subprocess.run(
        [sys.executable, "-c", _FILL_DISK, str(file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    committed, message = out.stdout.strip().split("\n", 1)
    assert int(committed) > 5
    assert f"cannot write to cache {file}" in message and "disk full" in message
    assert "every result stored before is kept" in message
    stored = Cache(file).get(SETUP)
    assert len(stored) == int(committed)
    assert all(stored[f"arch{i}"][0, 0] == i for i in range(int(committed)))


def test_a_full_disk_during_evaluate_is_one_line(cache_dir, settings):
    limit = (cache_dir / "stats.sqlite").stat().st_size + 64 * 1024

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    before = Cache(cache_dir / "stats.sqlite").count(SETUP)
    out = run_cli("evaluate", "--sample", "200", "--n-boot", "10", preexec=small_disk)
    assert out.returncode == 2, out.stderr[-2000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot write to cache") and "Traceback" not in out.stderr
    assert before < Cache(cache_dir / "stats.sqlite").count(SETUP) < 200  # kept what it did


def test_errors_inside_puts_generator_keep_earlier_rows(empty_cache):
    """A failing computation passes through unchanged; a SQLite error from inside the
    block is a CacheError; either way the rows stored before stay."""

    def results(error: BaseException):
        for i in range(3):
            yield f"r{i}", np.full((2, 3), float(i))
        raise error

    with pytest.raises(ValueError, match="boom"):
        empty_cache.put(SETUP, results(ValueError("boom")))
    with pytest.raises(CacheError, match="cannot write to cache"):
        empty_cache.put(SETUP, results(sqlite3.OperationalError("disk I/O error")))
    assert sorted(empty_cache.get(SETUP)) == ["r0", "r1", "r2"]


# ---------------------------------------------------------------- claims


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_claims_give_each_arch_to_one_live_run(empty_cache):
    cache = empty_cache
    cache.put(SETUP, [("a", np.ones((1, 3)))])
    other = _sleeper()
    try:
        assert cache.claim(SETUP, ["a", "b", "c"], owner=other.pid) == ["b", "c"]
        assert cache.claim(SETUP, ["a", "b", "c", "d"]) == ["d"]  # b, c: a live run has them
        assert cache.claim(SETUP, ["d"]) == ["d"]  # asking again keeps one's own
        assert cache.claimed(SETUP) == {"b": other.pid, "c": other.pid, "d": os.getpid()}
        cache.put(SETUP, [("d", np.ones((1, 3)))])  # storing drops the claim
        assert "d" not in cache.claimed(SETUP)
        assert cache.release(SETUP, ["b"], owner=other.pid) == 1
        assert cache.claim(SETUP, ["b", "c"]) == ["b"]
    finally:
        other.kill()
        other.wait()
    assert cache.claim(SETUP, ["b", "c"]) == ["b", "c"]  # the dead run's claim is taken over
    assert cache.claim(Setup("nb201", "cifar10", "synflow", seed=1), ["b"]) == ["b"]  # per setup
    assert cache.release(SETUP) == 2 and cache.claimed(SETUP) == {}


def test_a_reused_pid_does_not_hold_claims(empty_cache):
    me = os.getpid()
    start = process_start(me)
    assert start is not None and process_alive(me, start) and not process_alive(me, "1")
    with sqlite3.connect(empty_cache.path) as con:  # the claim of an earlier process `me`
        con.execute("INSERT INTO claims VALUES (?, 'x', ?, '1', 0)", (SETUP.to_json(), me))
    con.close()
    other = _sleeper()
    try:
        assert empty_cache.claim(SETUP, ["x"], owner=other.pid) == ["x"]
    finally:
        other.kill()
        other.wait()


_WORKER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from ssnr_core.runs.cache import Cache
    from ssnr_core.proxies.setup import Setup
    cache, setup = Cache(sys.argv[1]), Setup("nb201", "cifar10", "synflow")
    archs = [f"a{i}" for i in range(40)]
    log = open(sys.argv[2], "a")
    def compute(mine):
        for arch in mine:
            time.sleep(0.02)
            log.write(arch + "\\n")
            log.flush()
            yield arch, np.ones((1, 3))
    missing = [a for a in archs if a not in cache.get(setup, archs)]
    while missing:  # the loop scoring.score runs
        mine = cache.claim(setup, missing)
        try:
            cache.put(setup, compute(mine))
        finally:
            cache.release(setup, mine)
        missing = [a for a in missing if a not in cache.get(setup, missing)]
        if missing and not mine:
            time.sleep(0.05)
    """
)


def test_two_runs_on_one_setup_share_the_work(empty_cache, tmp_path):
    log = tmp_path / "computed.txt"
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    runs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, str(empty_cache.path), str(log)], env=env)
        for _ in range(2)
    ]
    assert [r.wait(timeout=120) for r in runs] == [0, 0]
    computed = log.read_text().split()
    assert sorted(computed) == sorted(f"a{i}" for i in range(40))  # each once
    assert empty_cache.count(SETUP) == 40 and empty_cache.claimed(SETUP) == {}


# ---------------------------------------------------------------- architecture text

BAD = [
    "(5)",
    "5.0",
    "[]",
    "()",
    "None",
    "((1, 2), (3,))",
    "(True, 1, 1, 1, 1, 1)",
    "x" * 100_000,
    "9" * 5000,
    "|" * 1000,
    "64-" + "1" * 5000,
    "(1)(2)",
    "{[]: 1}",
    "\x00",
    "(" * 60 + ")" * 60,
    "[" * 500,
    "Genotype(normal=5, reduce=5)",
    "Genotype()",
    "٣",
]
BAD_OBJECTS = [None, 5.0, float("nan"), [], (True, 1, 1, 1, 1, 1), b"\x00\x01\x02\x03\x00\x01"]


@pytest.mark.parametrize("space", ["nb201", "nb301", "tnb101"])
def test_parse_raises_value_error_for_every_bad_input(space):
    parse = get_space(space).parse
    rng = random.Random(0)
    alphabet = "()[]|~+,0123456789 -_.aAeGnoTrue'\""
    fuzz = ["".join(rng.choices(alphabet, k=rng.randint(0, 40))) for _ in range(2000)]
    for arch in [*BAD, *BAD_OBJECTS, object(), {1: 2}]:
        with pytest.raises(ValueError) as info:
            parse(arch)
        assert len(str(info.value)) < 300
    for text in fuzz:
        try:
            parse(text)
        except ValueError as exc:
            assert len(str(exc)) < 300
    for example in get_space(space).examples:
        parse(example)


def test_nb201_accepts_numpy_and_plain_int_indices():
    parse = get_space("nb201").parse
    assert parse(np.int64(5)) == parse(5) == parse("5")
    assert parse(np.array([4, 3, 3, 3, 2, 3])) == parse("(4, 3, 3, 3, 2, 3)")


# ---------------------------------------------------------------- data files


@pytest.mark.parametrize(
    "alter",
    [
        lambda rec: rec.__setitem__("val_accuracy", None),
        lambda rec: rec.pop("val_accuracy"),
        None,  # the record replaced by a list
    ],
    ids=["null", "missing", "not-an-object"],
)
def test_an_altered_naslib_file_is_one_data_error_naming_it(settings, capsys, alter):
    file = pinned.NASLIB_FILES["nb201"]
    data = json.loads(pinned.read_bytes(file))
    key = next(iter(data["cifar10"]))
    if alter is None:
        data["cifar10"][key] = [1, 2, 3]
    else:
        alter(data["cifar10"][key])
    target = settings.data_dir / file.path
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(data))
    with pytest.raises(pinned.DataError, match=str(target)):
        benchmarks.truth("nb201", "cifar10", "naslib", settings.data_dir)
    assert cli.main(["evaluate", "--truth", "naslib", "--sample", "3"]) == 2
    err = one_error_line(capsys)
    assert str(target) in err and "is not the pinned file" in err


# ---------------------------------------------------------------- stale results


def test_the_version_captures_code_and_torch_and_round_trips():
    import torch

    assert CODE_VERSION == "2"
    assert SETUP.version == default_version() == f"2+torch{torch.__version__.split('+')[0]}"
    assert Setup.from_json(SETUP.to_json()) == SETUP
    old = Setup("nb201", "cifar10", "synflow", version="1")
    assert old.version == "1" and Setup.from_json(old.to_json()) == old != SETUP
    legacy = json.dumps({"space": "nb201", "task": "cifar10", "saliency": "synflow"})
    assert Setup.from_json(legacy).version == default_version()


def test_streamlit_shows_no_error_details():
    text = (WORKTREE / ".streamlit" / "config.toml").read_text()
    assert 'showErrorDetails = "none"' in text


def _children(pid: int) -> list[int]:
    """Pids whose parent is `pid` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _workers(pid: int) -> list[int]:
    """The pool's worker processes of run `pid` (not multiprocessing's resource tracker)."""
    found = []
    for child in _children(pid):
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


def test_a_killed_worker_does_not_hang_the_run(settings):
    """kill -9 of one worker (think of the OOM killer): its work goes to a fresh pool and
    the run ends with every architecture scored once."""
    import signal
    import time

    setup = Setup("nb301", "cifar10", "synflow")
    argv = ["score", "--benchmark", "nb301", "--sample", "40", "--workers", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ssnr_core", *argv, "--truth", "naslib"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cache = Cache(settings.cache_file)
    deadline = time.time() + 120
    while time.time() < deadline and cache.count(setup) < 2:
        time.sleep(0.1)
    workers = _workers(proc.pid)
    assert workers, "no worker process found"
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert cache.count(setup) == 40


def test_workers_end_when_their_run_is_killed(settings):
    """kill -9 of the run itself: its worker processes go too, none lingers."""
    import signal
    import time

    setup = Setup("nb301", "cifar10", "synflow")
    argv = ["score", "--benchmark", "nb301", "--sample", "60", "--workers", "2"]
    proc = subprocess.Popen([sys.executable, "-m", "ssnr_core", *argv, "--truth", "naslib"])
    cache = Cache(settings.cache_file)
    deadline = time.time() + 120
    while time.time() < deadline and cache.count(setup) < 2:
        time.sleep(0.1)
    workers = _workers(proc.pid)
    assert workers, "no worker process found"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 20
    while time.time() < deadline and any(process_alive(p) for p in workers):
        time.sleep(0.2)
    assert not any(process_alive(p) for p in workers)
