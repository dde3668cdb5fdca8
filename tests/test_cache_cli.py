"""The cache, the CLI and the data-file errors, driven as a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import LOCAL

from ssnr_core import benchmarks, cli
from ssnr_core.data import pinned
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs import scoring
from ssnr_core.runs.settings import Settings
from ssnr_core.studies import evaluation

SETUP = Setup("nb201", "cifar10", "synflow", seed=0)


def test_put_get_round_trip_and_keys_are_isolated(empty_cache):
    a = np.arange(12.0).reshape(4, 3)
    empty_cache.put(SETUP, [("x", a)])
    assert np.array_equal(empty_cache.get(SETUP)["x"], a)
    assert empty_cache.get(Setup("nb201", "cifar10", "synflow", seed=1)) == {}
    assert empty_cache.get(Setup("nb201", "cifar100", "synflow")) == {}
    assert empty_cache.get(SETUP, ["y", "x"]).keys() == {"x"}
    assert empty_cache.setups() == [(SETUP, 1)]


def test_score_computes_only_what_is_missing(empty_cache):
    archs = evaluation.sample("nb201", "cifar10", 4, seed=0)
    first = scoring.score(SETUP, archs[:2], empty_cache, settings=LOCAL)
    calls: list[tuple[int, int]] = []
    both = scoring.score(
        SETUP, archs, empty_cache, settings=LOCAL, progress=lambda d, t: calls.append((d, t))
    )
    assert calls[0] == (2, 4) and calls[-1] == (4, 4) and len(calls) == 3
    assert all(np.array_equal(first[a], both[a]) for a in archs[:2])


def _cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ssnr_core", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_killed_run_keeps_finished_work_and_resumes(empty_cache):
    """NB301 (one network at a time, committed one by one): a kill loses only what was in
    flight, and a rerun computes only the rest."""
    setup = Setup("nb301", "cifar10", "synflow")
    args = ("score", "--benchmark", "nb301", "--truth", "naslib", "--sample", "30")
    proc = _cli(*args, "--workers", "1")
    deadline = time.time() + 120
    while empty_cache.count(setup) < 3 and time.time() < deadline:  # readable while it writes
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = empty_cache.get(setup)
    assert 3 <= len(kept) < 30
    resumed = _cli(*args)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    final = empty_cache.get(setup)
    assert len(final) == 30
    assert all(np.array_equal(final[a], kept[a]) for a in kept)  # nothing lost or redone


def test_evaluate_json(empty_cache, capsys):
    code = cli.main(["evaluate", "--task", "cifar10", "--sample", "12", "--n-boot", "50", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 12
    for key in ("spearman", "kendall", "ci95"):
        assert set(out[key]) == {"sum", "ssnr", "layerwise_ssnr", "params", "flops"}
    lo, hi = out["ci95"]["layerwise_ssnr"]["spearman"]
    assert lo <= out["spearman"]["layerwise_ssnr"] <= hi
    table = evaluation.score_table(empty_cache.get(Setup("nb201", "cifar10", "synflow")))
    truth = benchmarks.truth("nb201", "cifar10")
    expect = evaluation.correlate(table, truth, n_boot=10)["sum"].spearman
    assert out["spearman"]["sum"] == pytest.approx(expect)


@pytest.mark.parametrize(
    "args,message",
    [
        (["evaluate", "--benchmark", "nb999"], "unknown benchmark 'nb999'"),
        (["evaluate", "--task", "mnist"], "unknown task 'mnist'"),
        (["score", "--saliency", "jacob"], "unknown saliency 'jacob'"),
        (["score", "--sample", "0"], "argument --sample: must be in 1.."),
        (["score", "--seed", "-1"], "argument --seed: must be in 0.."),
        (["score", "--seed", "9223372036854775808"], "argument --seed: must be in 0.."),
        (["evaluate", "--n-boot", "1000000000"], "argument --n-boot: must be in 0.."),
        (["score", "--workers", "100"], "argument --workers: must be in 1.."),
        (["reproduce", "--columns", "bogus"], "unknown column(s) bogus"),
        (["score", "--device", "tpu"], "unknown device"),
        (["evaluate", "--truth", "oracle"], "has ground truth"),
    ],
)
def test_bad_names_print_one_line_and_exit_2(args, message, empty_cache, capsys):
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_damaged_data_files_are_errors_that_name_them(settings, capsys):
    """A user's copy is read instead of the bundled one, and must be the pinned file."""
    csv_rel = pinned.NB201_CSV.path
    original = pinned.read_bytes(pinned.NB201_CSV)
    target = settings.data_dir / csv_rel
    target.parent.mkdir(parents=True)
    lines = original.splitlines(keepends=True)
    target.write_bytes(b"".join(lines[:7785]))  # header + 7,784 rows
    assert cli.main(["evaluate", "--sample", "3"]) == 2
    err = capsys.readouterr().err
    assert str(target) in err and "truncated" in err and "7,784 of 15,625 rows" in err
    target.write_bytes(original.replace(b"94.37", b"94.38", 1))  # one figure altered
    with pytest.raises(pinned.DataError, match="altered content"):
        benchmarks.truth("nb201", "cifar10", data_dir=settings.data_dir)
    json_rel = pinned.NASLIB_FILES["nb301"].path
    (settings.data_dir / json_rel).parent.mkdir(parents=True)
    (settings.data_dir / json_rel).write_text("{not json")
    with pytest.raises(pinned.DataError, match="not valid JSON"):
        benchmarks.truth("nb301", "cifar10", data_dir=settings.data_dir)


def test_bundled_copy_missing_is_one_clear_error(monkeypatch, settings, tmp_path):
    monkeypatch.setattr(pinned, "BUNDLED", tmp_path / "nowhere")
    pinned.read_bytes.cache_clear()
    try:
        with pytest.raises(pinned.DataError, match="missing benchmark file"):
            pinned.read_bytes(pinned.NASLIB_FILES["tnb101"])
    finally:
        pinned.read_bytes.cache_clear()


def test_a_data_folder_copy_is_read_and_verified(settings):
    rel = pinned.NASLIB_FILES["nb201"]
    assert pinned.where(rel, settings.data_dir).suffix == ".xz"  # nothing there: bundled
    copy = settings.data_dir / rel.path
    copy.parent.mkdir(parents=True)
    copy.write_bytes(pinned.read_bytes(rel))
    assert pinned.where(rel, settings.data_dir) == copy
    assert benchmarks.truth("nb201", "cifar100", "naslib", settings.data_dir).equals(
        benchmarks.truth("nb201", "cifar100", "naslib")
    )


def test_nan_saliency_is_stored_and_excluded_from_correlations(empty_cache):
    archs = evaluation.sample("nb201", "cifar10", 5, seed=0)
    stats = {a: np.array([[4.0, float(i + 1), 1.0]]) for i, a in enumerate(archs)}
    stats[archs[0]] = np.array([[4.0, np.nan, 1.0]])
    empty_cache.put(SETUP, stats.items())
    table = evaluation.score_table(empty_cache.get(SETUP))
    result = evaluation.correlate(table, benchmarks.truth("nb201", "cifar10"), n_boot=10)
    assert result["sum"].n == 4 and result["sum"].dropped == 1


def test_settings_are_read_once_from_the_environment(tmp_path):
    env = {"SSNR_DATA_DIR": str(tmp_path / "d"), "SSNR_CACHE_DIR": str(tmp_path / "c")}
    made = Settings.from_env({**env, "SSNR_WORKERS": "3"})
    assert (made.data_dir, made.cache_dir, made.workers) == (tmp_path / "d", tmp_path / "c", 3)
    assert made.cache_file == tmp_path / "c" / "stats.sqlite"
    default = Settings.from_env({})
    assert default.data_dir.name == "data" and default.workers >= 1


def test_setup_json_round_trip_and_rejects_other_objects():
    setup = Setup("nb301", "cifar10", "snip", 3, "synthetic", "float32")
    assert Setup.from_json(setup.to_json()) == setup
    for bad in ("[]", '{"space": "nb201"}', '{"space": "a", "task": "b", "saliency": "c", "x": 1}'):
        with pytest.raises(ValueError, match="setup"):
            Setup.from_json(bad)


def test_score_takes_a_whole_setup_and_an_archs_file(settings, tmp_path, capsys):
    """The form app jobs use: every field of the setup reaches the scoring run."""
    setup = Setup("nb201", "cifar10", "synflow", seed=2, dtype="float64")
    archs = evaluation.sample("nb201", "cifar10", 3, seed=0)
    listing = tmp_path / "archs.txt"
    listing.write_text("\n".join(archs) + "\n")
    code = cli.main(["score", "--setup", setup.to_json(), "--archs", str(listing)], settings)
    assert code == 0, capsys.readouterr().err
    from ssnr_core.runs.cache import Cache

    assert set(Cache(settings.cache_file).get(setup)) == set(archs)


def test_a_raw_sqlite_error_still_prints_one_line(settings, monkeypatch, capsys):
    """The backstop in `main`: should any SQLite error escape `Cache`, it is one line too."""
    import sqlite3

    def broken(args, settings):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(cli, "cmd_list", broken)
    assert cli.main(["list"], settings) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: cache {settings.cache_file}: disk I/O error"
