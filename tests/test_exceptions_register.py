"""The exceptions register: what a valid file gives, and every malformed file as one clear line."""

from __future__ import annotations

import codecs
import datetime
import re
from pathlib import Path

import pytest

from audit.evaluate.exceptions import load_exceptions, parse_exceptions
from audit.model.exceptions import REGISTER_COLUMNS, ExceptionKind, ExceptionRow
from audit.support.errors import ExitCode, InputError

HEADER = ",".join(REGISTER_COLUMNS)
SOURCE = "registers/exceptions.csv"


def parse(text: str) -> tuple[ExceptionRow, ...]:
    return parse_exceptions(text.encode("utf-8"), SOURCE)


def error_of(data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with pytest.raises(InputError) as caught:
        parse_exceptions(raw, SOURCE)
    assert caught.value.exit_code is ExitCode.INPUT
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{SOURCE}: ")
    return message


def test_valid_register() -> None:
    rows = parse(
        f"{HEADER}\n"
        "pcc-192-0-2-1,1,101,WIN-UNLICENSED,waiver,Migration,J. Doe,2026-06-30,CHG-1\n"
        "pcc-192-0-2-1,1,102,*,byol,Volume licence,J. Doe,,MLA-42\n"
    )
    assert rows == (
        ExceptionRow(
            "pcc-192-0-2-1",
            1,
            101,
            "WIN-UNLICENSED",
            ExceptionKind.WAIVER,
            "Migration",
            "J. Doe",
            datetime.date(2026, 6, 30),
            "CHG-1",
            line=2,
        ),
        ExceptionRow(
            "pcc-192-0-2-1",
            1,
            102,
            "*",
            ExceptionKind.BYOL,
            "Volume licence",
            "J. Doe",
            None,
            "MLA-42",
            line=3,
        ),
    )
    assert rows[0].to_register_dict() == {
        "service_name": "pcc-192-0-2-1",
        "datacenter_id": "1",
        "vm_id": "101",
        "rule_id": "WIN-UNLICENSED",
        "kind": "waiver",
        "reason": "Migration",
        "approved_by": "J. Doe",
        "expires": "2026-06-30",
        "reference": "CHG-1",
    }


def test_spreadsheet_habits_are_tolerated() -> None:
    """BOM, CRLF, any column order, header case, padding, blank rows, extra columns."""
    text = (
        "Notes, Kind ,RULE_ID,vm_id,datacenter_id,service_name,"
        "reason,approved_by,expires,reference\r\n"
        ",,,,,,,,,\r\n"
        "\r\n"
        'keep, BYOL , win-client-os ,7,2, pcc-192-0-2-1 ,"Evidence, signed ""VDA""",Desk,,\r\n'
    )
    (row,) = parse_exceptions(codecs.BOM_UTF8 + text.encode("utf-8"), SOURCE)
    assert (row.kind, row.rule_id, row.vm_id, row.datacenter_id) == (
        ExceptionKind.BYOL,
        "WIN-CLIENT-OS",
        7,
        2,
    )
    assert row.service_name == "pcc-192-0-2-1"
    assert row.reason == 'Evidence, signed "VDA"'
    assert row.line == 4


def test_header_only_is_an_empty_register() -> None:
    assert parse(HEADER + "\n") == ()


def test_line_numbers_follow_multiline_cells() -> None:
    message = error_of(f'{HEADER}\npcc-1,1,1,*,byol,"two\nlines",J,,R\npcc-1,1,2,*,nope,r,J,,R\n')
    assert "line 4, column 5 (kind)" in message


@pytest.mark.parametrize(
    ("row", "where", "what"),
    [
        ("pcc-1,one,101,*,byol,r,J,,R", "line 2, column 2 (datacenter_id)", "'one'"),
        ("pcc-1,1,10.5,*,byol,r,J,,R", "line 2, column 3 (vm_id)", "'10.5'"),
        ("pcc-1,1,-3,*,byol,r,J,,R", "line 2, column 3 (vm_id)", "integer"),
        ("pcc-1,1,101,WIN-NOPE,byol,r,J,,R", "line 2, column 4 (rule_id)", "unknown rule_id"),
        ("pcc-1,1,101,EXC-STALE,byol,r,J,,R", "line 2, column 4 (rule_id)", "cannot be excepted"),
        ("pcc-1,1,101,*,exempt,r,J,,R", "line 2, column 5 (kind)", "unknown kind 'exempt'"),
        ("pcc-1,1,101,LIC-BYOL-BILLED,byol,r,J,,R", "line 2, column 5 (kind)", "cannot cover"),
        ("pcc-1,1,101,*,waiver,r,J,,R", "line 2, column 8 (expires)", "waiver needs"),
        ("pcc-1,1,101,*,waiver,r,J,31/12/2026,R", "line 2, column 8 (expires)", "'31/12/2026'"),
        ("pcc-1,1,101,*,waiver,r,J,2026-02-30,R", "line 2, column 8 (expires)", "ISO 8601"),
        ("pcc-1,1,101,*,byol,r,J,20261231,R", "line 2, column 8 (expires)", "ISO 8601"),
        (",1,101,*,byol,r,J,,R", "line 2, column 1 (service_name)", "required"),
        ("pcc-1,1,,*,byol,r,J,,R", "line 2, column 3 (vm_id)", "required"),
        ("pcc-1,1,101,*,waiver", "line 2, column 8 (expires)", "waiver needs"),
        ("pcc-1,1,101,*,byol,r,J,,R,surprise", "line 2, column 10", "beyond the header"),
    ],
)
def test_bad_values_name_line_and_column(row: str, where: str, what: str) -> None:
    message = error_of(f"{HEADER}\n{row}\n")
    assert where in message
    assert what in message


def test_missing_column() -> None:
    header = HEADER.replace(",expires", "").replace(",reason", "")
    message = error_of(f"{header}\npcc-1,1,101,*,byol,J,R\n")
    assert "line 1" in message
    assert "missing column(s) reason, expires" in message


def test_column_twice_in_header() -> None:
    assert "line 1, column 10 (vm_id)" in error_of(f"{HEADER},vm_id\n")


def test_header_after_blank_lines() -> None:
    message = error_of(f"\n\n{HEADER.replace('kind', 'type')}\n")
    assert "line 3" in message
    assert "missing column(s) kind" in message


def test_duplicate_row() -> None:
    message = error_of(
        f"{HEADER}\n"
        "pcc-1,1,101,WIN-UNLICENSED,waiver,a,J,2026-12-31,R\n"
        "pcc-1,1,102,WIN-UNLICENSED,waiver,a,J,2026-12-31,R\n"
        "pcc-1,1,101,win-unlicensed,byol,b,K,,S\n"
    )
    assert "line 4, column 4 (rule_id)" in message
    assert "duplicates the row on line 2" in message


@pytest.mark.parametrize("data", [b"", b"   \n\r\n", codecs.BOM_UTF8])
def test_empty_file(data: bytes) -> None:
    message = error_of(data)
    assert "line 1, column 1" in message
    assert "empty" in message


def test_binary_file() -> None:
    message = error_of(b"PK\x03\x04\x14\x00\x06\x00 xlsx content")
    assert "line 1, column 6" in message
    assert "binary" in message


def test_non_utf8_file() -> None:
    latin1 = f"{HEADER}\npcc-1,1,101,*,byol,Réseau,J,,R\n".encode("latin-1")
    message = error_of(latin1)
    assert "line 2, column 21" in message
    assert "0xe9" in message
    assert "UTF-8" in message


def test_malformed_csv() -> None:
    assert "line 2" in error_of(f'{HEADER}\npcc-1,1,101,*,byol,"bad"quote,J,,R\n')


def test_load_from_file(tmp_path: Path) -> None:
    path = tmp_path / "exceptions.csv"
    path.write_text(f"{HEADER}\npcc-1,1,101,*,byol,r,J,,R\n", encoding="utf-8")
    assert load_exceptions(path)[0].vm_key == ("pcc-1", 1, 101)
    path.write_bytes(b"\x00\x01")
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: line 1, column 1"):
        load_exceptions(path)


def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(InputError, match=r"nope\.csv: cannot read"):
        load_exceptions(missing)


def test_row_coverage_and_expiry() -> None:
    waiver, star = parse(
        f"{HEADER}\npcc-1,1,101,WIN-UNLICENSED,waiver,a,J,2026-05-31,R\npcc-1,1,101,*,byol,b,K,,S\n"
    )
    assert waiver.covers("WIN-UNLICENSED") and not waiver.covers("LIC-LEGACY")
    assert star.covers("LIC-LEGACY")
    assert not waiver.is_expired(datetime.date(2026, 5, 31))
    assert waiver.is_expired(datetime.date(2026, 6, 1))
    assert not star.is_expired(datetime.date(2099, 1, 1))
