"""Before a heavy click: the expected time at the rate measured here (`runs.timings`), and
NASLib's stored scores as the instant alternative (`studies.naslib.stored`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from conftest import SAMPLE, SETUP, naslib_json
from scipy import stats
from streamlit.testing.v1 import AppTest

from ssnr_app import panels
from ssnr_core.proxies import Setup
from ssnr_core.runs import jobs, timings
from ssnr_core.runs.settings import Settings
from ssnr_core.spaces import canonical
from ssnr_core.studies import naslib

APP = str(Path(__file__).resolve().parent.parent / "app.py")
SNIP = Setup("nb201", "cifar10", "snip")


def timing(
    task: str = "cifar10", saliency: str = "snip", device: str = "cpu", **kw
) -> timings.Timing:
    fields = {"workers": 1, "archs": 10, "seconds": 20.0, "at": 0.0} | kw
    return timings.Timing("nb201", task, saliency, device, **fields)


def test_the_estimate_is_the_recent_measured_rate_of_the_same_setup(tmp_path: Path):
    cache_file = tmp_path / "stats.sqlite"
    passes = [
        timing(archs=4, seconds=100.0),  # older than the RECENT latest: left out
        *[timing(archs=10 * (i + 1), seconds=5.0 * (i + 1) + i) for i in range(timings.RECENT)],
        timing(device="cuda", archs=1000, seconds=1.0),  # another device
        timing(saliency="synflow", archs=1000, seconds=1.0),  # another saliency
        timing(task="cifar100", archs=1000, seconds=1.0),  # another task of the space
    ]
    for p in passes:
        assert timings.record(cache_file, p)
    with timings.timings_file(cache_file).open("a") as fh:
        fh.write("{damaged\n")
        fh.write(json.dumps({"space": "nb201"}) + "\n")
    found = timings.read(cache_file)
    assert found == passes  # the damaged lines are skipped, the rest read back as written
    recent = passes[1 : 1 + timings.RECENT]
    rate = sum(p.archs for p in recent) / sum(p.seconds for p in recent)
    est = timings.estimate(found, SNIP, 300, device="cpu")
    assert est.same_task and est.passes == timings.RECENT
    assert est.measured_archs == sum(p.archs for p in recent)
    assert est.rate == pytest.approx(rate) and est.seconds == pytest.approx(300 / rate)
    assert est.heavy(est.seconds - 1) and not est.heavy(est.seconds + 1)
    # Another task only: a hint, said as such; nothing of the space: not measured.
    hint = timings.estimate(found, Setup("nb201", "ImageNet16-120", "snip"), 10, device="cpu")
    assert not hint.same_task and hint.task == "cifar100"
    none = timings.estimate(found, Setup("nb201", "cifar10", "grasp"), 10, device="cpu")
    assert none.rate is None and none.seconds is None and none.heavy(1e9)
    assert "not yet measured here" in panels.estimate_text(none, SNIP, "cpu")


def test_scoring_records_what_it_computed(scored_cache: Path):
    """The conftest's cache was scored by `scoring.score`: its pass is recorded."""
    (found,) = timings.read(scored_cache / "stats.sqlite")
    assert (found.space, found.task, found.saliency, found.device) == (
        SETUP.space,
        SETUP.task,
        SETUP.saliency,
        "cpu",
    )
    assert found.archs == SAMPLE and 0 < found.seconds < 600


def test_an_unwritable_folder_records_nothing_and_raises_nothing(tmp_path: Path):
    assert not timings.record(tmp_path / "missing" / "stats.sqlite", timing())
    assert timings.read(tmp_path / "missing" / "stats.sqlite") == []


@pytest.mark.parametrize(
    ("space", "task", "saliency"), [("nb201", "cifar10", "snip"), ("nb301", "cifar10", "synflow")]
)
def test_naslib_stored_view_holds_the_files_numbers(space: str, task: str, saliency: str):
    found = naslib.stored(space, task, saliency)
    assert found is not None and found.proxy == saliency
    raw = naslib_json({"nb201": "zc_nasbench201.json", "nb301": "zc_nasbench301.json"}[space])[task]
    want = {canonical(space, k): r for k, r in raw.items() if saliency in r}
    assert len(found.scores) == len(want) > 400
    for arch, rec in want.items():
        assert found.scores[arch] == float(rec[saliency]["score"])
        assert found.truth[arch] == float(rec["val_accuracy"])
    x = np.array([float(r[saliency]["score"]) for r in want.values()])
    y = np.array([float(r["val_accuracy"]) for r in want.values()])
    assert found.summary.spearman == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)
    assert found.summary.kendall == pytest.approx(stats.kendalltau(x, y)[0], abs=1e-12)
    assert found.summary.n == len(want)


def test_no_stored_view_where_naslib_has_none():
    assert naslib.stored("nb201", "cifar10", "zen") is None  # not in NASLib's files
    assert naslib.stored("tnb101", "jigsaw", "synflow") is None  # TNB101's file lacks it
    assert naslib.stored("nb201", "cifar10", "naswot_data").proxy == "nwot"  # type: ignore[union-attr]


@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("SSNR_WORKERS", "1")
    monkeypatch.setenv("SSNR_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("SSNR_PACK", "0")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield cache_dir
    settings = Settings.from_env()
    jobs.clear_queue(settings)
    for running in panels.running_jobs(settings):
        jobs.stop(running.job, ())


def explorer(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"chart": "scatter", **query})
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_heavy_setup_offers_naslibs_stored_scores_and_a_cheap_one_does_not(app_env: Path):
    query = {"saliency": "snip", "sample": "200"}
    at = explorer(query)
    (offer,) = [e for e in at.expander if "NASLib's stored snip" in e.label]
    assert "725" in offer.label
    cards = {m.label: m.value for m in offer.metric}
    want = naslib.stored("nb201", "cifar10", "snip")
    assert want is not None
    assert cards["NASLib's Spearman ρ"] == panels.fmt(want.summary.spearman)
    assert cards["NASLib's architectures"] == f"{want.summary.n:,}"
    assert any("not yet measured here" in c.value for c in at.caption)
    assert not jobs.active(Settings.from_env())  # offered, nothing started
    # Measured fast here: the expected time is said, and nothing is offered instead.
    app_env.mkdir(parents=True, exist_ok=True)
    timings.record(app_env / "stats.sqlite", timing(archs=400, seconds=8.0))
    at = explorer(query)
    assert not [e for e in at.expander if "NASLib's stored" in e.label]
    assert any(
        c.value.startswith("Expected: about 4 s for 200 architectures at 50.0 archs/s")
        for c in at.caption
    ), [c.value for c in at.caption]
