"""The Ray backend on a local Ray instance (2 CPUs, started once for the session).

Faults are injected by replacing `ray_backend._score_chunk`, the function each task
runs, with a closure: cloudpickle sends closures by value, so the workers run it
without importing this file.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import ray
from conftest import LOCAL, SAMPLE, SETUP

from ssnr_core.cli import main
from ssnr_core.proxies import batches
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs import ray_backend, scoring
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.ray_backend import RayBackend
from ssnr_core.runs.settings import Settings
from ssnr_core.runs.threads import one_thread
from ssnr_core.studies import evaluation


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    """One local Ray instance for every test here; runs reuse it (`ray.is_initialized`)."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="warning")
    yield
    ray.shutdown()


@pytest.fixture
def archs() -> list[str]:
    return evaluation.sample(SETUP.space, SETUP.task, SAMPLE, SETUP.seed)


def assert_same_bits(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert got.keys() == want.keys()
    for arch, stats in want.items():
        assert got[arch].shape == stats.shape and got[arch].tobytes() == stats.tobytes(), arch


def test_task_options_ask_for_a_gpu_fraction_only_on_cuda() -> None:
    options = RayBackend().task_options("cpu")
    assert options == {"num_cpus": 1, "num_gpus": 0, "max_retries": 3, "retry_exceptions": True}
    assert RayBackend().task_options("cuda")["num_gpus"] == 0.25
    assert RayBackend(gpus_per_task=0.5, max_retries=1).task_options("cuda:0") == {
        "num_cpus": 1,
        "num_gpus": 0.5,
        "max_retries": 1,
        "retry_exceptions": True,
    }
    for bad in ({"chunk": 0}, {"gpus_per_task": 0}, {"gpus_per_task": 1.5}, {"max_retries": -1}):
        with pytest.raises(ValueError):
            RayBackend(**bad)


def test_cuda_on_a_cluster_without_gpu_is_one_line(
    ray_local: None, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """The driver needs no GPU with --backend ray; the cluster does, checked up front
    (a task asking for a GPU no node has would wait forever)."""
    argv = ["score", "--sample", "2", "--device", "cuda", "--backend", "ray"]
    assert main(argv, settings) == 2
    assert "the Ray cluster has no GPU" in capsys.readouterr().err


def test_same_bits_as_the_local_pool_and_a_rerun_computes_nothing(
    ray_local: None,
    scored_cache: Path,
    empty_cache: Cache,
    archs: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[int, int]] = []
    got = scoring.score(
        SETUP,
        archs,
        empty_cache,
        settings=replace(LOCAL, ray=RayBackend(chunk=5)),
        progress=lambda d, t: calls.append((d, t)),
    )
    assert_same_bits(got, Cache(scored_cache / "stats.sqlite").get(SETUP))
    assert calls == [(d, SAMPLE) for d in range(SAMPLE + 1)]  # each arch once, as it arrives

    def no_task(*args: object) -> None:
        raise AssertionError("a task ran for a cached architecture")

    monkeypatch.setattr(ray_backend, "_score_chunk", no_task)
    assert_same_bits(
        scoring.score(SETUP, archs, empty_cache, settings=replace(LOCAL, ray=RayBackend())), got
    )


def test_a_killed_worker_costs_only_its_chunk(
    ray_local: None,
    scored_cache: Path,
    empty_cache: Cache,
    archs: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker of one chunk dies mid-chunk on its first attempt; Ray retries that
    chunk and every architecture is scored and stored exactly once."""
    died, victim, work = tmp_path / "died", archs[7], ray_backend._score_chunk

    def die_once(setup: Setup, chunk: list[str], device: str, batch: tuple) -> list:
        import os

        if victim in chunk and not died.exists():
            work(setup, chunk[:1], device, batch)  # some work, then the process is gone
            died.touch()
            os._exit(1)
        return work(setup, chunk, device, batch)

    monkeypatch.setattr(ray_backend, "_score_chunk", die_once)
    calls: list[int] = []
    backend = RayBackend(chunk=6, max_retries=1)
    got = scoring.score(
        SETUP,
        archs,
        empty_cache,
        settings=replace(LOCAL, ray=backend),
        progress=lambda d, t: calls.append(d),
    )
    assert died.exists()
    assert calls == list(range(SAMPLE + 1))  # no architecture delivered twice
    assert empty_cache.count(SETUP) == SAMPLE
    assert_same_bits(got, Cache(scored_cache / "stats.sqlite").get(SETUP))


def test_a_chunk_failing_every_time_is_reported_and_the_rest_cached(
    ray_local: None,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """NB301 synflow: scored one network at a time, so `--chunk` sets the tasks."""
    setup = Setup("nb301", "cifar10", "synflow")
    archs = evaluation.sample("nb301", "cifar10", 9, 0, "naslib")
    attempts, victim, work = tmp_path / "attempts", archs[4], ray_backend._score_chunk
    attempts.mkdir()

    def always_fails(setup: Setup, chunk: list[str], device: str, batch: tuple) -> list:
        import uuid

        if victim in chunk:
            (attempts / uuid.uuid4().hex).touch()
            raise RuntimeError("injected failure")
        return work(setup, chunk, device, batch)

    monkeypatch.setattr(ray_backend, "_score_chunk", always_fails)
    argv = ["score", "--benchmark", "nb301", "--sample", "9", "--truth", "naslib"]
    assert main([*argv, "--backend", "ray", "--chunk", "3"], settings) == 1
    err = capsys.readouterr().err
    lost = archs[3:6]  # the victim's chunk
    assert len(list(attempts.iterdir())) == 1 + RayBackend().max_retries
    assert err.count("\nerror: 1 chunk(s) failed") == 1 and "injected failure" in err
    assert all(arch in err for arch in lost)
    kept = [a for a in archs if a not in lost]
    local = scoring.score(setup, kept, Cache(tmp_path / "local.sqlite"), settings=LOCAL)
    assert_same_bits(Cache(settings.cache_file).get(setup), local)


def test_the_data_batch_travels_with_the_task(
    ray_local: None, empty_cache: Cache, archs: list[str], tmp_path: Path
) -> None:
    """snip on a folder of images: the driver makes the batch, the workers never see the
    folder (it is gone before the Ray run; the driver's batch is already memoised)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / label / f"{i}.png")
    setup = Setup(
        "nb201", "cifar10", "snip", 0, batches.resolve(f"images:{folder}", True, tmp_path)
    )
    few = archs[:3]
    local = scoring.score(setup, few, Cache(tmp_path / "local.sqlite"), settings=LOCAL)
    shutil.rmtree(folder)
    assert_same_bits(
        scoring.score(setup, few, empty_cache, settings=replace(LOCAL, ray=RayBackend(chunk=2))),
        local,
    )


def test_cli_ray_cache_evaluates_exactly_as_the_local_pool(
    ray_local: None, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`score --backend ray`, then `evaluate` on that cache, against `evaluate` scoring a
    fresh cache with the local pool (2 worker processes)."""
    what = ["--benchmark", "nb201", "--task", "cifar10", "--saliency", "synflow"]
    what += ["--sample", "40", "--seed", "4"]
    assert main(["score", *what, "--backend", "ray", "--chunk", "8"], settings) == 0
    capsys.readouterr()
    figures = []
    pool = Settings(data_dir=settings.data_dir, cache_dir=tmp_path / "pool", workers=2)
    for run in (settings, pool):
        assert main(["evaluate", *what, "--json", "--n-boot", "200"], run) == 0
        figures.append(json.loads(capsys.readouterr().out))
    assert figures[0] == figures[1] and figures[0]["n"] == 40
    setup = Setup("nb201", "cifar10", "synflow", 4)
    assert_same_bits(Cache(settings.cache_file).get(setup), Cache(pool.cache_file).get(setup))


@pytest.mark.parametrize(("space", "measure"), [("nb201", "zico"), ("nb301", "naswot")])
def test_a_per_network_measure_gets_the_local_pools_bits(
    ray_local: None, empty_cache: Cache, tmp_path: Path, space: str, measure: str
) -> None:
    """A measure (its protocol's batch made by the driver, shipped with the task) on Ray
    equals the local pool's, bit for bit, in NB201 and NB301."""
    setup = Setup.resolved(space, "cifar10", measure, batch="synthetic")
    few = evaluation.sample(space, "cifar10", 2, 0, source="naslib")
    with one_thread():  # as the CLI and every Ray task: ZiCo's last digits follow threads
        local = scoring.score(setup, few, Cache(tmp_path / "local.sqlite"), settings=LOCAL)
    got = scoring.score(setup, few, empty_cache, settings=replace(LOCAL, ray=RayBackend(chunk=1)))
    assert_same_bits(got, local)
    assert all(np.isfinite(s[:, 1]).all() for s in got.values())
