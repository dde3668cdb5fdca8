"""The bundled pack: what this code computes, digit for digit, and readable only whole.

The pack is the app's first view (all 15,625 NB201 cells), so it must be what
`python -m ssnr_core pack` makes with today's code: seeded whole engine batches are
recomputed and compared as printed, and the ranking is checked against an outside
reference (NASLib's stored synflow scores).
"""

from __future__ import annotations

import lzma
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import LOCAL

from ssnr_core import benchmarks
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.settings import Settings, SettingsError
from ssnr_core.studies import correlation, evaluation, pack

REMAKE = f"the pack is stale: remake it with `{pack.COMMAND}`"


@pytest.fixture(scope="module")
def bundled() -> pack.Pack:
    return pack.read()


def test_the_pack_holds_every_cell_of_every_task_with_this_code(bundled: pack.Pack):
    assert bundled.n == 15_625
    assert set(bundled.setups) == set(pack.TASKS)
    for task, setup in pack.setups().items():
        assert bundled.setups[task] == setup, REMAKE  # code and torch version included
        assert bundled.covers(setup)
        table = bundled.tables[task]
        assert list(table.columns) == list(pack.COLUMNS)
        assert set(table.index) == set(benchmarks.truth("nb201", task).index)
        assert np.isfinite(table.to_numpy()).all()
        assert (table["weights"] > 0).all()
    assert not bundled.covers(Setup("nb201", "cifar10", "synflow", seed=1))
    assert not bundled.covers(Setup("nb201", "cifar10", "snip"))
    # More classes, more classifier weights: 64 inputs per class.
    extra = bundled.tables["cifar100"]["weights"] - bundled.tables["cifar10"]["weights"]
    assert (extra == 64 * 90).all()


@pytest.mark.parametrize("task", pack.TASKS)
def test_seeded_batches_recompute_to_the_stored_digits(
    bundled: pack.Pack, task: str, tmp_path: Path, single_thread: None
):
    fresh = Cache(tmp_path / "stats.sqlite")
    batches = pack.check_batches(bundled, task, 2, seed=7)
    assert sum(map(len, batches)) >= 64
    assert pack.check(bundled, LOCAL, fresh, task=task, batches=2, seed=7) == []
    assert fresh.count(bundled.setups[task]) == sum(map(len, batches))


def test_the_pack_ranks_like_naslibs_stored_synflow(bundled: pack.Pack):
    """An outside reference: NASLib's own synflow scores on its CIFAR-10 sample."""
    theirs = benchmarks.naslib_scores("nb201", "cifar10", "synflow")
    assert len(theirs) >= 700
    ours = bundled.tables["cifar10"]["sum"].reindex(theirs.index)
    assert ours.notna().all()
    assert correlation.spearman(ours.to_numpy(), theirs.to_numpy()) > 0.99


def test_write_then_read_keeps_every_printed_digit(tmp_path: Path):
    index = pd.Index(["a", "b", "c"], name="arch")
    table = pd.DataFrame(
        {
            "sum": [6.083412e47, 0.0, 1.002355e36],
            "ssnr": [12.34567, np.nan, 1e-300],
            "layerwise_ssnr": [1234.567, 0.0, 3.0],
            "weights": [215_000, 1_000, 64],
        },
        index=index,
    )
    made_with = {"cifar10": pack.setups()["cifar10"]}
    path = pack.write({"cifar10": table}, made_with, tmp_path / "p.csv.xz")
    back = pack.read(path)
    got = back.tables["cifar10"]
    for c in pack.COLUMNS:
        assert pack.digits(got[c].to_numpy()) == pack.digits(table[c].to_numpy())
    assert back.setups == made_with
    assert lzma.decompress(path.read_bytes()).decode().splitlines()[2].startswith("arch,")


def test_a_damaged_pack_is_one_error_naming_the_file(tmp_path: Path):
    good = pack.PATH.read_bytes()
    cut = tmp_path / "cut.csv.xz"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(pack.PackError, match=r"cut\.csv\.xz"):
        pack.read(cut)
    text = lzma.decompress(good).decode()
    short = tmp_path / "short.csv.xz"
    short.write_bytes(lzma.compress("\n".join(text.splitlines()[:100]).encode()))
    with pytest.raises(pack.PackError, match="truncated, 97 of 15,625 rows"):
        pack.read(short)
    other = tmp_path / "other.csv.xz"
    other.write_bytes(lzma.compress(b"arch,sum\nx,1\n"))
    with pytest.raises(pack.PackError, match="not a ssnr-pack"):
        pack.read(other)
    with pytest.raises(pack.PackError, match="make one with"):
        pack.read(tmp_path / "missing.csv.xz")


def test_the_stored_correlations_are_the_cores(bundled: pack.Pack):
    """What the app's first view shows without computing: `evaluation.correlate` itself."""
    task = "cifar10"
    truth = benchmarks.truth("nb201", task)
    table = bundled.tables[task][["sum", "ssnr", "layerwise_ssnr"]]
    expected = evaluation.correlate(table, truth, pack.SUMMARY_BOOT, pack.SUMMARY_SEED)
    assert bundled.summaries(task, pack.SUMMARY_BOOT, pack.SUMMARY_SEED) == expected
    assert bundled.summaries(task, 1000, 0) is None  # another bootstrap: not stored
    for other in pack.TASKS:
        stored = bundled.summaries(other, pack.SUMMARY_BOOT, pack.SUMMARY_SEED)
        assert stored and stored["layerwise_ssnr"].n == 15_625


def test_the_pack_is_switched_by_the_environment():
    assert Settings.from_env({}).pack is True
    assert Settings.from_env({"SSNR_PACK": "0"}).pack is False
    assert Settings.from_env({"SSNR_PACK": "1"}).pack is True
    with pytest.raises(SettingsError, match="SSNR_PACK must be 0 or 1"):
        Settings.from_env({"SSNR_PACK": "maybe"})
