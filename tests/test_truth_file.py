"""`--truth file:PATH`: the app upload's parser from the command line, named by path and
SHA-256 in every report; the same numbers as the bundled truth for the same values."""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import SAMPLE
from test_user_truth import BEST, csv

from ssnr_core import benchmarks, cli
from ssnr_core.benchmarks import user_truth
from ssnr_core.spaces import nb201
from ssnr_core.studies import evaluation


def evaluate_json(capsys, *argv: str) -> dict:
    assert cli.main(["evaluate", "--n-boot", "50", "--baselines", "no", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_file_of_the_bundled_values_gives_the_bundled_correlations(cache_dir, tmp_path, capsys):
    builtin = evaluate_json(capsys, "--sample", str(SAMPLE), "--truth", "test200")
    truth = benchmarks.truth("nb201", "cifar10", "test200")
    chosen = _sample_archs()[::-1]  # another order than the bundled table's
    assert len(chosen) == SAMPLE
    # half the rows as NASLib tuples, a semicolon file with a Windows line end: as uploads
    lines = ["arch;test accuracy"]
    for i, a in enumerate(chosen):
        spelled = nb201.to_naslib(nb201.parse(a)) if i % 2 else a
        lines.append(f"{spelled};{truth[a]}")
    path = tmp_path / "mine.csv"
    path.write_bytes("\r\n".join(lines).encode())
    found = evaluate_json(capsys, "--truth", f"file:{path}")
    assert found["truth_file"] == {
        "path": str(path),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "column": "test accuracy",
        "rows": SAMPLE,
        "skipped": 0,
    }
    assert str(path) in found["truth"] and found["truth_file"]["sha256"] in found["truth"]
    for agg in ("sum", "ssnr", "layerwise_ssnr"):
        assert found["kendall"][agg] == pytest.approx(builtin["kendall"][agg], abs=1e-12)
        assert found["spearman"][agg] == pytest.approx(builtin["spearman"][agg], abs=1e-12)


def _sample_archs() -> list[str]:
    return evaluation.sample("nb201", "cifar10", SAMPLE, 0)


def test_the_text_report_names_the_file_and_its_checksum_and_skipped_rows(
    cache_dir, tmp_path, capsys
):
    archs = _sample_archs()
    # the upload fixture's bad rows, after enough good ones to correlate
    data = csv(
        "id;accuracy",
        *(f"{a};{i}" for i, a in enumerate(archs)),
        "|bogus~0|;50",
        "0;fast",
        f"{archs[0]};91",
    )
    path = tmp_path / "runs.csv"
    path.write_bytes(data)
    code = cli.main(["evaluate", "--n-boot", "20", "--baselines", "no", "--truth", f"file:{path}"])
    out, err = capsys.readouterr()
    assert code == 0
    digest = hashlib.sha256(data).hexdigest()
    assert f"truth: file {path} (SHA-256 {digest}), column 'accuracy'" in out
    assert f"n={SAMPLE}" in out
    assert f"{SAMPLE} archs of {SAMPLE + 3} rows" in err
    assert "skipped row 26: bad architecture" in err and "'fast' is not a number" in err
    assert "same architecture as row 2 of runs.csv" in err


@pytest.mark.parametrize(
    ("data", "columns", "message"),
    [
        (csv("arch,acc", f"{BEST},1"), "arch,accuracy", "no column 'accuracy'"),
        (csv("arch,acc", f"{BEST},1"), "arch,arch", "different columns"),
        (b"", None, "empty"),
        (b"arch,acc\n\xff\xfe,1\n", None, "not UTF-8"),
        (csv("arch,arch", "1,2"), None, "duplicate column names"),
        (csv("arch,acc", "|x|,1", "nope,2"), None, "no usable rows; first problem: row 2"),
        (csv(f"{BEST},90"), None, "not a header"),
        (csv("arch,acc", *(f"{i},{i}" for i in range(user_truth.MAX_ROWS + 1))), None, "limit"),
        (csv("arch,acc", f"{BEST},1"), "arch", "ARCH,VALUE"),
    ],
)
def test_unusable_files_are_one_line_naming_the_file(
    data, columns, message, settings, tmp_path, capsys
):
    path = tmp_path / "truth.csv"
    path.write_bytes(data)
    argv = [
        "evaluate",
        "--truth",
        f"file:{path}",
        *(["--truth-columns", columns] if columns else []),
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0]
    if message != "ARCH,VALUE":
        assert str(path) in err[0]


def test_a_missing_or_oversized_file_is_refused(settings, tmp_path, capsys):
    assert cli.main(["evaluate", "--truth", f"file:{tmp_path / 'none.csv'}"]) == 2
    assert "cannot read ground-truth file" in capsys.readouterr().err
    big = tmp_path / "big.csv"
    big.write_bytes(b"arch,acc\n" + b"0,1\n" * (user_truth.MAX_BYTES // 4 + 1))
    assert cli.main(["evaluate", "--truth", f"file:{big}"]) == 2
    assert f"the limit is {user_truth.MAX_BYTES:,}" in capsys.readouterr().err
    assert cli.main(["evaluate", "--truth", "file:"]) == 2
    assert "needs a path" in capsys.readouterr().err
