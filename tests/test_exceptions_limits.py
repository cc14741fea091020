"""The exceptions register's limits: size, rows and id range end in one line, never in memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from audit.cli.main import main
from audit.evaluate.exceptions import (
    MAX_REGISTER_BYTES,
    MAX_REGISTER_ROWS,
    load_exceptions,
    parse_exceptions,
)
from audit.model.exceptions import REGISTER_COLUMNS
from audit.model.snapshot import write_snapshot
from audit.support.errors import InputError
from tests.helpers.history import PROD, WIN, snapshot
from tests.helpers.vms import api_vm

HEADER = ",".join(REGISTER_COLUMNS)


def one_line_error(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        load_exceptions(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:  # sparse: the size is known without writing it
        handle.truncate(MAX_REGISTER_BYTES + 1)
    os.chmod(path, 0)  # not even readable: the size check comes first
    try:
        message = one_line_error(path)
    finally:
        os.chmod(path, 0o600)
    assert "larger than" in message and "10 MB" in message


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_device_is_read_no_further_than_the_limit() -> None:
    message = one_line_error(Path("/dev/zero"))
    assert "larger than" in message


def test_a_huge_single_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "line.csv"
    path.write_bytes(HEADER.encode() + b"\n" + b"x" * (MAX_REGISTER_BYTES + 10))
    assert "larger than" in one_line_error(path)


def test_exactly_at_the_size_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "full.csv"
    body = f"{HEADER},notes\npcc-1,1,1,*,byol,r,J,,R,\n".encode()
    blank = b",,,,,,,,," + b" " * 100_000 + b"\n"  # a blank row: spaces in an extra column
    padding = blank * ((MAX_REGISTER_BYTES - len(body)) // len(blank))
    path.write_bytes(body + padding + b"\n" * (MAX_REGISTER_BYTES - len(body) - len(padding)))
    assert path.stat().st_size == MAX_REGISTER_BYTES
    assert len(load_exceptions(path)) == 1


@pytest.mark.slow
def test_more_rows_than_the_limit_name_the_first_row_beyond() -> None:
    rows = "".join(f"p,1,{i},*,byol,,,,\n" for i in range(MAX_REGISTER_ROWS + 5))
    with pytest.raises(InputError) as caught:
        parse_exceptions(f"{HEADER}\n{rows}".encode(), "reg.csv")
    message = str(caught.value)
    assert message.startswith(f"reg.csv: line {MAX_REGISTER_ROWS + 2}: ")
    assert "100,000" in message


@pytest.mark.slow
def test_rows_up_to_the_limit_are_read() -> None:
    rows = "".join(f"p,1,{i},*,byol,,,,\n" for i in range(MAX_REGISTER_ROWS))
    assert len(parse_exceptions(f"{HEADER}\n{rows}".encode(), "reg.csv")) == MAX_REGISTER_ROWS


@pytest.mark.parametrize(
    ("row", "where"),
    [
        ("pcc-1,1,99999999999999999999999,*,byol,r,J,,R", "line 2, column 3 (vm_id)"),
        ("pcc-1,99999999999999999999999,1,*,byol,r,J,,R", "line 2, column 2 (datacenter_id)"),
        ("pcc-1,1,9223372036854775808,*,byol,r,J,,R", "line 2, column 3 (vm_id)"),
    ],
)
def test_an_id_too_large_to_store_is_an_input_error(row: str, where: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_exceptions(f"{HEADER}\n{row}\n".encode(), "reg.csv")
    assert where in str(caught.value)
    assert "too large" in str(caught.value)


def test_the_largest_storable_id_is_accepted() -> None:
    (row,) = parse_exceptions(f"{HEADER}\npcc-1,1,{2**63 - 1},*,byol,r,J,,R\n".encode(), "r")
    assert row.vm_id == 2**63 - 1


def test_non_ascii_digits_are_not_ids() -> None:
    with pytest.raises(InputError, match=r"column 3 \(vm_id\): expected an integer id"):
        parse_exceptions(f"{HEADER}\npcc-1,1,\u0661\u0662,*,byol,r,J,,R\n".encode(), "r")


def test_a_huge_vm_id_in_a_run_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the fix this ended in an OverflowError traceback when the run was stored."""
    source = tmp_path / "snap.json.gz"
    write_snapshot(snapshot({(PROD, 1): [api_vm(1, WIN, None)]}, "2026-01-01T03:00:00Z"), source)
    register = tmp_path / "exceptions.csv"
    register.write_text(f"{HEADER}\n{PROD},1,99999999999999999999999,*,byol,r,J,,R\n")
    code = main(
        [
            "run",
            "--from-snapshot",
            str(source),
            "--out",
            str(tmp_path / "out"),
            "--period",
            "2026-01",
            "--exceptions",
            str(register),
        ]
    )
    error = capsys.readouterr().err.strip()
    assert code == 2
    assert error.splitlines() == [error.splitlines()[0]]
    assert str(register) in error and "line 2, column 3 (vm_id)" in error
