"""The exceptions register: a CSV of BYOL declarations and waivers that people keep by hand.

Format (docs/DESIGN.md, "Exceptions register"): a header row naming the columns
service_name, datacenter_id, vm_id, rule_id, kind, reason, approved_by, expires, reference
in any order, then one row per exception. Because the file lives in a spreadsheet:

- a UTF-8 byte order mark, surrounding whitespace, header case and blank rows are tolerated;
- extra columns (notes, ticket links) are ignored, but a value beyond the header is an error;
- `rule_id` (a VM rule id, or `*` for every rule) and `kind` are case-insensitive;
- reason, approved_by and reference may be empty; expires is required for a waiver.

Anything else is an InputError whose one line names the file, line and column: a register
that is silently half-read would hide (or invent) exceptions.

Limits (README, "Exceptions register"): at most MAX_REGISTER_BYTES bytes and MAX_REGISTER_ROWS
rows, ids at most MAX_ID (what SQLite's INTEGER and the API's long hold). The size is checked
with a stat before reading and again while reading in bounded chunks, so a device or pipe
(`/dev/zero`) or one endless line costs at most the limit in memory.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import re
import stat
from collections.abc import Sequence
from pathlib import Path

from audit.evaluate.rules.registry import EXCEPTABLE_RULE_IDS, RULE_IDS, rule_by_id
from audit.model.exceptions import ANY_RULE, REGISTER_COLUMNS, ExceptionKind, ExceptionRow
from audit.model.run import RegisterFile
from audit.support.errors import InputError
from audit.support.fsutil import sha256_file

# A hand-kept register is hundreds of rows; these bound a wrong file's time and memory.
MAX_REGISTER_BYTES = 10 * 1024 * 1024
MAX_REGISTER_ROWS = 100_000
MAX_ID = 2**63 - 1  # SQLite INTEGER, the API's long
_READ_CHUNK = 1024 * 1024

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_INTEGER = re.compile(r"[0-9]+")


def register_file(path: Path) -> RegisterFile:
    """The exceptions register as the run records it: file name (no folder) and sha256."""
    return RegisterFile(path.name, sha256_file(path))


def load_exceptions(path: Path) -> tuple[ExceptionRow, ...]:
    """Read and validate a register file, never more than MAX_REGISTER_BYTES of it."""
    try:
        info = path.stat()
        if stat.S_ISREG(info.st_mode) and info.st_size > MAX_REGISTER_BYTES:
            raise _too_large(path)
        data = _read_bounded(path)
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read the exceptions register: {exc.strerror or exc}"
        ) from exc
    return parse_exceptions(data, str(path))


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, read in chunks; one byte past the limit is an error (devices, pipes)."""
    chunks: list[bytes] = []
    total = 0
    with path.open("rb") as handle:
        while chunk := handle.read(min(_READ_CHUNK, MAX_REGISTER_BYTES + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > MAX_REGISTER_BYTES:
                raise _too_large(path)
    return b"".join(chunks)


def _too_large(path: Path) -> InputError:
    return InputError(
        f"{path}: larger than {MAX_REGISTER_BYTES // (1024 * 1024)} MB, the exceptions "
        "register's limit; is this the right file?"
    )


def parse_exceptions(data: bytes, source: str) -> tuple[ExceptionRow, ...]:
    """Validate register bytes; `source` names the file in error messages."""
    text = _decode(data, source)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: dict[str, int] | None = None
    width = 0
    rows: list[ExceptionRow] = []
    seen: dict[tuple[str, int, int, str], int] = {}
    line = 1
    try:
        for record in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header, width = _header(record, source, start), len(record)
                continue
            if len(rows) == MAX_REGISTER_ROWS:
                raise InputError(
                    f"{source}: line {start}: more than {MAX_REGISTER_ROWS:,} exception rows, "
                    "the register's limit"
                )
            row = _row(record, header, width, source, start)
            key = (*row.vm_key, row.rule_id)
            if key in seen:
                raise _error(
                    source,
                    start,
                    header["rule_id"],
                    "rule_id",
                    f"duplicates the row on line {seen[key]} "
                    "(same service_name, datacenter_id, vm_id and rule_id)",
                )
            seen[key] = start
            rows.append(row)
    except csv.Error as exc:
        raise InputError(f"{source}: line {reader.line_num}: malformed CSV ({exc})") from exc
    if header is None:
        raise InputError(
            f"{source}: line 1, column 1: the exceptions register is empty; expected a "
            f"header row: {', '.join(REGISTER_COLUMNS)}"
        )
    return tuple(rows)


def _decode(data: bytes, source: str) -> str:
    """UTF-8 (BOM tolerated); a binary or mis-encoded file is named at its first bad byte."""
    offset = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    nul = data.find(b"\x00", offset)
    if nul >= 0:
        line, column = _position(data, nul, offset)
        raise InputError(
            f"{source}: line {line}, column {column}: a NUL byte: this is a binary file, "
            "not a CSV exceptions register"
        )
    try:
        return data[offset:].decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position(data, offset + exc.start, offset)
        raise InputError(
            f"{source}: line {line}, column {column}: byte 0x{data[offset + exc.start]:02x} "
            "is not UTF-8; save the register as CSV UTF-8"
        ) from exc


def _position(data: bytes, index: int, offset: int) -> tuple[int, int]:
    """1-based line and (byte) column of `data[index]`, not counting a BOM."""
    line_start = data.rfind(b"\n", offset, index) + 1 or offset
    return data.count(b"\n", offset, index) + 1, index - line_start + 1


def _error(source: str, line: int, index: int, name: str, problem: str) -> InputError:
    return InputError(f"{source}: line {line}, column {index + 1} ({name}): {problem}")


def _header(record: Sequence[str], source: str, line: int) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(record):
        name = cell.strip().lower()
        if name in REGISTER_COLUMNS:
            if name in columns:
                raise _error(source, line, index, name, "the column appears twice in the header")
            columns[name] = index
    missing = [name for name in REGISTER_COLUMNS if name not in columns]
    if missing:
        raise InputError(
            f"{source}: line {line} (header): missing column(s) {', '.join(missing)}; "
            f"expected: {', '.join(REGISTER_COLUMNS)}"
        )
    return columns


def _row(
    record: Sequence[str], header: dict[str, int], width: int, source: str, line: int
) -> ExceptionRow:
    for index in range(width, len(record)):
        if record[index].strip():
            raise InputError(
                f"{source}: line {line}, column {index + 1}: a value beyond the header's "
                f"{width} columns"
            )

    def cell(name: str) -> str:
        index = header[name]
        return record[index].strip() if index < len(record) else ""

    def fail(name: str, problem: str) -> InputError:
        return _error(source, line, header[name], name, problem)

    def required(name: str) -> str:
        value = cell(name)
        if not value:
            raise fail(name, "a value is required")
        return value

    def integer(name: str) -> int:
        value = required(name)
        if not _INTEGER.fullmatch(value):
            raise fail(name, f"expected an integer id, got '{value}'")
        number = int(value)
        if number > MAX_ID:
            raise fail(name, f"id {value} is too large (at most {MAX_ID})")
        return number

    service_name = required("service_name")
    datacenter_id = integer("datacenter_id")
    vm_id = integer("vm_id")

    rule_id = required("rule_id").upper()
    if rule_id not in EXCEPTABLE_RULE_IDS and rule_id != ANY_RULE:
        if rule_id in RULE_IDS:
            raise fail("rule_id", f"{rule_id} is about the register itself and cannot be excepted")
        known = ", ".join(rule for rule in RULE_IDS if rule in EXCEPTABLE_RULE_IDS)
        raise fail("rule_id", f"unknown rule_id '{cell('rule_id')}' (expected {known} or *)")

    kind_value = required("kind").lower()
    try:
        kind = ExceptionKind(kind_value)
    except ValueError:
        raise fail("kind", f"unknown kind '{cell('kind')}' (expected byol or waiver)") from None
    if (
        kind is ExceptionKind.BYOL
        and rule_id != ANY_RULE
        and not rule_by_id(rule_id).meta.byol_covers
    ):
        raise fail(
            "kind",
            f"a byol row cannot cover {rule_id}: the rule is about the BYOL declaration itself "
            "(a waiver, with its expiry, can)",
        )

    expires_value = cell("expires")
    expires: datetime.date | None = None
    if expires_value:
        try:
            if not _ISO_DATE.fullmatch(expires_value):
                raise ValueError(expires_value)
            expires = datetime.date.fromisoformat(expires_value)
        except ValueError:
            raise fail(
                "expires", f"expected an ISO 8601 date YYYY-MM-DD, got '{expires_value}'"
            ) from None
    elif kind is ExceptionKind.WAIVER:
        raise fail("expires", "a waiver needs an expiry date (YYYY-MM-DD)")

    return ExceptionRow(
        service_name=service_name,
        datacenter_id=datacenter_id,
        vm_id=vm_id,
        rule_id=rule_id,
        kind=kind,
        reason=cell("reason"),
        approved_by=cell("approved_by"),
        expires=expires,
        reference=cell("reference"),
        line=line,
    )
