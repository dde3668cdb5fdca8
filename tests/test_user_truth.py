"""Uploaded ground truth: canonical architectures, one clear message per bad row, caps."""

from __future__ import annotations

import time

import pytest

from ssnr_core.benchmarks import user_truth
from ssnr_core.data import pinned
from ssnr_core.spaces import nb201

BEST = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
    "nor_conv_3x3~2|"
)


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_cell_strings_indices_and_naslib_tuples_become_canonical():
    strings = pinned.nb201_cell_strings()
    naslib = nb201.to_naslib(nb201.parse(strings[7]))
    data = csv("arch,acc,other", f"{BEST},94.37,a", "5,71.5%,b", f'"{naslib}",60,c', "", " ")
    parsed = user_truth.parse(data, "arch", "acc")
    assert parsed.errors == [] and parsed.rows == 3
    assert parsed.values.to_dict() == {BEST: 94.37, strings[5]: 71.5, strings[7]: 60.0}
    assert parsed.values.index.name == "arch" and parsed.values.name == "acc"
    assert user_truth.columns(data) == ["arch", "acc", "other"]


def test_each_bad_row_is_reported_with_its_row_number_and_reason():
    data = csv(
        "id;accuracy",
        f"{BEST};90",  # row 2: fine
        "|bogus~0|;50",  # row 3: malformed cell string
        "|nor_conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|;50",  # row 4: unknown op
        f"{BEST.replace('3x3~0|+', '3x3~0|+', 1)};91",  # row 5: duplicate of row 2
        "0;fast",  # row 6: not a number
        ";80",  # row 7: empty architecture
        "1;inf",  # row 8: not finite
        "15625;70",  # row 9: index out of range
        "2",  # row 10: too few fields
        "3;55.5",  # row 11: fine
    )
    parsed = user_truth.parse(data, "id", "accuracy")
    assert len(parsed.values) == 2 and parsed.rows == 10
    rows = [e.split(":")[0] for e in parsed.errors]
    assert rows == [f"row {i}" for i in (3, 4, 5, 6, 7, 8, 9, 10)]
    by_row = dict(e.split(": ", 1) for e in parsed.errors)
    assert "malformed" in by_row["row 3"]
    assert "unknown NAS-Bench-201 op 'nor_conv_9x9'" in by_row["row 4"]
    assert "same architecture as row 2" in by_row["row 5"]
    assert "'fast' is not a number" in by_row["row 6"]
    assert by_row["row 7"] == "empty architecture"
    assert "not a finite number" in by_row["row 8"]
    assert "0..15624" in by_row["row 9"]
    assert "expected at least 2" in by_row["row 10"]


@pytest.mark.parametrize(
    ("data", "args", "message"),
    [
        (csv("arch,acc", f"{BEST},1"), ("arch", "accuracy"), "no column 'accuracy'"),
        (csv("arch,acc", f"{BEST},1"), ("arch", "arch"), "different columns"),
        (b"", ("arch", "acc"), "empty"),
        (b"arch,acc\n\xff\xfe,1\n", ("arch", "acc"), "not UTF-8"),
        (csv("arch,arch", "1,2"), ("arch", "arch"), "duplicate column names"),
        (
            csv("arch,acc", "|x|,1", "nope,2"),
            ("arch", "acc"),
            "no usable rows; first problem: row 2",
        ),
    ],
)
def test_unusable_files_raise_a_clear_error(data: bytes, args: tuple[str, str], message: str):
    with pytest.raises(ValueError, match=message):
        user_truth.parse(data, *args)


def test_size_caps_on_bytes_and_rows():
    rows = csv("arch,acc", *(f"{i},{i}" for i in range(30)))
    with pytest.raises(ValueError, match="limit is 100"):
        user_truth.parse(rows, "arch", "acc", max_bytes=100)
    with pytest.raises(ValueError, match="more than 20 data rows"):
        user_truth.parse(rows, "arch", "acc", max_rows=20)
    assert len(user_truth.parse(rows, "arch", "acc", max_rows=30).values) == 30


def test_too_many_bad_rows_are_summarised():
    data = csv(
        "arch,acc", *(f"|bad{i}|,1" for i in range(user_truth.MAX_MESSAGES + 5)), f"{BEST},2"
    )
    parsed = user_truth.parse(data, "arch", "acc")
    assert len(parsed.errors) == user_truth.MAX_MESSAGES + 1
    assert parsed.errors[-1] == "... and 5 more rows skipped (205 in all)"
    assert parsed.skipped == 205


def test_cr_only_crlf_and_lf_line_endings_all_parse():
    lines = ["arch,acc", f"{BEST},94.37", "5,71.5", "7,60"]
    expect = user_truth.parse(csv(*lines), "arch", "acc")
    for end in ("\r", "\r\n"):
        data = (end.join(lines) + end).encode()
        assert user_truth.columns(data) == ["arch", "acc"]
        parsed = user_truth.parse(data, "arch", "acc")
        assert parsed.values.equals(expect.values) and parsed.errors == []


def test_a_file_without_a_header_is_refused_instead_of_losing_its_first_row():
    for first in (f"{BEST},94.37", "5;71.5", '"(4, 3, 3, 3, 2, 3)",60'):
        with pytest.raises(ValueError, match="not a header"):
            user_truth.columns(csv(first, "7,60"))
    assert user_truth.columns(csv("arch,2024", "7,60")) == ["arch", "2024"]  # no arch cell


def test_skipped_counts_rows_not_message_lines():
    data = csv("arch,acc", *(f"|bad{i}|,1" for i in range(600)), f"{BEST},2")
    parsed = user_truth.parse(data, "arch", "acc")
    assert parsed.skipped == 600 and parsed.rows == 601
    assert parsed.errors[-1] == "... and 400 more rows skipped (600 in all)"
    repeated = csv("arch,acc", *([f"{BEST},1"] * 300), "5,3")  # one message, 299 rows
    parsed = user_truth.parse(repeated, "arch", "acc", filename="mine.csv")
    assert parsed.skipped == 299 and len(parsed.errors) == 1


def test_repeated_architectures_are_one_message_naming_rows_and_file():
    naslib = nb201.to_naslib(nb201.parse(BEST))
    data = csv("arch,acc", f"{BEST},1", "5,2", f'"{naslib}",3', "5,4", f"{BEST},5")
    parsed = user_truth.parse(data, "arch", "acc", filename="runs.csv")
    assert parsed.errors == [
        "rows 4 and 6: the same architecture as row 2 of runs.csv; kept row 2",
        "row 5: the same architecture as row 3 of runs.csv; kept row 3",
    ]
    assert parsed.values[BEST] == 1 and parsed.skipped == 3


def test_any_finite_value_is_allowed_but_nan_and_inf_are_row_errors():
    data = csv("arch,loss", "1,-3.5", "2,250", "3,nan", "4,-inf", "5,1e400")
    parsed = user_truth.parse(data, "arch", "loss")
    assert sorted(parsed.values) == [-3.5, 250.0]
    assert [e.split(":")[0] for e in parsed.errors] == ["row 4", "row 5", "row 6"]
    assert all("not a finite number" in e for e in parsed.errors)


def test_index_keyed_files_read_the_cell_table_once(monkeypatch):
    calls = []
    real = pinned.nb201_cell_strings

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pinned, "nb201_cell_strings", counted)
    data = csv("arch,acc", *(f"{i},{i % 97}" for i in range(2000)))
    start = time.perf_counter()
    parsed = user_truth.parse(data, "arch", "acc")
    assert len(parsed.values) == 2000 and parsed.errors == []
    assert len(calls) <= 2, len(calls)  # the header check may look once too
    assert time.perf_counter() - start < 5


def test_a_missing_cell_in_the_index_table_is_a_row_error(monkeypatch):
    strings = list(pinned.nb201_cell_strings())
    strings[3] = float("nan")  # what pandas reads for an empty ArchitectureString cell
    monkeypatch.setattr(pinned, "nb201_cell_strings", lambda *a, **k: strings)
    parsed = user_truth.parse(csv("arch,acc", "3,1", "4,2"), "arch", "acc")
    assert list(parsed.values) == [2.0]
    assert parsed.errors[0].startswith("row 2: bad architecture")


@pytest.mark.parametrize(
    "cell", ["(5)", "5.0", "[]", "None", "(True, 1, 1, 1, 1, 1)", "x" * 5000], ids=range(6)
)
def test_odd_architecture_cells_are_row_errors(cell: str):
    parsed = user_truth.parse(csv("arch,acc", f'"{cell}",1', "5,2"), "arch", "acc")
    assert len(parsed.values) == 1 and parsed.errors[0].startswith("row 2: bad architecture")
    assert len(parsed.errors[0]) < 300
