"""Background scoring runs for the app: one detached process per setup and sample.

Why a separate process: a Streamlit script is rerun (and its thread abandoned) on
every widget change, so work started inside it would be lost or started twice. A
job is `python -m ssnr_core score ...` started in its own session, its output in a
log file; finished architectures land in the SQLite cache one by one, so the cache
itself is the progress counter and nothing is lost when the job stops.

The child is the one CLI (`python -m ssnr_core score --setup JSON ...`), given the
whole setup, with the job's settings as its environment. One JSON lock file per job
key (setup + sample, not workers/device) records the pid; `start` under a file lock
returns the running job instead of starting a second one, and a rerun never kills
it. `status` reads the pid and counts the cache.

Why jobs are admitted, not spawned: each job starts a worker per core, so every app
session starting its own (a class opening slightly different links) would take the
machine down. `start` starts a job only while fewer than `Settings.max_jobs` run;
otherwise its lock records it as queued (with all it needs to start: command and
folders), and `admit` starts the queued ones in order as slots free. There is no
daemon: `admit` runs whenever the app looks at its jobs (`status` of a queued job,
`active`, `stop`), under one file lock per jobs folder taken before any job's own.

Files, all under `Settings.jobs_dir`: `<key>.json` (lock), `<key>.log`
(output; the previous run's is kept as `<key>.log.1`), `archs-<digest>.txt`
(explicit architecture lists, for uploaded truth; `cleanup` removes those no lock
names once a day old).

Why the lock holds the pid's start time too: pids are reused, and a dead job whose
pid now belongs to another process must not look alive (or be killed by `stop`).
Why a damaged lock is not "no job": the job may well be running, and starting a
second one would compute everything twice; `status` looks for the job's process
instead and reports "unknown" where it cannot look, and `start` then starts nothing.
Why every temporary file has its own name: the app calls `status` from several
threads at once, and two writers sharing one temporary name lose each other's file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ssnr_core.proxies.setup import Setup
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.processes import process_alive, process_cmdline, process_start
from ssnr_core.runs.settings import PROJECT_ROOT, Settings, max_workers

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

STARTING_GRACE_S = 30.0  # a lock without pid yet is "starting" this long, then stale
TAIL_LINES = 12
ARCHS_MAX_AGE_S = 86_400.0  # `cleanup` removes unreferenced archs files older than this


@dataclass(frozen=True)
class Job:
    """What to score: a seeded sample of a benchmark task (as `evaluate` draws it), or an
    explicit list of architectures in `archs_file`. `settings` say where the cache and
    the job files are; they, `workers` and `device` only change where or how fast, so
    they are not part of the key."""

    setup: Setup
    settings: Settings = field(compare=False)
    sample: int | None = None  # None: every architecture with ground truth
    truth: str | None = None  # ground-truth source the sample is drawn from
    archs_file: str | None = None  # one architecture per line, instead of a sample
    workers: int | None = field(default=None, compare=False)  # None: the settings'
    device: str = field(default="cpu", compare=False)

    @property
    def key(self) -> str:
        s = self.setup
        extra = json.dumps([s.batch, s.dtype, s.version, self.archs_file])
        digest = hashlib.blake2b(extra.encode(), digest_size=4).hexdigest()
        what = "list" if self.archs_file else f"n{self.sample or 'all'}-{self.truth or 'default'}"
        raw = f"{s.space}-{s.task}-{s.saliency}-seed{s.seed}-{what}-{digest}"
        return re.sub(r"[^A-Za-z0-9._-]", "_", raw)

    def command(self) -> list[str]:
        """`python -m ssnr_core score` with every field of the setup."""
        workers = min(self.workers or self.settings.workers, max_workers())  # the flag's bound
        cmd = [sys.executable, "-m", "ssnr_core", "score", "--setup", self.setup.to_json()]
        cmd += ["--workers", str(workers), "--device", self.device]
        if self.archs_file:
            return [*cmd, "--archs", self.archs_file]
        if self.sample is not None:
            cmd += ["--sample", str(self.sample)]
        if self.truth:
            cmd += ["--truth", self.truth]
        return cmd

    def environment(self) -> dict[str, str]:
        """The child's environment: ours, with this job's settings."""
        env = os.environ.copy()
        # Absolute: the child runs in another working directory (the project's).
        env["SSNR_CACHE_DIR"] = os.path.abspath(self.settings.cache_dir)
        env["SSNR_DATA_DIR"] = os.path.abspath(self.settings.data_dir)
        return env


@dataclass(frozen=True)
class JobStatus:
    running: bool
    done: int  # architectures of the job already in the cache
    total: int
    error: str | None = None  # set when the job stopped before finishing
    log_tail: str = ""
    started: float | None = None  # time.time() of the start
    unknown: bool = False  # the lock is damaged and no process table to look in: see error
    queued: bool = False  # admitted later: other jobs hold every slot (`Settings.max_jobs`)
    position: int = 0  # 1 = next to start, while queued

    @property
    def complete(self) -> bool:
        return self.done >= self.total

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def jobs_dir(settings: Settings) -> Path:
    path = settings.jobs_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


def lock_path(job: Job) -> Path:
    return jobs_dir(job.settings) / f"{job.key}.json"


def log_path(job: Job) -> Path:
    return jobs_dir(job.settings) / f"{job.key}.log"


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file of our own (pid, thread and a random part in its name),
    then rename: readers see the old or the new file, never half of one, and concurrent
    writers in one process do not rename each other's temporary file away."""
    fd, tmp = tempfile.mkstemp(
        dir=path.parent,
        prefix=f".{path.name}.{os.getpid()}.{threading.get_ident()}.",
        suffix=".tmp",
    )
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def write_archs(archs: Sequence[str], settings: Settings) -> str:
    """Store an explicit architecture list (content-addressed); its path for `Job`."""
    text = "\n".join(archs) + "\n"
    digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
    path = jobs_dir(settings) / f"archs-{digest}.txt"
    try:
        os.utime(path)  # in use again: `cleanup` keeps it another day
    except FileNotFoundError:
        _write_atomic(path, text)
    return str(path)


def cleanup(settings: Settings, keep: Sequence[str] = (), now: float | None = None) -> list[Path]:
    """Remove `archs-*.txt` files that no lock names (and not in `keep`) and stray
    temporary files, once older than a day; returns what was removed. Logs are not
    touched here: each job keeps its last two (`start` rotates them)."""
    folder = jobs_dir(settings)
    now = time.time() if now is None else now
    used = {str(Path(p)) for p in keep}
    for lock in folder.glob("*.json"):
        try:
            info = json.loads(lock.read_text())
        except (OSError, ValueError):
            info = None
        if not isinstance(info, dict):  # a damaged lock may name any of them: keep all
            return []
        command = info.get("command")
        named = [info.get("archs_file"), *(command if isinstance(command, list) else [])]
        used.update(str(c) for c in named if c)
    removed = []
    for path in [*folder.glob("archs-*.txt"), *folder.glob(".*.tmp")]:
        try:
            old = now - path.stat().st_mtime > ARCHS_MAX_AGE_S
            if old and str(path) not in used:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue
    return removed


@contextmanager
def _guard(job: Job) -> Iterator[None]:
    """Serialise start/stop of one job across threads and processes (flock where it exists)."""
    with _key_guard(job.settings, job.key):
        yield


@contextmanager
def _key_guard(settings: Settings, key: str) -> Iterator[None]:
    with _flock(jobs_dir(settings) / f"{key}.guard"):
        yield


_HELD = threading.local()  # the guard files this thread holds (the guards are reentrant)


@contextmanager
def _flock(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` across threads and processes (flock where it exists),
    reentrant within a thread: two opens of one file exclude each other even in one
    process, so a thread that holds it must not open it again."""
    held: set[str] = _HELD.__dict__.setdefault("paths", set())
    if str(path) in held:
        yield
        return
    with path.open("a") as fh:
        if fcntl is None:  # Windows: no flock; one server process, its threads serialised
            with _THREADS:
                held.add(str(path))
                try:
                    yield
                finally:
                    held.discard(str(path))
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        held.add(str(path))
        try:
            yield
        finally:
            held.discard(str(path))
            fcntl.flock(fh, fcntl.LOCK_UN)


_THREADS = threading.RLock()


class LockDamaged(Exception):
    """A lock file exists but cannot be read as one."""


def _read_lock(job: Job) -> dict | None:
    """The lock record; None when there is no lock; LockDamaged when there is one that
    cannot be read (which is not "no job")."""
    path = lock_path(job)
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise LockDamaged(f"{path}: {exc}") from None
    if not isinstance(info, dict) or not isinstance(info.get("pid", 0), (int, type(None))):
        raise LockDamaged(f"{path}: not a lock record")
    return info


def _write_lock(job: Job, info: dict) -> None:
    _write_atomic(lock_path(job), json.dumps(info))


def _identity(command: Sequence[str]) -> tuple[str, ...] | None:
    """What names a job in its command line: everything from `score` on, less the
    speed flags (`--workers`, `--device`), which do not change the work."""
    args = list(command)
    if "ssnr_core" not in args or "score" not in args:
        return None
    args = args[args.index("score") :]
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--workers", "--device", "--threads"):
            skip = True
        else:
            out.append(arg)
    return tuple(out)


def _find_process(job: Job) -> int | None:
    """The pid of a process running this job's command on this job's cache (a procfs
    scan), or None; raises LookupError where there is no procfs to scan."""
    proc = Path("/proc")
    if not (proc / "self" / "cmdline").exists():
        raise LookupError("no /proc")
    want = _identity(job.command())
    cache_env = f"SSNR_CACHE_DIR={job.environment()['SSNR_CACHE_DIR']}".encode()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if _identity([a.decode("utf-8", "replace") for a in argv if a]) != want:
                continue
            with suppress(OSError):  # another user's process: its environment is private
                if cache_env not in (entry / "environ").read_bytes().split(b"\0"):
                    continue
        except OSError:
            continue
        if _alive(int(entry.name))[0]:
            return int(entry.name)
    return None


# Popen objects of jobs this process started: kept so their exit code can be read
# (and so they are reaped, not left as zombies that kill(pid, 0) reports alive).
_CHILDREN: dict[int, subprocess.Popen] = {}


def _alive(pid: int, start: str | None = None) -> tuple[bool, int | None]:
    """(running, exit code when known: only for a job this process started). `start`,
    the process start time the lock recorded, tells a reused pid from the job's."""
    child = _CHILDREN.get(pid)
    if child is not None:
        code = child.poll()
        return code is None, code
    if not process_alive(pid, start):  # ended, a zombie, or the pid names another process
        return False, None
    cmdline = process_cmdline(pid)  # a recycled pid running something else is not our job
    return cmdline is None or b"ssnr_core" in cmdline, None


def _tail(path: Path, lines: int = TAIL_LINES) -> str:
    """Last lines of a log; tqdm redraws with carriage returns, so split on those too."""
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - 16_384))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    parts = [p.rstrip() for p in re.split(r"[\r\n]+", text) if p.strip()]
    return "\n".join(parts[-lines:])


_DONE_MEMO: dict[tuple, int] = {}


def _done(setup: Setup, archs: Sequence[str], settings: Settings) -> int:
    """How many of `archs` are cached. Reading 15,625 rows takes a quarter second, and
    the app asks on every rerun: remember the answer until the setup's row count moves."""
    cache = Cache(settings.cache_file)
    count = cache.count(setup)
    if count == 0:
        return 0
    key = (str(cache.path), setup, hash(tuple(archs)), len(archs), count)
    if key not in _DONE_MEMO:
        if len(_DONE_MEMO) > 64:
            _DONE_MEMO.clear()
        _DONE_MEMO[key] = len(cache.get(setup, archs))
    return _DONE_MEMO[key]


def status(job: Job, archs: Sequence[str]) -> JobStatus:
    """Where the job for these architectures stands: from its pid and from the cache."""
    done, total = _done(job.setup, archs, job.settings), len(archs)
    try:
        info = _read_lock(job)
    except LockDamaged as exc:
        return _damaged_status(job, done, total, str(exc))
    if info is None:
        return JobStatus(False, done, total)
    if info.get("queued"):
        if done >= total:  # other jobs scored all of it meanwhile: nothing to wait for
            _drop_queued(job)
            return JobStatus(False, done, total)
        admit(job.settings)  # a slot may have come free since anyone last looked
        info = _read_lock_quietly(job)
        if info is not None and info.get("queued"):
            position = _position(job.settings, job.key)
            return JobStatus(False, done, total, queued=True, position=position)
        return status(job, archs)
    started = info.get("started")
    pid = info.get("pid")
    if pid is None:  # between lock and spawn, or a start that died there
        age = time.time() - started if isinstance(started, (int, float)) else -1.0
        young = -2.0 <= age < STARTING_GRACE_S  # far "in the future": a damaged record
        return JobStatus(young, done, total, started=started)
    running, code = _alive(pid, info.get("pid_start"))
    if code is not None and info.get("returncode") != code:
        info["returncode"] = code
        _write_lock(job, info)
    if running or done >= total:
        return JobStatus(running, done, total, started=started)
    code = info.get("returncode")
    how = f" (exit code {code})" if code is not None else ""
    error = f"scoring stopped after {done:,} of {total:,} architectures{how}"
    return JobStatus(False, done, total, error, _tail(log_path(job)), started)


def _damaged_status(job: Job, done: int, total: int, why: str) -> JobStatus:
    """A damaged lock: look for the job's process instead of assuming there is none."""
    try:
        pid = _find_process(job)
    except LookupError:
        return JobStatus(
            False,
            done,
            total,
            f"the job's lock file is damaged ({why}) and this system cannot list processes: "
            "a job may be running; check for a `ssnr_core score` process (and the cache's "
            "claims), then delete the lock file to start again",
            unknown=True,
        )
    if pid is not None:  # running: repair the lock so that `stop` can reach it
        _write_lock(
            job, {"pid": pid, "pid_start": process_start(pid), "key": job.key, "repaired": why}
        )
        return JobStatus(True, done, total)
    return JobStatus(
        False, done, total, f"the job's lock file was damaged ({why}); no job of it is running"
    )


def start(job: Job, archs: Sequence[str]) -> JobStatus:
    """Ask for the job: nothing when it runs, is queued or has all its architectures
    cached; else it starts now if fewer than `settings.max_jobs` jobs run, or joins the
    queue (started in order as slots come free). Never twice: one lock per key."""
    with _admission(job.settings), _guard(job):
        current = status(job, archs)
        if current.running or current.queued or current.complete or current.unknown:
            return current
        with suppress(OSError):
            cleanup(job.settings, keep=[job.archs_file] if job.archs_file else [])
        record = _record(job, len(archs))
        if _slots_used(job.settings) >= job.settings.max_jobs:
            _write_lock(job, {**record, "queued": True, "queued_at": time.time()})
            position = _position(job.settings, job.key)
            return JobStatus(False, current.done, len(archs), queued=True, position=position)
        now = _spawn(job.settings, record)
        return JobStatus(True, current.done, len(archs), started=now)


def _record(job: Job, total: int) -> dict:
    """What the lock names: enough for any process of the app to start the job later."""
    return {
        "key": job.key,
        "command": job.command(),
        "env": {k: job.environment()[k] for k in ("SSNR_CACHE_DIR", "SSNR_DATA_DIR")},
        "setup": asdict(job.setup),
        "sample": job.sample,
        "truth": job.truth,
        "archs_file": job.archs_file,
        "total": total,
    }


def _spawn(settings: Settings, record: dict) -> float:
    """Start the job a lock record names (its log rotated), under its key's guard; the
    start time."""
    key = record["key"]
    lock = jobs_dir(settings) / f"{key}.json"
    now = time.time()
    _write_atomic(lock, json.dumps({"pid": None, "started": now, "key": key}))
    log_file = jobs_dir(settings) / f"{key}.log"
    with suppress(FileNotFoundError):
        os.replace(log_file, log_file.with_name(log_file.name + ".1"))  # keep the last run's
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            record["command"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: survives our reruns
            cwd=PROJECT_ROOT,
            env={**os.environ, **record["env"]},
        )
    _CHILDREN[proc.pid] = proc
    info = {k: v for k, v in record.items() if k not in ("queued", "queued_at")}
    info.update(pid=proc.pid, pid_start=process_start(proc.pid), started=now)
    _write_atomic(lock, json.dumps(info))
    return now


# ---------------------------------------------------------------- admission


@contextmanager
def _admission(settings: Settings) -> Iterator[None]:
    """One admission decision at a time per jobs folder (threads and processes alike).
    Always taken before a key's `_guard`, never after, so the two cannot deadlock."""
    with _flock(jobs_dir(settings) / "admission.guard"):
        yield


def _records(settings: Settings) -> list[tuple[Path, dict]]:
    out = []
    for path in sorted(jobs_dir(settings).glob("*.json")):
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(info, dict):
            out.append((path, info))
    return out


def _holds_slot(info: dict) -> bool:
    """Whether a lock record is a job that runs (or is being started) now."""
    if info.get("queued"):
        return False
    pid, started = info.get("pid"), info.get("started")
    if pid is None:
        age = time.time() - started if isinstance(started, (int, float)) else -1.0
        return -2.0 <= age < STARTING_GRACE_S
    return isinstance(pid, int) and _alive(pid, info.get("pid_start"))[0]


def _slots_used(settings: Settings) -> int:
    return sum(_holds_slot(info) for _, info in _records(settings))


def queue(settings: Settings) -> list[dict]:
    """Lock records of the queued jobs, first to start first."""
    waiting = [info for _, info in _records(settings) if info.get("queued")]
    return sorted(waiting, key=lambda i: (float(i.get("queued_at") or 0), str(i.get("key"))))


def _position(settings: Settings, key: str) -> int:
    keys = [info.get("key") for info in queue(settings)]
    return keys.index(key) + 1 if key in keys else 0


def _read_lock_quietly(job: Job) -> dict | None:
    try:
        return _read_lock(job)
    except LockDamaged:
        return None


def _drop_queued(job: Job) -> None:
    with _admission(job.settings), _guard(job):
        info = _read_lock_quietly(job)
        if info is not None and info.get("queued"):
            lock_path(job).unlink(missing_ok=True)


def clear_queue(settings: Settings) -> int:
    """Take every queued job off the queue (a server shutting down); how many."""
    removed = 0
    with _admission(settings):
        for path, info in _records(settings):
            if info.get("queued"):
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def admit(settings: Settings) -> list[str]:
    """Start queued jobs, in order, while fewer than `settings.max_jobs` run; the keys
    started. Called whenever the app looks at its jobs (their status, the running-jobs
    box), so the queue moves on as long as someone has the app open."""
    started: list[str] = []
    with _admission(settings):
        free = settings.max_jobs - _slots_used(settings)
        for info in queue(settings)[: max(free, 0)]:
            if not isinstance(info.get("command"), list) or not isinstance(info.get("env"), dict):
                continue  # not a record this version wrote: left for its Stop button
            key = str(info.get("key"))
            with _key_guard(settings, key):
                current = _read_lock_path(jobs_dir(settings) / f"{key}.json")
                if current is None or not current.get("queued"):
                    continue  # stopped or started meanwhile
                _spawn(settings, current)
            started.append(key)
    return started


def _read_lock_path(path: Path) -> dict | None:
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def stop(job: Job, archs: Sequence[str], wait_s: float = 5.0) -> JobStatus:
    """Terminate the job's process group (its workers too), or take it off the queue;
    what it finished stays cached, and the next queued job may start."""
    with _admission(job.settings), _guard(job):
        try:
            info = _read_lock(job)
        except LockDamaged:
            pid = None
            with suppress(LookupError):
                pid = _find_process(job)
            info = {"pid": pid, "pid_start": process_start(pid) if pid else None}
        pid = info.get("pid") if info else None
        start = info.get("pid_start") if info else None
        if pid and _alive(pid, start)[0]:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.time() + wait_s
            while time.time() < deadline and _alive(pid, start)[0]:
                time.sleep(0.05)
        if info is not None:
            lock_path(job).unlink(missing_ok=True)
        admit(job.settings)
    return status(job, archs)


def active(settings: Settings) -> list[dict]:
    """Lock records of every job running now (for an overview of background work); the
    queue moves on first (see `admit`)."""
    admit(settings)
    out = []
    for path in sorted(jobs_dir(settings).glob("*.json")):
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(info, dict) or not isinstance(info.get("pid"), int):
            continue
        if _alive(info["pid"], info.get("pid_start"))[0]:
            out.append(info)
    return out
