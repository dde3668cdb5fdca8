"""Which process is which: a pid with its start time names one process, so a reused pid
is never mistaken for a run or job that has ended (Linux procfs; elsewhere `kill(pid, 0)`
is trusted). Cache claims and app jobs both ask here."""

from __future__ import annotations

import os
from pathlib import Path


def process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, /proc/<pid>/stat field 22):
    with the pid it names one process, so a reused pid is not mistaken for it. None
    where there is no procfs or no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]  # the fields after "(comm)" start at 3
    except (OSError, IndexError):
        return None


def process_alive(pid: int, start: str | None = None) -> bool:
    """Whether `pid` runs (not a zombie) and, when `start` is given and procfs can tell,
    is still the process that started then."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    except PermissionError:
        pass  # another user's process: it exists
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return not Path("/proc/self/stat").exists()  # no procfs: trust kill()
    if stat[0] == "Z":
        return False
    return start is None or stat[19] == start


def process_stopped(pid: int) -> bool:
    """Whether `pid` is stopped (Ctrl-Z, SIGSTOP, a debugger): alive, but computing
    nothing until it is resumed. False where procfs cannot tell."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in ("T", "t")


def process_cmdline(pid: int) -> bytes | None:
    """The command line of `pid` (NUL-separated), None where procfs cannot tell."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
