"""Score architectures as Ray tasks, on a cluster or a local Ray instance.

Why chunks: one architecture costs tens of milliseconds (NB201 synflow), close to a
task's round trip, so architectures travel in chunks (`RayBackend.chunk` per task).
Only the driver writes the cache: `scoring.score` stores what `RayBackend.compute`
(a `backend.Backend`) yields, keyed and committed exactly as with the local pool, so a
rerun computes
nothing already stored. Workers need no shared filesystem: the setup, the chunk and
the data batch (resolved once in the driver, `ray.put` once) travel with each task.

Faults: a task whose worker or node dies is retried by Ray (`max_retries`), costing
only its chunk; so is a task that raises. A chunk that still fails is reported, with
its architectures, in one `ChunksFailed` after every other chunk has been yielded
(hence cached).

Ray is imported only here and only when a run uses it: the app and the local pool
do not need it installed.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssnr_core.proxies import network
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs.threads import set_threads

Batch = tuple[torch.Tensor, torch.Tensor]
CONNECT_S = 10.0  # how long a cluster's address may take to accept a connection


class ChunksFailed(RuntimeError):
    """Chunks that failed on every attempt; everything else of the run is cached."""

    def __init__(self, failed: Sequence[tuple[list[str], BaseException]], done: int) -> None:
        self.archs = [a for chunk, _ in failed for a in chunk]
        lines = str(failed[0][1]).strip().splitlines() or [type(failed[0][1]).__name__]
        super().__init__(
            f"{len(failed)} chunk(s) failed on every attempt; the {done:,} other architectures "
            f"of this run are cached; rerun to retry these {len(self.archs)}: "
            f"{' '.join(self.archs)} (first error: {lines[-1]})"
        )


@dataclass(frozen=True)
class RayBackend:
    """Where and how to run: `address` of a running cluster (None: start a local Ray
    instance with `local_cpus` CPUs for this run); `chunk` architectures per task;
    `gpus_per_task` of a GPU per task when the device is CUDA, so that several small
    networks share one device; `max_retries` per task, after a crash or an error."""

    address: str | None = None
    chunk: int = 32
    gpus_per_task: float = 0.25
    max_retries: int = 3
    local_cpus: int | None = None

    def __post_init__(self) -> None:
        if self.chunk < 1:
            raise ValueError(f"chunk must be at least 1 architecture, got {self.chunk}")
        if not 0 < self.gpus_per_task <= 1:
            raise ValueError(f"gpus per task must be in (0, 1], got {self.gpus_per_task}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be at least 0, got {self.max_retries}")

    def task_options(self, device: str) -> dict[str, Any]:
        """What each task asks Ray for: one CPU, and a GPU fraction only for CUDA."""
        gpus = self.gpus_per_task if device.startswith("cuda") else 0
        return {
            "num_cpus": 1,
            "num_gpus": gpus,
            "max_retries": self.max_retries,
            "retry_exceptions": True,
        }

    def compute(
        self,
        setup: Setup,
        archs: Sequence[str],
        *,
        device: str,
        data_dir: Path | None,
    ) -> Iterator[tuple[str, np.ndarray]]:
        """Yield (arch, stats) chunk by chunk as tasks finish; ChunksFailed at the end
        when some chunk failed on every attempt."""
        if not archs:
            return
        import ray

        self._connect()
        options = self.task_options(device)
        if options["num_gpus"] and not ray.cluster_resources().get("GPU"):
            raise ValueError("--device cuda asked for, but the Ray cluster has no GPU")
        task = ray.remote(_score_chunk).options(**options)
        batch = ray.put(network.inputs(setup, "cpu", data_dir))  # checked here, not per task
        chunks = network.chunks(setup, archs, self.chunk)
        on = "cuda" if options["num_gpus"] else device  # Ray assigns the GPU: CUDA_VISIBLE_DEVICES
        pending = {task.remote(setup, c, on, batch): c for c in chunks}
        failed: list[tuple[list[str], BaseException]] = []
        done = 0
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                chunk = pending.pop(ready[0])
                try:
                    results = ray.get(ready[0])
                except ray.exceptions.RayError as exc:
                    failed.append((chunk, exc))
                    continue
                done += len(results)
                yield from results
        finally:
            for ref in pending:  # interrupted: free the cluster
                ray.cancel(ref)
        if failed:
            raise ChunksFailed(failed, done)

    @contextmanager
    def connected(self) -> Iterator[None]:
        """Shut Ray down at the end of the block if a run inside connected it: one
        connection for several runs (reproduce's columns), none when all is cached."""
        import ray

        started = not ray.is_initialized()
        try:
            yield
        finally:
            if started and ray.is_initialized():
                ray.shutdown()

    def _connect(self) -> None:
        """Reuse the Ray connection this process has, else connect to `address` or start
        a local instance (kept until `connected` ends, or the process does)."""
        import ray

        if not ray.is_initialized():
            if self.address:
                reachable(self.address)
            ray.init(
                address=self.address or "local",  # "local": never a cluster found on its own
                num_cpus=None if self.address else self.local_cpus,
                include_dashboard=False,
                logging_level=logging.WARNING,
            )


def reachable(address: str, timeout_s: float = CONNECT_S) -> None:
    """ValueError, within `timeout_s`, when nothing listens at a cluster's `host:port`
    (`ray.init` itself retries a dead address for minutes, saying only that it retries).
    "auto" (Ray finds a cluster it started on this machine) is left to Ray."""
    if address == "auto":
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"Ray address {address!r}: expected host:port, e.g. head-node:6379")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ValueError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}; waited at most "
            f"{timeout_s:.0f} s): start one there with `ray start --head --port={port}`, or "
            "fix --ray-address / RAY_ADDRESS"
        ) from None


def _score_chunk(
    setup: Setup, archs: list[str], device: str, batch: Batch
) -> list[tuple[str, np.ndarray]]:
    """One task: the statistics of a chunk, computed as the local pool's workers do (one
    torch thread, shared modules) but on the batch that travelled with the task."""
    set_threads(1)
    return list(zip(archs, network.many_stats(setup, archs, device=device, batch=batch)))
