"""Shared fixtures: one small real NB201 cache, scored once per test session."""

from __future__ import annotations

import functools
import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

from ssnr_core import evaluation, scoring
from ssnr_core.cache import Cache, Setup

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the app's `pages` package, as `streamlit run` sees it
    sys.path.insert(0, str(ROOT))

SETUP = Setup("nb201", "cifar10", "synflow")
SAMPLE = 24  # seed-0 sample; a subset of every larger seed-0 sample


@pytest.fixture(scope="session")
def scored_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding synflow statistics of the 24-arch seed-0 NB201 sample (a few
    seconds); tests copy it so none sees another's writes."""
    root = tmp_path_factory.mktemp("scored")
    archs = evaluation.sample(SETUP.space, SETUP.task, SAMPLE, SETUP.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the CLI does: 1.3 s instead of 49 s on a busy 2-core box
    try:
        scoring.score(SETUP, archs, Cache(root / "stats.sqlite"))
    finally:
        torch.set_num_threads(threads)
    return root


@pytest.fixture
def cache_dir(scored_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the scored cache, set as SSNR_CACHE_DIR."""
    target = tmp_path / "cache"
    shutil.copytree(scored_cache, target)
    monkeypatch.setenv("SSNR_CACHE_DIR", str(target))
    return target


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark ground truth (../shared/data, or SSNR_DATA_DIR)."""
    from ssnr_core import config

    path = config.data_dir()
    assert (path / "nasbench201").is_dir(), f"benchmark data not found in {path}"
    return path


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cache:
    """A new, empty cache, set as SSNR_CACHE_DIR."""
    monkeypatch.setenv("SSNR_CACHE_DIR", str(tmp_path / "empty-cache"))
    return Cache()


@functools.cache
def naslib_json(name: str) -> dict:
    """A NASLib zero-cost file from the data folder (SSNR_DATA_DIR, else ../shared/data)."""
    from ssnr_core import config

    path = config.data_dir() / "naslib_zc" / name
    assert path.is_file(), f"NASLib zero-cost data not found at {path}; set SSNR_DATA_DIR"
    return json.loads(path.read_text())


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def stored_params(record: dict) -> int:
    """NASLib stores float(count) / 1e6; recover the integer count."""
    return round(record["params"]["score"] * 1e6)
