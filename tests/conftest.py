"""Shared fixtures: settings in temporary folders, one small real NB201 cache scored once.

Nothing here needs ../shared or the network: ground truth comes from the copies
bundled in the package.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from playwright.sync_api import Browser, sync_playwright
from torch import nn

from ssnr_core.data import pinned
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs import scoring
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.settings import Settings
from ssnr_core.runs.threads import one_thread, set_threads
from ssnr_core.studies import evaluation

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers share the two cores: one torch thread each, in what they start too (the
    # app servers), as the product's own workers do (`runs.threads` says why).
    os.environ["OMP_NUM_THREADS"] = "1"
    set_threads(1)

SETUP = Setup("nb201", "cifar10", "synflow")
# Run settings of in-process scoring: one process, the bundled data only.
LOCAL = Settings(data_dir=pinned.BUNDLED, workers=1)
SAMPLE = 24  # seed-0 sample; a subset of every larger seed-0 sample


@pytest.fixture(scope="session")
def scored_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding synflow statistics of the 24-arch seed-0 NB201 sample (a few
    seconds); tests copy it so none sees another's writes."""
    root = tmp_path_factory.mktemp("scored")
    archs = evaluation.sample(SETUP.space, SETUP.task, SAMPLE, SETUP.seed)
    with one_thread():  # as the CLI does: 1.3 s instead of 49 s on a busy 2-core box
        scoring.score(SETUP, archs, Cache(root / "stats.sqlite"), settings=LOCAL)
    return root


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings with an empty cache and data folder, also set in the environment (for the
    app and CLI processes, which read it once at their edge)."""
    root = tmp_path / "ssnr"  # beside, not inside, what a test writes to tmp_path
    made = Settings(data_dir=root / "data", cache_dir=root / "cache", workers=1)
    monkeypatch.setenv("SSNR_DATA_DIR", str(made.data_dir))
    monkeypatch.setenv("SSNR_CACHE_DIR", str(made.cache_dir))
    monkeypatch.setenv("SSNR_WORKERS", "1")
    return made


@pytest.fixture
def cache_dir(scored_cache: Path, settings: Settings) -> Path:
    """The settings' cache folder, holding a private copy of the scored cache."""
    shutil.copytree(scored_cache, settings.cache_dir)
    return settings.cache_dir


@pytest.fixture
def empty_cache(settings: Settings) -> Cache:
    return Cache(settings.cache_file)


@functools.cache
def naslib_json(name: str) -> dict:
    """A NASLib zero-cost file (the verified bundled copy)."""
    (file,) = [f for f in pinned.NASLIB_FILES.values() if f.path.endswith(name)]
    return pinned.naslib_tasks(json.loads(pinned.read_bytes(file)))  # one shape for all files


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def stored_params(record: dict) -> int:
    """NASLib stores float(count) / 1e6; recover the integer count."""
    return round(record["params"]["score"] * 1e6)


@pytest.fixture(scope="module")
def single_thread():
    """One torch thread, as the command line runs (on a busy 2-core machine two spin)."""
    with one_thread():
        yield


def reference_synflow(model: nn.Module, shape: tuple[int, ...]) -> list[np.ndarray]:
    """The straightforward recipe (as in NASLib/foresight), written out independently."""
    model = model.double()
    for m in model.modules():
        for name, child in m.named_children():
            if isinstance(child, nn.BatchNorm2d):
                setattr(m, name, nn.Identity())
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    model.zero_grad()
    model(torch.ones((1, *shape), dtype=torch.float64)).sum().backward()
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return [
        (m.weight * (m.weight.grad if m.weight.grad is not None else 0)).abs().detach().numpy()
        for m in layers
    ]


# Debian's Chromium, as the README installs it (`playwright install` cannot download here)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per browser-test module."""
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
