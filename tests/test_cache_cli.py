"""The cache, the CLI and the data-file errors, driven as a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ssnr_core import benchmarks, cli, evaluation, scoring
from ssnr_core.cache import Setup

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
    first = scoring.score(SETUP, archs[:2], empty_cache)
    calls: list[tuple[int, int]] = []
    both = scoring.score(SETUP, archs, empty_cache, progress=lambda d, t: calls.append((d, t)))
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
    args = ("score", "--benchmark", "nb201", "--saliency", "synflow", "--sample", "30")
    proc = _cli(*args)
    deadline = time.time() + 120
    while empty_cache.count(SETUP) < 3 and time.time() < deadline:  # readable while it writes
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = empty_cache.get(SETUP)
    assert 3 <= len(kept) < 30
    resumed = _cli(*args)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    final = empty_cache.get(SETUP)
    assert len(final) == 30
    assert all(np.array_equal(final[a], kept[a]) for a in kept)  # nothing lost or redone


def test_evaluate_json(empty_cache, capsys):
    code = cli.main(["evaluate", "--task", "cifar10", "--sample", "12", "--n-boot", "50", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 12
    for key in ("spearman", "kendall", "ci95"):
        assert set(out[key]) == {"sum", "ssnr", "layerwise_ssnr"}
    lo, hi = out["ci95"]["layerwise_ssnr"]["spearman"]
    assert lo <= out["spearman"]["layerwise_ssnr"] <= hi
    table = evaluation.score_table(empty_cache.get(Setup("nb201", "cifar10", "synflow")))
    truth = benchmarks.truth("nb201", "cifar10")
    expect = evaluation.correlate(table, truth, n_boot=10)["sum"]["spearman"]
    assert out["spearman"]["sum"] == pytest.approx(expect)


@pytest.mark.parametrize(
    "args,message",
    [
        (["evaluate", "--benchmark", "nb999"], "unknown benchmark 'nb999'"),
        (["evaluate", "--task", "mnist"], "unknown task 'mnist'"),
        (["score", "--saliency", "jacob"], "unknown saliency 'jacob'"),
        (["score", "--sample", "0"], "sample size must be at least 1"),
        (["score", "--device", "tpu"], "unknown device"),
        (["evaluate", "--truth", "oracle"], "has ground truth"),
    ],
)
def test_bad_names_print_one_line_and_exit_2(args, message, empty_cache, capsys):
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_missing_and_corrupt_data_files(tmp_path, monkeypatch, capsys, empty_cache):
    monkeypatch.setenv("SSNR_DATA_DIR", str(tmp_path / "nothing"))
    assert cli.main(["evaluate", "--sample", "3"]) == 2
    assert "missing benchmark file" in capsys.readouterr().err
    bad = tmp_path / "bad"
    (bad / "nasbench201").mkdir(parents=True)
    (bad / "nasbench201/nats_bench_tss_200ep.csv").write_bytes(b"\x00\xff garbage,\n1,2\n")
    (bad / "naslib_zc").mkdir()
    (bad / "naslib_zc/zc_nasbench201.json").write_text("{not json")
    monkeypatch.setenv("SSNR_DATA_DIR", str(bad))
    with pytest.raises(benchmarks.DataError, match="re-fetch"):
        benchmarks.truth("nb201", "cifar10")
    with pytest.raises(benchmarks.DataError, match="cannot read"):
        benchmarks.truth("nb201", "cifar10", "naslib")


def test_nan_saliency_is_stored_and_excluded_from_correlations(empty_cache):
    archs = evaluation.sample("nb201", "cifar10", 5, seed=0)
    stats = {a: np.array([[4.0, float(i + 1), 1.0]]) for i, a in enumerate(archs)}
    stats[archs[0]] = np.array([[4.0, np.nan, 1.0]])
    empty_cache.put(SETUP, stats.items())
    table = evaluation.score_table(empty_cache.get(SETUP))
    result = evaluation.correlate(table, benchmarks.truth("nb201", "cifar10"), n_boot=10)
    assert result["sum"]["n"] == 4 and result["sum"]["dropped"] == 1


def test_data_dir_setting(monkeypatch, tmp_path):
    from ssnr_core import config

    monkeypatch.setenv("SSNR_DATA_DIR", str(tmp_path))
    assert config.data_dir() == tmp_path
    monkeypatch.delenv("SSNR_DATA_DIR")
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    assert config.data_dir() == (shared if shared.is_dir() else config.PROJECT_ROOT / "data")
