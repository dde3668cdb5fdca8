"""Background scoring runs for the app: one detached process per setup and sample.

Why a separate process: a Streamlit script is rerun (and its thread abandoned) on
every widget change, so work started inside it would be lost or started twice. A
job is `python -m ssnr_core score ...` started in its own session, its output in a
log file; finished architectures land in the SQLite cache one by one, so the cache
itself is the progress counter and nothing is lost when the job stops.

One JSON lock file per job key (setup + sample, not workers/device) records the pid;
`start` under a file lock returns the running job instead of starting a second one,
and a rerun never kills it. `status` reads the pid and counts the cache.

Files, all under `config.cache_dir()/jobs/`: `<key>.json` (lock), `<key>.log`
(output), `archs-<digest>.txt` (explicit architecture lists, for uploaded truth).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ssnr_core import config
from ssnr_core.cache import Cache, Setup
from ssnr_core.scoring import usable_cores

STARTING_GRACE_S = 30.0  # a lock without pid yet is "starting" this long, then stale
TAIL_LINES = 12


@dataclass(frozen=True)
class Job:
    """What to score: a seeded sample of a benchmark task (as `evaluate` draws it), or an
    explicit list of architectures in `archs_file`. `workers` and `device` only change
    how fast, so they are not part of the key."""

    setup: Setup
    sample: int | None = None  # None: every architecture with ground truth
    truth: str | None = None  # ground-truth source the sample is drawn from
    archs_file: str | None = None  # one architecture per line, instead of a sample
    workers: int = field(default_factory=usable_cores)
    device: str = "cpu"

    @property
    def key(self) -> str:
        s = self.setup
        extra = json.dumps([s.batch, s.dtype, s.version, self.archs_file])
        digest = hashlib.blake2b(extra.encode(), digest_size=4).hexdigest()
        what = "list" if self.archs_file else f"n{self.sample or 'all'}-{self.truth or 'default'}"
        raw = f"{s.space}-{s.task}-{s.saliency}-seed{s.seed}-{what}-{digest}"
        return re.sub(r"[^A-Za-z0-9._-]", "_", raw)

    def command(self) -> list[str]:
        s = self.setup
        common = [
            "--benchmark",
            s.space,
            "--task",
            s.task,
            "--saliency",
            s.saliency,
            "--seed",
            str(s.seed),
            "--batch",
            s.batch,
            "--workers",
            str(self.workers),
            "--device",
            self.device,
        ]
        if self.archs_file:
            return [sys.executable, "-m", "ssnr_core.jobs", self.archs_file, *common]
        cmd = [sys.executable, "-m", "ssnr_core", "score", *common]
        if self.sample is not None:
            cmd += ["--sample", str(self.sample)]
        if self.truth:
            cmd += ["--truth", self.truth]
        return cmd


@dataclass(frozen=True)
class JobStatus:
    running: bool
    done: int  # architectures of the job already in the cache
    total: int
    error: str | None = None  # set when the job stopped before finishing
    log_tail: str = ""
    started: float | None = None  # time.time() of the start

    @property
    def complete(self) -> bool:
        return self.done >= self.total

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def jobs_dir() -> Path:
    path = config.cache_dir() / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def lock_path(job: Job) -> Path:
    return jobs_dir() / f"{job.key}.json"


def log_path(job: Job) -> Path:
    return jobs_dir() / f"{job.key}.log"


def write_archs(archs: Sequence[str]) -> str:
    """Store an explicit architecture list (content-addressed); its path for `Job`."""
    text = "\n".join(archs) + "\n"
    digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
    path = jobs_dir() / f"archs-{digest}.txt"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return str(path)


@contextmanager
def _guard(job: Job) -> Iterator[None]:
    """Serialise start/stop of one job across threads and processes (flock where it exists)."""
    path = jobs_dir() / f"{job.key}.guard"
    with path.open("a") as fh:
        try:
            import fcntl
        except ImportError:  # Windows: no flock; reruns there are serial per session anyway
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_lock(job: Job) -> dict | None:
    try:
        return json.loads(lock_path(job).read_text())
    except (OSError, ValueError):
        return None


def _write_lock(job: Job, info: dict) -> None:
    path = lock_path(job)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, path)  # readers see the old or the new file, never half of one


# Popen objects of jobs this process started: kept so their exit code can be read
# (and so they are reaped, not left as zombies that kill(pid, 0) reports alive).
_CHILDREN: dict[int, subprocess.Popen] = {}


def _alive(pid: int) -> tuple[bool, int | None]:
    """(running, exit code when known: only for a job this process started)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        code = child.poll()
        return code is None, code
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False, None
    except PermissionError:
        return True, None
    proc = Path(f"/proc/{pid}")
    if not proc.is_dir():  # no procfs (macOS): trust kill()
        return True, None
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return False, None
    # A zombie has finished; a recycled pid running something else is not our job.
    return state != "Z" and b"ssnr_core" in cmdline, None


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


def _done(setup: Setup, archs: Sequence[str]) -> int:
    """How many of `archs` are cached. Reading 15,625 rows takes a quarter second, and
    the app asks on every rerun: remember the answer until the setup's row count moves."""
    cache = Cache()
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
    done, total = _done(job.setup, archs), len(archs)
    info = _read_lock(job)
    if info is None:
        return JobStatus(False, done, total)
    started = info.get("started")
    pid = info.get("pid")
    if pid is None:  # between lock and spawn, or a start that died there
        young = started is not None and time.time() - started < STARTING_GRACE_S
        return JobStatus(young, done, total, started=started)
    running, code = _alive(pid)
    if code is not None and info.get("returncode") != code:
        info["returncode"] = code
        _write_lock(job, info)
    if running or done >= total:
        return JobStatus(running, done, total, started=started)
    code = info.get("returncode")
    how = f" (exit code {code})" if code is not None else ""
    error = f"scoring stopped after {done:,} of {total:,} architectures{how}"
    return JobStatus(False, done, total, error, _tail(log_path(job)), started)


def start(job: Job, archs: Sequence[str]) -> JobStatus:
    """Start the job unless it is running or its architectures are all cached; never twice."""
    with _guard(job):
        current = status(job, archs)
        if current.running or current.complete:
            return current
        now = time.time()
        _write_lock(job, {"pid": None, "started": now, "key": job.key})
        with log_path(job).open("wb") as log:
            proc = subprocess.Popen(
                job.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: survives our reruns
                cwd=config.PROJECT_ROOT,
                env=os.environ.copy(),
            )
        _CHILDREN[proc.pid] = proc
        _write_lock(
            job,
            {
                "pid": proc.pid,
                "started": now,
                "key": job.key,
                "command": job.command(),
                "setup": asdict(job.setup),
                "sample": job.sample,
                "truth": job.truth,
                "total": len(archs),
            },
        )
        return JobStatus(True, current.done, len(archs), started=now)


def stop(job: Job, archs: Sequence[str], wait_s: float = 5.0) -> JobStatus:
    """Terminate the job's process group (its workers too); what it finished stays cached."""
    with _guard(job):
        info = _read_lock(job)
        pid = info.get("pid") if info else None
        if pid and _alive(pid)[0]:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.time() + wait_s
            while time.time() < deadline and _alive(pid)[0]:
                time.sleep(0.05)
        if info is not None:
            lock_path(job).unlink(missing_ok=True)
    return status(job, archs)


def active() -> list[dict]:
    """Lock records of every job running now (for an overview of background work)."""
    out = []
    for path in sorted(jobs_dir().glob("*.json")):
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if info.get("pid") and _alive(info["pid"])[0]:
            out.append(info)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m ssnr_core.jobs ARCHS_FILE --benchmark ...`: score an explicit list."""
    from ssnr_core import scoring

    p = argparse.ArgumentParser(prog="python -m ssnr_core.jobs", description=main.__doc__)
    p.add_argument("archs_file", help="one architecture per line")
    p.add_argument("--benchmark", required=True)
    p.add_argument("--task", required=True)
    p.add_argument("--saliency", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", default="synthetic")
    p.add_argument("--workers", type=int, default=usable_cores())
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # as the CLI: small networks, no gain from intra-op threads
    try:
        archs = [a.strip() for a in Path(args.archs_file).read_text().splitlines() if a.strip()]
        setup = Setup(args.benchmark, args.task, args.saliency, args.seed, args.batch)

        def progress(done: int, total: int) -> None:
            print(f"{done}/{total}", file=sys.stderr, flush=True)

        scoring.score(setup, archs, Cache(), args.workers, args.device, progress)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
